"""The LightGBM callback against real LightGBM training and a real Mosquitto broker."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import pytest
from repfit.integrations.coach import Coach
from repfit.integrations.lightgbm import workout
from repfit.integrations.menu import DETECTOR_EXERCISES

from repfit import wire

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
        cb = workout(seed=seed, data_dir=tmp_path, broker="mqtt://127.0.0.1:9")
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
