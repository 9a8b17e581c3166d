"""The imperative shell around the coach: one training run's publisher, history and warnings.

Adapters own a picklable `WorkoutOptions` and build a `TrainingSession` lazily at the first
iteration (`TrainingSession.start`). Per iteration the session calls the pure `Coach`, hands
any messages to the non-blocking `Publisher`, and every ``checkpoint_every`` iterations
submits the new scores to the background thread for the SQLite history. Nothing here
raises into the trainer: the adapter boundary catches and logs once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repfit import wire
from repfit.config import Config, ConfigError, MqttSettings, Secret, broker_settings, load
from repfit.integrations.coach import Coach, CoachSettings, Score, TrainingEvent
from repfit.integrations.history import HistoryStore
from repfit.integrations.menu import DEFAULT_MENU, Menu, menu_from_tables
from repfit.integrations.publisher import Publisher
from repfit.integrations.report import TrainerReport
from repfit.integrations.settings import coach_settings_from_tables
from repfit.integrations.sigint import PENALISED

__all__ = ["TrainingSession", "WorkoutOptions", "experiment_key"]

log = logging.getLogger("repfit.integrations")

#: How long the Ctrl+C path waits for the broker's acknowledgement by default.
DEFAULT_INTERRUPT_WAIT_S = 3.0
#: How long the end of a run waits for the host's results of its assignments by default.
DEFAULT_RESULT_WAIT_S = 5.0


def experiment_key(framework: str, parts: Mapping[str, Any]) -> str:
    """A stable key for "the same experiment": framework, parameters and data shape.

    Parameters that do not change the model's scores (verbosity, thread counts) are left
    out, so re-running with more threads still compares with the previous run.
    """
    noise = {"verbose", "verbosity", "num_threads", "nthread", "n_jobs", "num_thread",
             "callbacks", "silent"}
    clean = {k: v for k, v in parts.items() if k not in noise}
    text = json.dumps(clean, sort_keys=True, default=repr, separators=(",", ":"))
    return f"{framework}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class WorkoutOptions:
    """Everything a `workout(...)` factory was given; plain data, so callbacks pickle.

    Parameters
    ----------
    user : str, optional
        Topic namespace; default from the config file / ``REPFIT_USER``.
    broker : str, optional
        ``mqtt://HOST:PORT`` (credentials may be in the URL); default from the config.
    config : path or Config, optional
        The config file (``[training]``, ``[training.menu.*]``, ``[mqtt]``) or a loaded one.
    data_dir : path, optional
        Where ``history.sqlite3`` lives; default the config's data directory.
    experiment : str, optional
        Name of the experiment runs are compared within; default derived from the
        parameters and data shape.
    history : bool
        Keep run history and compare with the previous run.
    play_locally : bool
        Also play cues on this machine (needs ``repfit.host.audio``).
    interrupt_wait_s : float
        Ctrl+C: how long to wait for the broker to acknowledge the penalty (it is stored
        durably first either way).
    result_wait_s : float
        End of a run: how long to wait for the host's results of the run's assignments
        (only while a host is online), so their verdict lands in the training log.
    settings : dict
        Overrides for `CoachSettings` fields (``exercise``, ``reps``, ``seed``, ...).
    """

    user: str | None = None
    broker: str | None = None
    config: Path | str | Config | None = None
    data_dir: Path | str | None = None
    experiment: str | None = None
    history: bool = True
    play_locally: bool = False
    interrupt_wait_s: float = DEFAULT_INTERRUPT_WAIT_S
    result_wait_s: float = DEFAULT_RESULT_WAIT_S
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, **kwargs: Any) -> WorkoutOptions:
        """Split ``workout(...)`` keyword arguments into options and coach settings.

        Raises
        ------
        TypeError
            For a name that is neither an option nor a `CoachSettings` field.
        """
        option_names = {f.name for f in dataclasses.fields(cls)} - {"settings"}
        setting_names = {f.name for f in dataclasses.fields(CoachSettings)}
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in option_names}
        unknown = set(kwargs) - setting_names
        if unknown:
            raise TypeError(f"unknown workout argument(s): {', '.join(sorted(unknown))}; "
                            f"settings are: {', '.join(sorted(setting_names))}")
        return cls(**options, settings=kwargs)

    def resolve(self) -> _Resolved:
        """Read the config and apply the arguments; bad input becomes a warning and a default.

        Raises
        ------
        TypeError, ValueError
            Only for arguments that are wrong in the code itself (e.g. a negative
            ``checkpoint_every``), never for the config file or the broker.
        """
        cfg = self._config()
        source = str(cfg.source_path or "")
        problems: list[ConfigError] = []
        settings = coach_settings_from_tables(cfg.tables, source, problems)
        for problem in problems:
            log.warning("repfit: config: %s; using %s", problem, problem.fallback)
        try:
            menu = menu_from_tables(cfg.tables, source)
        except (ConfigError, ValueError) as exc:
            log.warning("repfit: ignoring the [training.menu] config (%s); using the default "
                        "menu", exc)
            menu = DEFAULT_MENU
        overrides = {k: v for k, v in self.settings.items() if v is not None}
        settings = dataclasses.replace(settings, **overrides)
        for rule_name in ("penalty", "reward", "interrupt"):
            rule = getattr(settings, rule_name)
            if rule.enabled and rule.exercise not in ("same", "random"):
                try:
                    menu.get(rule.exercise)
                except KeyError as exc:
                    log.warning("repfit: %s: %s; using the run's own exercise", rule_name,
                                exc.args[0])
                    settings = dataclasses.replace(
                        settings, **{rule_name: dataclasses.replace(rule, exercise="same")})
        if settings.exercise.strip().lower() != "random":
            try:
                menu.get(settings.exercise)
            except KeyError as exc:
                log.warning("repfit: %s; picking a random one instead", exc.args[0])
                settings = dataclasses.replace(settings, exercise="random")
        # A trainer never sends under a user or to a broker it was not given: when the one it
        # was given is unusable, it sends nothing (and says so) rather than use a fallback.
        # A configured but unusable signing key is vital too: unsigned assignments would be
        # refused by the host.
        vital = {"mqtt.username", "mqtt.password", "signing_key"} | \
            (set() if self.user else {"user"}) | \
            (set() if self.broker else {"mqtt", "mqtt.url"})
        blocked = [str(p) for p in cfg.problems if p.key in vital]
        mqtt = cfg.mqtt
        if self.broker is not None:
            try:
                mqtt = broker_settings(self.broker, cfg.mqtt, key="broker")
            except ConfigError as exc:
                blocked.append(str(exc))
        user = self.user or cfg.user
        try:
            wire.topic_for(user, "assignment")
        except ValueError as exc:
            blocked.append(f"user: {exc}")
            user = "me"
        data_dir = Path(self.data_dir) if self.data_dir is not None else cfg.data_dir
        return _Resolved(user, mqtt, data_dir, settings, menu,
                         offline_reason="; ".join(blocked) or None,
                         signing_key=cfg.signing_key)

    def _config(self) -> Config:
        if isinstance(self.config, Config):
            return self.config
        cfg = load(self.config)
        for problem in cfg.problems:
            log.warning("repfit: config: %s; using %s", problem, problem.fallback or "the default")
        return cfg


@dataclass(frozen=True)
class _Resolved:
    user: str
    mqtt: MqttSettings
    data_dir: Path
    settings: CoachSettings
    menu: Menu
    #: Set when nothing may be sent (the configured user or broker is unusable).
    offline_reason: str | None = None
    #: The user's key for signed assignments (`repfit.signing`), when one is configured.
    signing_key: Secret | None = field(default=None, repr=False)


class TrainingSession:
    """One training run: coach + publisher + history. Built by `TrainingSession.start`."""

    def __init__(self, resolved: _Resolved, options: WorkoutOptions, experiment: str,
                 publisher: Publisher, store: HistoryStore | None,
                 reader: Executor | None = None, report: TrainerReport | None = None) -> None:
        self.resolved = resolved
        self.report = report
        #: Ids of the assignments this run sent, in order.
        self.assignment_ids: list[str] = []
        self.options = options
        self.experiment = experiment
        self.run_id = uuid.uuid4().hex
        self.publisher = publisher
        self.store = store
        self.coach = Coach(resolved.settings, resolved.menu, run_id=self.run_id,
                           experiment=experiment, now=time.time)
        self.checkpoint_every = resolved.settings.checkpoint_every
        self._warned = 0
        self._flushed_upto = 0
        self._next_flush = self.checkpoint_every
        self._player: Any = None
        self.closed = False
        self._previous: Future[dict[int, float] | None] | None = None
        if store is not None:
            # One read per run (never per iteration), done by ``reader`` while training goes
            # on, and taken before the first comparison; without a reader, right here.
            read = functools.partial(store.previous_scores, experiment, self.run_id)
            if reader is not None:
                self._previous = reader.submit(read)
            else:
                self._previous = Future()
                try:
                    self._previous.set_result(read())
                except sqlite3.Error as exc:
                    self._previous.set_exception(exc)
                self._take_previous(block=True)
            self._submit_store(store.start_run, self.run_id, experiment,
                               self.coach.exercise.name)

    def _take_previous(self, block: bool) -> None:
        """Hand the previous run's scores to the coach once read (``block``: wait for the
        read, because a comparison is next)."""
        future = self._previous
        if future is None or not (block or future.done()):
            return
        self._previous = None
        try:
            previous = future.result()
        except sqlite3.Error as exc:
            log.warning("repfit: cannot read the run history %s (%s); comparisons with "
                        "earlier runs are off", self.store.path if self.store else "?", exc)
            return
        if previous:
            self.coach.set_previous(previous)

    @classmethod
    def start(cls, resolved: _Resolved, options: WorkoutOptions, experiment: str,
              publisher: Publisher, store_usable: bool = True,
              reader: Executor | None = None,
              report: TrainerReport | None = None) -> TrainingSession:
        """A session that sends through ``publisher`` and keeps history in the data dir.

        ``store_usable=False`` (the history file could not be opened) keeps no history.
        """
        store = HistoryStore.in_dir(resolved.data_dir) if store_usable and options.history \
            else None
        return cls(resolved, options, experiment, publisher, store, reader, report)

    # ------------------------------------------------------------------ per iteration

    def on_event(self, event: TrainingEvent) -> None:
        if self._previous is not None:
            self._take_previous(block=event.iteration + 2 >= self.checkpoint_every)
        messages = self.coach.step(event)
        for message in messages:
            self._send(message)
        if len(self.coach.warnings) != self._warned:
            self._log_warnings()
        if event.iteration + 1 >= self._next_flush:
            self._flush_scores()
            every = self.checkpoint_every
            self._next_flush = ((event.iteration + 1) // every + 1) * every

    def on_scores(self, iteration: int, scores: tuple[Score, ...]) -> None:
        """Evaluation results reported apart from an iteration (epoch end, validation)."""
        self._take_previous(block=True)
        for message in self.coach.observe(iteration, scores):
            self._send(message)
        if len(self.coach.warnings) != self._warned:
            self._log_warnings()
        self._flush_scores()

    def finish(self, status: str = "finished") -> None:
        """End of the run: final comparison, last scores, run closed in history."""
        if self.closed:
            return
        self.closed = True
        self._take_previous(block=True)
        during_run = list(self.assignment_ids)
        for message in self.coach.finish():
            self._send(message)
            if isinstance(message, wire.Assignment) and message.reason == "assigned":
                during_run.append(message.id)  # a short run's own workout, decided only now
        self._log_warnings()
        self._flush_scores()
        if self.store is not None:
            self._submit_store(self.store.finish_run, self.run_id, status)
        self._await_results(during_run)

    def _await_results(self, ids: list[str]) -> None:
        """The run's verdicts in the training log: wait briefly for the host's results of
        the run's workout and what was added during the run (not an end-of-run penalty,
        which the user has not started yet), then say what is still open."""
        report = self.report
        if report is None or not ids:
            return
        try:
            missing = report.wait_for_results(ids, self.options.result_wait_s,
                                              lambda: self.publisher.unreachable)
        except KeyboardInterrupt as exc:
            # Ctrl+C to skip the wait: the run is over, so it is no reason for a penalty.
            setattr(exc, PENALISED, True)
            raise
        if not self.publisher.connected:
            report.undelivered(self.assignment_ids)
        report.still_open(missing)

    def interrupted(self) -> None:
        """Ctrl+C: penalty stored durably, then published with a bounded wait.

        A second Ctrl+C during the wait interrupts the wait only: the penalty is already on
        disk and goes out with the next run's publisher if not now.
        """
        if self.closed:
            return
        self.closed = True
        messages = self.coach.interrupted()
        if self.store is not None:
            try:
                # start_run may still be queued for the background thread; it is idempotent.
                self.store.start_run(self.run_id, self.experiment, self.coach.exercise.name)
                self.store.add_scores(self.run_id, self._new_scores(), self.coach.metric,
                                      self.coach.higher_is_better)
                self.store.finish_run(self.run_id, "interrupted")
            except Exception as exc:  # history is a nice-to-have at this point
                log.warning("repfit: could not record the interrupted run (%s: %s)",
                            type(exc).__name__, exc)
        # Every assignment (the run's own hold if it was decided only now, the penalty) is
        # on disk before any wait for the broker begins.
        assignments = [m for m in messages if isinstance(m, wire.Assignment)]
        for a in assignments:
            self._expect(a)
        penalties = [m.text or m.exercise for m in assignments if m.reason == "penalty"]
        wait = self.options.interrupt_wait_s
        if assignments:
            acked = self.publisher.deliver(
                assignments, wait,
                on_stored=(lambda: log.warning(
                    "repfit: %s (penalty stored; sending, up to %.0f s — Ctrl+C again to "
                    "skip the wait)", "; ".join(penalties), wait)) if penalties else None)
            if penalties and not acked:
                log.warning("repfit: the penalty is stored and will be delivered when the "
                            "broker is reachable")
        for message in messages:
            if not isinstance(message, wire.Assignment):
                self._send(message)

    def close(self, timeout: float = 5.0) -> None:
        self.publisher.close(timeout)

    # ------------------------------------------------------------------ helpers

    def _expect(self, a: wire.Assignment) -> None:
        self.assignment_ids.append(a.id)
        if self.report is not None:
            self.report.expect(a)

    def _send(self, message: wire.Message) -> None:
        if isinstance(message, wire.Assignment):
            self._expect(message)
        self.publisher.publish(message)
        if self.options.play_locally and isinstance(message, wire.Cue):
            player = self._local_player()
            if player is not None:
                self.publisher.submit(lambda: player.play(message))

    def _local_player(self) -> Any:
        if self._player is None:
            try:
                from repfit.host.audio import default_player
            except ImportError as exc:
                log.warning("repfit: local cue playback is not available (%s)", exc)
                self._player = False
            else:
                self._player = default_player(self.resolved.data_dir / "cues")
        return self._player or None

    def _log_warnings(self) -> None:
        for text in self.coach.warnings[self._warned:]:
            log.warning("repfit: %s", text)
        self._warned = len(self.coach.warnings)

    def _new_scores(self) -> list[tuple[int, float]]:
        new = [(n, v) for n, v in self.coach.scores.items() if n > self._flushed_upto]
        if new:
            self._flushed_upto = max(n for n, _ in new)
        return new

    def _flush_scores(self) -> None:
        if self.store is None:
            return
        new = self._new_scores()
        if new:
            self._submit_store(self.store.add_scores, self.run_id, new, self.coach.metric,
                               self.coach.higher_is_better)

    def _submit_store(self, fn: Any, *args: Any) -> None:
        self.publisher.submit(lambda: fn(*args))
