"""Recordings streamed as a phone streams them, into a running host, for the live-path test
and ``benchmarks/live_count.py``.

Each recording becomes Sensor Logger pushes (``totalacceleration`` in m/s^2, epoch
nanosecond timestamps, one message per ``period_s`` of samples) published with QoS 0 to a
real broker. A push is sent when its last sample has been taken plus a network delay, on a
clock that runs ``speed`` times faster than real time; the phone source stamps arrivals on
the same clock, so the host sees arrival times that behave like a real phone's (delays,
jitter, bunching), only sooner. The host counts each recording as one open assignment, which
is then ended (``cancel_active``) once every sample has reached it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.bus import Bus
from repfit.host.intake import SampleGate
from repfit.host.service import WorkoutHost
from repfit.host.sources import open_source
from repfit.host.store import Store

__all__ = ["ScaledClock", "host_counts", "sensor_logger_pushes"]

G_MS2 = 9.80665
T0_NS = 1_733_000_000_000_000_000
"""Epoch nanoseconds of every recording's first sample (Sensor Logger sends wall time)."""


def sensor_logger_pushes(t: np.ndarray, acc_g: np.ndarray, *, period_s: float = 0.3,
                         session: str = "s1", device: str = "phone"
                         ) -> list[tuple[float, bytes]]:
    """``(device time of the push's last sample, payload)`` for every push of a recording."""
    out: list[tuple[float, bytes]] = []
    lo, n = 0, len(t)
    while lo < n:
        hi = max(lo + 1, int(np.searchsorted(t, t[lo] + period_s, side="left")))
        payload = [{"name": "totalacceleration", "time": T0_NS + round(float(t[i]) * 1e9),
                    "values": dict(zip("xyz", (acc_g[i] * G_MS2).tolist(), strict=True))}
                   for i in range(lo, hi)]
        out.append((float(t[hi - 1]), json.dumps(
            {"messageId": len(out), "sessionId": session, "deviceId": device,
             "payload": payload}).encode()))
        lo = hi
    return out


def delivered(t: np.ndarray) -> int:
    """Samples of a recording the phone route passes on (later than every earlier one, at
    Sensor Logger's nanosecond resolution)."""
    ns = T0_NS + np.round(np.asarray(t) * 1e9).astype(np.int64)
    return int(np.count_nonzero(ns > np.maximum.accumulate(np.concatenate([[-1], ns[:-1]]))))


class ScaledClock:
    """Seconds that pass ``speed`` times faster than the real monotonic clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._real0 = time.monotonic()
        self._at0 = 1000.0

    def __call__(self) -> float:
        return self._at0 + (time.monotonic() - self._real0) * self.speed

    def sleep_until(self, at: float) -> None:
        wait = (at - self()) / self.speed
        if wait > 0:
            time.sleep(wait)


def _publish(settings: MqttSettings, topic: str, pushes: Sequence[tuple[float, bytes]],
             clock: ScaledClock, delays: np.ndarray) -> None:
    """The phone: each push once its last sample was taken and the network delay passed."""
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"phone-{uuid.uuid4().hex}")
    phone.connect(settings.host, settings.port)
    phone.loop_start()
    try:
        start = clock()
        sent = None
        for (t_last, raw), delay in zip(pushes, delays, strict=True):
            clock.sleep_until(start + t_last + delay)
            sent = phone.publish(topic, raw, qos=0)
        if sent is not None:
            sent.wait_for_publish(10)
    finally:
        phone.disconnect()
        phone.loop_stop()


@dataclass(frozen=True)
class Recording:
    """One recording to replay: its samples (s, g), the exercise and a name for messages."""

    name: str
    exercise: str
    t: np.ndarray
    acc: np.ndarray


async def host_counts(settings: MqttSettings, recordings: Sequence[Recording], *,
                      speed: float = 20.0, seed: int = 0, position: str | None = None,
                      timeout_s: float = 120.0,
                      on_result: Callable[[Recording, wire.Result], None] | None = None
                      ) -> list[int]:
    """The reps a host counts for each recording streamed through the phone route."""
    rng = np.random.default_rng(seed)
    clock = ScaledClock(speed)
    user = f"live{uuid.uuid4().hex[:8]}"
    topic = f"sensor-logger-{user}"
    seen = [0]

    def on_samples(batch: wire.SampleBatch, battery: int | None) -> None:
        seen[0] += len(batch)

    counts: list[int] = []
    with tempfile.TemporaryDirectory(prefix="repfit-live-") as tmp, \
            Store.recovering(Path(tmp)) as store:
        async with Bus(settings, user=user, role="host") as bus:
            # Rates are judged on the replay's clock: a recording sent 20 times faster than
            # real time is not a flood.
            host = WorkoutHost(bus, store, on_samples=on_samples, tick_s=0.02,
                               gate=SampleGate(clock=clock),
                               **({"position": position} if position else {}))
            source = open_source("phone", broker_url=settings.url, topic=topic, clock=clock,
                                 silence_s=3600.0)
            task = asyncio.create_task(host.run([source]))
            try:
                await asyncio.wait_for(host.ready.wait(), timeout_s)
                probe = sensor_logger_pushes(np.zeros(1), np.array([[0.0, 0.0, 1.0]]),
                                             session="probe")
                while not seen[0]:      # the phone source is listening
                    await asyncio.to_thread(_publish, settings, topic, probe, clock,
                                            np.zeros(1))
                    await asyncio.sleep(0.2)
                for k, rec in enumerate(recordings):
                    a = wire.Assignment(id=f"{user}-{k}", exercise=rec.exercise, target=10_000,
                                        issued_at=time.time(), deadline_s=24 * 3600.0)
                    await host.handle(a)
                    while host.active is None or host.active.assignment.id != a.id:
                        await asyncio.sleep(0.01)
                    pushes = sensor_logger_pushes(rec.t, rec.acc, session=a.id)
                    # 20 ms to the broker, plus the jitter and bunching of a phone's network.
                    delays = 0.02 + rng.exponential(0.03, len(pushes))
                    goal = seen[0] + delivered(rec.t)
                    await asyncio.to_thread(_publish, settings, topic, pushes, clock, delays)
                    waited = time.monotonic()
                    while seen[0] < goal:
                        if time.monotonic() - waited > timeout_s:
                            raise TimeoutError(f"{rec.name}: {seen[0]} of {goal} samples "
                                               "reached the host")
                        await asyncio.sleep(0.01)
                    await host.cancel_active()
                    result = host.results[-1]
                    if on_result is not None:
                        on_result(rec, result)
                    counts.append(result.reps)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return counts
