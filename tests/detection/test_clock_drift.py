"""A device clock that runs 1 % fast or slow must not change the count.

Phones drift, and the host maps device time onto arrival time, so the counter sees the
same movement on a time axis stretched by up to about 1 %. These real sets changed their
count under such a stretch (three of them by three reps) while the input was sampled onto
the counter's 25 Hz grid at the grid points alone: the stretch moved where the grid fell
between the samples, and with it what the impacts and tremor above 12.5 Hz folded into
the band (`_resample.Resampler`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.host.recordings import read_csv

DRIFTING = {
    "muvr__jan__lat-pulldown-angled__back-jan-2-19.csv": "lat-pulldown-angled",
    "muvr__jan__pulldown-crunch__core-jan-1-39.csv": "pulldown-crunch",
    "muvr__jan__pulldown-crunch__core-jan-1-40.csv": "pulldown-crunch",
    "muvr__jan__lat-pulldown-straight__back-jan-2-30.csv": "lat-pulldown-straight",
    "muvr__jan__twist__core-jan-1-27.csv": "twist",
    "spar__S2__bent-over-row-dumbbell__E6_L.csv": "bent-over-row-dumbbell",
    "exermote__P1__burpee__20170422T152200_set1.csv": "burpee",
    "workoutbuddy__U26__push-up__narrow_2015-03-10T173020.csv": "pushup",
}
"""Real sets whose count changed under a 1 % stretch (exercise as labelled)."""


def _count(exercise: str, t: np.ndarray, acc: np.ndarray) -> int:
    c = RepCounter(exercise if exercise in ("burpee", "pushup") else "generic")
    step = max(1, round(1.0 / float(np.median(np.diff(t)))))   # 1 s batches
    for lo in range(0, t.size, step):
        c.feed(t[lo:lo + step], acc[lo:lo + step])
    return c.finish().count


@pytest.mark.parametrize("name", sorted(DRIFTING))
def test_a_clock_one_percent_off_counts_the_same(reps_data: Path, name: str) -> None:
    t, acc = read_csv(reps_data / "data" / name)
    exercise = DRIFTING[name]
    counts = {f: _count(exercise, t * f, acc) for f in (1.0, 1.01, 0.99)}
    assert counts[1.01] == counts[1.0] == counts[0.99], counts
