"""Keras 3: a ``keras.callbacks.Callback`` for ``model.fit``.

Examples
--------
>>> from repfit.integrations.keras import workout
>>> model.fit(x, y, validation_data=(xv, yv), epochs=20,
...           callbacks=[workout(exercise="random")])   # doctest: +SKIP

Iterations are training batches (the metronome's time axis); the epoch-end logs
(``loss``, ``val_loss``, ``val_accuracy``, ...) are the scores compared with the previous run,
``val_*`` first. Any Keras backend works (TensorFlow, JAX, PyTorch). Needs
``pip install 'repfit[keras]'`` plus a backend.
"""

from __future__ import annotations

from typing import Any

from repfit.integrations._adapter import AdapterCore, CoreContext, build_options, scores_from_logs
from repfit.integrations.session import WorkoutOptions

try:
    import keras
except ImportError as exc:  # the adapter is optional; workout() explains what to install
    _IMPORT_ERROR: ImportError | None = exc
    _Callback: Any = object
else:
    _IMPORT_ERROR = None
    _Callback = keras.callbacks.Callback

__all__ = ["workout"]


def workout(*, user: str | None = None, broker: str | None = None,
            exercise: str | None = None, reps: float | None = None, seed: int | None = None,
            **kwargs: Any) -> _WorkoutCallback:
    """A Keras callback that assigns a workout and drives its metronome.

    Parameters are those of `repfit.integrations.lightgbm.workout` (without ``order``).

    Raises
    ------
    ImportError
        When Keras is not installed, naming the extra to install.
    TypeError
        For an unknown keyword.
    """
    options = build_options("keras", "keras", _IMPORT_ERROR, user=user, broker=broker,
                            exercise=exercise, reps=reps, seed=seed, **kwargs)
    return _WorkoutCallback(options)


class _WorkoutCallback(CoreContext, _Callback):  # type: ignore[misc]
    def __init__(self, options: WorkoutOptions) -> None:
        super().__init__()
        self.core = AdapterCore("keras", options)
        self._step = 0
        self._end: int | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._step = 0
        params = dict(getattr(self, "params", None) or {})
        epochs, steps = params.get("epochs"), params.get("steps")
        self._end = int(epochs * steps) if epochs and steps else None
        self.core.begin(lambda: self._experiment_parts(params))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.core.event(self._step, 0, self._end)
        self._step += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.core.scores(self._step - 1, scores_from_logs(logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.core.finish()

    def _experiment_parts(self, params: dict[str, Any]) -> dict[str, Any]:
        parts: dict[str, Any] = {"epochs": params.get("epochs"), "steps": params.get("steps")}
        model = getattr(self, "model", None)
        if model is not None:
            try:
                parts["model"] = model.to_json()
            except Exception:  # subclassed models cannot always serialise their config
                parts["model"] = [list(w.shape) for w in model.weights]
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None:
                try:
                    parts["optimizer"] = optimizer.get_config()
                except Exception:
                    parts["optimizer"] = type(optimizer).__name__
        return parts
