"""Every exercise at every sensor position: counted, or refused with a reason a person can
act on, never a silent 0 (simulated sets: `repfit.detection.simulate`)."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection import (
    POSITIONS,
    RepCounter,
    countable_positions,
    position_refusal,
    sensor_position,
)
from repfit.detection.simulate import simulate_set

PACE = {"pushup": 2.0, "squat": 2.5, "situp": 3.0, "jumping_jack": 1.0, "burpee": 4.0}
"""Seconds per rep of the simulated sets."""


def _count(exercise: str, t: np.ndarray, acc: np.ndarray,
           position: str | None = None) -> tuple[int, list[str]]:
    c = RepCounter(exercise, position=position)
    reasons = []
    for lo in range(0, t.size, 5):                     # 100 ms batches at 50 Hz
        reasons += [r.reason for r in c.feed(t[lo:lo + 5], acc[lo:lo + 5]).rejected]
    last = c.finish()
    return last.count, reasons + [r.reason for r in last.rejected]


PAIRS = [(ex, pos) for ex in PACE for pos in POSITIONS]
COUNTED = [pytest.param(ex, pos, marks=pytest.mark.xfail(
               strict=True, reason="burpees at the wrist lose a rep or two a set, refused as "
                                   "'no jump' or too small (simulated MAE 1.3)"))
           if (ex, pos) == ("burpee", "wrist") else (ex, pos)
           for ex, pos in PAIRS if position_refusal(ex, pos) is None]
REFUSED = [(ex, pos) for ex, pos in PAIRS if position_refusal(ex, pos) is not None]


def test_the_refused_pairs_are_the_ones_physics_cannot_count() -> None:
    assert REFUSED == [("situp", "thigh"), ("jumping_jack", "chest"),
                       ("jumping_jack", "thigh")]


@pytest.mark.parametrize(("exercise", "position"), COUNTED)
def test_countable_positions_count_within_one(exercise: str, position: str) -> None:
    errors = []
    for seed in range(3):
        rec = simulate_set(exercise, reps=10, position=position, seed=900 + seed,
                           cadence_s=PACE[exercise])
        errors.append(abs(_count(exercise, rec.t, rec.acc, position)[0] - 10))
    assert np.mean(errors) <= 1.0, errors


@pytest.mark.parametrize(("exercise", "position"), REFUSED)
def test_uncountable_positions_are_refused_with_a_reason(exercise: str, position: str) -> None:
    rec = simulate_set(exercise, reps=10, position=position, seed=900,
                       cadence_s=PACE[exercise])
    count, reasons = _count(exercise, rec.t, rec.acc, position)
    assert count == 0
    assert len(reasons) == 1
    assert reasons[0].startswith("sensor position: ")
    assert "wear the sensor on the wrist" in reasons[0]
    counter = RepCounter(exercise, position=position)
    assert counter.refusal == reasons[0]            # known before the first sample


@pytest.mark.parametrize(("exercise", "position"), REFUSED)
def test_without_the_position_the_zero_is_explained(exercise: str, position: str) -> None:
    # The counter is not told where the sensor is: the set still counts nothing, and says
    # why at the end instead of a silent 0.
    rec = simulate_set(exercise, reps=10, position=position, seed=901,
                       cadence_s=PACE[exercise])
    count, reasons = _count(exercise, rec.t, rec.acc)
    assert count < 10
    if count == 0:
        assert reasons and reasons[-1].startswith("nothing counted: the movement repeated")
        assert "wear it on the wrist" in reasons[-1]


def test_position_names_as_people_write_them() -> None:
    assert sensor_position("Trouser pocket") == "thigh"
    assert sensor_position("upper-arm") == "upper_arm"
    assert sensor_position(" Wrist ") == "wrist"
    with pytest.raises(ValueError, match="unknown sensor position 'ankle'; known: wrist"):
        sensor_position("ankle")
    with pytest.raises(ValueError, match="unknown sensor position"):
        RepCounter("squat", position="ankle")
    assert countable_positions("situp") == ("wrist", "upper_arm", "chest")
    assert position_refusal("squat", "pocket") is None
    assert RepCounter("squat", position="pocket").refusal is None


def test_a_countable_position_counts_as_without_one() -> None:
    rec = simulate_set("squat", reps=8, position="thigh", seed=3, cadence_s=2.5)
    assert _count("squat", rec.t, rec.acc, "thigh") == _count("squat", rec.t, rec.acc)


def test_quiet_streams_stay_quiet() -> None:
    # Nothing repeated: no reps and no "nothing counted" either.
    t = np.arange(0.0, 40.0, 0.02)
    acc = np.tile([0.0, 0.0, 1.0], (t.size, 1)) + np.random.default_rng(0).normal(
        0.0, 0.002, (t.size, 3))
    assert _count("squat", t, acc) == (0, [])
