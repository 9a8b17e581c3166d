"""One open assignment being verified: samples in, progress and a final result out.

Pure: no clock, no I/O. The caller passes the wall-clock time with every call, which keeps
the deadline logic testable and lets a restarted host resume a session where the store left it.

Resuming after a crash carries the saved totals (`SavedSet`), not the counters' inner state:
the set restarts its counters from zero and adds what they count to what was saved. Why not
restore the detector or replay stored samples: a restart always leaves a gap in the stream
(longer than the detector's ``gap_s``), after which the detector starts a new run anyway, so
neither would count a single rep more; restoring the detector would tie the store to its
private, version-specific state, and replaying would mean writing every sample (50-100 rows a
second) instead of one row per rep.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from repfit import wire
from repfit.detection import EXERCISES, CounterUpdate, RepCounter, position_refusal, profile_name
from repfit.host.store import SavedSet

__all__ = ["MAX_DEADLINE_S", "Session", "counter_exercise"]

#: The longest an assignment stays open, whatever its ``deadline_s`` says: an assignment
#: that can never be met must not block the ones after it (docs/protocol.md).
MAX_DEADLINE_S = 24 * 3600.0

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
    the session's count is what was carried over (``carried``, from before a restart or
    from another host) plus the best of them. When the set ends, its counters are finished
    (`RepCounter.finish`): a stream that stopped right after its last rep counts that rep,
    as ``repfit count`` does at the end of a file.

    ``position`` is where the user wears the sensor (a name `sensor_position` knows), when
    the settings say: an exercise the physics cannot count from there is refused at once
    (`refusal`), and the set ends with the reason instead of a silent 0.
    """

    assignment: wire.Assignment
    started_at: float
    counters: dict[str, RepCounter] = field(default_factory=dict)
    carried: SavedSet | None = None
    reps: int = 0
    hold_seconds: float | None = None
    rejected: int = 0
    last_reason: str | None = None
    #: Every counted rep as (device, device-clock time), carried ones first.
    rep_times: list[tuple[str, float]] = field(default_factory=list)
    position: str | None = None

    def __post_init__(self) -> None:
        self.refusal: str | None = None if self.position is None else position_refusal(
            counter_exercise(self.assignment.exercise), self.position)
        """Why the exercise cannot be counted from the sensor's position (None: it can)."""
        self._closed = False
        c = self.carried
        if c is not None:
            self.reps, self.hold_seconds, self.rejected = c.reps, c.hold_seconds, c.rejected
            self.last_reason = c.last_reason
            self.rep_times = list(c.rep_times)

    @classmethod
    def resume(cls, assignment: wire.Assignment, saved: SavedSet,
               position: str | None = None) -> Session:
        """The session of an assignment whose set was saved before a restart."""
        return cls(assignment, started_at=saved.started_at, carried=saved, position=position)

    def saved(self) -> SavedSet:
        """What to persist so that `resume` continues from here."""
        return SavedSet(self.assignment.id, self.started_at, self.reps, self.hold_seconds,
                        self.rejected, self.last_reason, tuple(self.rep_times))

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
        """``issued_at + deadline_s``, but never later than `MAX_DEADLINE_S` after the set
        started, and an ``issued_at`` in the future counts from the start."""
        a = self.assignment
        issued = min(a.issued_at, self.started_at) if a.issued_at else self.started_at
        return issued + min(a.deadline_s, MAX_DEADLINE_S)

    def forget(self, device: str) -> None:
        """Drop a device's counter if it has counted nothing (its place went to another
        device); one that counted keeps its counter, so the set's count never goes down."""
        counter = self.counters.get(device)
        if counter is not None and counter.count == 0 and counter.hold_seconds is None:
            del self.counters[device]

    def _counter(self, device: str) -> RepCounter:
        counter = self.counters.get(device)
        if counter is None:
            counter = RepCounter(counter_exercise(self.assignment.exercise),
                                 position=self.position)
            self.counters[device] = counter
        return counter

    def feed(self, batch: wire.SampleBatch, now: float) -> wire.Progress | None:
        """Count a batch; returns a `Progress` when reps, hold time or refusals changed."""
        if len(batch) == 0 or self._closed:
            return None
        counter = self._counter(batch.device)
        return self._account(batch.device, counter.feed(batch.t, batch.acc), now)

    def _account(self, device: str, update: CounterUpdate, now: float) -> wire.Progress | None:
        """Add what a counter reported to the set's totals."""
        before = (self.reps, self.hold_seconds, self.rejected)
        self.rejected += len(update.rejected)
        if update.rejected:
            self.last_reason = update.rejected[-1].reason
        carried = self.carried or SavedSet(self.assignment.id, self.started_at)
        reps = carried.reps + max(c.count for c in self.counters.values())
        if reps > self.reps:
            # Only the device that is ahead adds reps to the set; its newest reps are the ones.
            times = [e.t for e in update.events][-(reps - self.reps):]
            self.rep_times += [(device, t) for t in times]
            self.reps = reps
        holds = [c.hold_seconds for c in self.counters.values() if c.hold_seconds is not None]
        if holds:
            self.hold_seconds = (carried.hold_seconds or 0.0) + max(holds)
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
        """The final result once the target is reached or the deadline has passed; at once
        when the exercise cannot be counted from the sensor's position (`refusal`)."""
        if self.refusal is not None:
            return self._result("cancelled", now, detail=f"refused: {self.refusal}")
        if self.target_reached:
            return self._result("target_reached", now)
        if now >= self.deadline:
            self._close_counters(now)
            return self._result("target_reached" if self.target_reached else "deadline", now)
        return None

    def _close_counters(self, now: float) -> None:
        """The set is over: each counter confirms what its stream's end makes certain."""
        if not self._closed:
            self._closed = True
            for device, counter in list(self.counters.items()):
                self._account(device, counter.finish(), now)

    def cancel(self, now: float) -> wire.Result:
        self._close_counters(now)
        return self._result("cancelled", now)

    def supersede(self, now: float) -> wire.Result:
        """The result when a newer assignment of the same run replaces this one."""
        self._close_counters(now)
        return self._result("superseded", now)

    def reported(self, report: wire.Report, now: float) -> wire.Result:
        """The result of a set the user reports without a wearable (honour mode): what they
        say they did (the whole target when they give no amount), never verified."""
        a = self.assignment
        if self.is_hold:
            reps = 0
            seconds = report.hold_seconds if report.hold_seconds is not None \
                else self.hold_target_s
            held: float | None = seconds
            completed = seconds >= self.hold_target_s
        else:
            reps = report.reps if report.reps is not None else math.ceil(a.target)
            held, completed = None, reps >= a.target
        return wire.Result(
            assignment_id=a.id, exercise=a.exercise, completed=completed, outcome="reported",
            reps=reps, target=a.target, unit=a.unit, hold_seconds=held, rejected=0,
            reason=a.reason, started_at=self.started_at, finished_at=now, label=a.label,
            verified=False, detail="reported without a wearable")

    def _result(self, outcome: wire.Outcome, now: float,
                detail: str | None = None) -> wire.Result:
        a = self.assignment
        return wire.Result(
            assignment_id=a.id, exercise=a.exercise, completed=self.target_reached,
            outcome=outcome, reps=self.reps, target=a.target, unit=a.unit,
            hold_seconds=self.hold_seconds, rejected=self.rejected, reason=a.reason,
            started_at=self.started_at, finished_at=now, label=a.label, detail=detail,
        )
