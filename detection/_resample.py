"""Streaming cleanup and resampling of irregular sensor timestamps onto a uniform grid.

BLE wearables deliver jittered, sometimes duplicated or reordered timestamps, and rates from
10 to 200 Hz. The counter works on one uniform internal grid, so every filter constant means
the same thing whatever the device. Grid points are anchored at the first sample of each
continuous run (absolute index k -> ``anchor + k / fs``), and each is computed from the two
samples around it, so the output does not depend on how the stream was split into batches.
Gaps longer than ``gap_s`` are never interpolated: the run ends and a new one starts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CleanStats", "Resampler", "clean_batch"]


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


def clean_batch(t: object, acc: object, last_t: float,
                stats: CleanStats) -> tuple[np.ndarray, np.ndarray]:
    """Validated samples strictly after ``last_t`` and after each other.

    Rows with NaN/inf in t or acc are dropped; a timestamp not later than every earlier
    one (duplicate or backwards) is dropped. Counts go to ``stats``.
    """
    tt, aa = _as_batch(t, acc)
    if tt.size == 0 or _clean_already(tt, aa, last_t):
        return tt, aa
    ok = np.isfinite(tt) & np.isfinite(aa).all(axis=1)
    if not ok.all():
        stats.nonfinite += int((~ok).sum())
        tt, aa = tt[ok], aa[ok]
        if tt.size == 0:
            return tt, aa
    prev = np.maximum.accumulate(np.concatenate(([last_t], tt[:-1])))
    ok = tt > prev
    if not ok.all():
        stats.out_of_order += int((~ok).sum())
        tt, aa = tt[ok], aa[ok]
    return tt, aa


def _clean_already(tt: np.ndarray, aa: np.ndarray, last_t: float) -> bool:
    """The usual batch: finite and strictly increasing after ``last_t``.

    Checked with three array calls instead of the dozen of the general path: a sum is
    finite only if every term is (an overflow merely sends the batch the long way), and
    ``b - a > 0`` is ``b > a`` for finite floats (with subnormals, a difference is never 0).
    NaN fails every comparison, so it also takes the long way.
    """
    if not tt[0] > last_t or not math.isfinite(tt[-1]) or not math.isfinite(aa.sum()):
        return False
    steps = tt[1:] - tt[:-1]
    return tt.size == 1 or bool(steps[steps.argmin()] > 0.0)  # argmin: no reduce wrapper


@dataclass
class Resampler:
    """Linear interpolation onto ``anchor + k / fs_hz``, continuing across batches.

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
    # Rows t, x, y, z: column 0 holds the last sample of the previous batch, the batch
    # follows, so interpolating across the batch boundary needs no concatenation.
    _buf: np.ndarray = field(default_factory=lambda: np.zeros((4, 1)), repr=False)

    def push(self, t: np.ndarray,
             x: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, bool]]:
        n = t.size
        if n == 0:
            return []
        if self._buf.shape[1] <= n:
            grown = np.zeros((4, 2 * n + 1))
            grown[:, 0] = self._buf[:, 0]
            self._buf = grown
        buf = self._buf
        buf[0, 1:n + 1] = t
        buf[1:, 1:n + 1] = x.T
        tx = buf[:, :n + 1] if self.started else buf[:, 1:n + 1]
        d = tx[:, 1:] - tx[:, :-1]                # steps of t and x, column i: i -> i + 1
        if d.shape[1] and d[0, d[0].argmax()] > self.gap_s:
            bounds = [0, *(np.flatnonzero(d[0] > self.gap_s) + 1).tolist(), tx.shape[1]]
        else:
            bounds = [0, tx.shape[1]]
        runs: list[tuple[int, np.ndarray, np.ndarray, bool]] = []
        for r, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            new_run = not self.started or r > 0
            if new_run:
                # Start a fresh grid at this run's first sample; grid indices stay
                # absolute and increasing so event indices are unique.
                self.k_base += self.next_k
                self.anchor = float(tx[0, lo])
                self.next_k = 0
                self.started = True
            last = float(tx[0, hi - 1])
            m = math.floor((last - self.anchor) * self.fs_hz + 1e-9) + 1 - self.next_k
            if m > 0:
                g = np.arange(self.next_k, self.next_k + m) / self.fs_hz + self.anchor
                if g[-1] > last:
                    # Rounding let in a point just after the batch's last sample: it is
                    # interpolated with the next batch instead, so splits cannot change it.
                    g = g[:-1]
                    m -= 1
            if m > 0:
                runs.append((self.k_base + self.next_k, g,
                             _interp(tx[:, lo:hi], d[:, lo:hi - 1], g), new_run))
                self.next_k += m
        self.last_t = float(buf[0, n])
        buf[:, 0] = buf[:, n]
        return runs


def _interp(tx: np.ndarray, d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Rows ``tx`` (t, x, y, z) with steps ``d`` interpolated at times ``g``: (3, m).

    Searching the interior times gives the left sample of each grid point's interval
    directly clipped to ``[0, len - 2]`` (``np.clip`` alone costs more than the rest).
    """
    if tx.shape[1] == 1:
        return np.repeat(tx[1:], g.size, axis=1)
    i = tx[0, 1:-1].searchsorted(g)            # side="left"; the method skips a wrapper
    left = tx.take(i, axis=1)                 # take: half the cost of fancy indexing
    step = d.take(i, axis=1)
    w = (g - left[0]) / step[0]
    return left[1:] + w * step[1:]
