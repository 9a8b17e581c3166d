"""XGBoost: a ``TrainingCallback`` for ``xgb.train``, ``xgb.cv`` and the scikit-learn API.

Examples
--------
>>> import xgboost as xgb
>>> from repfit.integrations.xgboost import workout
>>> xgb.train(params, dtrain, 300, evals=[(dvalid, "valid")],
...           callbacks=[workout()])                                  # doctest: +SKIP
>>> xgb.XGBClassifier(callbacks=[workout()]).fit(X, y, eval_set=[(Xv, yv)])  # doctest: +SKIP

XGBoost does not say whether a metric is higher-is-better; names like ``auc``/``map``/
``ndcg`` are, ``logloss``/``error``/``rmse`` are not (override with
``higher_is_better=``). Needs ``pip install 'repfit[xgboost]'``.
"""

from __future__ import annotations

from typing import Any

from repfit.integrations._adapter import AdapterCore, CoreContext, build_options
from repfit.integrations.coach import Score, guess_higher_is_better
from repfit.integrations.session import WorkoutOptions

try:
    from xgboost.callback import TrainingCallback
except ImportError as exc:  # the adapter is optional; workout() explains what to install
    _IMPORT_ERROR: ImportError | None = exc
    TrainingCallback = object  # type: ignore[misc,assignment]
else:
    _IMPORT_ERROR = None

__all__ = ["workout"]


def workout(*, user: str | None = None, broker: str | None = None,
            exercise: str | None = None, reps: float | None = None, seed: int | None = None,
            **kwargs: Any) -> _WorkoutCallback:
    """An XGBoost callback that assigns a workout and drives its metronome.

    Parameters are those of `repfit.integrations.lightgbm.workout` (without ``order``).

    Raises
    ------
    ImportError
        When XGBoost is not installed, naming the extra to install.
    TypeError
        For an unknown keyword.
    """
    options = build_options("xgboost", "xgboost", _IMPORT_ERROR, user=user, broker=broker,
                            exercise=exercise, reps=reps, seed=seed, **kwargs)
    return _WorkoutCallback(options)


class _WorkoutCallback(CoreContext, TrainingCallback):  # type: ignore[misc]
    def __init__(self, options: WorkoutOptions) -> None:
        self.core = AdapterCore("xgboost", options)
        self._begin = 0

    def before_training(self, model: Any) -> Any:
        self._begin = _rounds_done(model)
        self.core.begin(lambda: _experiment_parts(model))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        scores = tuple(_scores(evals_log)) if evals_log else ()
        self.core.event(epoch, self._begin, None, scores)
        return False

    def after_training(self, model: Any) -> Any:
        self.core.finish()
        return model


def _scores(evals_log: Any) -> list[Score]:
    out = []
    for dataset, metrics in evals_log.items():
        for metric, history in metrics.items():
            if not history:
                continue
            last = history[-1]
            value = last[0] if isinstance(last, tuple) else last  # cv: (mean, std)
            out.append(Score(str(dataset), str(metric), float(value),
                             guess_higher_is_better(str(metric))))
    return out


def _rounds_done(model: Any) -> int:
    try:
        return int(model.num_boosted_rounds())
    except Exception:  # a cv pack or an older booster: start at 0
        return 0


def _experiment_parts(model: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    try:
        parts["config"] = model.save_config()
        parts["num_features"] = model.num_features()
    except Exception:  # xgb.cv passes a pack of boosters; its first one describes the run
        cvfolds = getattr(model, "cvfolds", None)
        if cvfolds:
            parts["config"] = cvfolds[0].bst.save_config()
            parts["cv"] = len(cvfolds)
    return parts
