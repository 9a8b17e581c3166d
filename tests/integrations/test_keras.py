"""The Keras adapter with a real (tiny) Keras model on the PyTorch backend."""

from __future__ import annotations

import os

import pytest

from repfit.integrations.history import HistoryStore

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="install repfit[keras] (and torch)")

from repfit.integrations.keras import workout  # noqa: E402


def _model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def test_fit_assigns_ticks_per_batch_and_records_epoch_scores(mosquitto, user, listen,
                                                              binary_data, tmp_path, recorded):
    listener = listen(user)
    xt, yt, xv, yv = binary_data
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="plank",
                 iterations=20, tick_every=5, calibration_iterations=3, announce_s=0,
                 checkpoint_every=10) as cb:
        _model().fit(xt, yt.astype("float32"), validation_data=(xv, yv.astype("float32")),
                     epochs=6, batch_size=32, verbose=0, callbacks=[cb])
    a = listener.assignment()
    assert (a.exercise, a.unit, a.target) == ("plank", "iterations", 20.0)
    assert a.est_duration_s is not None and a.est_duration_s > 0
    assert listener.cue("start").assignment_id == a.id
    assert [listener.cue("tick").index for _ in range(3)] == [1, 2, 3]
    assert listener.cue("finish").assignment_id == a.id
    # 160 rows / 32 per batch = 5 batches per epoch; the first val_* metric is compared.
    assert recorded() == ("finished", "validation", "accuracy", True, [5, 10, 15, 20, 25, 30])


def test_a_second_fit_is_compared_with_the_first(mosquitto, user, listen, binary_data,
                                                 tmp_path):
    xt, yt, xv, yv = binary_data

    def fit(epochs):
        with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, experiment="k",
                     checkpoint_every=5) as cb:
            _model().fit(xt, yt.astype("float32"), validation_data=(xv, yv.astype("float32")),
                         epochs=epochs, batch_size=32, verbose=0, callbacks=[cb])

    fit(2)
    listener = listen(user)
    fit(2)  # same seed, same data: equal scores, so neither better nor worse
    fit_cues = [m for m in listener.drain() if getattr(m, "kind", None) in ("better", "worse")]
    assert fit_cues == []
    runs = HistoryStore.in_dir(tmp_path).runs("k")
    assert len(runs) == 2


def test_ctrl_c_during_fit_gives_the_penalty(mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data

    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), workout(user=user, broker=mosquitto.url,
                                                   data_dir=tmp_path) as cb:
        _model().fit(xt, yt.astype("float32"), epochs=3, batch_size=32, verbose=0,
                     callbacks=[cb, CtrlC()])
    assert listener.assignment("penalty").text.startswith("keyboard interrupt")
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"
