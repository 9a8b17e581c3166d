"""The motion simulator: shapes, ground truth, physics sanity, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection.simulate import (
    POSITIONS,
    SIM_ACTIVITIES,
    SIM_EXERCISES,
    simulate_activity,
    simulate_set,
)


@pytest.mark.parametrize("exercise", [e for e in SIM_EXERCISES if e != "plank"])
@pytest.mark.parametrize("position", POSITIONS)
def test_sets_have_truth_inside_the_recording(exercise: str, position: str) -> None:
    rec = simulate_set(exercise, reps=7, position=position, seed=1, fs_hz=40.0,
                       cadence_s=3.0, rest_before_s=2.0, rest_after_s=2.0)
    assert rec.t.shape == (rec.acc.shape[0],) and rec.acc.shape[1] == 3
    assert np.allclose(np.diff(rec.t), 1 / 40.0)
    assert rec.reps == 7 and np.all(np.diff(rec.rep_times) > 0)
    assert rec.rep_times[0] > 2.0 and rec.rep_times[-1] < rec.t[-1] - 2.0
    rest = np.linalg.norm(rec.acc[rec.t < 1.5], axis=1)
    assert abs(np.median(rest) - 1.0) < 0.05          # gravity at rest, any orientation
    # Each rep is complete after its turning point and before the next one.
    assert rec.done_times.shape == rec.rep_times.shape
    assert np.all(rec.done_times > rec.rep_times)
    assert np.all(rec.done_times[:-1] < rec.rep_times[1:])
    assert rec.done_times[-1] <= rec.t[-1] - 2.0 + 1e-9


def test_a_rep_is_complete_when_the_body_is_back_in_the_start_pose() -> None:
    rec = simulate_set("squat", reps=5, position="thigh", seed=2, noise_g=0.0)
    still = rec.acc[rec.t < 2.5].mean(axis=0)            # the pose the set started from
    at = np.searchsorted(rec.t, rec.done_times)
    turns = np.searchsorted(rec.t, rec.rep_times)
    # Back in the start pose (a thigh's tilt moves gravity by ~1 g at the turn).
    assert np.linalg.norm(rec.acc[at] - still, axis=1).max() < 0.1
    assert np.linalg.norm(rec.acc[turns] - still, axis=1).min() > 0.5


def test_orientation_differs_between_seeds_and_seed_is_reproducible() -> None:
    a = simulate_set("squat", seed=1).acc[0]
    b = simulate_set("squat", seed=2).acc[0]
    assert np.linalg.norm(a - b) > 0.1
    assert np.array_equal(simulate_set("squat", seed=1).acc, simulate_set("squat", seed=1).acc)


def test_sloppy_reps_are_marked_and_cadence_is_respected() -> None:
    rec = simulate_set("pushup", reps=12, sloppy=3, cadence_s=2.0, seed=4)
    assert rec.sloppy_times.size == 3
    assert 1.5 < np.median(np.diff(rec.rep_times)) < 2.7


def test_plank_hold_and_range_clipping() -> None:
    rec = simulate_set("plank", hold_s=12.0, range_g=1.2, seed=3)
    assert rec.hold_s == 12.0 and rec.reps == 0
    assert np.abs(rec.acc).max() <= 1.2


@pytest.mark.parametrize("kind", SIM_ACTIVITIES)
def test_activities(kind: str) -> None:
    rec = simulate_activity(kind, duration_s=10.0, fs_hz=25.0, seed=0, position="pocket")
    assert rec.position == "thigh" and rec.reps == 0 and rec.acc.shape == (251, 3)
    assert np.isfinite(rec.acc).all()


@pytest.mark.parametrize(("call", "match"), [
    (lambda: simulate_set("yoga"), "unknown exercise 'yoga'"),
    (lambda: simulate_set("squat", position="ankle"), "unknown sensor position 'ankle'"),
    (lambda: simulate_set("squat", reps=-1), "non-negative"),
    (lambda: simulate_set("squat", fs_hz=0.5), "fs_hz"),
    (lambda: simulate_activity("sleeping"), "unknown activity 'sleeping'"),
])
def test_bad_arguments(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
