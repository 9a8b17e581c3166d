"""Plain Python training loops: an iterator wrapper and a context manager.

Examples
--------
>>> from repfit.integrations.loop import workout
>>> with workout(exercise="random") as coach:                    # doctest: +SKIP
...     for step in coach.track(range(1000)):
...         loss = train_one_step()
...         if step % 50 == 0:
...             coach.report(step, val_loss=evaluate(), higher_is_better=False)

Each item ``track`` yields is one iteration; the iteration counts as done when the loop asks
for the next item. ``report`` attaches evaluation scores (keyword = metric name; a
``val_``/``eval_`` prefix marks the validation set). Leaving the ``with`` block ends the run
(final comparison, penalty or reward); a Ctrl+C inside it gives the interrupt penalty and is
re-raised. No extra dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from repfit.integrations._adapter import AdapterCore, CoreContext, scores_from_logs
from repfit.integrations.session import WorkoutOptions

__all__ = ["LoopCoach", "workout"]

T = TypeVar("T")


def workout(*, user: str | None = None, broker: str | None = None,
            exercise: str | None = None, reps: float | None = None, seed: int | None = None,
            **kwargs: Any) -> LoopCoach:
    """A coach for a hand-written loop.

    Parameters are those of `repfit.integrations.lightgbm.workout` (without ``order``).

    Raises
    ------
    TypeError
        For an unknown keyword.
    """
    options = WorkoutOptions.build(user=user, broker=broker, exercise=exercise, reps=reps,
                                   seed=seed, **kwargs)
    return LoopCoach(options)


class LoopCoach(CoreContext):
    """Tracks a loop's iterations (see the module docstring)."""

    def __init__(self, options: WorkoutOptions) -> None:
        self.core = AdapterCore("loop", options)
        self._iteration = -1

    def track(self, iterable: Iterable[T], total: int | None = None,
              name: str | None = None) -> Iterator[T]:
        """Yield from ``iterable``, reporting one iteration each time the body finishes.

        Parameters
        ----------
        total : int, optional
            Planned iterations (``len(iterable)`` when it has one).
        name : str, optional
            Part of the experiment key (with ``total``) when no ``experiment=`` was given.
        """
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.core.begin({"name": name, "total": total})
        self._iteration = -1
        completed = False
        try:
            for i, item in enumerate(iterable):
                if i > 0:
                    self.core.event(i - 1, 0, total)
                self._iteration = i
                yield item
            completed = True
        finally:
            if completed and self._iteration >= 0:
                self.core.event(self._iteration, 0, total)
                self.core.finish()

    def report(self, iteration: int | None = None, *, higher_is_better: bool | None = None,
               **scores: float) -> None:
        """Evaluation results at ``iteration`` (default: the current one)."""
        it = self._iteration if iteration is None else iteration
        higher = None if higher_is_better is None else dict.fromkeys(
            (k.split("_", 1)[1] if k.startswith(("val_", "eval_", "test_", "train_")) else k
             for k in scores), higher_is_better)
        self.core.scores(max(it, 0), scores_from_logs(scores, higher))
