"""A constant added to the time axis must not change anything but the event times.

The host moves a phone's timestamps onto its own clock, and phones send epoch seconds
(~1.7e9), so where the counter's time axis starts is arbitrary. While the counter did its
arithmetic on the caller's absolute times, float rounding differed with the offset and
changed counts: these real sets counted differently at offsets of 100 s or 1.7e9 s.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.detection.simulate import simulate_set
from repfit.host.recordings import read_csv

OFFSETS = (100.0, 1000.0, 2345.678, 1.7e9)
"""Seconds added to the time axis: small, odd, and an epoch clock's."""

SHIFTED = {
    "spar__S2__external-rotation-band__E4_R.csv": "generic",
    "exermote__P2__burpee__20170422T155757_set5.csv": "burpee",
    "workoutbuddy__U19__push-up__normal_2015-02-27T164536.csv": "pushup",
    "muvr__jan__twist__core-jan-1-27.csv": "generic",
}
"""Real sets (profile they are counted with); the first two changed count with the offset
(20 and 21 reps; 7 and 8), the others are a 20 Hz and a 50 Hz source."""


def _events(exercise: str, t: np.ndarray, acc: np.ndarray
            ) -> tuple[int, list[float], list[float]]:
    """Count, rep times and rejection times, fed in 1 s batches as the host feeds it."""
    c = RepCounter(exercise)
    step = max(1, round(1.0 / float(np.median(np.diff(t)))))
    updates = [c.feed(t[lo:lo + step], acc[lo:lo + step]) for lo in range(0, t.size, step)]
    updates.append(c.finish())
    reps = [e.t for u in updates for e in u.events]
    refused = [r.t for u in updates for r in u.rejected]
    return updates[-1].count, reps, refused


def _assert_offset_free(exercise: str, t: np.ndarray, acc: np.ndarray) -> None:
    count, reps, refused = _events(exercise, t, acc)
    assert count == len(reps)
    for offset in OFFSETS:
        got = _events(exercise, t + offset, acc)
        assert got[0] == count, (offset, got[0], count)
        assert [x - offset for x in got[1]] == pytest.approx(reps, rel=1e-6), offset
        assert [x - offset for x in got[2]] == pytest.approx(refused, rel=1e-6), offset


@pytest.mark.parametrize("name", sorted(SHIFTED))
def test_a_real_set_counts_the_same_at_any_clock_offset(reps_data: Path, name: str) -> None:
    t, acc = read_csv(reps_data / "data" / name)
    _assert_offset_free(SHIFTED[name], t, acc)


@pytest.mark.parametrize(("exercise", "fs_hz", "seed"),
                         [("jumping_jack", 20.0, 4), ("pushup", 50.0, 7)])
def test_a_simulated_set_counts_the_same_at_any_clock_offset(exercise: str, fs_hz: float,
                                                             seed: int) -> None:
    # The jumping jacks counted 12 at offsets 0 and 2345.678 s, 9 at 100 s and 1.7e9 s.
    rec = simulate_set(exercise, reps=10, fs_hz=fs_hz, seed=seed, cadence_s=2.5)
    count, _, _ = _events(exercise, rec.t, rec.acc)
    assert count >= 6          # the streams compared hold real reps
    _assert_offset_free(exercise, rec.t, rec.acc)


def test_times_are_relative_to_the_first_finite_sample() -> None:
    # A NaN first row is dropped; the origin is the first sample that is kept, and the
    # trace and rep times come back on the caller's clock.
    rec = simulate_set("squat", reps=8, fs_hz=50.0, seed=2, cadence_s=3.0)
    t = rec.t + 1.7e9
    t[0] = np.nan
    c = RepCounter("squat", keep_trace=True)
    ups = [c.feed(t[lo:lo + 50], rec.acc[lo:lo + 50]) for lo in range(0, t.size, 50)]
    ups.append(c.finish())
    grid, _ = c.trace
    assert c.stats.nonfinite == 1
    assert grid[0] == pytest.approx(t[1], abs=1e-6)
    reps = [e.t for e in itertools.chain.from_iterable(u.events for u in ups)]
    assert len(reps) >= 6
    assert all(t[1] < x < t[-1] for x in reps)
