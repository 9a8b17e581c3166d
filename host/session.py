"""One open assignment being verified: samples in, progress and a final result out.

Pure: no clock, no I/O. The caller passes the wall-clock time with every call, which keeps
the deadline logic testable and lets a restarted host resume a session where the store left it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from repfit import wire
from repfit.detection import EXERCISES, RepCounter, profile_name

__all__ = ["Session", "counter_exercise"]

log = logging.getLogger(__name__)


def counter_exercise(name: str) -> str:
    """The detector profile for an exercise as people write it ("Push-ups", "sit-up");
    names without one fall back to ``generic``, with a warning that names the profiles."""
    found = profile_name(name)
    if found is not None:
        return found
    log.warning("no detection profile for exercise %r (profiles: %s): counting it as generic "
                "rhythmic motion", name, ", ".join(EXERCISES))
    return "generic"


@dataclass
class Session:
    """Verification state of one assignment.

    Each wearable gets its own counter (two devices on one person must not double-count);
    the session's count is the best of them.
    """

    assignment: wire.Assignment
    started_at: float
    counters: dict[str, RepCounter] = field(default_factory=dict)
    reps: int = 0
    hold_seconds: float | None = None
    rejected: int = 0
    last_reason: str | None = None

    @property
    def is_hold(self) -> bool:
        return self.assignment.unit != "reps"

    @property
    def hold_target_s(self) -> float:
        """Seconds to hold. Iteration targets use the trainer's estimate (1 s per iteration
        when it sent none)."""
        a = self.assignment
        if a.unit == "iterations":
            return a.est_duration_s if a.est_duration_s else a.target
        return a.target

    @property
    def deadline(self) -> float:
        a = self.assignment
        return (a.issued_at or self.started_at) + a.deadline_s

    def _counter(self, device: str) -> RepCounter:
        counter = self.counters.get(device)
        if counter is None:
            counter = RepCounter(counter_exercise(self.assignment.exercise))
            self.counters[device] = counter
        return counter

    def feed(self, batch: wire.SampleBatch, now: float) -> wire.Progress | None:
        """Count a batch; returns a `Progress` when reps, hold time or refusals changed."""
        if len(batch) == 0:
            return None
        update = self._counter(batch.device).feed(batch.t, batch.acc)
        before = (self.reps, self.hold_seconds, self.rejected)
        self.rejected += len(update.rejected)
        if update.rejected:
            self.last_reason = update.rejected[-1].reason
        self.reps = max(c.count for c in self.counters.values())
        holds = [c.hold_seconds for c in self.counters.values() if c.hold_seconds is not None]
        self.hold_seconds = max(holds) if holds else None
        if (self.reps, self.hold_seconds, self.rejected) == before:
            return None
        return self.progress(now)

    def progress(self, now: float) -> wire.Progress:
        """Live state. Holds report their target in seconds: that is what the host verifies,
        even when the trainer set it in iterations."""
        a = self.assignment
        unit: wire.Unit
        target, unit = (self.hold_target_s, "seconds") if self.is_hold else (a.target, a.unit)
        return wire.Progress(
            assignment_id=a.id, exercise=a.exercise, reps=self.reps, target=target, unit=unit,
            hold_seconds=self.hold_seconds, rejected=self.rejected, last_reason=self.last_reason,
            at=now, label=a.label,
        )

    @property
    def target_reached(self) -> bool:
        if self.is_hold:
            return (self.hold_seconds or 0.0) >= self.hold_target_s
        return self.reps >= self.assignment.target

    def outcome(self, now: float) -> wire.Result | None:
        """The final result once the target is reached or the deadline has passed."""
        if self.target_reached:
            return self._result("target_reached", now)
        if now >= self.deadline:
            return self._result("deadline", now)
        return None

    def cancel(self, now: float) -> wire.Result:
        return self._result("cancelled", now)

    def _result(self, outcome: wire.Outcome, now: float) -> wire.Result:
        a = self.assignment
        return wire.Result(
            assignment_id=a.id, exercise=a.exercise, completed=self.target_reached,
            outcome=outcome, reps=self.reps, target=a.target, unit=a.unit,
            hold_seconds=self.hold_seconds, rejected=self.rejected, reason=a.reason,
            started_at=self.started_at, finished_at=now, label=a.label,
        )
