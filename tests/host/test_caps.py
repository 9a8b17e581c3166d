"""Daily caps: the rules from config, the user's day in their zone, and the decision."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from repfit import wire
from repfit.config import ConfigError
from repfit.host.caps import (
    Allowed,
    Capped,
    CapRules,
    Limits,
    Take,
    Usage,
    decide,
    rules_from_tables,
)
from repfit.host.days import day_bounds, local_day, resolve_zone

PARIS = ZoneInfo("Europe/Paris")      # clocks forward 2026-03-29 02:00, back 2026-10-25 03:00
NY = ZoneInfo("America/New_York")     # clocks back 2026-11-01 02:00


def _t(text: str, tz: ZoneInfo = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def _a(exercise: str = "squat", target: float = 25, *, reason: wire.Reason = "assigned",
       unit: wire.Unit = "reps", label: str | None = None,
       est: float | None = None) -> wire.Assignment:
    return wire.Assignment("a1", exercise, target, unit=unit, reason=reason, label=label,
                           est_duration_s=est)


def _rules(**limits: object) -> CapRules:
    return CapRules(Limits(**limits), timezone=PARIS)  # type: ignore[arg-type]


NOON = _t("2026-06-10T12:00")


# --------------------------------------------------------------------------- the decision


def test_exactly_the_cap_is_allowed_and_one_more_is_capped() -> None:
    rules = _rules(reps_per_day=100)
    usage = Usage.of([Take("main", "squat", reps=75)])
    assert decide(rules, usage, _a(target=25), NOON) == Allowed(Take("main", "squat", 25, 0))
    full = Usage.of([Take("main", "squat", reps=75), Take("main", "squat", reps=25)])
    capped = decide(rules, full, _a(target=1), NOON)
    assert capped == Capped("reps_per_day", 100, 100, "cap reached: 100/100 squats today")


def test_an_assignment_that_would_go_over_says_how_much_was_asked() -> None:
    usage = Usage.of([Take("main", "squat", reps=76)])
    capped = decide(_rules(reps_per_day=100), usage, _a(target=25, label="flexions"), NOON)
    assert isinstance(capped, Capped)
    assert capped.text == "cap reached: 76/100 flexions today (25 more asked)"


def test_reps_are_capped_per_exercise_and_names_of_the_vocabulary_are_one_exercise() -> None:
    rules = CapRules(Limits(reps_per_day=50, reps_per_exercise={"pushup": 20}),
                     timezone=PARIS)
    usage = Usage.of([Take("main", "squat", reps=50), Take("main", "pushup", reps=10)])
    assert isinstance(decide(rules, usage, _a("squat", 1), NOON), Capped)
    assert isinstance(decide(rules, usage, _a("situp", 50), NOON), Allowed)
    assert isinstance(decide(rules, usage, _a("Push-ups", 10), NOON), Allowed)
    over = decide(rules, usage, _a("pompes", 11, label="pompes"), NOON)
    assert isinstance(over, Capped) and over.text.startswith("cap reached: 10/20 pompes")


def test_the_number_of_assignments_is_capped() -> None:
    usage = Usage.of([Take("main", "squat", reps=1)] * 3)
    assert isinstance(decide(_rules(assignments_per_day=4), usage, _a(), NOON), Allowed)
    capped = decide(_rules(assignments_per_day=3), usage, _a(), NOON)
    assert capped == Capped("assignments_per_day", 3, 3, "cap reached: 3/3 assignments today")


def test_holds_count_seconds_and_iterations_count_their_estimate() -> None:
    rules = _rules(hold_seconds_per_day=120, reps_per_day=0)
    usage = Usage.of([Take("main", "plank", hold_seconds=60)])
    assert decide(rules, usage, _a("plank", 60, unit="seconds"), NOON) == \
        Allowed(Take("main", "plank", 0, 60))
    capped = decide(rules, usage, _a("plank", 30, unit="iterations", est=61), NOON)
    assert isinstance(capped, Capped) and capped.cap == "hold_seconds_per_day"
    assert capped.text == "cap reached: 60/120 s of holds today (61 s more asked)"


def test_penalties_count_toward_the_caps_by_default() -> None:
    rules = _rules(reps_per_day=100)
    usage = Usage.of([Take("main", "squat", reps=90)])
    assert isinstance(decide(rules, usage, _a(target=20, reason="penalty"), NOON), Capped)
    allowed = decide(rules, usage, _a(target=10, reason="penalty"), NOON)
    assert allowed == Allowed(Take("main", "squat", 10, 0))


def test_penalties_with_caps_of_their_own_are_counted_apart() -> None:
    rules = CapRules(Limits(reps_per_day=100), penalty_limits=Limits(reps_per_day=30),
                     timezone=PARIS)
    usage = Usage.of([Take("main", "squat", reps=100), Take("penalty", "squat", reps=20)])
    assert decide(rules, usage, _a(target=10, reason="penalty"), NOON) == \
        Allowed(Take("penalty", "squat", 10, 0))
    capped = decide(rules, usage, _a(target=11, reason="penalty"), NOON)
    assert isinstance(capped, Capped)
    assert capped.text == "cap reached: 20/30 squats for penalties today (11 more asked)"
    assert isinstance(decide(rules, usage, _a(target=1), NOON), Capped)
    assert isinstance(decide(rules, usage, _a(target=1, reason="reward"), NOON), Capped)


@pytest.mark.parametrize(("clock", "quiet"), [
    ("2026-06-10T21:59", False), ("2026-06-10T22:00", True), ("2026-06-10T23:59", True),
    ("2026-06-11T00:00", True), ("2026-06-11T06:59", True), ("2026-06-11T07:00", False),
    ("2026-06-11T12:00", False),
])
def test_quiet_hours_span_midnight(clock: str, quiet: bool) -> None:
    rules = rules_from_tables({"caps": {"quiet_hours": "22:00-07:00",
                                        "timezone": "Europe/Paris"}}, "ada")
    decision = decide(rules, Usage(), _a(), _t(clock))
    assert isinstance(decision, Capped) is quiet
    if quiet:
        assert decision == Capped("quiet_hours", 0, 0,
                                  "quiet hours (22:00-07:00): nothing is assigned now")


def test_quiet_hours_within_a_day() -> None:
    rules = rules_from_tables({"caps": {"quiet_hours": "12:30-14:00", "timezone": "UTC"}}, "a")
    assert isinstance(decide(rules, Usage(), _a(), _t("2026-06-10T12:29", ZoneInfo("UTC"))),
                      Allowed)
    assert isinstance(decide(rules, Usage(), _a(), _t("2026-06-10T12:30", ZoneInfo("UTC"))),
                      Capped)


def test_no_caps_allow_everything() -> None:
    usage = Usage.of([Take("main", "squat", reps=10_000)] * 50)
    assert isinstance(decide(CapRules(), usage, _a(target=10_000), NOON), Allowed)


# --------------------------------------------------------------------------- the user's day


def test_the_day_changes_at_local_midnight_not_utc() -> None:
    # 23:30 in Paris is 21:30 UTC: still the same local day; 00:10 is the next one.
    before, after = _t("2026-06-10T23:30"), _t("2026-06-11T00:10")
    start, end = day_bounds(before, PARIS)
    assert start == _t("2026-06-10T00:00") and end == _t("2026-06-11T00:00")
    assert start <= before < end <= after
    assert str(local_day(after, PARIS)) == "2026-06-11"
    # In UTC both moments are on 2026-06-10: the zone decides.
    assert local_day(before, ZoneInfo("UTC")) == local_day(after - 7200, ZoneInfo("UTC"))


@pytest.mark.parametrize(("day", "hours"), [("2026-03-29T12:00", 23), ("2026-10-25T12:00", 25),
                                            ("2026-06-10T12:00", 24)])
def test_a_day_across_a_dst_change_is_as_long_as_the_user_lives_it(day: str, hours: int) -> None:
    start, end = day_bounds(_t(day), PARIS)
    assert (end - start) / 3600 == hours
    assert datetime.fromtimestamp(start, PARIS).hour == 0
    assert datetime.fromtimestamp(end, PARIS).hour == 0


def test_the_night_the_clocks_go_back_belongs_to_one_day() -> None:
    # 2026-11-01 01:30 happens twice in New York; both are on Sunday, 23:59 too.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY).timestamp()
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY).timestamp()
    assert second - first == 3600
    start, end = day_bounds(first, NY)
    assert day_bounds(second, NY) == (start, end)
    assert start < first < second < _t("2026-11-01T23:59", NY) < end
    assert (end - start) / 3600 == 25


# --------------------------------------------------------------------------- config


def test_rules_from_config_with_user_overrides() -> None:
    tables = {"caps": {
        "timezone": "America/New_York", "assignments_per_day": 12,
        "reps_per_day": {"default": 100, "pompes": 50}, "hold_seconds_per_day": 600,
        "quiet_hours": "22:00-07:00", "penalties": {"reps_per_day": 30},
        "users": {"bob": {"reps_per_day": 60, "penalties": "count", "quiet_hours": ""}},
    }}
    ada = rules_from_tables(tables, "ada")
    assert ada.timezone.key == "America/New_York"
    assert ada.limits == Limits(12, 100.0, {"pushup": 50.0}, 600.0)
    assert ada.penalty_limits == Limits(reps_per_day=30.0)
    assert [str(q) for q in ada.quiet_hours] == ["22:00-07:00"]
    bob = rules_from_tables(tables, "bob")
    assert bob.limits == Limits(12, 60.0, {}, 600.0)
    assert bob.penalty_limits is None and bob.quiet_hours == ()


def test_without_a_zone_the_day_is_tz_or_this_machine() -> None:
    assert rules_from_tables({}, "ada", env={"TZ": "Asia/Tokyo"}).timezone.key == "Asia/Tokyo"
    assert resolve_zone(None, "caps.timezone", env={}).key  # this machine's, or UTC


@pytest.mark.parametrize(("caps", "key", "expected"), [
    ({"reps_per_day": -1}, "caps.reps_per_day", "a number >= 0"),
    ({"reps_per_day": "many"}, "caps.reps_per_day", "a number >= 0"),
    ({"reps_per_day": {"yoga": 3}}, "caps.reps_per_day.yoga", "an exercise of the vocabulary"),
    ({"assignments_per_day": 2.5}, "caps.assignments_per_day", "a whole number"),
    ({"quiet_hours": "10pm-7am"}, "caps.quiet_hours", "HH:MM-HH:MM"),
    ({"quiet_hours": "25:00-07:00"}, "caps.quiet_hours", "hours 00-23"),
    ({"timezone": "Mars/Olympus"}, "caps.timezone", "an IANA time zone"),
    ({"penalties": "own"}, "caps.penalties", '"count" or a table'),
    ({"penalties": {"quiet_hours": "1:00-2:00"}}, "caps.penalties.quiet_hours", "one of"),
    ({"reps_per_dya": 3}, "caps.reps_per_dya", "one of the keys"),
    ({"users": {"ada": {"reps_per_day": True}}}, "caps.users.ada.reps_per_day", "a number"),
])
def test_bad_caps_name_their_key(caps: dict[str, object], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        rules_from_tables({"caps": caps}, "ada", source="config.toml")
    assert err.value.key == key
    assert expected in str(err.value) and "config.toml" in str(err.value)


def test_a_run_can_tighten_the_caps_but_not_loosen_them() -> None:
    rules = CapRules(Limits(reps_per_day=100, hold_seconds_per_day=300),
                     penalty_limits=Limits(reps_per_day=40), timezone=PARIS)
    run = rules.tightened({"reps_per_day": 30, "hold_seconds_per_day": 900,
                           "assignments_per_day": 5, "quiet_hours": "12:00-13:00"})
    assert run.limits == Limits(5, 30.0, {}, 300.0)
    assert run.penalty_limits == Limits(5, 30.0, {}, 900.0)  # they had no hold cap
    assert [str(q) for q in run.quiet_hours] == ["12:00-13:00"]
    assert rules.tightened(None) is rules
    with pytest.raises(ConfigError, match=r"caps\.timezone"):
        rules.tightened({"timezone": "UTC"})


def test_a_runs_caps_are_checked_where_they_are_written() -> None:
    from repfit.integrations.coach import CoachSettings
    from repfit.integrations.settings import coach_settings_from_tables

    settings = coach_settings_from_tables({"training": {"caps": {"reps_per_day": {"pompes": 5}}}})
    assert settings.caps == {"reps_per_day": {"pompes": 5}}
    with pytest.raises(ConfigError) as err:
        coach_settings_from_tables({"training": {"caps": {"reps_per_day": -1}}}, "cfg.toml")
    assert err.value.key == "training.caps.reps_per_day" and "-1" in str(err.value)
    with pytest.raises(ValueError, match=r"caps\.nope"):
        CoachSettings(caps={"nope": 1})


def test_the_caps_in_one_line() -> None:
    tables = {"caps": {"timezone": "Europe/Paris", "assignments_per_day": 12,
                       "reps_per_day": {"default": 100, "pompes": 50},
                       "quiet_hours": "22:00-07:00", "penalties": {"reps_per_day": 30}}}
    assert rules_from_tables(tables, "ada").describe() == (
        "12 assignments, 100 reps of each exercise, 50 push-ups a day (Europe/Paris); "
        "quiet 22:00-07:00; penalties apart: 30 reps of each exercise a day")
    assert CapRules().describe() == "no caps (UTC)"
