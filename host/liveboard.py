"""What the user should see right now, kept as one plain snapshot for views away from the
terminal (the live page, Home Assistant).

`LiveBoard` is a `HostObserver` plus two more feeds: the wearable's sample batches (rate,
loss, battery, whether samples still arrive) and today's books (`repfit.host.stats`). Every
change is handed to the listeners as the whole snapshot, a small JSON-ready dict, so a view
that missed updates needs nothing but the latest one. No I/O: the host's shell calls it from
the event loop and listeners must return at once (queue, never wait).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from repfit import wire
from repfit.exercises import display_name
from repfit.host.stats import CapUse, Stats
from repfit.host.wearables_cli import StreamStatus

__all__ = ["Listener", "LiveBoard", "cap_key"]

log = logging.getLogger(__name__)

#: Called with the reason for the change ("progress", "wearable", ...) and the snapshot.
Listener = Callable[[str, dict[str, Any]], None]


def cap_key(c: CapUse) -> str:
    """A name for one daily cap made of ``[A-Za-z0-9_-]`` (an MQTT topic level, a Home
    Assistant object id): the exercise for a reps cap, else the cap's key; ``penalty_``
    before the penalties' own caps."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", c.exercise) if c.exercise else c.cap
    return f"penalty_{name}" if c.pool == "penalty" else name


class LiveBoard:
    """The current assignment, its progress, the wearable and today's totals.

    Parameters
    ----------
    user : str
        Whose board it is.
    clock : callable
        Wall clock (epoch seconds); injectable for tests.
    wearable_every_s : float
        Least time between two wearable-only updates (samples arrive many times a second;
        the rate and loss figures do not need to).
    stale_s : float
        A wearable that sent nothing for this long is shown as disconnected.
    """

    def __init__(self, user: str, *, clock: Callable[[], float] = time.time,
                 wearable_every_s: float = 0.5, stale_s: float = 3.0) -> None:
        self.user = user
        self.clock = clock
        self.wearable_every_s = wearable_every_s
        self.stale_s = stale_s
        self.seq = 0
        self._listeners: list[Listener] = []
        self._assignments: dict[str, wire.Assignment] = {}
        self._progress: wire.Progress | None = None
        self._last_result: wire.Result | None = None
        self._last_reason: str | None = None
        self._stream: StreamStatus | None = None
        self._battery: int | None = None
        self._seen_at: float | None = None
        self._connected = False
        self._wearable_sent = 0.0
        self._today: dict[str, Any] = {"date": None, "by_exercise": [], "streak_days": 0,
                                       "best_streak_days": 0}
        self._caps: dict[str, dict[str, Any]] | None = None

    # ------------------------------------------------------------------ listeners

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners \
            else None

    def _changed(self, why: str) -> None:
        self.seq += 1
        snap = self.snapshot()
        for listener in list(self._listeners):
            try:
                listener(why, snap)
            except Exception:  # a broken view never stops the host
                log.exception("live view %r failed on a %s update", listener, why)

    # ------------------------------------------------------------------ HostObserver

    def assignment(self, a: wire.Assignment) -> None:
        self._assignments[a.id] = a
        self._changed("assignment")

    def progress(self, p: wire.Progress) -> None:
        if self._progress is None or self._progress.assignment_id != p.assignment_id:
            self._last_reason = None
        self._progress = p
        if p.last_reason:
            self._last_reason = p.last_reason
        self._changed("progress")

    def result(self, r: wire.Result) -> None:
        self._assignments.pop(r.assignment_id, None)
        if self._progress is not None and self._progress.assignment_id == r.assignment_id:
            self._progress = None
        self._last_result = r
        self._changed("result")

    def cue(self, c: wire.Cue) -> None:
        """Cues are sounds; the board shows state, not events."""

    # ------------------------------------------------------------------ other feeds

    def samples(self, batch: wire.SampleBatch, battery_percent: int | None = None) -> None:
        """One batch from a wearable (over MQTT or a local source)."""
        if self._stream is None or self._stream.device != batch.device:
            self._stream = StreamStatus(batch.device)
        self._stream.add(batch.t, batch.acc, batch.lost_before)
        if battery_percent is not None:
            self._battery = battery_percent
        now = self.clock()
        self._seen_at = now
        if not self._connected or now - self._wearable_sent >= self.wearable_every_s:
            self._connected = True
            self._wearable_sent = now
            self._changed("wearable")

    def tick(self) -> None:
        """Call now and then: a wearable that went quiet is shown as disconnected."""
        if self._connected and self._seen_at is not None \
                and self.clock() - self._seen_at > self.stale_s:
            self._connected = False
            self._changed("wearable")

    def set_today(self, stats: Stats) -> None:
        """Today's verified totals and the streak, from `repfit.host.stats.compute`."""
        self._today = {
            "date": stats.today.isoformat(),
            "by_exercise": [{"exercise": t.exercise, "label": t.label, "sets": t.sets,
                             "completed": t.completed, "reps": t.reps,
                             "hold_seconds": round(t.hold_seconds, 1)}
                            for t in stats.today_totals],
            "streak_days": stats.streak_days, "best_streak_days": stats.best_streak_days,
        }
        caps_before = self._caps
        self._set_caps(stats.caps)
        self._changed("caps" if self._caps != caps_before else "today")

    def set_caps(self, uses: Sequence[CapUse]) -> None:
        """How much of each daily cap is used and left (`repfit.host.stats.CapUse`; none:
        no caps are configured)."""
        self._set_caps(uses)
        self._changed("caps")

    def _set_caps(self, uses: Sequence[CapUse]) -> None:
        self._caps = {cap_key(c): {"label": c.label, "used": c.used, "limit": c.limit,
                                   "remaining": c.remaining} for c in uses} or None

    # ------------------------------------------------------------------ the snapshot

    def _current(self) -> dict[str, Any] | None:
        p = self._progress
        if p is None:
            return None
        a = self._assignments.get(p.assignment_id)
        done = min(float(p.reps), p.target) if p.unit == "reps" else (p.hold_seconds or 0.0)
        return {
            "id": p.assignment_id, "exercise": p.exercise,
            "name": display_name(p.exercise, p.label), "unit": p.unit, "target": p.target,
            "reps": p.reps, "hold_seconds": p.hold_seconds, "rejected": p.rejected,
            "last_refusal": self._last_reason,
            "fraction": min(1.0, done / p.target) if p.target > 0 else 1.0,
            "reason": a.reason if a else "assigned", "text": a.text if a else None,
            "deadline_at": a.issued_at + a.deadline_s if a and a.issued_at else None,
        }

    def _wearable(self) -> dict[str, Any] | None:
        s = self._stream
        if s is None:
            return None
        total = s.samples + s.lost
        return {"device": s.device, "connected": self._connected,
                "rate_hz": round(s.rate_hz, 1), "samples": s.samples, "lost": s.lost,
                "loss_percent": round(100.0 * s.lost / total, 2) if total else 0.0,
                "battery_percent": self._battery}

    def snapshot(self) -> dict[str, Any]:
        """Everything a view shows, as JSON-ready data."""
        current = self._current()
        active = current["id"] if current else None
        r = self._last_result
        return {
            "user": self.user, "seq": self.seq, "at": self.clock(),
            "current": current,
            "pending": [{"id": a.id, "name": display_name(a.exercise, a.label),
                         "target": a.target, "unit": a.unit}
                        for a in self._assignments.values() if a.id != active],
            "last_result": None if r is None else {
                "id": r.assignment_id, "name": display_name(r.exercise, r.label),
                "completed": r.completed, "outcome": r.outcome, "reps": r.reps,
                "target": r.target, "unit": r.unit, "hold_seconds": r.hold_seconds,
                "rejected": r.rejected, "finished_at": r.finished_at,
                "verified": r.verified, "detail": r.detail},
            "wearable": self._wearable(),
            "today": self._today,
            "caps": self._caps,
            "caps_remaining": None if self._caps is None else
            {k: c["remaining"] for k, c in self._caps.items()},
        }
