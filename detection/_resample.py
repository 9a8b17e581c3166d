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
    if tt.size == 0:
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


@dataclass
class Resampler:
    """Linear interpolation onto ``anchor + k / fs_hz``, continuing across batches.

    `push` returns the new grid samples as runs: a list of ``(k0, t, x, new_run)`` where
    ``k0`` is the absolute grid index of the first sample and ``new_run`` says the run
    starts after a gap (or is the first), so the caller resets its filters.
    """

    fs_hz: float
    gap_s: float
    last_t: float = -np.inf
    last_x: np.ndarray = field(default_factory=lambda: np.zeros(3))
    anchor: float = 0.0
    next_k: int = 0
    k_base: int = 0
    started: bool = False

    def push(self, t: np.ndarray,
             x: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, bool]]:
        if t.size == 0:
            return []
        runs: list[tuple[int, np.ndarray, np.ndarray, bool]] = []
        if self.started:
            tt = np.concatenate(([self.last_t], t))
            xx = np.concatenate((self.last_x[None, :], x))
        else:
            tt, xx = t, x
        breaks = np.flatnonzero(np.diff(tt) > self.gap_s) + 1
        bounds = [0, *breaks.tolist(), tt.size]
        for r, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            new_run = not self.started or r > 0
            if new_run:
                # Start a fresh grid at this run's first sample; grid indices stay
                # absolute and increasing so event indices are unique.
                self.k_base += self.next_k
                self.anchor = float(tt[lo])
                self.next_k = 0
                self.started = True
            rt, rx = tt[lo:hi], xx[lo:hi]
            m = int(np.floor((rt[-1] - self.anchor) * self.fs_hz + 1e-9)) + 1 - self.next_k
            if m > 0:
                k = self.next_k + np.arange(m)
                g = self.anchor + k / self.fs_hz
                if rt.size == 1:
                    gx = np.repeat(rx, m, axis=0)
                else:
                    i = np.clip(np.searchsorted(rt, g, side="left") - 1, 0, rt.size - 2)
                    w = (g - rt[i]) / (rt[i + 1] - rt[i])
                    gx = rx[i] + w[:, None] * (rx[i + 1] - rx[i])
                runs.append((self.k_base + self.next_k, g, gx, new_run))
                self.next_k += m
        self.last_t = float(tt[-1])
        self.last_x = xx[-1].copy()
        return runs
