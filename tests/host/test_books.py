"""History, stats and export over a real SQLite store, with days in a non-UTC zone."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from repfit import wire
from repfit.host import stats
from repfit.host.cli import main
from repfit.host.store import Store

NY = ZoneInfo("America/New_York")  # DST ended on Sunday 2026-11-01 at 02:00


def _t(text: str) -> float:
    """Epoch seconds of a wall-clock time in New York."""
    return datetime.fromisoformat(text).replace(tzinfo=NY).timestamp()


def _add(store: Store, user: str, n: int, finished: str | None, *, exercise: str = "squat",
         reps: int = 10, target: float = 10, reason: wire.Reason = "assigned",
         label: str | None = None, experiment: str | None = "exp-a",
         unit: wire.Unit = "reps", hold: float | None = None) -> None:
    at = _t(finished) if finished else _t("2026-11-01T08:00")
    a = wire.Assignment(f"{user}-{n}", exercise, target, unit=unit, reason=reason,
                        issued_at=at - 120, label=label, experiment=experiment)
    store.add_assignment(user, a, received_at=at - 119)
    if finished:
        store.add_result(user, wire.Result(a.id, exercise, reps >= target or bool(hold),
                                           "target_reached" if reps >= target or hold
                                           else "deadline", reps, target, unit,
                                           hold_seconds=hold, reason=reason,
                                           started_at=at - 60, finished_at=at))


@pytest.fixture
def books(tmp_path: Path) -> Path:
    with Store.in_dir(tmp_path) as store:
        # Sat 10-24 and Sun 10-25 (EDT), then Mon 10-26: a new week; nothing on Fri 10-30.
        _add(store, "ada", 1, "2026-10-24T09:00")
        _add(store, "ada", 2, "2026-10-25T23:30", label="flexions de jambes")
        _add(store, "ada", 3, "2026-10-26T00:30", exercise="pushup", label="pompes")
        _add(store, "ada", 4, "2026-10-27T12:00", reps=4)  # not completed: no streak day
        _add(store, "ada", 5, "2026-10-28T12:00")
        _add(store, "ada", 6, "2026-10-29T12:00", exercise="plank", unit="seconds",
             target=60, reps=0, hold=61.0, reason="penalty")
        # Sat 10-31, then Sun 11-01 after the clocks went back, up to a minute before midnight.
        _add(store, "ada", 7, "2026-10-31T10:00", reason="reward", experiment="exp-b")
        _add(store, "ada", 8, "2026-11-01T23:59", exercise="pushup", reps=7, target=7,
             label="pompes")
        _add(store, "ada", 9, None, reason="penalty")  # still open
        _add(store, "demo", 1, "2026-11-01T10:00")
    return tmp_path


def _records(data_dir: Path) -> list[stats.Record]:
    with Store.in_dir(data_dir) as store:
        return [stats.Record(*row) for row in store.records()]


def test_streaks() -> None:
    d = date(2026, 11, 1)
    days = [date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 22), date(2026, 10, 23),
            date(2026, 10, 30), date(2026, 10, 31)]
    assert stats.streaks(days, d) == (2, 4)                  # today not done yet: still on
    assert stats.streaks([*days, d], d) == (3, 4)
    assert stats.streaks(days, date(2026, 11, 2)) == (0, 4)  # a day missed: broken
    assert stats.streaks([], d) == (0, 0)


def test_today_and_the_week_follow_local_midnight_across_the_dst_change(books: Path) -> None:
    s = stats.compute(_records(books), "ada", _t("2026-11-01T23:59:30"), NY)
    assert (s.today, s.week_start) == (date(2026, 11, 1), date(2026, 10, 26))
    assert [(t.exercise, t.label, t.sets, t.completed, t.reps) for t in s.today_totals] == \
        [("pushup", "pompes", 1, 1, 7)]
    week = {t.exercise: t for t in s.week_totals}
    # 10-25 23:30 EDT belongs to the previous week, 10-26 00:30 to this one.
    assert (week["squat"].sets, week["squat"].completed, week["squat"].reps) == (3, 2, 24)
    assert (week["pushup"].sets, week["pushup"].reps) == (2, 17)
    assert (week["plank"].hold_seconds, week["plank"].reps) == (61.0, 0)
    # Completed sets on 10-28, 10-29, 10-31, 11-01 (10-30 has none); 10-24 to 10-26 ran three.
    assert (s.streak_days, s.best_streak_days) == (2, 3)
    assert s.experiments == (stats.ExperimentTotals("exp-a", 2, 1, 0, 0),
                             stats.ExperimentTotals("exp-b", 0, 0, 1, 1))
    assert stats.to_json(s)["today_by_exercise"] == [
        {"exercise": "pushup", "label": "pompes",
         "verified": {"sets": 1, "completed": 1, "reps": 7, "hold_seconds": 0.0},
         "unverified": {"sets": 0, "completed": 0, "reps": 0, "hold_seconds": 0.0}}]
    # One minute later it is Monday in New York: a new day and a new week.
    later = stats.compute(_records(books), "ada", _t("2026-11-02T00:00:30"), NY)
    assert later.today_totals == () and later.week_start == date(2026, 11, 2)
    assert later.streak_days == 2


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_history_shows_dates_and_says_whose_results_there_are(
        books: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(books / "cfg"))
    code, out = _run(capsys, "history", "--user", "me", "--data-dir", str(books),
                     "--days", "100000")
    assert code == 0
    assert out == ("no results for me in the last 100000 days; results are stored for "
                   "ada (8), demo (1) (--user NAME)\n")
    code, out = _run(capsys, "history", "--user", "ada", "--data-dir", str(books),
                     "--days", "100000")
    lines = out.splitlines()
    assert len(lines) == 8
    when = datetime.fromtimestamp(_t("2026-11-01T23:59")).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[-1] == f"pompes: completed - 7/7 reps (target reached, {when}) — exp-a, ada-8"


def test_stats_for_a_user_with_nothing_stored_names_those_who_have(
        books: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(books / "cfg"))
    assert main(["stats", "--user", "me", "--data-dir", str(books)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("stats for me ")
    assert captured.err == ("nothing stored for me; results are stored for ada (8), demo (1) "
                            "(--user NAME)\n")


def test_stats_command_text_and_json(books: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(books / "cfg"))
    code, out = _run(capsys, "stats", "--user", "ada", "--data-dir", str(books), "--json",
                     "--tz", "America/New_York")
    data = json.loads(out)
    assert code == 0 and data["user"] == "ada" and data["timezone"] == "America/New_York"
    assert {e["experiment"] for e in data["experiments"]} == {"exp-a", "exp-b"}
    # The stored sets are weeks old by the real clock: nothing this week, the best streak
    # is still there.
    assert (data["week_by_exercise"], data["streak_days"], data["best_streak_days"]) == \
        ([], 0, 3)
    code, out = _run(capsys, "stats", "--user", "ada", "--data-dir", str(books),
                     "--tz", "America/New_York")
    assert out.startswith("stats for ada (America/New_York): today ")
    assert "exp-a: penalties 2 (1 done), rewards 0 (0 done)" in out
    assert main(["stats", "--tz", "Mars/Olympus", "--data-dir", str(books)]) == 2
    assert "--tz" in capsys.readouterr().err


def test_export_writes_every_assignment_with_its_result(
        books: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(books / "cfg"))
    code, out = _run(capsys, "export", "--data-dir", str(books), "--tz", "America/New_York")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 10
    assert tuple(rows[0]) == stats.EXPORT_FIELDS
    open_one = next(r for r in rows if r["assignment_id"] == "ada-9")
    assert (open_one["reason"], open_one["outcome"], open_one["finished_at"]) == \
        ("penalty", "", "")
    assert next(r for r in rows if r["assignment_id"] == "ada-3")["label"] == "pompes"
    target = tmp_path / "out.json"
    code, _ = _run(capsys, "export", "--data-dir", str(books), "--format", "json",
                   "--since", "2026-11-01", "--user", "ada", "--tz", "America/New_York",
                   "-o", str(target))
    data = json.loads(target.read_text())
    assert sorted(r["assignment_id"] for r in data) == ["ada-8", "ada-9"]
    assert next(r for r in data if r["assignment_id"] == "ada-8")["finished_at"] == \
        "2026-11-01T23:59:00-05:00"
    assert main(["export", "--since", "yesterday", "--data-dir", str(books)]) == 2
    assert main(["export", "-o", str(tmp_path / "no" / "such" / "dir.csv"),
                 "--data-dir", str(books)]) == 2
    assert "--output" in capsys.readouterr().err
