"""When to post: the pure decision per service (triggers, milestones, quiet hours, daily)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from repfit import wire
from repfit.host.posts.rules import PostingRule, QuietHours, daily_due, post_kinds, send_at

PARIS = ZoneInfo("Europe/Paris")
DONE = wire.Result(assignment_id="a", exercise="squat", completed=True, outcome="target_reached",
                   reps=10, target=10)
PARTIAL = wire.Result(assignment_id="b", exercise="squat", completed=False, outcome="deadline",
                      reps=4, target=10)
PENALTY = wire.Result(assignment_id="c", exercise="burpee", completed=True,
                      outcome="target_reached", reps=5, target=5, reason="penalty")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


@pytest.mark.parametrize(("when", "result", "verified", "kinds"), [
    ({"verified"}, DONE, True, ["set"]),
    ({"verified"}, PARTIAL, True, ["set"]),
    ({"verified"}, DONE, False, []),                 # honour mode is not verified
    ({"missed"}, DONE, True, []),
    ({"missed"}, PARTIAL, True, ["set"]),            # the skipped ones show
    ({"penalties"}, DONE, True, []),
    ({"penalties"}, PENALTY, True, ["set"]),
    ({"missed", "penalties", "verified"}, PARTIAL, True, ["set"]),   # one post, not three
    ({"daily"}, PARTIAL, True, []),
])
def test_set_triggers(when: set[str], result: wire.Result, verified: bool,
                      kinds: list[str]) -> None:
    assert post_kinds(PostingRule(frozenset(when)), result, verified, 0, 0) == kinds


def test_honour_mode_sets_post_only_when_allowed() -> None:
    rule = PostingRule(frozenset({"missed"}), honour_mode=True)
    assert post_kinds(rule, PARTIAL, False, 0, 0) == ["set"]
    assert post_kinds(PostingRule(frozenset({"missed"})), PARTIAL, False, 0, 0) == []


@pytest.mark.parametrize(("before", "after", "kinds"), [
    (2, 3, ["milestone"]), (6, 7, ["milestone"]), (3, 3, []), (7, 8, []), (0, 1, []),
])
def test_streak_milestones(before: int, after: int, kinds: list[str]) -> None:
    rule = PostingRule(frozenset({"milestones"}))
    assert post_kinds(rule, DONE, True, before, after) == kinds


def test_quiet_hours_across_midnight_defer_to_their_end() -> None:
    rule = PostingRule(quiet=QuietHours(time(22, 0), time(7, 30)))
    assert send_at(rule, at("2026-12-04T21:59"), PARIS) == at("2026-12-04T21:59")
    assert send_at(rule, at("2026-12-04T22:00"), PARIS) == at("2026-12-05T07:30")
    assert send_at(rule, at("2026-12-05T03:10"), PARIS) == at("2026-12-05T07:30")
    assert send_at(rule, at("2026-12-05T07:30"), PARIS) == at("2026-12-05T07:30")


def test_quiet_hours_within_a_day() -> None:
    rule = PostingRule(quiet=QuietHours(time(12, 0), time(14, 0)))
    assert send_at(rule, at("2026-12-04T13:00"), PARIS) == at("2026-12-04T14:00")
    assert send_at(rule, at("2026-12-04T14:00"), PARIS) == at("2026-12-04T14:00")
    assert send_at(PostingRule(), at("2026-12-04T13:00"), PARIS) == at("2026-12-04T13:00")


def test_quiet_hours_end_on_a_dst_night_is_local_time() -> None:
    rule = PostingRule(quiet=QuietHours(time(1, 0), time(8, 0)))
    # 2026-03-29: Paris jumps from 02:00 to 03:00; the night is an hour shorter
    start = datetime(2026, 3, 29, 1, 30, tzinfo=PARIS).timestamp()
    end = datetime.fromtimestamp(send_at(rule, start, PARIS), PARIS)
    assert (end.hour, end.minute, end.day) == (8, 0, 29)


def test_daily_summary_is_due_after_its_time() -> None:
    rule = PostingRule(frozenset({"daily"}), daily_at=time(21, 0))
    assert daily_due(rule, at("2026-12-04T20:59"), PARIS) is None
    assert str(daily_due(rule, at("2026-12-04T21:00"), PARIS)) == "2026-12-04"
    assert str(daily_due(rule, at("2026-12-04T23:59"), PARIS)) == "2026-12-04"
    assert daily_due(PostingRule(), at("2026-12-04T23:00"), PARIS) is None


@pytest.mark.parametrize("outcome", ["capped", "superseded"])
def test_a_capped_or_superseded_set_is_not_a_skipped_one(outcome: str) -> None:
    r = wire.Result(assignment_id="d", exercise="squat", completed=False,
                    outcome=outcome, reps=0, target=10)  # type: ignore[arg-type]
    assert post_kinds(PostingRule(frozenset({"missed"})), r, True, 0, 0) == []
