"""History charts: reps per day per exercise, sets verified or not, the streak, and each
training run's final validation metric beside the penalties and rewards it handed out.
Drawn for ``repfit stats --plot`` and the live page. And one set's own plot (`set_png`: the
signal and the reps counted in it), for the live page and ``repfit count --plot``.

The data (`history`) is pure, from the stored records like `repfit.host.stats` and the
training side's run scores (`read_run_scores`, from ``history.sqlite3`` when training runs on
this machine with the same data directory); drawing uses matplotlib's object API (no
pyplot, no global state, safe in a worker thread) and needs the ``plot`` extra.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from repfit.exercises import display_name
from repfit.host.stats import Record, streaks

__all__ = ["History", "RunScore", "history", "png", "read_run_scores", "set_png"]


@dataclass(frozen=True)
class RunScore:
    """A training run's last validation score, from the training side's run history."""

    run_id: str
    started_at: float
    metric: str | None
    final: float | None


def read_run_scores(data_dir: Path) -> list[RunScore]:
    """The run scores kept in ``data_dir`` by the training callbacks (none when training
    keeps its history elsewhere or the file cannot be read)."""
    import sqlite3

    from repfit.integrations.history import HistoryStore

    store = HistoryStore.in_dir(data_dir)
    if not store.path.is_file():
        return []
    try:
        out = []
        for run in store.runs():
            scores = store.scores(run.run_id)
            final = scores[max(scores)] if scores else None
            out.append(RunScore(run.run_id, run.started_at, run.metric, final))
        return out
    except sqlite3.DatabaseError:
        return []


@dataclass(frozen=True)
class History:
    """Per-day and per-run series over the last ``days`` days."""

    days: tuple[date, ...]
    reps: dict[str, tuple[int, ...]]          # exercise label -> reps per day
    completed: tuple[int, ...]                # sets verified complete per day
    not_completed: tuple[int, ...]            # sets not verified (deadline, cancelled)
    streak: tuple[int, ...]                   # streak length at the end of each day
    runs: tuple[tuple[str, int, int, float | None], ...]  # (run, penalties, rewards,
    #                                                        final metric), oldest first
    metric: str | None = None                 # the metric's name (the latest run's)


def history(records: Sequence[Record], user: str, now: float, tz: ZoneInfo,
            days: int = 30, run_scores: Sequence[RunScore] = ()) -> History:
    """The series of ``user`` for the ``days`` days that end today; runs are those that
    assigned ``user`` penalties or rewards and those in ``run_scores``."""
    today = datetime.fromtimestamp(now, tz).date()
    span = tuple(today - timedelta(days=days - 1 - i) for i in range(days))
    index = {d: i for i, d in enumerate(span)}
    reps: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    completed, not_completed = [0] * days, [0] * days
    done_days: list[date] = []
    runs: dict[str, list[int]] = {}
    first_seen: dict[str, float] = {s.run_id: s.started_at for s in run_scores}
    for rec in records:
        if rec.user != user:
            continue
        a, r = rec.assignment, rec.result
        if a.run_id:
            first_seen.setdefault(a.run_id, a.issued_at or rec.received_at)
        if a.reason != "assigned" and a.run_id:
            counts = runs.setdefault(a.run_id, [0, 0])
            counts[0 if a.reason == "penalty" else 1] += 1
        if r is None:
            continue
        day = datetime.fromtimestamp(r.finished_at, tz).date()
        if r.completed:
            done_days.append(day)
        if day not in index:
            continue
        i = index[day]
        if r.unit == "reps":
            reps[display_name(r.exercise, r.label)][i] += r.reps
        (completed if r.completed else not_completed)[i] += 1
    streak = tuple(streaks((d for d in done_days if d <= day), day)[0]
                   if day in set(done_days) else 0 for day in span)
    finals = {s.run_id: s.final for s in run_scores}
    shown = sorted(set(runs) | set(finals), key=lambda run: (first_seen.get(run, 0.0), run))
    metric = next((s.metric for s in reversed(run_scores) if s.metric), None)
    return History(span, {k: tuple(v) for k, v in sorted(reps.items())}, tuple(completed),
                   tuple(not_completed), streak,
                   tuple((run, runs.get(run, [0, 0])[0], runs.get(run, [0, 0])[1],
                          finals.get(run)) for run in shown),
                   metric)


def _figure(h: History, user: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 9), layout="constrained")
    by_day, sets, streak, per_run = fig.subplots(4, 1)
    x = list(range(len(h.days)))
    labels = [d.strftime("%m-%d") for d in h.days]
    bottom = [0] * len(x)
    for name, series in h.reps.items():
        by_day.bar(x, series, bottom=bottom, label=name)
        bottom = [b + s for b, s in zip(bottom, series, strict=True)]
    by_day.set_title(f"{user}: verified reps per day")
    if h.reps:
        by_day.legend(loc="upper left", fontsize="small")
    sets.bar(x, h.completed, color="tab:green", label="verified complete")
    sets.bar(x, h.not_completed, bottom=h.completed, color="tab:red",
             label="not verified (deadline or cancelled)")
    sets.set_title("sets per day")
    sets.legend(loc="upper left", fontsize="small")
    streak.plot(x, h.streak, marker="o", color="tab:orange")
    streak.set_title("streak (days in a row with a completed set)")
    for ax in (by_day, sets, streak):
        ax.set_xticks(x[::max(1, len(x) // 10)], labels[::max(1, len(x) // 10)])
    runs = h.runs[-15:]
    rx = list(range(len(runs)))
    per_run.bar([i - 0.2 for i in rx], [r[1] for r in runs], width=0.4,
                color="tab:red", label="penalties")
    per_run.bar([i + 0.2 for i in rx], [r[2] for r in runs], width=0.4,
                color="tab:blue", label="rewards")
    per_run.set_xticks(rx, [r[0][-10:] for r in runs], rotation=30, fontsize="small")
    per_run.set_title("per training run (latest 15): penalties and rewards"
                      + (f", final {h.metric}" if h.metric else ""))
    scored = [(i, r[3]) for i, r in zip(rx, runs, strict=True) if r[3] is not None]
    if scored:
        metric_axis = per_run.twinx()
        metric_axis.plot([i for i, _ in scored], [v for _, v in scored], "ko-",
                         label=h.metric or "metric")
        metric_axis.set_ylabel(h.metric or "metric")
        metric_axis.legend(loc="upper right", fontsize="small")
    if runs:
        per_run.legend(loc="upper left", fontsize="small")
    return fig


def png(h: History, user: str) -> bytes:
    """The charts as one PNG image."""
    out = io.BytesIO()
    _figure(h, user).savefig(out, format="png", dpi=80)
    return out.getvalue()


def set_png(t: Any, acc: Any, exercise: str, title: str,
            rep_times: Sequence[float] | None = None, position: str | None = None) -> bytes:
    """One set: the three axes, the counter's movement trace, counted (green) and refused
    (red, dashed) reps. The counter runs again over the samples for the trace; the counted
    reps are ``rep_times`` when given (what the host counted live), else the new run's.
    ``position``: where the sensor was worn; a set refused there says so in the title."""
    from matplotlib.figure import Figure

    from repfit.detection import RepCounter

    counter = RepCounter(exercise, keep_trace=True, position=position)
    first, last = counter.feed(t, acc), counter.finish()
    counted = [e.t for e in (*first.events, *last.events)] if rep_times is None \
        else list(rep_times)
    rejected = [r.t for r in (*first.rejected, *last.rejected)
                if all(abs(r.t - c) > 0.5 for c in counted)]
    fig = Figure(figsize=(12, 6), layout="tight")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(("ax", "ay", "az")):
        top.plot(t, acc[:, i], lw=0.7, label=name)
    top.set_ylabel("acceleration (g)")
    top.legend(loc="upper right", fontsize="small")
    amount = (f"{len(counted)} reps" if last.hold_seconds is None
              else f"{last.hold_seconds:.1f} s held")
    if counter.refusal is not None:
        amount = "refused"
    top.set_title(f"{title}: {amount} ({counter.exercise})")
    if last.hold_seconds is None and counter.refusal is None:
        g, v = counter.trace
        bottom.plot(g, v, "k", lw=1.0, label="movement (filtered, projected)")
        for when in counted:
            bottom.axvline(when, color="tab:green", lw=1.0)
        for when in rejected:
            bottom.axvline(when, color="tab:red", ls="--", lw=0.8)
        bottom.set_ylabel("movement (g)")
    bottom.set_xlabel("time (s)")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=80)
    return out.getvalue()
