"""The rep period from the autocorrelation: the fundamental, not a multiple of it."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection._rhythm import NO_RHYTHM, RhythmTracker

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


def test_noise_has_no_rhythm_once_every_period_was_searched() -> None:
    x = np.random.default_rng(3).normal(size=int(16 * FS))
    assert _period(x) == NO_RHYTHM
    assert _period(x[:int(6 * FS)]) is None      # lags up to 3 s only: too early to tell


def test_two_slow_reps_then_rest_have_their_period_not_the_range_edge() -> None:
    # Right after lag 0 the autocorrelation of a slow movement is still falling, and at the
    # shortest allowed lag it can stand higher than the true period's peak (two reps only,
    # then rest): that edge is not a period.
    t = np.arange(0, 16, 1 / FS)
    x = np.where(t < 8, 1 - np.cos(2 * np.pi * t / 4.0), 0.0)
    assert _period(x) == pytest.approx(4.0, abs=0.1)


def _bumps(t: np.ndarray, gap_s: float, heights: tuple[float, ...], width_s: float) -> np.ndarray:
    """A bump every ``gap_s`` seconds, their heights cycling through ``heights``."""
    centres = np.arange(gap_s / 2, t[-1] + gap_s, gap_s)
    h = np.resize(np.asarray(heights), centres.size)
    return (h[:, None] * np.exp(-0.5 * ((t[None, :] - centres[:, None]) / width_s) ** 2)).sum(0)


def test_a_wobble_back_inside_each_rep_is_not_a_rep() -> None:
    # A band row: a pull every 4 s and a smaller wobble as the band returns. The wobble's
    # peak (2 s) reaches three quarters of the rep's; over a full window the rep wins.
    t = np.arange(0, 16, 1 / FS)
    assert _period(_bumps(t, 2.0, (1.0, 0.6), 0.4)) == pytest.approx(4.0, abs=0.1)


def test_uneven_depth_in_a_sets_first_seconds_keeps_the_rep_period() -> None:
    # A set's first 12 s, reps every 2.8 s, every other one half as deep: two reps
    # correlate better than one, but the window holds fewer than three pairs, too little
    # evidence to merge reps two by two.
    t = np.arange(0, 12, 1 / FS)
    assert _period(_bumps(t, 2.8, (1.0, 0.5), 0.5)) == pytest.approx(2.8, abs=0.1)


@pytest.mark.parametrize("seed", [0, 4, 7])
def test_a_young_set_after_other_motion_has_its_period(seed: int) -> None:
    # 8.5 s of irregular motion, then three reps every 2.5 s: in the whole 16 s window
    # the older motion dilutes the reps below a clear peak, in its recent half it does not.
    t = np.arange(0, 16, 1 / FS)
    rng = np.random.default_rng(seed)
    before = np.convolve(rng.normal(size=t.size), np.ones(12) / 12, mode="same")
    before *= 0.8 / before.std()
    x = np.where(t < 8.5, before, 0.5 * (1 - np.cos(2 * np.pi * (t - 8.5) / 2.5)))
    assert _period(x) == pytest.approx(2.5, abs=0.15)


def _fundamental_by_definition(x: np.ndarray, lo: int, hi: int) -> tuple[int, float]:
    """The documented rule, written plainly: the biased autocorrelation of the centred
    window, its local maxima over lags lo..hi, and the shortest whose height reaches 0.9
    of the highest (0.6 while the window holds fewer than three of the highest's lags)."""
    c = x - x.mean()
    ac = np.correlate(c, c, "full")[c.size - 1:]
    seg = ac[lo:hi + 1] / ac[0]
    peaks = [i for i in range(1, seg.size - 1) if seg[i - 1] <= seg[i] > seg[i + 1]]
    if not peaks:
        return 0, 0.0
    top = max(peaks, key=lambda i: seg[i])
    frac = 0.9 if 3 * (lo + top) <= x.size else 0.6
    # (when every peak is negative none reaches the bar: the first is taken, too low to
    # be a rhythm either way)
    best = next((i for i in peaks if seg[i] >= frac * seg[top]), peaks[0])
    return lo + best, float(seg[best])


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_period_search_follows_its_definition(seed: int) -> None:
    # The tracker's FFT and in-place peak search are written for speed; on random
    # rhythmic, half-rhythmic and noisy windows of any fill they must pick the lag, and
    # give the height, that the plain definition gives.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, int(16 * FS) + 1))
    t = np.arange(n) / FS
    x = (rng.uniform(0, 2) * np.cos(2 * np.pi * t / rng.uniform(0.8, 9.0))
         + rng.uniform(0, 1) * np.cos(4 * np.pi * t / rng.uniform(0.8, 9.0))
         + rng.uniform(0.05, 2.0) * rng.normal(size=n))
    r = RhythmTracker(FS, 0.7, 12.0)
    r.push(x)
    hi = min(r.lag_hi, n // 2)
    assert r._fundamental(x, hi) == pytest.approx(
        _fundamental_by_definition(x, r.lag_lo, hi), rel=1e-9, abs=1e-12)
