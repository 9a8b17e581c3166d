"""The facts of a post, read from the host's stored results (never from a wire message alone)
and, when the training side keeps its history in the same data directory, the model's
metric and its change against the previous run.

Pure apart from `metric_facts`, which reads `repfit.integrations.history.HistoryStore`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from repfit import wire
from repfit.exercises import display_name
from repfit.host import stats
from repfit.host.posts.template import PostFacts

__all__ = ["MetricFacts", "daily_facts", "metric_facts", "result_facts", "set_outcome"]

log = logging.getLogger(__name__)

MetricFacts = tuple[str, str]
"""(metric, change against the previous run), both text, empty when unknown."""


def set_outcome(r: wire.Result) -> str:
    """"completed", "partial" (some work, short of the target), "missed" (none), or what
    else ended it: "cancelled", "superseded" (a newer assignment replaced it), "capped"."""
    if r.completed:
        return "completed"
    if r.outcome in ("cancelled", "superseded", "capped"):
        return r.outcome
    done = (r.hold_seconds or 0.0) if r.unit != "reps" else r.reps
    return "partial" if done > 0 else "missed"


def _done(r: wire.Result) -> str:
    if r.unit == "reps":
        return f"{r.reps}/{r.target:g} reps"
    return f"{r.hold_seconds or 0.0:.0f}/{r.target:g} s held" if r.unit == "seconds" else \
        f"{r.hold_seconds or 0.0:.0f} s held ({r.target:g} {r.unit})"


def _today(totals: Sequence[stats.ExerciseTotals]) -> str:
    parts = []
    for t in totals:
        amount = f"{t.reps} {t.label}" if t.reps or not t.hold_seconds else ""
        if t.hold_seconds:
            amount = (amount + " + " if amount else "") + f"{t.hold_seconds:.0f} s {t.label}"
        parts.append(amount)
    return ", ".join(parts) or "nothing yet"


def _penalties_today(records: Sequence[stats.Record], user: str, day: str,
                     tz: ZoneInfo) -> int:
    return sum(1 for rec in records if rec.user == user and rec.assignment.reason == "penalty"
               and datetime.fromtimestamp(rec.received_at, tz).date().isoformat() == day)


def _common(records: Sequence[stats.Record], user: str, now: float, tz: ZoneInfo,
            ) -> tuple[stats.Stats, dict[str, str]]:
    s = stats.compute(records, user, now, tz)
    local = datetime.fromtimestamp(now, tz)
    return s, {"streak": str(s.streak_days), "today": _today(s.today_totals),
               "penalties": str(_penalties_today(records, user, s.today.isoformat(), tz)),
               "date": local.date().isoformat(), "time": local.strftime("%H:%M")}


def result_facts(records: Sequence[stats.Record], user: str, result: wire.Result,
                 now: float, tz: ZoneInfo, metric: MetricFacts = ("", ""),
                 verified: bool = True, caps: str = "") -> PostFacts:
    """The facts of one stored result. ``records`` are the user's stored records including
    this result (streak and today's totals count it). ``caps``: the daily caps this set hit,
    as text (empty while unknown)."""
    a = next((rec.assignment for rec in records
              if rec.assignment.id == result.assignment_id), None)
    _, common = _common(records, user, now, tz)
    return PostFacts(
        exercise=display_name(result.exercise, result.label or (a.label if a else None)),
        done=_done(result), reps=str(result.reps), target=f"{result.target:g}",
        unit=result.unit,
        hold_seconds="" if result.hold_seconds is None else f"{result.hold_seconds:.0f}",
        mode="verified" if verified else "honour mode", outcome=set_outcome(result),
        reason=result.reason, metric=metric[0], metric_change=metric[1], caps=caps,
        experiment=(a.experiment or "") if a else "", **common)


def daily_facts(records: Sequence[stats.Record], user: str, now: float, tz: ZoneInfo,
                ) -> PostFacts:
    """The facts of a daily summary at ``now``."""
    _, common = _common(records, user, now, tz)
    return PostFacts(**common)


def metric_facts(data_dir: Path, run_id: str | None, experiment: str | None) -> MetricFacts:
    """The run's latest validation score and its change against the previous run at the
    latest iteration both reached, from the training history in ``data_dir`` (empty when
    there is none)."""
    if not run_id or not experiment:
        return ("", "")
    from repfit.integrations.history import HistoryStore

    history = HistoryStore.in_dir(data_dir)
    if not history.path.exists():
        return ("", "")
    try:
        run = next((r for r in history.runs(experiment) if r.run_id == run_id), None)
        scores = history.scores(run_id)
        previous = history.previous_scores(experiment, run_id)
    except sqlite3.DatabaseError as exc:
        log.warning("training history %s unreadable (%s); posting without the metric",
                    history.path, exc)
        return ("", "")
    if run is None or not scores:
        return ("", "")
    iteration = max(scores)
    name = " ".join(p for p in (run.dataset, run.metric) if p) or "metric"
    metric = f"{name} {scores[iteration]:.4g} at iteration {iteration}"
    common = set(scores) & set(previous or {})
    if not previous or not common:
        return (metric, "")
    at = max(common)  # the latest iteration both runs reached
    delta = scores[at] - previous[at]
    better = "" if run.higher_is_better is None or delta == 0 else \
        " (better)" if (delta > 0) == run.higher_is_better else " (worse)"
    return (metric, f"{name} {delta:+.4g} vs the previous run at iteration {at}{better}")
