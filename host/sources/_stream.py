"""Frames -> `SampleBatch`: absolute sample indices, sequencing, gap accounting, host time.

One `StreamAssembler` lives as long as a source (across reconnects). Per notification it

1. gives the frame an absolute sample index: the device counter unwrapped (repfit), the
   device timestamp divided by the period (Polar), or - for profiles that carry neither -
   the previous index plus the samples the arrival gap implies were lost;
2. lets the `Sequencer` drop duplicates, repair reordering and count gaps;
3. maps device time to the host clock (`ClockMapper`) so the counter sees a steady rate;
4. checks units (`UnitGuard`).

Lost samples are never interpolated: they are reported as ``lost_before`` on the next
batch, and the batch's timestamps jump, which the rep counter treats as a gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from repfit.host.log_limit import RateLimitedLog
from repfit.wire import SampleBatch

from ._clock import ClockMapper
from ._packets import Frame
from ._sequence import Sequencer
from ._units import UnitGuard

__all__ = ["StreamAssembler", "StreamStats"]

log = logging.getLogger(__name__)

ARRIVAL_GAP_S = 0.5
"""For profiles without counter or clock: a silence longer than this (and than 10 sample
periods) between notifications is taken as loss of the samples it could have carried."""


@dataclass
class StreamStats:
    """Running totals for one source (shown by ``repfit stream``)."""

    packets: int = 0
    samples: int = 0
    lost: int = 0
    duplicates: int = 0
    late: int = 0
    bad_packets: int = 0
    reconnects: int = 0
    device_restarts: int = 0


@dataclass(frozen=True)
class _Held:
    frame: Frame
    t_dev: float
    rate_hz: float


class StreamAssembler:
    """Turns decoded frames of one device into host-timed `SampleBatch` objects.

    Parameters
    ----------
    device : str
        Name put on every batch.
    rate_hz : float
        Nominal rate (used when the frame does not state one).
    range_g : float or None
        Range requested from the device; a frame stating another one is logged.
    reorder_depth : int
        Passed to the `Sequencer`.
    clock : ClockMapper or None
        Device -> host time mapping (a default one if omitted).
    limiter : RateLimitedLog or None
        For warnings about this device.
    """

    def __init__(self, device: str, rate_hz: float, *, range_g: float | None = None,
                 reorder_depth: int = 3, clock: ClockMapper | None = None,
                 limiter: RateLimitedLog | None = None) -> None:
        self.device = device
        self.rate_hz = float(rate_hz)
        self.range_g = range_g
        self.clock = clock or ClockMapper()
        self.limiter = limiter or RateLimitedLog(log)
        self.units = UnitGuard(device, range_g, self.limiter)
        self.seq: Sequencer[_Held] = Sequencer(reorder_depth)
        self.stats = StreamStats()
        self._batch_seq = 0
        self._last_arrival: float | None = None
        self._t_ref: float | None = None
        self._last_index: int | None = None
        self._last_t_dev: float | None = None
        self._restarts_seen = 0

    # -- index and device time ---------------------------------------------------------

    def _index(self, f: Frame, rate: float, arrival: float) -> int:
        n = len(f)
        if f.counter is not None:
            if self._last_index is None or not f.counter_modulus:
                return f.counter
            m = f.counter_modulus
            ref = self._last_index
            return ref + ((f.counter - ref + m // 2) % m - m // 2)
        if f.t_dev is not None:
            # Step from the previous frame (short distances round exactly even when the
            # device's rate differs from nominal; an absolute origin would accumulate it).
            if self._last_index is not None and self._last_t_dev is not None:
                return self._last_index + round((f.t_dev - self._last_t_dev) * rate)
            if self._t_ref is None:
                self._t_ref = f.t_dev
            return round((f.t_dev - self._t_ref) * rate)
        # Arrival-stamped: continue from the stream position, plus what a long silence lost.
        expected = self.seq.expected
        if expected is None or self._last_arrival is None:
            return 0
        gap = arrival - self._last_arrival
        if gap > max(ARRIVAL_GAP_S, 10.0 / rate):
            # Synthesised index: nothing can arrive to fill the hole, so no reorder wait.
            self.seq.resync()
            return expected + max(0, round(gap * rate) - n)
        return expected

    def _device_time(self, f: Frame, index: int, rate: float) -> float:
        if f.t_dev is None:
            return index / rate
        if not f.t_dev_modulus or self._last_t_dev is None or self._last_index is None:
            return f.t_dev
        predicted = self._last_t_dev + (index - self._last_index) / rate
        m = f.t_dev_modulus
        return f.t_dev + round((predicted - f.t_dev) / m) * m

    # -- public --------------------------------------------------------------------------

    def set_rate(self, rate_hz: float, range_g: float | None = None) -> None:
        """The device confirmed its rate (and range) at connection: use them from now on."""
        self.rate_hz = float(rate_hz)
        if range_g is not None:
            self.range_g = range_g
            self.units.range_g = range_g

    def resync(self) -> None:
        """A new connection: the next frame restarts the stream without reorder waiting."""
        self.seq.resync()
        self.stats.reconnects += 1

    def push(self, frame: Frame, arrival: float) -> list[SampleBatch]:
        """Feed one decoded frame that arrived at host time ``arrival``."""
        n = len(frame)
        if n == 0:
            return []
        self.stats.packets += 1
        rate = frame.rate_hz or self.rate_hz
        if frame.range_g is not None and self.range_g is not None \
                and frame.range_g != self.range_g:
            self.limiter.warning("range", "%s: device reports +-%g g but +-%g g was requested; "
                                 "decoding with the device's range", self.device,
                                 frame.range_g, self.range_g)
        if frame.overflow:
            self.limiter.warning("overflow", "%s: device buffer overflowed; samples were "
                                 "dropped on the device (counted as lost)", self.device)
        index = self._index(frame, rate, arrival)
        t_dev = self._device_time(frame, index, rate)
        self._last_arrival = arrival
        releases = self.seq.push(index, n, _Held(frame, t_dev, rate))
        restarted = self.seq.restarts != self._restarts_seen
        if restarted:
            self._restarts_seen = self.seq.restarts
            self.stats.device_restarts += 1
            self.clock.reset()
            log.warning("%s: device counter restarted (reboot?); continuing from its new "
                        "position", self.device)
        if restarted or self._last_index is None or index >= self._last_index:
            self._last_index, self._last_t_dev = index, t_dev
        self.clock.observe(t_dev + (n - 1) / rate, arrival)
        return self._to_batches(releases)

    def flush(self) -> list[SampleBatch]:
        """Release held frames (the connection ended); holes become gaps."""
        return self._to_batches(self.seq.flush())

    def _to_batches(self, releases: list) -> list[SampleBatch]:
        out: list[SampleBatch] = []
        for r in releases:
            held: _Held = r.payload
            acc = held.frame.acc[r.skip:]
            t_dev = held.t_dev + (r.skip + np.arange(acc.shape[0])) / held.rate_hz
            t = self.clock.map(t_dev)
            acc = self.units.apply(acc)
            self.stats.samples += acc.shape[0]
            self.stats.lost += r.lost_before
            if r.lost_before:
                self.limiter.warning("gap", "%s: %d samples lost before sample %d",
                                     self.device, r.lost_before, r.index + r.skip)
            out.append(SampleBatch(self.device, t, acc, seq=self._batch_seq,
                                   lost_before=r.lost_before))
            self._batch_seq += 1
        self.stats.duplicates = self.seq.duplicates
        self.stats.late = self.seq.late
        return out
