"""Bad input: a clear error or documented behaviour, never a crash or a made-up count."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.detection.simulate import simulate_set


def _count(exercise: str, t: np.ndarray, acc: np.ndarray, batch: int = 50) -> RepCounter:
    c = RepCounter(exercise)
    for lo in range(0, max(t.size, 1), batch):
        c.feed(t[lo:lo + batch], acc[lo:lo + batch])
    c.finish()
    return c


def test_empty_and_single_sample_give_no_reps() -> None:
    c = RepCounter("squat")
    u = c.feed(np.zeros(0), np.zeros((0, 3)))
    assert (u.count, u.events, u.rejected) == (0, (), ())
    assert c.feed([0.0], [[0.0, 0.0, 1.0]]).count == 0
    assert c.finish().count == 0


@pytest.mark.parametrize(("t", "acc", "match"), [
    (np.zeros(3), np.zeros((3, 2)), r"acc must have shape \(n, 3\)"),
    (np.zeros(3), np.zeros((4, 3)), "t has 3 samples but acc has 4"),
    (np.zeros((2, 2)), np.zeros((2, 3)), r"t must have shape \(n,\)"),
    (["a", "b"], np.zeros((2, 3)), "t must be numeric"),
])
def test_wrong_shapes_raise_clear_errors(t: object, acc: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RepCounter("squat").feed(t, acc)


def test_feed_after_finish_is_an_error() -> None:
    c = RepCounter("squat")
    c.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        c.feed([0.0], [[0, 0, 1]])


def test_nan_and_inf_rows_are_dropped_and_counted() -> None:
    rec = simulate_set("squat", reps=10, position="chest", seed=4)
    acc = rec.acc.copy()
    rng = np.random.default_rng(0)
    bad = rng.choice(acc.shape[0], 40, replace=False)
    acc[bad[:20], 1] = np.nan
    acc[bad[20:], 0] = np.inf
    c = _count("squat", rec.t, acc)
    assert c.stats.nonfinite == 40
    assert abs(c.count - 10) <= 1


def test_backwards_and_duplicate_timestamps_are_dropped() -> None:
    rec = simulate_set("squat", reps=10, position="thigh", seed=5)
    t = rec.t.copy()
    t[100] = t[99]          # duplicate
    t[300] = t[250]         # jumps back
    c = _count("squat", t, rec.acc)
    assert c.stats.out_of_order == 2
    assert abs(c.count - 10) <= 1


def test_a_gap_is_never_bridged_with_reps() -> None:
    # Reps, then a 20 s silence that starts half-way up a rep and resumes half-way down.
    rec = simulate_set("squat", reps=12, position="chest", seed=6, rest_after_s=1.0)
    cut = (rec.t > rec.rep_times[5] - 0.6) & (rec.t < rec.rep_times[5] + 0.6)
    t = np.where(rec.t >= rec.rep_times[5] + 0.6, rec.t + 20.0, rec.t)[~cut]
    acc = rec.acc[~cut]
    c = _count("squat", t, acc)
    assert c.stats.gaps == 1
    times = [e.t for e in _events(t, acc)]
    inside = [x for x in times if rec.rep_times[5] - 0.6 < x < rec.rep_times[5] + 20.6]
    assert inside == []
    assert c.count <= 11


def _events(t: np.ndarray, acc: np.ndarray) -> list:
    c = RepCounter("squat")
    return list(c.feed(t, acc).events) + list(c.finish().events)


def test_constant_signal_gives_nothing() -> None:
    t = np.arange(0, 60, 0.02)
    acc = np.tile([0.1, -0.2, 0.97], (t.size, 1))
    for ex in ("squat", "generic", "jumping_jack"):
        c = RepCounter(ex)
        u = c.feed(t, acc)
        assert u.count == 0 and not u.rejected
    # Documented: a device that never leaves its first posture is not holding a plank.
    assert RepCounter("plank").feed(t, acc).hold_seconds == 0.0


def test_clipped_signal_still_counts_without_inventing_reps() -> None:
    rec = simulate_set("jumping_jack", reps=12, position="upper_arm", seed=2, cadence_s=1.2,
                       range_g=2.0)
    assert np.isclose(np.abs(rec.acc).max(), 2.0)      # the sensor saturated
    c = _count("jumping_jack", rec.t, rec.acc)
    assert 10 <= c.count <= 12


@pytest.mark.parametrize("fs_hz", [10.0, 25.0, 50.0, 100.0, 200.0])
def test_sample_rates_from_10_to_200_hz(fs_hz: float) -> None:
    rec = simulate_set("squat", reps=10, position="chest", seed=7, fs_hz=fs_hz)
    assert abs(_count("squat", rec.t, rec.acc, batch=int(fs_hz)).count - 10) <= 1


def test_irregular_timestamps_are_resampled() -> None:
    rec = simulate_set("squat", reps=10, position="upper_arm", seed=8, fs_hz=50.0)
    rng = np.random.default_rng(1)
    # BLE jitter: +-8 ms per sample, plus 5 % of samples lost.
    t = rec.t + rng.uniform(-0.008, 0.008, rec.t.size)
    keep = rng.random(rec.t.size) > 0.05
    order = np.argsort(t[keep])
    c = _count("squat", t[keep][order], rec.acc[keep][order])
    assert abs(c.count - 10) <= 1


@pytest.mark.parametrize(("exercise", "position", "seed"), [
    ("situp", "wrist", 3), ("squat", "chest", 3), ("squat", "upper_arm", 5)])
def test_a_glitch_in_the_first_sample_costs_no_reps(exercise: str, position: str,
                                                     seed: int) -> None:
    # A recording that starts on a 3 g glitch (as some real ones do). Had the filters
    # started from that sample, they would ring for seconds as one huge swing, and the
    # trigger, scaled to it, would miss the first reps.
    rec = simulate_set(exercise, reps=10, seed=seed, position=position, rest_before_s=0.3,
                       cadence_s=2.5)
    acc = rec.acc.copy()
    acc[0] = (3.0, 0.0, 0.0)
    clean = _count(exercise, rec.t, rec.acc).count
    assert clean == 10
    for batch in (1, 7, 100, rec.t.size):
        assert _count(exercise, rec.t, acc, batch).count == clean
