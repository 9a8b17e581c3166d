"""RepCounter: streaming invariance, counts on simulated sets, API shape."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from repfit.detection import (
    EXERCISES,
    HOLD_EXERCISES,
    CounterUpdate,
    RepCounter,
    profile_name,
)
from repfit.detection.simulate import simulate_set


def _run(counter: RepCounter, t: np.ndarray, acc: np.ndarray, splits: np.ndarray
         ) -> tuple[list, list, CounterUpdate]:
    events, rejected = [], []
    bounds = [0, *sorted(int(s) for s in splits), t.size]
    for lo, hi in itertools.pairwise(bounds):
        u = counter.feed(t[lo:hi], acc[lo:hi])
        events += u.events
        rejected += u.rejected
    last = counter.finish()
    return events + list(last.events), rejected + list(last.rejected), last


@pytest.mark.parametrize("exercise", ["squat", "burpee", "generic"])
def test_any_batch_split_gives_the_same_reps(exercise: str) -> None:
    rec = simulate_set(exercise if exercise != "generic" else "situp", reps=8, fs_hz=50,
                       seed=3, cadence_s=3.0)
    whole = _run(RepCounter(exercise), rec.t, rec.acc, np.array([], dtype=int))
    rng = np.random.default_rng(0)
    for splits in (np.arange(1, rec.t.size),                        # one sample at a time
                   rng.choice(rec.t.size, 40, replace=False),        # random splits
                   np.arange(5, rec.t.size, 5)):                     # 100 ms batches
        got = _run(RepCounter(exercise), rec.t, rec.acc, splits)
        assert got[0] == whole[0]
        assert got[1] == whole[1]
        assert got[2].count == whole[2].count
    assert whole[2].count >= 6  # non-trivial: the streams being compared hold real reps


def test_the_movement_trace_after_a_gap_does_not_depend_on_the_batches() -> None:
    # After a gap the grid is anchored at a sample time, and rounding could put a grid
    # point a hair after a batch's last sample, extrapolated there but interpolated when
    # the batch went on: results then differed in the last bits with the batch split.
    t = np.arange(1043) / 50
    t[43:] += 2.18                                          # 50 Hz, one 2.2 s gap
    tilt = 0.6 * np.sin(2 * t)
    acc = np.stack([np.sin(tilt), 0 * t, np.cos(tilt)], axis=1)

    def trace(step: int) -> np.ndarray:
        c = RepCounter("squat", keep_trace=True)
        for lo in range(0, t.size, step):
            c.feed(t[lo:lo + step], acc[lo:lo + step])
        return c.trace[1]

    whole = trace(t.size)
    for step in (1, 7, 50):
        assert np.array_equal(trace(step), whole)


def test_a_lone_pair_of_reps_is_judged_at_stream_end_whatever_the_batches() -> None:
    # Two reps, then a long rest: the pair is decided only when the stream ends, by the
    # movement's period as it was at the pair's last turning point (the period is computed
    # lazily, so this checks it is still known seconds and many batches later).
    rec = simulate_set("pushup", reps=2, seed=10, rest_after_s=10.0, cadence_s=3.0)
    whole = _run(RepCounter("pushup"), rec.t, rec.acc, np.array([], dtype=int))
    assert whole[2].count == 2
    for step in (1, 10, 100):
        got = _run(RepCounter("pushup"), rec.t, rec.acc, np.arange(step, rec.t.size, step))
        assert got[0] == whole[0]


@pytest.mark.parametrize("seed", [201, 205])
def test_a_shallow_first_rep_still_sets_which_turning_point_counts(seed: int) -> None:
    # In these simulated sit-up sets the first rep is shallow. Were it dropped as fidgeting,
    # the set would count each rep where it returns, not where it turns, and every rep
    # would reach the host about 2.4 s after the turn instead of about 0.7 s.
    rec = simulate_set("situp", reps=12, fs_hz=50.0, position="wrist", seed=seed,
                       cadence_s=3.0)
    c = RepCounter("situp")
    delays = []
    for lo in range(0, rec.t.size, 5):                      # 100 ms batches
        u = c.feed(rec.t[lo:lo + 5], rec.acc[lo:lo + 5])
        now = float(rec.t[min(lo + 5, rec.t.size) - 1])
        delays += [now - rec.rep_times[np.argmin(np.abs(rec.rep_times - e.t))]
                   for e in u.events]
    assert abs(c.finish().count - 12) <= 1
    assert float(np.median(delays[3:])) < 1.2


def test_one_missed_rep_does_not_end_the_set() -> None:
    # Squats every 2.5 s; the 7th is left out and the next comes 0.6 s late (2.24 periods
    # after the 6th). The set goes on: that rep is counted as its return is three quarters
    # done (after a pause the swing may be the body leaving the set: `PAUSE_PERIODS`), not
    # three reps later as the start of a new set; the reps after it as soon as the signal
    # comes back.
    fs, period = 50, 2.5
    t = np.arange(0, 45, 1 / fs)
    late = t > 3 + 6.5 * period
    phase = (t - 3 - 0.6 * late) / period
    moving = (t > 3) & (phase < 14) & ~((phase >= 6) & (phase < 7))
    tilt = 0.6 * (1 - np.cos(2 * np.pi * phase)) / 2 * moving
    acc = np.stack([np.sin(tilt), 0 * t, np.cos(tilt)], axis=1)
    c = RepCounter("squat")
    delays = []
    for lo in range(0, t.size, 5):                      # 100 ms batches
        u = c.feed(t[lo:lo + 5], acc[lo:lo + 5])
        delays += [float(t[min(lo + 5, t.size) - 1]) - e.t for e in u.events]
    assert c.finish().count == 13
    after_pause = 6                   # the 7th counted, the first after the missed rep
    assert delays[after_pause] < 0.5 * period      # long before the next rep
    # after the first three, no other rep waits a second
    assert max(delays[3:after_pause] + delays[after_pause + 1:]) < 1.0


def _set_then_swing_after_pause(back: float) -> int:
    """Push-ups every 2 s (8 reps), then, after 4.4 s of stillness (2.2 periods from the
    last rep), a swing as deep as a rep whose return stops ``back`` of the way: the count."""
    fs, period = 50, 2.0
    t = np.arange(0, 32, 1 / fs)
    phase = (t - 3) / period
    tilt = 0.6 * (1 - np.cos(2 * np.pi * phase)) / 2 * ((t > 3) & (phase < 8))
    t0 = 3 + 7.5 * period + 4.4 - 0.5 * period
    g = (1 - np.cos(2 * np.pi * np.clip((t - t0) / period, 0, 1))) / 2
    tilt += 0.6 * np.where(t < t0 + 0.5 * period, g, 1 - back * (1 - g))
    acc = np.stack([np.sin(tilt), 0 * t, np.cos(tilt)], axis=1)
    return _run(RepCounter("pushup"), t, acc, np.arange(5, t.size, 5))[2].count


def test_a_swing_into_another_posture_after_a_pause_is_not_a_rep() -> None:
    # Getting up after the last push-up: after a pause, a swing as deep as a rep that comes
    # back only half way and stays in the new posture. Counted at `RETREAT` of the set's
    # swing, it was one rep too many (real upper-arm push-ups: 4 of 21 sets); a rep after
    # the same pause returns to where it started and counts once three quarters back.
    assert _set_then_swing_after_pause(0.5) == 8
    assert _set_then_swing_after_pause(1.0) == 9


def test_a_rep_that_wobbles_at_its_turn_is_counted_once() -> None:
    # Squats every 2.5 s; at the bottom of the 6th the body sags back up part of the way
    # and goes down again before standing up. The sag does not come back far enough to
    # count, and the second dip alone swings too little: judged apart, both halves were
    # refused and the rep was lost. Judged as one rep, it counts once.
    fs, period = 50, 2.5
    t = np.arange(0, 36, 1 / fs)
    phase = (t - 3) / period
    bump = (1 - np.cos(2 * np.pi * phase)) / 2
    sag = 0.8 * np.exp(-((phase % 1 - 0.5) / 0.15) ** 2) * ((phase > 5) & (phase < 6))
    tilt = 0.6 * (bump - sag) * ((t > 3) & (phase < 12))
    acc = np.stack([np.sin(tilt), 0 * t, np.cos(tilt)], axis=1)
    events, rejected, last = _run(RepCounter("squat"), t, acc, np.arange(5, t.size, 5))
    assert last.count == 12
    assert not rejected
    gaps = np.diff([e.t for e in events])
    assert gaps.max() < 1.5 * period                  # no rep skipped at the sag
    # The same reps however the stream is cut (one sample at a time, one piece).
    for splits in (np.arange(1, t.size), np.array([], dtype=int)):
        assert _run(RepCounter("squat"), t, acc, splits)[0] == events


@pytest.mark.parametrize("exercise", ["squat", "pushup", "situp", "burpee"])
def test_counts_simulated_wrist_sets(exercise: str) -> None:
    cadence = 3.5 if exercise == "burpee" else 2.0
    hits = 0
    for seed in range(4):
        rec = simulate_set(exercise, reps=10, position="wrist", seed=seed, cadence_s=cadence)
        c = RepCounter(exercise)
        c.feed(rec.t, rec.acc)
        hits += abs(c.finish().count - 10) <= 1
    assert hits >= 3


def test_events_carry_turning_point_times() -> None:
    rec = simulate_set("squat", reps=10, position="chest", seed=1)
    c = RepCounter("squat")
    events = list(c.feed(rec.t, rec.acc).events) + list(c.finish().events)
    assert len(events) == 10
    # Each event lies within a quarter cadence of a true turning point.
    err = np.abs(np.array([e.t for e in events])[:, None] - rec.rep_times[None, :]).min(axis=1)
    assert err.max() < 0.5
    assert all(0 < e.confidence <= 1 and e.amplitude > 0 for e in events)
    # find_peaks-like properties: prominence in g, width ~ one cycle (cadence 2 s).
    assert all(e.prominence > 0.1 for e in events)
    assert all(1.0 < e.width_s < 4.0 for e in events[1:])
    assert [e.period_s is None for e in events].count(True) == 1


def test_unknown_exercise_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="squat") as info:
        RepCounter("yoga")
    assert "generic" in str(info.value)


@pytest.mark.parametrize(("written", "profile"), [
    ("push-up", "pushup"), ("Push-Ups", "pushup"), ("press ups", "pushup"),
    ("sit-up", "situp"), ("situps", "situp"), ("SQUATS", "squat"),
    ("jumping jacks", "jumping_jack"), ("Jumping-Jack", "jumping_jack"),
    ("star jumps", "jumping_jack"), ("burpees", "burpee"), ("planks", "plank"),
    ("generic", "generic"), ("yoga", None), ("", None), ("s", None), (None, None),
])
def test_exercise_names_as_people_write_them(written: str, profile: str | None) -> None:
    assert profile_name(written) == profile
    if profile is not None:
        assert RepCounter(written).exercise == profile


def test_exercise_tables() -> None:
    for name in ("pushup", "squat", "situp", "jumping_jack", "burpee", "plank", "generic"):
        assert name in EXERCISES
    assert HOLD_EXERCISES == ("plank",)
    assert RepCounter("squat").hold_seconds is None
    assert RepCounter("plank").hold_seconds == 0.0


@pytest.mark.parametrize("exercise", ["squat", "plank"])
def test_every_update_tells_the_running_count_and_hold(exercise: str) -> None:
    # Batches without news reuse one update object: it must still say where things stand.
    rec = simulate_set(exercise, reps=8, hold_s=20.0, seed=4)
    c = RepCounter(exercise)
    counted = 0
    holds = set()
    for lo in range(0, rec.t.size, 13):
        u = c.feed(rec.t[lo:lo + 13], rec.acc[lo:lo + 13])
        counted += len(u.events)
        assert u.count == c.count == counted
        assert u.hold_seconds == c.hold_seconds
        holds.add(u.hold_seconds)
    assert (counted >= 7) if exercise == "squat" else (len(holds) > 10)


def test_plank_hold_seconds() -> None:
    rec = simulate_set("plank", hold_s=30.0, seed=2)
    c = RepCounter("plank")
    c.feed(rec.t, rec.acc)
    u = c.finish()
    assert u.count == 0
    assert 25.0 <= u.hold_seconds <= 36.0


def test_memory_stays_bounded_on_a_long_stream() -> None:
    # An hour of 50 Hz walking-like noise fed in 1 s batches: internal buffers stay put.
    rng = np.random.default_rng(0)
    c = RepCounter("generic")
    for second in range(3600):
        t = second + np.arange(50) / 50.0
        acc = np.array([0.0, 0.0, 1.0]) + 0.05 * rng.normal(size=(50, 3))
        c.feed(t, acc)
    assert c._rhythm.buf.size == 400                     # 16 s at 25 Hz, fixed
    assert c._blk.shape[1] < 12 and len(c._hold_buf) == 0   # at most one partial block
    assert max(len(c._reps.chains[1]), len(c._reps.chains[-1])) <= 3
    assert len(c._reps.amps) <= 5 and len(c._reps.periods) <= 4


def test_docstring_example_runs() -> None:
    import doctest

    from repfit.detection import _counter

    result = doctest.testmod(_counter, verbose=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("exercise", "position", "cadence"), [
    ("pushup", "chest", 2.0), ("pushup", "upper_arm", 2.0), ("pushup", "thigh", 2.0),
    ("squat", "thigh", 2.5), ("squat", "upper_arm", 2.5),
    ("situp", "chest", 3.0), ("situp", "upper_arm", 3.0),
    ("jumping_jack", "wrist", 1.0), ("jumping_jack", "upper_arm", 1.2),
    ("burpee", "chest", 4.0), ("burpee", "thigh", 4.0),
])
def test_counts_simulated_sets_at_other_positions(exercise: str, position: str,
                                                  cadence: float) -> None:
    hits = 0
    for seed in range(4):
        rec = simulate_set(exercise, reps=10, position=position, seed=20 + seed,
                           cadence_s=cadence, fs_hz=(25.0, 50.0, 100.0, 200.0)[seed])
        c = RepCounter(exercise)
        step = int(rec.fs_hz)
        for lo in range(0, rec.t.size, step):
            c.feed(rec.t[lo:lo + step], rec.acc[lo:lo + step])
        hits += abs(c.finish().count - 10) <= 1
    assert hits >= 3


@pytest.mark.parametrize(("exercise", "position"), [("squat", "thigh"), ("situp", "chest"),
                                                    ("burpee", "chest")])
def test_the_sensor_axes_do_not_matter(exercise: str, position: str) -> None:
    # The same movement seen by a sensor mounted another way round: the movement signal,
    # hence every rep and refusal, is the same (up to rounding). The axis search starts
    # from gravity's direction and the filters from a sample chosen by distances alone,
    # never from the device's own axes.
    rec = simulate_set(exercise, reps=8, position=position, fs_hz=50, seed=5, cadence_s=4.0)
    rng = np.random.default_rng(7)
    runs = []
    for k in range(3):
        rot = np.linalg.qr(rng.normal(size=(3, 3)))[0] if k else np.eye(3)
        c = RepCounter(exercise, keep_trace=True)
        events, rejected, last = _run(c, rec.t, rec.acc @ rot.T, np.arange(50, rec.t.size, 50))
        runs.append((c.trace[1], [e.t for e in events], [r.t for r in rejected], last.count))
    trace, times, refused, count = runs[0]
    assert count >= 6
    for other in runs[1:]:
        np.testing.assert_allclose(other[0], trace, atol=1e-9)
        assert other[1:] == (times, refused, count)
