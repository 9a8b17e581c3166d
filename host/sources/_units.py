"""Unit sanity: catch a sensor that reports m/s^2, or a full-scale range other than decoded.

At rest an accelerometer measures exactly gravity, 1 g. Whenever the device holds still
(a block of samples whose magnitude barely varies), the measured magnitude tells the unit:
~9.8 means m/s^2, ~0.5 or ~2 means the samples were scaled with the wrong full-scale range.
The guard rescales (a unit error is unambiguous at rest) and says so in the log; motion
never triggers it, so a vigorous set cannot be mistaken for a unit problem.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from repfit.host.log_limit import RateLimitedLog

__all__ = ["UnitGuard"]

log = logging.getLogger(__name__)

STANDARD_GRAVITY = 9.80665
BLOCK = 25
"""Samples per stillness test."""
STILL_CV = 0.03
"""Coefficient of variation of |a| below which a block counts as still."""


class UnitGuard:
    """Watch still blocks of samples and correct the scale when gravity is not ~1 g.

    Parameters
    ----------
    device : str
        Named in log lines.
    range_g : float or None
        Full-scale range the samples were decoded with (enables the clipping warning).
    limiter : RateLimitedLog or None
        Shared rate limiter; a private one (10 s) if omitted.
    """

    def __init__(self, device: str, range_g: float | None = None,
                 limiter: RateLimitedLog | None = None) -> None:
        self.device = device
        self.range_g = range_g
        self.scale = 1.0
        self.limiter = limiter or RateLimitedLog(log)
        self._pending = np.empty((0,), dtype=np.float64)

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """Return ``acc`` in g, corrected by the current scale; update the scale on still blocks."""
        if acc.shape[0] == 0:
            return acc
        if self.range_g is not None and float(np.abs(acc).max()) >= 0.98 * self.range_g:
            clipped = np.abs(acc) >= 0.98 * self.range_g
            if clipped.mean() > 0.05:
                self.limiter.warning(
                    "clip", "%s: %.0f%% of samples at the +-%g g limit; raise the range",
                    self.device, 100 * clipped.mean(), self.range_g)
        mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
        pending = np.concatenate([self._pending, mag]) if self._pending.size else mag
        # Judge in groups of blocks (cheap per notification); a decision waits < 1 s.
        k = pending.shape[0] // BLOCK if pending.shape[0] >= 4 * BLOCK else 0
        if k:
            blocks = pending[: k * BLOCK].reshape(k, BLOCK)
            means = blocks.mean(axis=1)
            spread = blocks.std(axis=1)
            still = np.flatnonzero((means > 0) & (spread < STILL_CV * means))
            for i in still:
                self._judge(float(means[i]))
        self._pending = pending[k * BLOCK:]
        return acc * self.scale if self.scale != 1.0 else acc

    def _judge(self, rest_mag: float) -> None:
        scale = self._scale_for(rest_mag)
        if scale is None:
            self.limiter.warning(
                "implausible", "%s: |a| = %.3f at rest, expected 1 g; samples left unchanged",
                self.device, rest_mag)
            return
        if scale != self.scale:
            if abs(STANDARD_GRAVITY * scale - 1.0) < 1e-9:
                self.limiter.warning(
                    "unit", "%s: |a| = %.2f at rest looks like m/s^2; converting to g",
                    self.device, rest_mag)
            elif scale == STANDARD_GRAVITY:
                self.limiter.warning(
                    "unit", "%s: |a| = %.3f at rest: values were already in g but treated as "
                    "m/s^2; multiplying by 9.81", self.device, rest_mag)
            elif scale != 1.0:
                self.limiter.warning(
                    "unit", "%s: |a| = %.2f g at rest; full-scale range differs from the one "
                    "configured by a factor %g; rescaling", self.device, rest_mag, 1 / scale)
            else:
                self.limiter.warning("unit", "%s: |a| = 1 g at rest again; scale restored",
                                     self.device)
            self.scale = scale

    @staticmethod
    def _scale_for(rest_mag: float) -> float | None:
        if 0.75 <= rest_mag <= 1.3:
            return 1.0
        if 8.0 <= rest_mag <= 12.0:
            return 1.0 / STANDARD_GRAVITY
        if 0.08 <= rest_mag <= 0.125:  # g divided by 9.81 once too often
            return STANDARD_GRAVITY
        octave = math.log2(rest_mag)
        nearest = round(octave)
        if nearest != 0 and abs(octave - nearest) < 0.2 and -4 <= nearest <= 4:
            return 2.0 ** -nearest
        return None
