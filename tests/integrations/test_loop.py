"""Plain loops: iterator wrapper, reports, Ctrl+C, and a loop that trains a real model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss

from repfit.integrations.history import HistoryStore
from repfit.integrations.loop import workout


def test_a_hand_written_loop_is_tracked_and_compared(mosquitto, user, listen, binary_data,
                                                     tmp_path):
    xt, yt, xv, yv = binary_data

    def train(alpha):
        model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
        with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, experiment="sgd",
                     exercise="jumping jacks", checkpoint_every=5) as coach:
            for step in coach.track(range(20)):
                model.partial_fit(xt, yt, classes=[0, 1])
                if (step + 1) % 5 == 0:
                    coach.report(val_logloss=log_loss(yv, model.predict_proba(xv)),
                                 higher_is_better=False)
        return coach

    train(0.0001)  # barely regularised SGD on 160 rows overshoots: high log-loss
    listener = listen(user)
    coach = train(1.0)
    a = listener.assignment()
    assert (a.exercise, a.target) == ("jumping_jack", 30.0)
    assert listener.cue("better").index == 5
    store = HistoryStore.in_dir(tmp_path)
    runs = store.runs("sgd")
    assert [r.status for r in runs] == ["finished", "finished"]
    assert (runs[1].dataset, runs[1].metric, runs[1].higher_is_better) == \
        ("validation", "logloss", False)
    assert sorted(store.scores(runs[1].run_id)) == [5, 10, 15, 20]
    assert coach.core.session.coach.iterations_per_rep is not None


def test_ctrl_c_in_a_loop_gives_the_penalty(mosquitto, user, listen, tmp_path):
    listener = listen(user)
    with pytest.raises(KeyboardInterrupt), workout(user=user, broker=mosquitto.url,
                                                   data_dir=tmp_path) as coach:
        for step in coach.track(range(100)):
            if step == 3:
                raise KeyboardInterrupt
    assert listener.assignment("penalty").text.startswith("keyboard interrupt")
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"


def test_generators_without_length_work(tmp_path):
    def batches():
        yield from np.arange(7)

    with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path) as coach:
        assert [int(b) for b in coach.track(batches())] == list(range(7))
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "finished"


def test_ctrl_c_in_a_plain_tracked_loop_gives_the_penalty(mosquitto, user, listen, tmp_path):
    import signal

    listener = listen(user)
    coach = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats")
    with pytest.raises(KeyboardInterrupt):
        for step in coach.track(range(50)):
            if step == 5:
                signal.raise_signal(signal.SIGINT)  # a real interrupt, no `with` around
    coach.close()
    assert listener.assignment("penalty").exercise == "plank"
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"
