"""A simulated person wearing a simulated sensor: does each new assignment, streams it over MQTT.

The demo and the end-to-end tests need someone to do the workout. This participant
subscribes to assignments like a phone app would, synthesises the motion with
`repfit.detection.simulate`, and publishes the samples on ``repfit/<user>/samples/<device>``
through the same wire contract a real phone bridge uses. ``effort`` < 1 makes a lazy athlete
(for testing that the host does not accept an unfinished set); a willing one keeps going
until the host's result says the set is done, as a person would (`KEEP_GOING`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass

from repfit import wire
from repfit.detection import HOLD_EXERCISES
from repfit.detection.simulate import Recording, simulate_set
from repfit.host.bus import Bus
from repfit.host.session import counter_exercise
from repfit.host.sources._sim import SimulatedWearable

__all__ = ["KEEP_GOING", "Athlete", "perform_assignments", "recording_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Athlete:
    """How the simulated person moves."""

    effort: float = 1.0
    position: str = "wrist"
    fs_hz: float = 50.0
    speed: float = 1.0
    seed: int = 0
    device: str = "sim"
    rest_s: float = 2.0


KEEP_GOING = 3
"""Reps a willing athlete (``effort`` >= 1) does beyond the target at most, stopping as soon
as the host's result says the set is done: a person keeps going until told, and a rep the
counter missed is made up, as it would be."""


def recording_for(a: wire.Assignment, athlete: Athlete, seed: int,
                  extra: int = 0) -> Recording:
    """The motion the athlete performs for an assignment (``extra`` reps beyond
    ``effort`` x the target)."""
    exercise = counter_exercise(a.exercise)
    if exercise in HOLD_EXERCISES or a.unit != "reps":
        seconds = a.target if a.unit == "seconds" else (a.est_duration_s or a.target)
        hold_s = seconds * athlete.effort + (1.0 if athlete.effort >= 1 else 0.0)
        return simulate_set(exercise if exercise in HOLD_EXERCISES else "plank", reps=0,
                            hold_s=hold_s, fs_hz=athlete.fs_hz, position=athlete.position,
                            seed=seed, rest_before_s=athlete.rest_s, rest_after_s=athlete.rest_s)
    reps = math.floor(a.target * athlete.effort + 1e-9) + extra
    return simulate_set(exercise, reps=reps, fs_hz=athlete.fs_hz, position=athlete.position,
                        seed=seed, cadence_s=a.seconds_per_rep or 2.0,
                        rest_before_s=athlete.rest_s, rest_after_s=athlete.rest_s)


async def perform_assignments(bus: Bus, athlete: Athlete, *, limit: int | None = None,
                              since: float | None = None) -> int:
    """Do each assignment issued after ``since`` (default: now); returns how many were done.

    Older retained assignments are skipped: a person reacts to new work, not old news.
    """
    since = time.time() - 1.0 if since is None else since
    settled: set[str] = set()      # assignments the host has published a result for
    result_topic = wire.topic_for(bus.user, "result")

    def on_result(payload: bytes) -> None:
        with contextlib.suppress(wire.WireError):
            _, r = wire.decode(result_topic, payload)
            if isinstance(r, wire.Result):
                settled.add(r.assignment_id)

    await bus.watch(result_topic, on_result)
    await bus.subscribe("assignment")
    bus.announce()
    done = 0
    seen: set[str] = set()
    device_t = 0.0
    async for incoming in bus.messages():
        a = incoming.message
        if not isinstance(a, wire.Assignment) or a.id in seen or a.issued_at < since:
            continue
        seen.add(a.id)
        extra = KEEP_GOING if athlete.effort >= 1 else 0
        rec = recording_for(a, athlete, seed=athlete.seed + done, extra=extra)
        log.info("athlete: doing %s (%g %s), %.0f s of motion", a.exercise, a.target, a.unit,
                 rec.t[-1] - rec.t[0] if len(rec.t) else 0.0)
        source = SimulatedWearable(rec, name=athlete.device, speed=athlete.speed, t0=device_t)
        async with source:
            async for batch in source.samples():
                if a.id in settled:
                    break                 # told the set is done: stop
                bus.publish(batch)
        device_t += float(rec.t[-1]) + 1.0 if len(rec.t) else 0.0
        done += 1
        if limit is not None and done >= limit:
            break
    return done
