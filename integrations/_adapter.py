"""What every framework adapter shares: lazy session, the trainer boundary, pickling, closing.

An adapter (LightGBM callback, Keras callback, ...) holds an `AdapterCore`. The core builds
the `TrainingSession` at the first iteration of each run (never in ``__init__``, so the
callback pickles and can be handed to worker processes), feeds it events, and catches every
exception at this boundary: the first is logged with its traceback, later ones quietly, and
training goes on.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from repfit.integrations.coach import Score, TrainingEvent, guess_higher_is_better
from repfit.integrations.history import HistoryStore
from repfit.integrations.publisher import Publisher
from repfit.integrations.report import TrainerReport
from repfit.integrations.session import TrainingSession, WorkoutOptions, _Resolved, experiment_key
from repfit.integrations.sigint import SigintChain, caller_frames, penalised

__all__ = ["AdapterCore", "CoreContext", "build_options", "missing_extra", "scores_from_logs"]

log = logging.getLogger("repfit.integrations")


def missing_extra(framework: str, extra: str, exc: ImportError) -> ImportError:
    """The error an adapter raises when its framework is not installed."""
    return ImportError(f"repfit's {framework} integration needs {framework}: "
                       f"pip install 'repfit[{extra}]' ({exc})")


def build_options(framework: str, extra: str, import_error: ImportError | None, /,
                  **fields: Any) -> WorkoutOptions:
    """The options of a framework's ``workout(...)``, or the missing-extra error.

    One body for every adapter's ``workout()``; the checks stay in the order users see them:
    a framework that failed to import first, then unknown keywords (`TypeError`).
    """
    if import_error is not None:
        raise missing_extra(framework, extra, import_error)
    return WorkoutOptions.build(**fields)


_PREFIXES = (("val_", "validation"), ("val/", "validation"), ("validation_", "validation"),
             ("validation/", "validation"), ("eval_", "validation"), ("eval/", "validation"),
             ("test_", "test"), ("test/", "test"), ("train_", "training"),
             ("train/", "training"))
_NOT_METRICS = frozenset({"epoch", "step", "learning_rate", "lr", "runtime", "samples_per_second",
                          "steps_per_second", "total_flos", "grad_norm"})


def scores_from_logs(logs: Mapping[str, Any] | None,
                     higher_is_better: Mapping[str, bool] | None = None) -> tuple[Score, ...]:
    """Keras/Lightning/Hugging Face style ``{"val_loss": 0.3, "accuracy": 0.9}`` as scores.

    The prefix names the dataset (``val_``/``eval_`` -> "validation", none -> "training");
    higher-is-better comes from ``higher_is_better`` (by metric name) or is guessed from the
    name (accuracy-like: higher; loss/error: lower). Non-numeric values are skipped.
    """
    if not logs:
        return ()
    out = []
    for key, raw in logs.items():
        dataset, metric = "training", str(key)
        for prefix, name in _PREFIXES:
            if metric.startswith(prefix):
                dataset, metric = name, metric[len(prefix):]
                break
        if metric in _NOT_METRICS or metric.endswith(("_runtime", "_per_second")):
            continue
        try:
            value = float(raw.item() if hasattr(raw, "item") else raw)
        except (TypeError, ValueError):
            continue
        higher = (higher_is_better or {}).get(metric)
        out.append(Score(dataset, metric, value,
                         guess_higher_is_better(metric) if higher is None else higher))
    return tuple(out)


class AdapterCore:
    """Per-callback state shared by all adapters (see module docstring)."""

    def __init__(self, framework: str, options: WorkoutOptions) -> None:
        self.framework = framework
        self.options = options
        self.clock: Callable[[], float] = time.perf_counter
        self._resolved: _Resolved | None = None
        self._publisher: Publisher | None = None
        self._report: TrainerReport | None = None
        self.session: TrainingSession | None = None
        self._failed = False
        # The frames that built the callback: not training (see repfit.integrations.sigint).
        self._created = caller_frames(sys._getframe())
        self._sigint: SigintChain | None = None
        # Config and the history file are read/created here, before training starts, so
        # the first iteration does as little as possible.
        resolved = self.resolved()
        self.store_usable = True
        try:
            HistoryStore.in_dir(resolved.data_dir).prepare()
        except (sqlite3.Error, OSError) as exc:
            self.store_usable = False
            log.warning("repfit: cannot use the run history in %s (%s); training continues "
                        "without history, and assignments wait in memory while the broker "
                        "is away", resolved.data_dir, exc)
        # Threads start now, not at the first iteration: the publisher's (it connects), and
        # one that reads the previous run's scores while the first iterations run.
        self._open_publisher()
        self._reader: ThreadPoolExecutor | None = None
        if self.store_usable and options.history:
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repfit-history")
            self._reader.submit(lambda: None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_publisher"] = None
        state["_report"] = None
        state["_reader"] = None
        state["session"] = None
        state["_resolved"] = None
        state["_created"] = frozenset()
        state["_sigint"] = None
        return state

    # ------------------------------------------------------------------ lifecycle

    def _open_publisher(self) -> Publisher:
        """The publisher for the next run, started: the current one, or a new one when
        there is none (first use, unpickled) or an earlier run's was closed."""
        if self._publisher is None or self._publisher.closed:
            resolved = self.resolved()
            self._report = report = TrainerReport(resolved.user, resolved.mqtt.url)
            self._publisher = Publisher(
                resolved.mqtt, resolved.user, offline_reason=resolved.offline_reason,
                outbox=HistoryStore.in_dir(resolved.data_dir) if self.store_usable else None,
                listener=report.on_message, on_acked=report.delivered,
                signing_key=resolved.signing_key)
            self._publisher.start()
        return self._publisher

    def resolved(self) -> _Resolved:
        if self._resolved is None:
            self._resolved = self.options.resolve()
        return self._resolved

    def begin(self, parts: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        """Start a new run (finishing a previous one that never said it ended)."""
        self.guard(self._begin, parts)

    def _begin(self, parts: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        if self.session is not None and not self.session.closed:
            self.session.finish()
        resolved = self.resolved()
        if self.options.experiment:
            experiment = self.options.experiment
        else:
            experiment = experiment_key(self.framework, parts() if callable(parts) else parts)
        self.session = TrainingSession.start(resolved, self.options, experiment,
                                             self._open_publisher(),
                                             store_usable=self.store_usable,
                                             reader=self._reader, report=self._report)
        self._chain_sigint(caller_frames(sys._getframe()) - self._created)

    def _chain_sigint(self, training: frozenset[tuple[int, Any]]) -> None:
        """Ctrl+C during this run gives its penalty, in every form the callback is used."""
        self._restore_sigint()
        self._sigint = SigintChain(self.interrupted, training)
        self._sigint.install()

    def _restore_sigint(self) -> None:
        if self._sigint is not None:
            self._sigint.restore()
            self._sigint = None

    def event(self, iteration: int, begin: int, end: int | None,
              scores: tuple[Score, ...] = ()) -> None:
        """Report one finished iteration (the hot path: no disk, no network)."""
        session = self.session
        if session is None or session.closed:
            return
        coach = session.coach
        if not scores and iteration < coach.wake_iteration and self.clock() < coach.wake_elapsed:
            return  # nothing can be due: the common case costs two comparisons
        try:
            session.on_event(TrainingEvent(iteration, begin, end, self.clock(), scores))
        except Exception as exc:
            self._boundary(exc)

    def scores(self, iteration: int, scores: tuple[Score, ...]) -> None:
        """Report evaluation results that arrive apart from an iteration."""
        session = self.session
        if session is None or session.closed or not scores:
            return
        try:
            session.on_scores(iteration, scores)
        except Exception as exc:
            self._boundary(exc)

    def finish(self, status: str = "finished") -> None:
        """The run ended (last iteration, early stop, ``on_train_end``)."""
        self._restore_sigint()
        session = self.session
        if session is not None and not session.closed:
            self.guard(session.finish, status)

    def interrupted(self) -> None:
        """Ctrl+C: the penalty, stored then published (bounded), no matter what."""
        self._restore_sigint()
        session = self.session
        if session is not None and not session.closed:
            self.guard(session.interrupted)

    def close(self, timeout: float = 5.0) -> None:
        """Finish the run and flush the publisher for at most ``timeout`` seconds."""
        self.finish()
        if self._publisher is not None:
            self.guard(self._publisher.close, timeout)
        if self._reader is not None:
            self._reader.shutdown(wait=False)
            self._reader = None

    def guard(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self._boundary(exc)

    def _boundary(self, exc: Exception) -> None:
        if self._failed:
            log.debug("repfit callback error: %r", exc)
            return
        self._failed = True
        log.warning("repfit: the %s callback hit an error and keeps going without it where "
                    "needed; training continues", self.framework, exc_info=exc)


_Context = TypeVar("_Context", bound="CoreContext")


class CoreContext:
    """``close()`` and ``with`` for any adapter holding an `AdapterCore` as ``self.core``.

    A mixin with no state and no ``__init__``, listed first in an adapter's bases; the
    framework base classes (Keras, Lightning, Transformers, XGBoost callbacks) define none of
    these methods, so nothing of theirs is shadowed.
    """

    core: AdapterCore
    #: Whether a Ctrl+C leaving the ``with`` block gives the interrupt penalty here; False
    #: where the framework already reports it through a hook (Lightning's ``on_exception``).
    penalise_interrupt_on_exit: ClassVar[bool] = True

    def close(self, timeout: float = 5.0) -> None:
        """End the run if still open (final comparison) and flush messages, bounded in time."""
        self.core.close(timeout)

    def __enter__(self: _Context) -> _Context:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc_type is KeyboardInterrupt and self.penalise_interrupt_on_exit \
                and not penalised(exc):
            self.core.interrupted()
        self.close()
