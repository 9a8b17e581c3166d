"""The pure coach, driven with made-up clocks and scores."""

from __future__ import annotations

import itertools
import math

import pytest

from repfit import wire
from repfit.integrations.coach import (
    Coach,
    CoachSettings,
    Rule,
    Score,
    TrainingEvent,
    guess_higher_is_better,
)
from repfit.integrations.menu import Exercise, Menu

PLANK = Exercise("plank", "plank", "duration", 250, "iterations")
PUSHUPS = Exercise("push-ups", "pushup", "count", 12, "reps", 2.5)
MENU = Menu((PUSHUPS, PLANK, Exercise("squats", "squat", "count", 20, "reps", 2.0)))


def make(exercise: str = "push-ups", **kw) -> Coach:
    ids = (f"id{i}" for i in itertools.count())
    kw.setdefault("announce_s", 0.0)
    return Coach(CoachSettings(exercise=exercise, **kw), MENU, run_id="r", experiment="e",
                 now=lambda: 1000.0, new_id=lambda: next(ids))


def feed(coach: Coach, iterations, dt=0.25, t0=0.0, end=None, score=None, dataset="valid",
         metric="auc", higher=True):
    """Feed iterations; returns [(iteration, message)]. ``dt`` may be a function of i."""
    out = []
    t = t0
    for i in iterations:
        scores = ()
        if score is not None:
            v = score(i + 1)
            if v is not None:
                scores = (Score("training", metric, 0.99, higher),
                          Score(dataset, metric, v, higher))
        out += [(i, m) for m in coach.step(TrainingEvent(i, 0, end, t, scores))]
        t += dt(i) if callable(dt) else dt
    return out


def cues(out, *kinds):
    return [(i, m.kind, m.index) for i, m in out if isinstance(m, wire.Cue) and m.kind in kinds]


def test_first_iteration_announces_and_assigns_a_count_exercise():
    out = feed(make(), [0])
    assert [type(m).__name__ for _, m in out] == ["Assignment", "Cue"]
    a, announce = out[0][1], out[1][1]
    assert (a.exercise, a.target, a.unit, a.seconds_per_rep, a.est_duration_s) == \
        ("pushup", 12.0, "reps", 2.5, 30.0)
    assert (a.run_id, a.experiment, a.issued_at, a.reason) == ("r", "e", 1000.0, "assigned")
    assert announce.kind == "announce" and announce.text == "push-ups — 12 times — start"


def test_iteration_hold_ticks_every_10_major_every_100_and_finishes_at_the_target():
    coach = make("plank", calibration_iterations=10, min_hold_s=0.0)
    out = feed(coach, range(400), dt=0.02)
    assignment = [(i, m) for i, m in out if isinstance(m, wire.Assignment)]
    # Sent once the speed is known, so the host gets a real duration estimate.
    assert [i for i, _ in assignment] == [10]
    a = assignment[0][1]
    assert a.unit == "iterations" and a.target == 250
    assert a.est_duration_s == pytest.approx(250 * 0.02)
    start = cues(out, "start")
    assert start == [(10, "start", 0)]
    ticks = cues(out, "tick", "tick_major", "finish")
    assert [i - 10 for i, _, _ in ticks] == list(range(10, 251, 10))
    assert [k for _, k, _ in ticks if k == "tick_major"] == ["tick_major"] * 2
    assert [i - 10 for i, k, _ in ticks if k == "tick_major"] == [100, 200]
    assert ticks[-1][1] == "finish" and ticks[-1][0] == 260
    assert max(i for i, _ in out) == 260  # nothing after the finish


def test_count_exercise_calibrates_iterations_per_rep_then_ticks_once_per_rep():
    coach = make("push-ups", calibration_iterations=10)
    out = feed(coach, range(300), dt=0.25)  # 2.5 s per rep / 0.25 s per iteration = 10
    assert coach.iterations_per_rep == 10
    ticks = cues(out, "tick", "tick_major", "finish")
    assert [i for i, _, _ in ticks] == [10 + 10 * k for k in range(1, 13)]
    assert [k for _, k, _ in ticks] == ["tick"] * 9 + ["tick_major", "tick", "finish"]
    assert [n for _, _, n in ticks[:-1]] == list(range(1, 12))


def test_count_metronome_adapts_when_iterations_speed_up():
    coach = make("push-ups", calibration_iterations=10, reps=40)
    # 0.25 s per iteration at first (10 per rep), then 0.05 s (50 per rep).
    out = feed(coach, range(2000), dt=lambda i: 0.25 if i < 40 else 0.05)
    ticks = [i for i, _, _ in cues(out, "tick", "tick_major", "finish")]
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert gaps[0] == 10
    assert gaps[-5:] == [50] * 5
    assert coach.iterations_per_rep == 50


def test_a_very_slow_iteration_still_gets_its_tick():
    coach = make("push-ups", calibration_iterations=10)
    # A 6-second validation pass at iteration 15 (the rep would be due at iteration 20).
    out = feed(coach, range(25), dt=lambda i: 6.0 if i == 14 else 0.25)
    assert next(i for i, _, _ in cues(out, "tick")) == 15


def test_the_workout_starts_only_after_the_announcement_had_time_to_play():
    coach = make("push-ups", announce_s=3.0, calibration_iterations=10)
    out = feed(coach, range(500), dt=1 / 64)  # exact in binary: 3 s is iteration 192
    assert cues(out, "start") == [(192, "start", 0)]


def test_a_fast_training_never_asks_for_a_token_hold():
    """250 iterations at 2 ms each would be a half-second plank: the floor applies."""
    coach = make("plank", calibration_iterations=10)
    out = feed(coach, range(300), dt=0.002)
    (a,) = [m for _, m in out if isinstance(m, wire.Assignment)]
    assert a.unit == "iterations" and a.est_duration_s == pytest.approx(20.0)
    slow = make("plank", calibration_iterations=10, min_hold_s=5.0)
    (b,) = [m for _, m in feed(slow, range(300), dt=0.2) if isinstance(m, wire.Assignment)]
    assert b.est_duration_s == pytest.approx(250 * 0.2)


def test_ctrl_c_before_calibration_still_sends_the_hold_then_the_penalty():
    coach = make("plank", calibration_iterations=10)
    assert not [m for _, m in feed(coach, range(3), dt=0.5) if isinstance(m, wire.Assignment)]
    out = coach.interrupted()
    hold, penalty = (m for m in out if isinstance(m, wire.Assignment))
    assert (hold.reason, hold.unit, hold.exercise) == ("assigned", "iterations", "plank")
    assert hold.est_duration_s == pytest.approx(max(250 * 0.5, 20.0))
    assert penalty.reason == "penalty"
    assert coach.finish() == []  # the run is over: the hold is not sent twice


def test_training_shorter_than_calibration_still_sends_a_hold_with_an_estimate():
    coach = make("plank", calibration_iterations=10)
    out = feed(coach, range(5), dt=0.1, end=5)
    sent = [m for _, m in out if isinstance(m, wire.Assignment)]
    assert len(sent) == 1 and sent[0].est_duration_s == pytest.approx(25.0)
    assert coach.finish() == []  # no history: nothing more to say


def _with_previous(previous, **kw):
    coach = make("push-ups", checkpoint_every=100, **kw)
    coach.set_previous(previous)
    return coach


def test_checkpoints_compare_with_the_previous_run_honouring_higher_is_better():
    coach = _with_previous({100: 0.80, 200: 0.85, 300: 0.86})
    values = {100: 0.81, 200: 0.84, 300: 0.86}
    out = feed(coach, range(300), dt=0.001, score=lambda n: values.get(n, 0.5))
    assert cues(out, "better", "worse") == [(99, "better", 100), (199, "worse", 200)]
    assert "0.81 vs 0.8" in next(m.text for _, m in out if isinstance(m, wire.Cue)
                                 and m.kind == "better")

    lower = _with_previous({100: 0.40})
    out = feed(lower, range(100), dt=0.001, score=lambda n: 0.30, metric="l2", higher=False)
    assert cues(out, "better", "worse") == [(99, "better", 100)]


def test_worse_at_the_end_gives_the_configured_penalty():
    coach = _with_previous({100: 0.80, 150: 0.9},
                           penalty=Rule(True, "squats", 15))
    feed(coach, range(150), dt=0.001, score=lambda n: 0.7)
    out = coach.finish()
    penalty = next(m for m in out if isinstance(m, wire.Assignment))
    assert (penalty.reason, penalty.exercise, penalty.target) == ("penalty", "squat", 15.0)
    assert penalty.text.startswith("worse than last time")
    assert [m.kind for m in out if isinstance(m, wire.Cue)] == ["worse", "penalty"]
    assert coach.finish() == []


def test_penalty_can_be_switched_off_and_reward_switched_on():
    off = _with_previous({100: 0.9}, penalty=Rule(False))
    feed(off, range(100), dt=0.001, score=lambda n: 0.5)
    assert not any(isinstance(m, wire.Assignment) for m in off.finish())

    reward = _with_previous({100: 0.5}, reward=Rule(True, "same", 5))
    feed(reward, range(100), dt=0.001, score=lambda n: 0.9)
    out = reward.finish()
    extra = next(m for m in out if isinstance(m, wire.Assignment))
    assert (extra.reason, extra.exercise, extra.target) == ("reward", "pushup", 5.0)
    assert [m.kind for m in out if isinstance(m, wire.Cue)] == ["better", "reward"]


def test_a_hold_penalty_is_in_seconds_because_training_is_over():
    coach = _with_previous({100: 0.9}, penalty=Rule(True, "plank", 60))
    feed(coach, range(100), dt=0.001, score=lambda n: 0.5)
    penalty = next(m for m in coach.finish() if isinstance(m, wire.Assignment))
    assert (penalty.exercise, penalty.target, penalty.unit) == ("plank", 60.0, "seconds")


def test_ctrl_c_penalty_follows_the_interrupt_rule():
    coach = make("push-ups", interrupt=Rule(True, "plank", 100))
    feed(coach, range(3))
    out = coach.interrupted()
    penalty, cue = out
    assert isinstance(penalty, wire.Assignment)
    assert (penalty.reason, penalty.exercise, penalty.target, penalty.unit) == \
        ("penalty", "plank", 100.0, "seconds")
    assert penalty.text == "keyboard interrupt — 100 seconds — plank — added"
    assert cue.kind == "penalty" and cue.assignment_id == penalty.id
    assert make("push-ups", interrupt=Rule(False)).interrupted() == []


def test_nan_scores_are_skipped_with_one_warning():
    coach = _with_previous({100: 0.5})
    out = feed(coach, range(100), dt=0.001, score=lambda n: math.nan if n % 2 else 0.6)
    assert 99 not in coach.scores and coach.scores[100] == 0.6
    assert len(coach.warnings) == 1 and "nan" in coach.warnings[0]
    assert cues(out, "better") == [(99, "better", 100)]


def test_a_metric_that_never_appears_is_reported_once():
    coach = make("push-ups", checkpoint_every=50)
    feed(coach, range(200), dt=0.001)
    assert coach.warnings == []  # scores may still come (Keras epochs, HF evaluations)
    coach.finish()
    assert len(coach.warnings) == 1 and "no evaluation metric" in coach.warnings[0]

    named = make("push-ups", metric="ndcg")
    feed(named, range(20), dt=0.001, score=lambda n: 0.5)
    assert len(named.warnings) == 1
    assert "'ndcg'" in named.warnings[0] and "valid:auc" in named.warnings[0]
    assert named.scores == {}


def test_the_last_validation_set_is_compared_unless_one_is_named():
    coach = make("push-ups")
    feed(coach, range(2), score=lambda n: 0.5)
    assert coach.metric == ("valid", "auc")
    chosen = make("push-ups", dataset="training")
    feed(chosen, range(2), score=lambda n: 0.5)
    assert chosen.metric == ("training", "auc") and chosen.scores[1] == 0.99


def test_unknown_exercise_names_the_menu():
    with pytest.raises(KeyError, match="unknown exercise 'yoga'; the menu has: push-ups"):
        make("yoga")


def test_size_overrides_apply_to_the_right_kind():
    assert make("push-ups", reps=7).exercise.target == 7
    assert make("plank", reps=7).exercise.target == 250
    assert make("plank", seconds=45).exercise.unit == "seconds"


def test_settings_are_checked():
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        CoachSettings(checkpoint_every=0)


def test_higher_is_better_guess_for_frameworks_that_do_not_say():
    assert guess_higher_is_better("val_accuracy") and guess_higher_is_better("auc")
    assert not guess_higher_is_better("val_loss") and not guess_higher_is_better("rmse")


def test_scores_reported_apart_from_iterations_compare_at_the_next_checkpoint():
    coach = _with_previous({120: 0.5, 240: 0.9})
    feed(coach, range(250), dt=0.001)
    # Epoch ends at 120 and 240 iterations: the first scored iteration past each multiple.
    first = coach.observe(119, (Score("val", "acc", 0.6, True),))
    second = coach.observe(239, (Score("val", "acc", 0.7, True),))
    assert [(m.kind, m.index) for m in first + second] == [("better", 120), ("worse", 240)]


def _skipping(coach: Coach, iterations, dt, score):
    """Feed like an adapter's hot path: `step` only when the coach says it may be due."""
    out, t = [], 0.0
    coach.steps = 0
    for i in iterations:
        v = score(i + 1)
        if not (i < coach.wake_iteration and t < coach.wake_elapsed and coach.record(i, v)):
            coach.steps += 1
            event = TrainingEvent(i, 0, None, t, (Score("valid", "auc", v, True),))
            out += [(i, m) for m in coach.step(event)]
        t += dt(i)
    return out


@pytest.mark.parametrize(("exercise", "kw"), [
    ("plank", {}),
    ("push-ups", {"reps": 40}),
    ("push-ups", {"announce_s": 2.0}),
    ("plank", {"seconds": 30}),
])
def test_skipping_quiet_iterations_changes_nothing(exercise, kw):
    def dt(i):
        return 0.25 if i < 40 else (6.0 if i == 300 else 0.05)

    def score(n):
        return 0.5 + 0.001 * n - (0.2 if 150 < n < 260 else 0.0)

    previous = {n: 0.5 + 0.001 * n for n in range(1, 2001)}
    full, fast = make(exercise, **kw), make(exercise, **kw)
    for c in (full, fast):
        c.set_previous(previous)
    every = feed(full, range(2000), dt=dt, score=score)
    skipped = _skipping(fast, range(2000), dt, score)
    assert skipped == every
    assert fast.steps < 200  # of 2000 iterations
    assert fast.scores == full.scores
    assert full.finish() == fast.finish()
