"""What the training log says about the other end: who verifies, what was assigned, what came back.

The user watches the training log, so the loop closes there: one line when an assignment
reaches the broker (and whether a host is online to verify it), one line when the host's
result arrives. Host presence comes from the retained ``repfit/<user>/status/+`` messages of
participants with the role ``host``; results from ``repfit/<user>/result``, matched to the
assignments this process sent. `TrainerReport` is fed by the publisher's threads and read by
the training thread, so it holds a lock; the wording lives in pure functions.

The lines go to the ``repfit.workout`` logger at INFO. A program that has configured logging
decides where they go; one that has not (a plain script, a notebook) gets them on stderr.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable

from repfit import wire
from repfit.display_text import plain
from repfit.exercises import display_name

__all__ = ["TrainerReport", "assigned_line", "result_line", "workout_log"]

#: How often a wait for results looks again at whether the broker is reachable (seconds).
_POLL_S = 0.2

#: The logger of the lines the user reads in the training log.
workout_log = logging.getLogger("repfit.workout")


class _UntilConfigured(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr only while the root logger has no handler: once the program
    configures logging, the lines go its way (they propagate) and not twice."""

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)


def _visible(logger: logging.Logger) -> None:
    """Make INFO lines reach the user when the program configured no logging at all."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = _UntilConfigured(sys.stderr)
    handler.setFormatter(logging.Formatter("repfit: %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def _amount(a: wire.Assignment) -> str:
    name = display_name(a.exercise, a.label)
    if a.unit == "reps":
        return f"{a.target:g} {name}"
    if a.unit == "seconds":
        return f"{a.target:g} s of {name}"
    seconds = f" (about {a.est_duration_s:.0f} s)" if a.est_duration_s else ""
    return f"{name} for {a.target:g} iterations{seconds}"


def assigned_line(a: wire.Assignment, user: str, hosts: Iterable[str],
                  broker_down: str | None = None) -> str:
    """"assigned 25 squats to alice (host repfit-host-1a2b online)" and its variants."""
    why = {"assigned": "", "penalty": " as a penalty", "reward": " as a reward"}[a.reason]
    online = sorted(hosts)
    if broker_down is not None:
        where = f"broker {broker_down} not reachable: kept for later"
    elif online:
        where = f"host{'s' if len(online) > 1 else ''} {', '.join(online)} online"
    else:
        where = "no host online: kept for later"
    return f"assigned {_amount(a)} to {user}{why} ({where})"


def result_line(r: wire.Result) -> str:
    """"verified: 25/25 squats" / "not verified: 12/25 squats (deadline)" / "cap reached:
    100/100 squats today — training goes on" / "reported, not verified: 25/25 squats"."""
    name = display_name(r.exercise, r.label)
    why = "" if r.reason == "assigned" else f" — {r.reason}"
    if r.outcome == "capped":
        # Nothing to do: the host did not announce it. Training is not held up either.
        return f"{r.detail or f'cap reached: {r.target:g} {name} not assigned'}{why}" \
               " — training goes on"
    if r.unit == "reps":
        amount = f"{r.reps}/{r.target:g} {name}"
    else:
        amount = f"{name} held {r.hold_seconds or 0.0:.0f} s"
    if not r.verified:
        return f"reported, not verified: {amount}{why}"
    if r.completed:
        return f"verified: {amount}{why}"
    detail = f": {plain(r.detail)}" if r.detail else ""     # a set refused at its position
    return f"not verified: {amount} ({r.outcome.replace('_', ' ')}){detail}{why}"


class TrainerReport:
    """Host presence and results for one user, as seen by one training process.

    Parameters
    ----------
    user : str
        Whose assignments these are (named in the lines).
    broker : str
        The broker's URL without credentials (named when it cannot be reached).
    """

    def __init__(self, user: str, broker: str) -> None:
        self.user = user
        self.broker = broker
        self._cond = threading.Condition()
        self._hosts: dict[str, bool] = {}
        self._sent: dict[str, wire.Assignment] = {}
        self._announced: set[str] = set()
        self._results: dict[str, wire.Result] = {}
        _visible(workout_log)

    # ------------------------------------------------------------------ fed by the publisher

    def on_message(self, message: wire.Message) -> None:
        """A status or result from the broker (called on the MQTT network thread)."""
        if isinstance(message, wire.Status):
            if message.role == "host" and message.client_id:
                with self._cond:
                    self._hosts[message.client_id] = message.online
        elif isinstance(message, wire.Result):
            with self._cond:
                if message.assignment_id not in self._sent \
                        or message.assignment_id in self._results:
                    return  # someone else's, an earlier run's, or a retained repeat
                self._results[message.assignment_id] = message
                # A host may answer before the broker's acknowledgement reaches us (a capped
                # assignment is answered at once): say where it went first.
                first = None
                if message.assignment_id not in self._announced:
                    self._announced.add(message.assignment_id)
                    first = assigned_line(self._sent[message.assignment_id], self.user,
                                          self.hosts_online())
                self._cond.notify_all()
            if first is not None:
                workout_log.info("%s", first)
            workout_log.info("%s", result_line(message))

    def delivered(self, assignment_id: str) -> None:
        """The broker acknowledged an assignment: say where it went (once per assignment)."""
        with self._cond:
            a = self._sent.get(assignment_id)
            if a is None or assignment_id in self._announced:
                return
            self._announced.add(assignment_id)
            hosts = self.hosts_online()
            self._cond.notify_all()
        workout_log.info("%s", assigned_line(a, self.user, hosts))

    # ------------------------------------------------------------------ the training side

    def expect(self, a: wire.Assignment) -> None:
        """An assignment about to be published by this process."""
        with self._cond:
            self._sent[a.id] = a

    def hosts_online(self) -> list[str]:
        with self._cond:
            return [client for client, online in self._hosts.items() if online]

    def undelivered(self, ids: Iterable[str]) -> None:
        """Say which of ``ids`` never reached the broker (they wait in the outbox)."""
        with self._cond:
            missing = [self._sent[i] for i in ids
                       if i in self._sent and i not in self._announced]
            self._announced.update(a.id for a in missing)
        for a in missing:
            workout_log.info("%s", assigned_line(a, self.user, (), broker_down=self.broker))

    def result(self, assignment_id: str) -> wire.Result | None:
        with self._cond:
            return self._results.get(assignment_id)

    def wait_for_results(self, ids: Iterable[str], timeout: float,
                         unreachable: Callable[[], bool] = lambda: False) -> list[str]:
        """Wait up to ``timeout`` s for the results of ``ids``; the ids still without one.

        Gives up early when no result can come in seconds: once they have all reached the
        broker and no host is online, or while ``unreachable()`` says the broker is.
        """
        wanted = [i for i in ids if i in self._sent]
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                missing = [i for i in wanted if i not in self._results]
                left = deadline - time.monotonic()
                delivered = all(i in self._announced for i in missing)
                if not missing or left <= 0 or (delivered and not self.hosts_online()) \
                        or unreachable():
                    return missing
                # Results and deliveries notify; the broker's state is looked at again soon.
                self._cond.wait(min(left, _POLL_S))

    def still_open(self, ids: Iterable[str]) -> None:
        """Say which of ``ids`` have no result yet although a host is verifying them, and
        where to find it later (with no host, the "kept for later" line said it already)."""
        if not self.hosts_online():
            return
        with self._cond:
            waiting = [self._sent[i] for i in ids
                       if i in self._sent and i in self._announced and i not in self._results]
        for a in waiting:
            due = time.strftime("%H:%M", time.localtime(a.issued_at + a.deadline_s))
            workout_log.info("no result yet for %s (due by %s; `repfit history` will show it)",
                             _amount(a), due)
