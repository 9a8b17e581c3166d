"""The simulated wearable: synthesised motion streamed like a real device would stream it.

It is what the demo and the tests use when no hardware is present. The motion itself comes
from `repfit.detection.simulate` (pure); this module only paces it in batches, in real time
or faster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType

import numpy as np

from repfit.detection.simulate import Recording
from repfit.wire import SampleBatch

__all__ = ["SimulatedWearable"]


class SimulatedWearable:
    """Streams a `Recording` as `SampleBatch` objects.

    Parameters
    ----------
    recording : Recording
        The motion to play.
    name : str
        Device name (appears in sample topics).
    batch_s : float
        Seconds of motion per batch (a BLE wearable sends every 20-100 ms).
    speed : float
        Playback speed; 1.0 is real time, larger is faster (timestamps are unchanged, so the
        counter sees exactly what a real-time stream would carry).
    t0 : float
        Device clock at the first sample.
    """

    def __init__(self, recording: Recording, *, name: str = "sim", batch_s: float = 0.1,
                 speed: float = 1.0, t0: float = 0.0) -> None:
        if batch_s <= 0 or speed <= 0:
            raise ValueError(f"batch_s and speed must be positive, got {batch_s}, {speed}")
        self.name = name
        self.recording = recording
        self.batch_s = batch_s
        self.speed = speed
        self.t0 = t0

    async def __aenter__(self) -> SimulatedWearable:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def samples(self) -> AsyncIterator[SampleBatch]:
        t = np.asarray(self.recording.t, dtype=np.float64)
        acc = np.asarray(self.recording.acc, dtype=np.float64)
        if t.size == 0:
            return
        n_batches = int((t[-1] - t[0]) // self.batch_s) + 1
        edges = t[0] + self.batch_s * np.arange(n_batches + 1)
        bounds = np.searchsorted(t, edges)
        bounds[-1] = t.size
        loop = asyncio.get_running_loop()
        start = loop.time()
        seq = 0
        for lo, hi, edge in zip(bounds[:-1], bounds[1:], edges[1:], strict=True):
            if hi <= lo:
                continue
            # Pace on the clock of the whole stream, so sleeps do not accumulate drift.
            delay = start + (edge - t[0]) / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield SampleBatch(self.name, t[lo:hi] + self.t0, acc[lo:hi], seq=seq)
            seq += 1
