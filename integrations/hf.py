"""Hugging Face Transformers: a ``TrainerCallback`` for ``Trainer(callbacks=[...])``.

Examples
--------
>>> from transformers import Trainer
>>> from repfit.integrations.hf import workout
>>> Trainer(model=model, args=args, train_dataset=train, eval_dataset=valid,
...         callbacks=[workout()]).train()                      # doctest: +SKIP

Iterations are optimizer steps (``state.global_step``, planned ``state.max_steps``);
evaluation metrics (``eval_loss``, ``eval_accuracy``, ...) are the scores compared with the
previous run. When ``TrainingArguments.metric_for_best_model`` is set, that metric and its
``greater_is_better`` are used. Needs ``pip install 'repfit[hf]'``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from repfit.integrations._adapter import AdapterCore, CoreContext, build_options, scores_from_logs
from repfit.integrations.session import WorkoutOptions

try:
    from transformers import TrainerCallback as _Callback
except ImportError as exc:  # the adapter is optional; workout() explains what to install
    _IMPORT_ERROR: ImportError | None = exc
    _Callback = object  # type: ignore[misc,assignment]
else:
    _IMPORT_ERROR = None

__all__ = ["workout"]

#: TrainingArguments that do not change what is learned.
_NOISE_ARGS = frozenset({"output_dir", "logging_dir", "run_name", "report_to", "disable_tqdm",
                         "logging_steps", "save_steps", "save_strategy", "dataloader_num_workers",
                         "push_to_hub", "hub_token", "overwrite_output_dir", "logging_strategy"})


def workout(*, user: str | None = None, broker: str | None = None,
            exercise: str | None = None, reps: float | None = None, seed: int | None = None,
            **kwargs: Any) -> _WorkoutCallback:
    """A Transformers callback that assigns a workout and drives its metronome.

    Parameters are those of `repfit.integrations.lightgbm.workout` (without ``order``).

    Raises
    ------
    ImportError
        When transformers is not installed, naming the extra to install.
    TypeError
        For an unknown keyword.
    """
    options = build_options("transformers", "hf", _IMPORT_ERROR, user=user, broker=broker,
                            exercise=exercise, reps=reps, seed=seed, **kwargs)
    return _WorkoutCallback(options)


class _WorkoutCallback(CoreContext, _Callback):  # type: ignore[misc]
    def __init__(self, options: WorkoutOptions) -> None:
        self.core = AdapterCore("hf", options)
        self._begin = 0
        self._higher: dict[str, bool] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._begin = int(state.global_step)
        best = getattr(args, "metric_for_best_model", None)
        self._higher = {}
        if best:
            name = best[5:] if best.startswith("eval_") else best
            self._higher[name] = bool(getattr(args, "greater_is_better", True))
            options = self.core.options
            if "metric" not in options.settings or options.settings.get("metric") is None:
                self.core.options = dataclasses.replace(
                    options, settings={**options.settings, "metric": name})
                self.core._resolved = None
        self.core.begin(lambda: _experiment_parts(args, kwargs.get("model")))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        end = int(state.max_steps) if state.max_steps else None
        self.core.event(int(state.global_step) - 1, self._begin, end)

    def on_evaluate(self, args: Any, state: Any, control: Any,
                    metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.core.scores(max(int(state.global_step) - 1, 0),
                         scores_from_logs(metrics, self._higher))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.core.finish()


def _experiment_parts(args: Any, model: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    try:
        parts["args"] = {k: v for k, v in args.to_dict().items() if k not in _NOISE_ARGS}
    except Exception:  # older/newer TrainingArguments: fall back to the class name
        parts["args"] = type(args).__name__
    if model is not None:
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            parts["model"] = config.to_dict()
        else:
            parts["model"] = type(model).__qualname__
    return parts
