"""The books: what a user did today and this week, streaks, penalties and rewards.

Pure: fed the stored records (`repfit.host.store.Store.records`), the time and the user's
time zone; no clock, no database. Days begin at local midnight in that zone (`zoneinfo`, so
a week that crosses a DST change still has seven calendar days), weeks on Monday.

Every total is of *verified* work (what the host counted from a wearable). The JSON keeps the
verified totals under ``"verified"`` so that totals of another kind (self-reported sets) can
sit beside them in the same shape, and per-exercise entries have room for a daily cap.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from repfit import wire
from repfit.exercises import display_name

__all__ = ["EXPORT_FIELDS", "ExerciseTotals", "ExperimentTotals", "Record", "Stats", "compute",
           "export_csv", "export_rows", "render", "streaks", "to_json"]


class Record(NamedTuple):
    """One stored assignment and its result (None while it is open)."""

    user: str
    received_at: float
    assignment: wire.Assignment
    result: wire.Result | None


@dataclass(frozen=True)
class ExerciseTotals:
    """Verified work on one exercise over a period."""

    exercise: str
    label: str
    sets: int = 0
    completed: int = 0
    reps: int = 0
    hold_seconds: float = 0.0


@dataclass(frozen=True)
class ExperimentTotals:
    """Penalties and rewards one experiment has handed out, and how many were done."""

    experiment: str
    penalties: int = 0
    penalties_done: int = 0
    rewards: int = 0
    rewards_done: int = 0


@dataclass(frozen=True)
class Stats:
    user: str
    timezone: str
    today: date
    week_start: date
    today_totals: tuple[ExerciseTotals, ...]
    week_totals: tuple[ExerciseTotals, ...]
    streak_days: int
    best_streak_days: int
    experiments: tuple[ExperimentTotals, ...]


def _day(t: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(t, tz).date()


def _totals(results: Iterable[wire.Result]) -> tuple[ExerciseTotals, ...]:
    by: dict[str, ExerciseTotals] = {}
    for r in results:
        old = by.get(r.exercise, ExerciseTotals(r.exercise, r.exercise))
        hold = r.unit != "reps"
        by[r.exercise] = ExerciseTotals(
            r.exercise, display_name(r.exercise, r.label),  # the latest name the user used
            old.sets + 1, old.completed + int(r.completed),
            old.reps + (0 if hold else r.reps),
            old.hold_seconds + ((r.hold_seconds or 0.0) if hold else 0.0))
    return tuple(sorted(by.values(), key=lambda t: (-t.sets, t.exercise)))


def streaks(days: Iterable[date], today: date) -> tuple[int, int]:
    """(current, best) runs of consecutive days in ``days``. The current run ends today, or
    yesterday while today has nothing yet (the day is not over)."""
    done = set(days)
    best = run = 0
    previous: date | None = None
    for d in sorted(done):
        run = run + 1 if previous is not None and d - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = d
    current = 0
    d = today if today in done else today - timedelta(days=1)
    while d in done:
        current += 1
        d -= timedelta(days=1)
    return current, best


def compute(records: Sequence[Record], user: str, now: float, tz: ZoneInfo) -> Stats:
    """The stats of ``user`` at ``now`` from their records (other users' are ignored)."""
    mine = [r for r in records if r.user == user]
    today = _day(now, tz)
    week_start = today - timedelta(days=today.weekday())
    results = [r.result for r in mine if r.result is not None]
    today_results = [r for r in results if _day(r.finished_at, tz) == today]
    week_results = [r for r in results if week_start <= _day(r.finished_at, tz) <= today]
    current, best = streaks((_day(r.finished_at, tz) for r in results if r.completed), today)
    experiments: dict[str, ExperimentTotals] = {}
    for rec in mine:
        a = rec.assignment
        if a.reason == "assigned":
            continue
        name = a.experiment or "(no experiment)"
        old = experiments.get(name, ExperimentTotals(name))
        done = int(rec.result is not None and rec.result.completed)
        if a.reason == "penalty":
            old = ExperimentTotals(name, old.penalties + 1, old.penalties_done + done,
                                   old.rewards, old.rewards_done)
        else:
            old = ExperimentTotals(name, old.penalties, old.penalties_done, old.rewards + 1,
                                   old.rewards_done + done)
        experiments[name] = old
    return Stats(user, tz.key, today, week_start, _totals(today_results),
                 _totals(week_results), current, best,
                 tuple(sorted(experiments.values(), key=lambda e: e.experiment)))


def _entry(t: ExerciseTotals) -> dict[str, Any]:
    return {"exercise": t.exercise, "label": t.label,
            "verified": {"sets": t.sets, "completed": t.completed, "reps": t.reps,
                         "hold_seconds": round(t.hold_seconds, 1)}}


def to_json(stats: Stats) -> dict[str, Any]:
    """The stats as plain JSON data (dates as ISO strings)."""
    return {
        "user": stats.user, "timezone": stats.timezone, "today": stats.today.isoformat(),
        "week_start": stats.week_start.isoformat(),
        "today_by_exercise": [_entry(t) for t in stats.today_totals],
        "week_by_exercise": [_entry(t) for t in stats.week_totals],
        "streak_days": stats.streak_days, "best_streak_days": stats.best_streak_days,
        "experiments": [asdict(e) for e in stats.experiments],
    }


def _amount(t: ExerciseTotals) -> str:
    parts = []
    if t.reps or not t.hold_seconds:
        parts.append(f"{t.reps} reps")
    if t.hold_seconds:
        parts.append(f"{t.hold_seconds:.0f} s held")
    return ", ".join(parts)


def _table(title: str, totals: Sequence[ExerciseTotals]) -> list[str]:
    if not totals:
        return [f"{title}: nothing yet"]
    width = max(len("exercise"), *(len(t.label) for t in totals))
    lines = [f"{title}:  {'exercise'.ljust(width)}  verified sets  amount"]
    for t in totals:
        sets = f"{t.completed}/{t.sets} done"
        lines.append(f"{' ' * len(title)}   {t.label.ljust(width)}  {sets:<13}  {_amount(t)}")
    return lines


def render(stats: Stats) -> list[str]:
    """The stats as lines of text for the terminal."""
    lines = [f"stats for {stats.user} ({stats.timezone}): today {stats.today:%a %Y-%m-%d}, "
             f"week from {stats.week_start:%a %Y-%m-%d}"]
    lines += _table("today", stats.today_totals)
    lines += _table("this week", stats.week_totals)
    s = stats.streak_days
    lines.append(f"streak: {s} day{'s' if s != 1 else ''} in a row with a completed set "
                 f"(best {stats.best_streak_days})")
    if stats.experiments:
        lines.append("penalties and rewards by experiment:")
        for e in stats.experiments:
            lines.append(f"  {e.experiment}: penalties {e.penalties} ({e.penalties_done} done), "
                         f"rewards {e.rewards} ({e.rewards_done} done)")
    return lines


EXPORT_FIELDS = ("user", "assignment_id", "exercise", "label", "reason", "target", "unit",
                 "experiment", "run_id", "issued_at", "deadline_s", "received_at", "outcome",
                 "completed", "reps", "hold_seconds", "rejected", "started_at", "finished_at")


def _iso(t: float | None, tz: ZoneInfo) -> str | None:
    return None if not t else datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def export_rows(records: Iterable[Record], tz: ZoneInfo) -> list[dict[str, Any]]:
    """One flat row per assignment with its result's fields (empty while open); times as
    ISO 8601 in ``tz``."""
    rows = []
    for rec in records:
        a, r = rec.assignment, rec.result
        rows.append({
            "user": rec.user, "assignment_id": a.id, "exercise": a.exercise,
            "label": display_name(a.exercise, a.label), "reason": a.reason,
            "target": a.target, "unit": a.unit, "experiment": a.experiment, "run_id": a.run_id,
            "issued_at": _iso(a.issued_at, tz), "deadline_s": a.deadline_s,
            "received_at": _iso(rec.received_at, tz),
            "outcome": r.outcome if r else None, "completed": r.completed if r else None,
            "reps": r.reps if r else None, "hold_seconds": r.hold_seconds if r else None,
            "rejected": r.rejected if r else None,
            "started_at": _iso(r.started_at, tz) if r else None,
            "finished_at": _iso(r.finished_at, tz) if r else None,
        })
    return rows


def export_csv(rows: Iterable[dict[str, Any]]) -> str:
    """``export_rows`` as CSV text with a header line (empty cells for missing values)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
