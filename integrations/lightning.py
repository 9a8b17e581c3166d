"""PyTorch Lightning: a ``Callback`` for ``Trainer(callbacks=[...])``.

Examples
--------
>>> import lightning as L
>>> from repfit.integrations.lightning import workout
>>> L.Trainer(max_epochs=10, callbacks=[workout()]).fit(model, train_dl, val_dl)  # doctest: +SKIP

Iterations are optimizer steps (``trainer.global_step``); the metrics logged during
validation (``self.log("val_loss", ...)``) are the scores compared with the previous run.
Lightning catches Ctrl+C itself and shuts down gracefully, ignoring further Ctrl+C; the
callback turns it into the interrupt penalty in ``on_exception`` (stored, then published
within ``interrupt_wait_s``). Works with ``lightning`` and the older ``pytorch_lightning``
package. Needs ``pip install 'repfit[lightning]'``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from repfit.integrations._adapter import AdapterCore, CoreContext, build_options, scores_from_logs
from repfit.integrations.session import WorkoutOptions

try:
    from lightning.pytorch.callbacks import Callback as _Callback
except ImportError:
    try:
        from pytorch_lightning.callbacks import (  # type: ignore[assignment,no-redef]
            Callback as _Callback,
        )
    except ImportError as exc:  # the adapter is optional; workout() explains what to install
        _IMPORT_ERROR: ImportError | None = exc
        _Callback = object  # type: ignore[misc,assignment]
    else:
        _IMPORT_ERROR = None
else:
    _IMPORT_ERROR = None

__all__ = ["workout"]


def workout(*, user: str | None = None, broker: str | None = None,
            exercise: str | None = None, reps: float | None = None, seed: int | None = None,
            **kwargs: Any) -> _WorkoutCallback:
    """A Lightning callback that assigns a workout and drives its metronome.

    Parameters are those of `repfit.integrations.lightgbm.workout` (without ``order``).

    Raises
    ------
    ImportError
        When Lightning is not installed, naming the extra to install.
    TypeError
        For an unknown keyword.
    """
    options = build_options("lightning", "lightning", _IMPORT_ERROR, user=user, broker=broker,
                            exercise=exercise, reps=reps, seed=seed, **kwargs)
    return _WorkoutCallback(options)


class _WorkoutCallback(CoreContext, _Callback):  # type: ignore[misc]
    # Lightning turns Ctrl+C into a graceful shutdown and reports it to on_exception,
    # which gives the penalty; leaving the with block must not give it twice.
    penalise_interrupt_on_exit = False

    def __init__(self, options: WorkoutOptions) -> None:
        super().__init__()
        self.core = AdapterCore("lightning", options)
        self._begin = 0
        self._last_step = -1

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._begin = int(trainer.global_step)
        self._last_step = self._begin - 1
        self.core.begin(lambda: _experiment_parts(trainer, pl_module))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = int(trainer.global_step) - 1  # global_step counts optimizer steps done
        if step <= self._last_step:  # gradient accumulation: no new optimizer step
            return
        self._last_step = step
        self.core.event(step, self._begin, _planned_steps(trainer))

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        self.core.scores(max(self._last_step, 0), scores_from_logs(trainer.callback_metrics))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.core.finish()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.core.interrupted()
        else:
            self.core.finish("failed")


def _planned_steps(trainer: Any) -> int | None:
    try:
        steps = trainer.estimated_stepping_batches
    except Exception:  # needs a dataloader with a length; unknown otherwise
        return None
    if steps is None or not math.isfinite(steps):
        return None
    return int(steps)


def _experiment_parts(trainer: Any, pl_module: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {"module": type(pl_module).__qualname__,
                             "max_epochs": getattr(trainer, "max_epochs", None),
                             "max_steps": getattr(trainer, "max_steps", None)}
    hparams = getattr(pl_module, "hparams", None)
    if hparams:
        parts["hparams"] = dict(hparams)
    # Shapes refine the key; failing to read them is never a reason to fail.
    with contextlib.suppress(Exception):
        parts["parameters"] = [list(p.shape) for p in pl_module.parameters()]
    return parts
