"""The XGBoost adapter against real XGBoost training and a real Mosquitto."""

from __future__ import annotations

import pickle

import pytest

from repfit.integrations.history import HistoryStore

xgb = pytest.importorskip("xgboost", reason="install repfit[xgboost]")

from repfit.integrations.xgboost import workout  # noqa: E402

PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 2,
          "nthread": 1}


def test_xgb_train_assigns_and_records_history(mosquitto, user, listen, binary_data,
                                               tmp_path, recorded):
    listener = listen(user)
    xt, yt, xv, yv = binary_data
    dtrain, dvalid = xgb.DMatrix(xt, label=yt), xgb.DMatrix(xv, label=yv)
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats",
                 checkpoint_every=5) as cb:
        xgb.train(PARAMS, dtrain, 20, evals=[(dtrain, "train"), (dvalid, "valid")],
                  callbacks=[cb], verbose_eval=False)
    a = listener.assignment()
    assert a.exercise == "squat" and a.experiment.startswith("xgboost-")
    assert recorded() == ("finished", "valid", "logloss", False, list(range(1, 21)))


def test_second_run_compares_with_the_first(mosquitto, user, listen, binary_data, tmp_path):
    xt, yt, xv, yv = binary_data
    dtrain, dvalid = xgb.DMatrix(xt, label=yt), xgb.DMatrix(xv, label=yv)

    def run(eta):
        with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, experiment="x",
                     checkpoint_every=5) as cb:
            xgb.train({**PARAMS, "eta": eta}, dtrain, 10, evals=[(dvalid, "valid")],
                      callbacks=[cb], verbose_eval=False)

    run(0.01)
    listener = listen(user)
    run(0.3)
    assert listener.cue("better").index == 5


def test_xgb_cv_and_sklearn_api(mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, xv, yv = binary_data
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path) as cb:
        xgb.cv(PARAMS, xgb.DMatrix(xt, label=yt), 8, nfold=3, callbacks=[cb])
    assert listener.assignment().experiment.startswith("xgboost-")
    cv_run = HistoryStore.in_dir(tmp_path).runs()[0]
    assert (cv_run.dataset, cv_run.metric) == ("test", "logloss")

    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path / "sk") as cb:
        model = xgb.XGBClassifier(n_estimators=8, max_depth=2, n_jobs=1, callbacks=[cb])
        model.fit(xt, yt, eval_set=[(xv, yv)], verbose=False)
    assert listener.assignment().reason == "assigned"


def test_ctrl_c_gives_the_penalty_and_the_callback_pickles(mosquitto, user, listen,
                                                           binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data

    class CtrlC(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 3:
                raise KeyboardInterrupt
            return False

    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path)
    assert pickle.loads(pickle.dumps(cb)).core.session is None
    with pytest.raises(KeyboardInterrupt), cb:
        xgb.train(PARAMS, xgb.DMatrix(xt, label=yt), 50, callbacks=[cb, CtrlC()])
    assert listener.assignment("penalty").text.startswith("keyboard interrupt")


def test_ctrl_c_in_the_plain_callback_list_gives_the_penalty(mosquitto, user, listen,
                                                             binary_data, tmp_path):
    import signal

    class CtrlC(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 4:
                signal.raise_signal(signal.SIGINT)  # a real interrupt, not a raised exception
            return False

    listener = listen(user)
    xt, yt, _, _ = binary_data
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats")
    with pytest.raises(KeyboardInterrupt):
        xgb.train(PARAMS, xgb.DMatrix(xt, label=yt), 50, callbacks=[cb, CtrlC()])
    cb.close()
    assert listener.assignment("penalty").exercise == "plank"
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"
