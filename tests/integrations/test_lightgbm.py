"""The LightGBM callback against real LightGBM training and a real Mosquitto broker."""

from __future__ import annotations

import logging
import pickle
import time

import lightgbm as lgb
import pytest

from repfit import wire
from repfit.integrations.coach import Coach, Rule
from repfit.integrations.history import HistoryStore
from repfit.integrations.lightgbm import workout
from repfit.integrations.menu import DETECTOR_EXERCISES

PARAMS = {"objective": "binary", "metric": "auc", "verbose": -1, "num_threads": 1,
          "num_leaves": 4, "min_data_in_leaf": 5, "seed": 1}


def _train(cb, data, rounds=20, **kw):
    xt, yt, xv, yv = data
    train = lgb.Dataset(xt, yt)
    valid = lgb.Dataset(xv, yv, reference=train)
    return lgb.train(PARAMS, train, num_boost_round=rounds, valid_sets=[valid],
                     callbacks=[cb, *kw.pop("extra", [])], **kw)


def test_lgb_train_publishes_the_assignment_at_the_first_iteration(
        mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    cb = workout(user=user, broker=mosquitto.url, exercise="squats", reps=12, seed=3,
                 data_dir=tmp_path)
    with cb:
        _train(cb, binary_data)
    a = listener.assignment()
    assert isinstance(a, wire.Assignment)
    assert (a.exercise, a.target, a.unit, a.reason) == ("squat", 12.0, "reps", "assigned")
    assert a.seconds_per_rep == 2.5
    assert a.text == "squats — 12 times — start"
    announce = listener.cue("announce")
    assert announce.assignment_id == a.id


def test_sklearn_fit_publishes_a_random_detector_exercise(
        mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, xv, yv = binary_data
    cb = workout(user=user, broker=mosquitto.url, exercise="random", seed=5, data_dir=tmp_path)
    model = lgb.LGBMClassifier(n_estimators=15, num_leaves=4, min_child_samples=5, verbose=-1)
    with cb:
        model.fit(xt, yt, eval_set=[(xv, yv)], callbacks=[cb])
    a = listener.assignment()
    assert a.exercise in DETECTOR_EXERCISES
    assert a.run_id and a.experiment and a.experiment.startswith("lightgbm-")


def test_random_pick_is_reproducible_with_a_seed(tmp_path):
    def pick(seed):
        with workout(seed=seed, data_dir=tmp_path, broker="mqtt://127.0.0.1:9") as cb:
            return cb.core.resolved().settings.seed, Coach(cb.core.resolved().settings).exercise

    assert len({pick(11) for _ in range(4)}) == 1
    assert len({pick(s)[1].name for s in range(40)}) > 1


@pytest.mark.parametrize("used", [False, True])
def test_callback_pickles_with_order_and_no_thread(used, mosquitto, user, binary_data,
                                                    tmp_path):
    cb = workout(user=user, broker=mosquitto.url, order=17, data_dir=tmp_path)
    if used:
        _train(cb, binary_data, rounds=3)
    clone = pickle.loads(pickle.dumps(cb))
    assert clone.order == 17 and clone.before_iteration is False
    assert clone.core.session is None
    cb.close()


LOSS = {"objective": "binary", "metric": "binary_logloss", "verbose": -1, "num_threads": 1,
        "num_leaves": 4, "min_data_in_leaf": 5}


def _run(data, tmp_path, user, broker, lr, **kw):
    xt, yt, xv, yv = data
    train = lgb.Dataset(xt, yt)
    with workout(user=user, broker=broker, data_dir=tmp_path, exercise="push-ups",
                 checkpoint_every=10, **kw) as cb:
        lgb.train({**LOSS, "learning_rate": lr}, train, 60,
                  valid_sets=[train, lgb.Dataset(xv, yv, reference=train)], callbacks=[cb])
    return cb


def test_runs_of_one_experiment_are_compared_lower_loss_being_better(
        mosquitto, user, listen, binary_data, tmp_path):
    # Validation log-loss: lr 0.01 is worse at 10..50 iterations but better at 60 than lr 0.2.
    _run(binary_data, tmp_path, user, mosquitto.url, 0.01, experiment="exp")
    listener = listen(user)
    _run(binary_data, tmp_path, user, mosquitto.url, 0.2, experiment="exp",
         penalty=Rule(True, "squats", 12))
    better = [listener.cue("better") for _ in range(5)]
    assert [c.index for c in better] == [10, 20, 30, 40, 50]
    assert listener.cue("worse").index == 60
    penalty = listener.assignment("penalty")
    assert (penalty.exercise, penalty.target) == ("squat", 12.0)
    assert penalty.text.startswith("worse than last time — squats")

    store = HistoryStore.in_dir(tmp_path)
    runs = store.runs("exp")
    assert [r.status for r in runs] == ["finished", "finished"]
    assert (runs[1].dataset, runs[1].metric, runs[1].higher_is_better) == \
        ("valid_1", "binary_logloss", False)
    assert sorted(store.scores(runs[1].run_id)) == list(range(1, 61))

    # The third run compares with the second; a reward when it is better at the end.
    _run(binary_data, tmp_path, user, mosquitto.url, 0.01, experiment="exp",
         reward=Rule(True, "same", 5))
    assert listener.cue("better").index == 60
    reward = listener.assignment("reward")
    assert (reward.exercise, reward.target) == ("pushup", 5.0)


def test_experiment_key_comes_from_params_and_data_shape(tmp_path, binary_data):
    def key(lr, rows):
        xt, yt, _, _ = binary_data
        with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path, history=False) as cb:
            lgb.train({**LOSS, "learning_rate": lr}, lgb.Dataset(xt[:rows], yt[:rows]), 2,
                      callbacks=[cb])
            return cb.core.session.experiment

    assert key(0.1, 160) == key(0.1, 160)
    assert key(0.1, 160) != key(0.2, 160)
    assert key(0.1, 160) != key(0.1, 150)


def test_lgb_cv_is_supported(mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path) as cb:
        lgb.cv(PARAMS, lgb.Dataset(xt, yt), num_boost_round=12, nfold=3, callbacks=[cb])
    assert listener.assignment().experiment.startswith("lightgbm-")
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert (run.dataset, run.metric) == ("valid", "auc")
    assert len(HistoryStore.in_dir(tmp_path).scores(run.run_id)) == 12


@pytest.mark.parametrize(("order", "sees_stop"), [(25, True), (35, False)])
def test_early_stopping_ends_the_run_and_order_decides_who_runs_first(
        order, sees_stop, binary_data, tmp_path):
    xt, yt, xv, yv = binary_data
    train = lgb.Dataset(xt, yt)
    evals: dict = {}
    with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path, order=order) as cb:
        booster = lgb.train({**LOSS, "learning_rate": 0.3}, train, 500,
                            valid_sets=[lgb.Dataset(xv, yv, reference=train)],
                            callbacks=[lgb.early_stopping(5, verbose=False), cb,
                                       lgb.record_evaluation(evals)])
    done = len(evals["valid_0"]["binary_logloss"])
    assert booster.best_iteration < done < 500
    store = HistoryStore.in_dir(tmp_path)
    [run] = store.runs()
    assert run.status == "finished"
    assert max(store.scores(run.run_id)) == (done if sees_stop else done - 1)


def test_no_validation_set_warns_once_and_training_continues(binary_data, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="repfit")
    xt, yt, _, _ = binary_data
    with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path, checkpoint_every=10) as cb:
        booster = lgb.train(LOSS, lgb.Dataset(xt, yt), 40, callbacks=[cb])
    assert booster.current_iteration() == 40
    msgs = [r.getMessage() for r in caplog.records if "evaluation metric" in r.getMessage()]
    assert len(msgs) == 1 and "comparisons with earlier runs are off" in msgs[0]


def test_nan_scores_warn_once(binary_data, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="repfit")
    xt, yt, xv, yv = binary_data
    train = lgb.Dataset(xt, yt)

    def nan_metric(preds, data):
        return "odd", float("nan"), True

    with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path, metric="odd") as cb:
        booster = lgb.train({**LOSS, "metric": "None"}, train, 20, feval=nan_metric,
                            valid_sets=[lgb.Dataset(xv, yv, reference=train)], callbacks=[cb])
    assert booster.current_iteration() == 20
    msgs = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(msgs) == 1 and "nan" in msgs[0]


def test_unknown_exercise_warns_with_the_menu_and_picks_one(mosquitto, user, listen,
                                                            binary_data, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="repfit")
    listener = listen(user)
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="yoga") as cb:
        _train(cb, binary_data, rounds=3)
    assert listener.assignment().exercise in DETECTOR_EXERCISES
    [msg] = [r.getMessage() for r in caplog.records if "yoga" in r.getMessage()]
    assert "the menu has: push-ups, squats, sit-ups, jumping jacks, plank" in msg


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unknown workout argument"):
        workout(exercize="squats")
    with pytest.raises(TypeError, match="order must be an int"):
        workout(order="first")


def test_one_callback_serves_several_trainings(mosquitto, user, listen, binary_data,
                                               tmp_path):
    listener = listen(user)
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats")
    with cb:
        _train(cb, binary_data, rounds=5)
    with cb:  # closed in between: the next run gets a fresh connection
        _train(cb, binary_data, rounds=5)
    _train(cb, binary_data, rounds=5)  # and without closing at all
    cb.close()
    # No host acknowledges them here, so each later run re-sends the earlier runs'
    # assignments too (at-least-once; receivers de-duplicate by id): three distinct ones.
    ids: set[str] = set()
    while len(ids) < 3:
        ids.add(listener.assignment().id)
    runs = HistoryStore.in_dir(tmp_path).runs()
    assert [r.status for r in runs] == ["finished"] * 3


def test_the_count_metronome_runs_through_a_real_training(mosquitto, user, listen,
                                                         binary_data, tmp_path):
    listener = listen(user)
    path = tmp_path / "config.toml"
    path.write_text('[training.menu.quick-squats]\ndetector = "squat"\nreps = 12\n'
                    'seconds_per_rep = 0.01\n')

    def pace(env):  # at least 1 ms per iteration, so 12 reps fit in 300 iterations
        time.sleep(0.001)

    pace.order = 5
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, config=path,
                 exercise="quick-squats", announce_s=0, calibration_iterations=5) as cb:
        _train(cb, binary_data, rounds=300, extra=[pace])
    a = listener.assignment()
    assert (a.exercise, a.target, a.seconds_per_rep) == ("squat", 12.0, 0.01)
    assert listener.cue("start").index == 0
    ticks = [listener.wait_for(lambda m: getattr(m, "kind", "") in ("tick", "tick_major"))
             for _ in range(11)]
    assert [t.index for t in ticks] == list(range(1, 12))
    assert [t.kind for t in ticks].count("tick_major") == 1 and ticks[9].kind == "tick_major"
    assert listener.cue("finish").assignment_id == a.id
