"""The books: what a user did today and this week, streaks, penalties and rewards.

Pure: fed the stored records (`repfit.host.store.Store.records`), the time and the user's
time zone; no clock, no database. Days begin at local midnight in that zone (`zoneinfo`, so
a week that crosses a DST change still has seven calendar days), weeks on Monday.

Totals of *verified* work (what the host counted from a wearable) and of *unverified* work
(sets the user reported in honour mode) are kept apart: the JSON has them under
``"verified"`` and ``"unverified"``, and only verified sets make a streak or count as a
penalty or reward done. Assignments a daily cap refused, or closed unseen because their
deadline passed while no host ran, are no sets at all. With the user's caps, the stats say
how much of each is used today and how much remains (counted as `repfit.host.caps` counts).
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
from repfit.exercises import canonical, display_name
from repfit.host.caps import CapRules, Pool, Usage
from repfit.host.days import day_bounds

__all__ = ["EXPORT_FIELDS", "CapUse", "ExerciseTotals", "ExperimentTotals", "Record", "Stats",
           "compute", "export_csv", "export_rows", "render", "streaks", "to_json"]


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
class CapUse:
    """How much of one daily cap today's assignments have taken.

    ``cap`` is the key of ``[caps]``; ``exercise`` is set for reps caps; ``pool`` is
    ``"penalty"`` for the penalties' own caps.
    """

    cap: str
    pool: Pool
    exercise: str | None
    label: str
    used: float
    limit: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.used)


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
    today_unverified: tuple[ExerciseTotals, ...] = ()
    week_unverified: tuple[ExerciseTotals, ...] = ()
    caps: tuple[CapUse, ...] = ()
    quiet_hours: tuple[str, ...] = ()


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


#: Outcomes of assignments the user was never asked to do: no set, no total.
_NOT_SETS = ("capped", "missed")


def _done(r: wire.Result | None) -> bool:
    """A verified, completed set: what streaks and "done" count."""
    return r is not None and r.completed and r.verified


def compute(records: Sequence[Record], user: str, now: float, tz: ZoneInfo,
            rules: CapRules | None = None) -> Stats:
    """The stats of ``user`` at ``now`` from their records (other users' are ignored);
    with ``rules``, how much of each of their caps today's assignments used."""
    mine = [r for r in records if r.user == user]
    today = _day(now, tz)
    week_start = today - timedelta(days=today.weekday())
    sets = [r.result for r in mine if r.result is not None and r.result.outcome not in _NOT_SETS]
    today_sets = [r for r in sets if _day(r.finished_at, tz) == today]
    week_sets = [r for r in sets if week_start <= _day(r.finished_at, tz) <= today]
    current, best = streaks((_day(r.finished_at, tz) for r in sets if _done(r)), today)
    experiments: dict[str, ExperimentTotals] = {}
    for rec in mine:
        a = rec.assignment
        if a.reason == "assigned":
            continue
        name = a.experiment or "(no experiment)"
        old = experiments.get(name, ExperimentTotals(name))
        done = int(_done(rec.result))
        if a.reason == "penalty":
            old = ExperimentTotals(name, old.penalties + 1, old.penalties_done + done,
                                   old.rewards, old.rewards_done)
        else:
            old = ExperimentTotals(name, old.penalties, old.penalties_done, old.rewards + 1,
                                   old.rewards_done + done)
        experiments[name] = old
    return Stats(user, tz.key, today, week_start,
                 _totals(r for r in today_sets if r.verified),
                 _totals(r for r in week_sets if r.verified), current, best,
                 tuple(sorted(experiments.values(), key=lambda e: e.experiment)),
                 _totals(r for r in today_sets if not r.verified),
                 _totals(r for r in week_sets if not r.verified),
                 _cap_uses(rules, mine, now) if rules is not None else (),
                 tuple(str(q) for q in rules.quiet_hours) if rules is not None else ())


def _cap_uses(rules: CapRules, records: Sequence[Record], now: float) -> tuple[CapUse, ...]:
    """Every cap of ``rules`` with what the assignments received today (in the caps' zone)
    took of it; reps caps for each exercise capped by name or assigned today."""
    start, end = day_bounds(now, rules.timezone)
    day = [rec for rec in records if start <= rec.received_at < end]
    usage = Usage.of_day(rules, ((rec.assignment, rec.result) for rec in day))
    labels: dict[str, str] = {}
    for rec in day:
        exercise = canonical(rec.assignment.exercise) or rec.assignment.exercise
        labels[exercise] = display_name(exercise, rec.assignment.label)
    uses: list[CapUse] = []
    pools: tuple[Pool, ...] = ("main", "penalty") if rules.penalty_limits else ("main",)
    for pool in pools:
        limits = rules.limits_for(pool)
        if limits.assignments_per_day is not None:
            uses.append(CapUse("assignments_per_day", pool, None, "assignments",
                               usage.assignments(pool), limits.assignments_per_day))
        names = {t.exercise for t in usage.takes if t.pool == pool and t.reps} | \
            set(limits.reps_per_exercise)
        for exercise in sorted(names):
            cap = limits.reps_cap(exercise)
            if cap is not None:
                uses.append(CapUse("reps_per_day", pool, exercise,
                                   labels.get(exercise, display_name(exercise)),
                                   usage.reps(pool, exercise), cap))
        if limits.hold_seconds_per_day is not None:
            uses.append(CapUse("hold_seconds_per_day", pool, None, "s of holds",
                               usage.hold_seconds(pool), limits.hold_seconds_per_day))
    return tuple(uses)


def _amounts(t: ExerciseTotals | None) -> dict[str, Any]:
    if t is None:
        return {"sets": 0, "completed": 0, "reps": 0, "hold_seconds": 0.0}
    return {"sets": t.sets, "completed": t.completed, "reps": t.reps,
            "hold_seconds": round(t.hold_seconds, 1)}


def _entries(verified: Sequence[ExerciseTotals], unverified: Sequence[ExerciseTotals],
             caps: Sequence[CapUse]) -> list[dict[str, Any]]:
    """One entry per exercise: verified and unverified totals side by side, and its reps
    cap when it has one (the common one; penalties' own caps are under ``"caps"``)."""
    v = {t.exercise: t for t in verified}
    u = {t.exercise: t for t in unverified}
    cap = {c.exercise: c for c in caps if c.cap == "reps_per_day" and c.pool == "main"}
    entries = []
    for t in [*verified, *(t for t in unverified if t.exercise not in v)]:
        entry: dict[str, Any] = {"exercise": t.exercise, "label": t.label,
                                 "verified": _amounts(v.get(t.exercise)),
                                 "unverified": _amounts(u.get(t.exercise))}
        if t.exercise in cap:
            entry["cap"] = _cap_json(cap[t.exercise])
        entries.append(entry)
    return entries


def _cap_json(c: CapUse) -> dict[str, Any]:
    return {"cap": c.cap, "pool": c.pool, "exercise": c.exercise, "label": c.label,
            "used": c.used, "limit": c.limit, "remaining": c.remaining}


def to_json(stats: Stats) -> dict[str, Any]:
    """The stats as plain JSON data (dates as ISO strings)."""
    return {
        "user": stats.user, "timezone": stats.timezone, "today": stats.today.isoformat(),
        "week_start": stats.week_start.isoformat(),
        "today_by_exercise": _entries(stats.today_totals, stats.today_unverified, stats.caps),
        "week_by_exercise": _entries(stats.week_totals, stats.week_unverified, ()),
        "caps_today": [_cap_json(c) for c in stats.caps],
        "quiet_hours": list(stats.quiet_hours),
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
    if stats.today_unverified or stats.week_unverified:
        lines += _table("reported, not verified, today", stats.today_unverified)
        lines += _table("reported, not verified, this week", stats.week_unverified)
    if stats.caps or stats.quiet_hours:
        lines.append("caps today: " + (", ".join(
            f"{c.label}{' (penalties)' if c.pool == 'penalty' else ''} {c.used:g}/{c.limit:g}"
            f" ({c.remaining:g} left)" for c in stats.caps) or "none")
            + "".join(f"; quiet hours {q}" for q in stats.quiet_hours))
    s = stats.streak_days
    lines.append(f"streak: {s} day{'s' if s != 1 else ''} in a row with a verified, completed "
                 f"set (best {stats.best_streak_days})")
    if stats.experiments:
        lines.append("penalties and rewards by experiment:")
        for e in stats.experiments:
            lines.append(f"  {e.experiment}: penalties {e.penalties} ({e.penalties_done} done), "
                         f"rewards {e.rewards} ({e.rewards_done} done)")
    return lines


EXPORT_FIELDS = ("user", "assignment_id", "exercise", "label", "reason", "target", "unit",
                 "experiment", "run_id", "issued_at", "deadline_s", "received_at", "outcome",
                 "completed", "verified", "reps", "hold_seconds", "rejected", "started_at",
                 "finished_at", "detail")


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
            "verified": r.verified if r else None, "detail": r.detail if r else None,
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
