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

import math
import time
from math import isfinite
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
        ``experiment``, ``history``, ``play_locally``, ``interrupt_wait_s``,
        ``result_wait_s``) and
        `repfit.integrations.coach.CoachSettings` fields (``checkpoint_every=50``,
        ``metric="auc"``, ``penalty=Rule(...)``, ...).

    Returns
    -------
    callable
        Pass it in ``callbacks=[...]``: a Ctrl+C while it trains gives the interrupt
        penalty (`repfit.integrations.sigint`). Also a context manager: leaving the block
        ends the run.

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
    # The hot path's cached view of the coach (`_hot_off` until a session is up): the next
    # iteration it may record, the first it may not, the coach's wake-up time, its score
    # dict (None: no session) and the index of the compared metric.
    _next: int
    _limit: int
    _wake_t: float
    _scores: dict[int, float] | None
    _hot_index: int

    def __init__(self, options: WorkoutOptions, order: int) -> None:
        self.order = order
        self.core = AdapterCore("lightgbm", options)
        self._index: int | None = None
        self._hot_off()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scores"] = None  # the hot path's view of a session that does not travel
        state["_limit"] = -1
        return state

    def __call__(self, env: Any) -> None:
        # Hot path, almost every iteration: store the compared score and return while the
        # coach has nothing due. It reads limits cached on this object and writes the
        # coach's score dict directly (what Coach.record does): going through core, session
        # and coach cost ~4 us more, each object a cache miss after milliseconds of C++
        # training; and no arithmetic on the score (a numpy float, slow to compute with).
        it = env.iteration
        if it == self._next and it < self._limit and it != env.begin_iteration:
            self._next = it + 1
            try:
                value = env.evaluation_result_list[self._hot_index][2]
            except (IndexError, TypeError):
                value = math.nan
            if isfinite(value):  # not `value - value == 0`: numpy scalar math is slow here
                self._scores[it + 1] = value  # type: ignore[index]  # set while it < _limit
                if time.perf_counter() < self._wake_t:
                    return
        self._full(env)

    def _full(self, env: Any) -> None:
        core = self.core
        session = core.session
        if env.iteration == env.begin_iteration or session is None or session.closed:
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
        self._hot_on(env)

    def _hot_on(self, env: Any) -> None:
        """After a full step: what the hot path needs, until the coach's next due point."""
        session = self.core.session
        if session is None or session.closed or self._index is None \
                or session.coach.metric is None or self.core.clock is not time.perf_counter:
            self._hot_off()
            return
        coach = session.coach
        self._next = env.iteration + 1
        self._limit = min(coach.wake_iteration, env.end_iteration - 1)
        self._wake_t = coach.wake_elapsed
        self._scores = coach.scores
        self._hot_index = self._index

    def _hot_off(self) -> None:
        self._next = self._limit = -1
        self._wake_t = 0.0
        self._scores = None
        self._hot_index = 0


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
