"""LightGBM: a callback for ``lgb.train``, ``lgb.cv`` and the scikit-learn ``fit``.

Examples
--------
>>> import lightgbm as lgb
>>> from repfit.integrations.lightgbm import workout
>>> cb = workout(exercise="random")                       # doctest: +SKIP
>>> lgb.train(params, train, valid_sets=[valid], callbacks=[cb])  # doctest: +SKIP
>>> LGBMClassifier().fit(X, y, eval_set=[(Xv, yv)], callbacks=[cb])  # doctest: +SKIP

The callback runs after each iteration with ``order = 25`` by default: after LightGBM's
``log_evaluation``/``record_evaluation`` (10, 20) and *before* ``early_stopping`` (30), so it
sees the iteration at which early stopping fires. LightGBM has no end-of-training hook: a run
ends at its last planned iteration, or — after early stopping — when the callback is closed
(``with workout(...) as cb:``, ``cb.close()``), reused for the next training, or the process
exits.
"""

from __future__ import annotations

from typing import Any

from repfit.integrations._adapter import AdapterCore, CoreContext
from repfit.integrations.coach import Score
from repfit.integrations.session import WorkoutOptions

__all__ = ["workout"]


def workout(
    *,
    user: str | None = None,
    broker: str | None = None,
    exercise: str | None = None,
    reps: float | None = None,
    seed: int | None = None,
    order: int = 25,
    **kwargs: Any,
) -> _WorkoutCallback:
    """A LightGBM callback that assigns a workout and drives its metronome.

    Parameters
    ----------
    user, broker : str, optional
        Topic namespace and ``mqtt://HOST:PORT``; default from the repfit config.
    exercise : str, optional
        A menu name ("push-ups"), a detector name ("pushup") or ``"random"``.
    reps : float, optional
        Target for count exercises (holds keep their menu size; see ``iterations=`` /
        ``seconds=``).
    seed : int, optional
        Seeds the random pick, for reproducible runs and tests.
    order : int
        LightGBM callback order (see module docstring).
    **kwargs
        `repfit.integrations.session.WorkoutOptions` fields (``config``, ``data_dir``,
        ``experiment``, ``history``, ``play_locally``, ``interrupt_wait_s``) and
        `repfit.integrations.coach.CoachSettings` fields (``checkpoint_every=50``,
        ``metric="auc"``, ``penalty=Rule(...)``, ...).

    Returns
    -------
    callable
        Pass it in ``callbacks=[...]``. Also a context manager: leaving the block ends the
        run, and a Ctrl+C inside it gives the interrupt penalty.

    Raises
    ------
    TypeError
        For an unknown keyword or a non-integer ``order``.
    """
    if isinstance(order, bool) or not isinstance(order, int):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    options = WorkoutOptions.build(user=user, broker=broker, exercise=exercise, reps=reps,
                                   seed=seed, **kwargs)
    return _WorkoutCallback(options, order)


class _WorkoutCallback(CoreContext):
    """The callable LightGBM invokes after every iteration."""

    before_iteration = False

    def __init__(self, options: WorkoutOptions, order: int) -> None:
        self.order = order
        self.core = AdapterCore("lightgbm", options)
        self._index: int | None = None

    def __call__(self, env: Any) -> None:
        core = self.core
        session = core.session
        it = env.iteration
        idx = self._index
        # Hot path: store the score and return unless the coach has something due.
        if idx is not None and session is not None and not session.closed \
                and it != env.begin_iteration and it < env.end_iteration - 1:
            coach = session.coach
            if it < coach.wake_iteration:
                results = env.evaluation_result_list
                if idx < len(results) and coach.record(it, results[idx][2]) \
                        and core.clock() < coach.wake_elapsed:
                    return
        if it == env.begin_iteration or session is None or session.closed:
            self._index = None
            core.begin(lambda: _experiment_parts(env))
        results = env.evaluation_result_list
        scores: tuple[Score, ...] = ()
        if results:
            idx = self._index
            if idx is not None and idx < len(results):
                scores = (_score(results[idx]),)
            else:
                scores = tuple(_score(r) for r in results)
                session = core.session
                metric = session.coach.metric if session is not None else None
                if metric is not None:
                    for i, s in enumerate(scores):
                        if (s.dataset, s.metric) == metric:
                            self._index = i
        core.event(env.iteration, env.begin_iteration, env.end_iteration, scores)
        if env.iteration >= env.end_iteration - 1:
            core.finish()


def _score(result: Any) -> Score:
    dataset, metric, value, higher = result[0], result[1], result[2], result[3]
    if dataset == "cv_agg" and " " in metric:  # lightgbm < 4.7 cv: ("cv_agg", "valid auc")
        dataset, metric = metric.split(" ", 1)
    return Score(str(dataset), str(metric), float(value), bool(higher))


def _experiment_parts(env: Any) -> dict[str, Any]:
    model = env.model
    parts: dict[str, Any] = {"params": dict(env.params or {}),
                             "mode": "cv" if hasattr(model, "boosters") else "train"}
    booster = model.boosters[0] if hasattr(model, "boosters") and model.boosters else model
    try:
        parts["num_feature"] = booster.num_feature()
        train_set = getattr(booster, "train_set", None)
        if train_set is not None:
            parts["num_data"] = train_set.num_data()
    except Exception:  # shape is a refinement of the key, never a reason to fail
        pass
    return parts
