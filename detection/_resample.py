"""Streaming cleanup and resampling of irregular sensor timestamps onto a uniform grid.

BLE wearables deliver jittered, sometimes duplicated or reordered timestamps, and rates from
10 to 200 Hz. The counter works on one uniform internal grid, so every filter constant means
the same thing whatever the device. Grid points are anchored at the first sample of each
continuous run (absolute index k -> ``anchor + k / fs``), and each is computed from the few
samples around it, so the output does not depend on how the stream was split into batches.
Gaps longer than ``gap_s`` are never interpolated: the run ends and a new one starts.

All of this runs on time relative to the stream's first sample, in whole microseconds
(`relative_time`): a phone's clock reads ~1.7e9 s, where a float64 step is 0.24 us, and
arithmetic on such times rounds differently for every offset, so an arbitrary shift of the
caller's clock changed counts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TICKS_PER_S", "CleanStats", "Resampler", "clean_batch", "relative_time"]

TICKS_PER_S = 1_000_000
"""Resolution of the counter's time axis. No accelerometer stamps its samples finer, and
it is four float64 steps of an epoch clock (0.24 us at 1.7e9 s): rounded to it, the same
samples give the same relative times whatever the caller's clock reads."""


@dataclass
class CleanStats:
    """How many input samples were dropped, and why (reported, never silently fixed)."""

    nonfinite: int = 0
    out_of_order: int = 0
    gaps: int = 0


def _as_batch(t: object, acc: object) -> tuple[np.ndarray, np.ndarray]:
    """Coerce ``t`` to (n,) and ``acc`` to (n, 3) float64, with errors naming the argument."""
    try:
        tt = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"t must be numeric seconds, got {type(t).__name__}: {exc}") from None
    try:
        aa = np.asarray(acc, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"acc must be numeric (n, 3) g, got {type(acc).__name__}: {exc}"
                         ) from None
    if tt.ndim == 1 and aa.shape == (tt.shape[0], 3):
        return tt, aa                       # the usual batch: nothing to coerce or explain
    if tt.ndim == 0:
        tt = tt.reshape(1)
    if tt.ndim != 1:
        raise ValueError(f"t must have shape (n,), got {tt.shape}")
    if aa.size == 0 and tt.size == 0:
        return tt.reshape(0), aa.reshape(0, 3)
    if aa.ndim == 1 and aa.shape[0] == 3 and tt.size == 1:
        aa = aa.reshape(1, 3)
    if aa.ndim != 2 or aa.shape[1] != 3:
        raise ValueError(f"acc must have shape (n, 3), got {aa.shape}")
    if aa.shape[0] != tt.shape[0]:
        raise ValueError(f"t has {tt.shape[0]} samples but acc has {aa.shape[0]}")
    return tt, aa


_TICKS = np.array(float(TICKS_PER_S))
"""`TICKS_PER_S` as a 0-d float64 array: the same value, and a ufunc takes it faster than a
Python number (no scalar conversion: about a sixth of a call on a batch of 100)."""
_HALF = np.array(0.5)


def relative_time(t: np.ndarray, origin: float) -> np.ndarray:
    """``t - origin`` rounded to whole ticks (`TICKS_PER_S`): the same for any constant
    added to both (as long as the caller's clock resolves a tick), so no count depends on
    where the caller's clock started. Dividing the whole number of ticks gives the float
    nearest to it, the one a decimal timestamp such as ``12.34`` reads as. NaN and inf
    stay what they are."""
    r = np.subtract(t, origin)
    np.multiply(r, _TICKS, r)                  # in place: one array for the four steps
    np.rint(r, r)
    np.divide(r, _TICKS, r)
    return r


def clean_batch(t: object, acc: object, last_t: float, stats: CleanStats,
                origin: float | None = None) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Validated samples strictly after ``last_t`` and after each other, their times
    relative to ``origin`` (`relative_time`); with ``origin`` None, the first finite row's
    time becomes the origin. Returns the samples and the origin.

    Rows with NaN/inf in t or acc are dropped; a timestamp not later than every earlier
    one (duplicate or backwards, also once relative) is dropped. Counts go to ``stats``.
    """
    tt, aa = _as_batch(t, acc)
    if tt.size == 0:
        return tt, aa, origin
    if origin is None:
        ok = np.isfinite(tt) & np.isfinite(aa).all(axis=1)
        if not ok.any():
            stats.nonfinite += tt.size
            return tt[:0], aa[:0], None
        origin = float(tt[int(ok.argmax())])
    tt = relative_time(tt, origin)
    if _clean_already(tt, aa, last_t):
        return tt, aa, origin
    ok = np.isfinite(tt) & np.isfinite(aa).all(axis=1)
    if not ok.all():
        stats.nonfinite += int((~ok).sum())
        tt, aa = tt[ok], aa[ok]
        if tt.size == 0:
            return tt, aa, origin
    prev = np.maximum.accumulate(np.concatenate(([last_t], tt[:-1])))
    ok = tt > prev
    if not ok.all():
        stats.out_of_order += int((~ok).sum())
        tt, aa = tt[ok], aa[ok]
    return tt, aa, origin


def _clean_already(tt: np.ndarray, aa: np.ndarray, last_t: float) -> bool:
    """The usual batch: finite and strictly increasing after ``last_t``.

    Checked with three array calls instead of the dozen of the general path: a sum is
    finite only if every term is (an overflow merely sends the batch the long way), and
    ``b - a > 0`` is ``b > a`` for finite floats (with subnormals, a difference is never 0).
    NaN fails every comparison, so it also takes the long way.
    """
    if (not tt[0] > last_t or not math.isfinite(tt[-1])
            or not math.isfinite(np.add.reduce(aa, None))):   # aa.sum(), no wrapper
        return False
    steps = tt[1:] - tt[:-1]
    return tt.size == 1 or bool(steps[steps.argmin()] > 0.0)  # argmin: no reduce wrapper


@dataclass
class Resampler:
    """The linearly interpolated input averaged at two points around each grid point of
    ``anchor + k / fs_hz`` (a quarter grid step before and after it), continuing across
    batches.

    Sampling a 50 Hz recording at 25 Hz at the grid points alone folds everything
    between 12.5 and 25 Hz (impacts, tremor) into the band the counter reads, by an
    amount that depends on where the grid falls between the samples: a clock running 1 %
    fast moved that phase through a recording and changed the count of a tenth of the
    real development sets. The mean of two points half a grid step apart is a comb with
    its null at 25 Hz, the frequency that folds onto the rep band (23 Hz comes out at an
    eighth); on the 10 Hz real development sets it changed no count.

    A grid point is emitted once a sample at or after its later point has arrived, and
    each point is interpolated in the sample interval that ends at or after it, whatever
    the batch holds, so the output does not depend on how the stream was split into
    batches. A run's last quarter step (10 ms at 25 Hz) is never emitted.

    `push` returns the new grid samples as runs: a list of ``(k0, t, x, new_run)`` where
    ``k0`` is the absolute grid index of the first sample, ``x`` is (3, m) with one
    C-contiguous row per axis (what filters want), and ``new_run`` says the run starts
    after a gap (or is the first), so the caller resets its filters.
    """

    fs_hz: float
    gap_s: float
    last_t: float = -np.inf
    anchor: float = 0.0
    next_k: int = 0
    k_base: int = 0
    started: bool = False
    fresh: bool = False     # the current run has emitted nothing yet
    # Rows t, x, y, z. Columns ``_lo`` to ``_lo + _keep`` are the samples the next grid
    # point still needs (the current run's last ones, from the last one before its
    # earlier point); the batch follows them. They move to the front only when a batch
    # would not fit behind them (a shift of a few columns every batch cost a call each).
    _buf: np.ndarray = field(default_factory=lambda: np.zeros((4, 1024)), repr=False)
    _lo: int = 0
    _keep: int = 0
    _anchor: np.ndarray = field(default_factory=lambda: np.array(0.0), repr=False)
    _around: np.ndarray = field(init=False, repr=False)   # -q, q, -q, q, ...: each grid
    # point's two points' offsets, for as many points as the longest batch needed so far
    _steps: np.ndarray = field(init=False, repr=False)    # k / fs_hz (`_grid_steps`)

    def __post_init__(self) -> None:
        q = 0.25 / self.fs_hz
        self._around = np.tile([-q, q], 64)
        self._steps = _grid_steps(self.fs_hz)

    def push(self, t: np.ndarray,
             x: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, bool]]:
        n = t.size
        if n == 0:
            return []
        k = self._keep
        w = k + n
        lo0 = self._lo
        if lo0 + w > self._buf.shape[1]:
            grown = (self._buf if w <= self._buf.shape[1]
                     else np.zeros((4, max(2 * w, self._buf.shape[1]))))
            grown[:, :k] = self._buf[:, lo0:lo0 + k]
            self._buf = grown
            lo0 = self._lo = 0
        buf = self._buf
        buf[0, lo0 + k:lo0 + w] = t
        buf[1:, lo0 + k:lo0 + w] = x.T
        tx = buf[:, lo0:lo0 + w]
        d = tx[:, 1:] - tx[:, :-1]                # steps of t and x, column i: i -> i + 1
        dt = d[0]
        if dt.size and dt[dt.argmax()] > self.gap_s:
            bounds = [0, *(np.flatnonzero(dt > self.gap_s) + 1).tolist(), w]
        else:
            bounds = [0, w]
        q = 0.25 / self.fs_hz
        runs: list[tuple[int, np.ndarray, np.ndarray, bool]] = []
        keep = w
        for r in range(len(bounds) - 1):
            lo, hi = bounds[r], bounds[r + 1]
            if r > 0 or not k:
                # Start a fresh grid at this run's first sample; grid indices stay
                # absolute and increasing so event indices are unique.
                self.k_base += self.next_k
                self.anchor = float(tx[0, lo])
                self._anchor = np.array(self.anchor)   # (0-d: see `_TICKS`)
                self.next_k = 0
                self.started = self.fresh = True
            last = float(tx[0, hi - 1])
            m = math.floor((last - q - self.anchor) * self.fs_hz + 1e-9) + 1 - self.next_k
            if m > 0:
                k1 = self.next_k + m
                steps = (self._steps[self.next_k:k1] if k1 <= self._steps.size
                         else np.arange(self.next_k, k1) / self.fs_hz)
                g = np.add(steps, self._anchor)
                if g[-1] + q > last:
                    # Rounding let in a point just after the batch's last sample: it is
                    # interpolated with the next batch instead, so splits cannot change it.
                    g = g[:-1]
                    m -= 1
            if m > 0:
                if hi - lo == 1:
                    xm = np.repeat(tx[1:, lo:lo + 1], m, axis=1)
                else:
                    if self._around.size < 2 * m:
                        self._around = np.tile(self._around[:2], 2 * m)
                    pts = g.repeat(2) + self._around[:2 * m]   # g - q, g + q, ...
                    if self.next_k == 0:
                        pts[0] = self.anchor        # nothing before the run's first sample
                    xi = _interp(tx[:, lo:hi], d[:, lo:hi - 1], pts)
                    xm = np.add(xi[:, 0::2], xi[:, 1::2])
                    np.multiply(xm, _HALF, xm)
                runs.append((self.k_base + self.next_k, g, xm, self.fresh))
                self.next_k += m
                self.fresh = False
            # The samples the next grid point needs: from the last one before its earlier
            # point (a point on a sample is taken in the interval that sample ends).
            start = self.anchor + self.next_k / self.fs_hz - q
            keep = lo + max(0, int(tx[0, lo:hi].searchsorted(start)) - 1)
        self._keep = w - keep
        self._lo = lo0 + keep
        self.last_t = float(tx[0, w - 1])
        return runs


GRID_STEPS = 1 << 16
"""Grid indices whose offsets ``k / fs`` from the run's anchor are computed once (45 min at
25 Hz, 512 kB): a slice of them is what ``np.arange(k0, k1) / fs`` gives, element for
element, in one call fewer, two for a run that long."""


@functools.cache
def _grid_steps(fs_hz: float) -> np.ndarray:
    """``k / fs_hz`` for k below `GRID_STEPS` (read-only: shared by every resampler)."""
    steps = np.arange(GRID_STEPS) / fs_hz
    steps.flags.writeable = False
    return steps


def _interp(tx: np.ndarray, d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Rows ``tx`` (t, x, y, z) with steps ``d`` interpolated at times ``g``: (3, m), each
    in the interval ``(t_i, t_i+1]`` that holds it.

    Searching the interior times gives the left sample of each grid point's interval
    directly clipped to ``[0, len - 2]`` (``np.clip`` alone costs more than the rest).
    """
    i = tx[0, 1:-1].searchsorted(g)            # side="left"; the method skips a wrapper
    left = tx.take(i, axis=1)                 # take: half the cost of fancy indexing
    step = d.take(i, axis=1)
    w = (g - left[0]) / step[0]
    return left[1:] + w * step[1:]
