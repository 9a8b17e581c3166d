"""The rep period from the autocorrelation: the fundamental, not a multiple of it."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection._rhythm import RhythmTracker

FS = 25.0


def _period(x: np.ndarray) -> float | None:
    r = RhythmTracker(FS, 0.7, 12.0)
    for lo in range(0, x.size, 12):
        r.push(x[lo:lo + 12])
    r.update()
    return r.period_s


def test_sloppy_alternate_reps_keep_the_rep_period() -> None:
    # Every other rep 20 % shallower: two reps correlate a little better than one, but the
    # period is still one rep.
    t = np.arange(0, 16, 1 / FS)
    x = np.cos(2 * np.pi * t / 1.5) * (1.0 + 0.1 * np.cos(np.pi * t / 1.5))
    assert _period(x) == pytest.approx(1.5, abs=0.08)


def test_noise_has_no_period() -> None:
    x = np.random.default_rng(3).normal(size=int(16 * FS))
    assert _period(x) is None
