"""Ctrl+C while a run trains gives its penalty, whatever form the callback was passed in.

``lgb.train(..., callbacks=[workout()])`` leaves repfit no ``with`` block to see the
`KeyboardInterrupt` in: it is raised in the trainer's own frames and unwinds past the
callback. So at the start of each run the adapter chains a SIGINT handler in front of the
current one (only on the main thread, and only when the current one is Python's own or
another Python function). On Ctrl+C it gives the penalty if training is still running, then
hands the signal on to the previous handler (Python's default raises `KeyboardInterrupt`),
and it is restored at the end of the run.

"Training is still running" is decided from the interrupted stack: the frames that were
running the training when the run began (the framework's ``train``/``fit``; not the frames
that built the callback, and not repfit's own) must still be on it. LightGBM has no end
hook after early stopping, so without this check a Ctrl+C long after training would still
count. When no such frame exists (a plain loop driven by ``track()``), the run counts as
training until it finishes.

A `KeyboardInterrupt` raised after a penalty carries ``repfit_penalised = True``, so the
``with`` forms (`repfit.integrations.interrupt.interrupt_penalty`, ``with workout()``) do
not give a second one; so does one that only cut short the wait for the host's verdict
after the run had ended (no penalty is due for it).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["PENALISED", "SigintChain", "caller_frames", "penalised"]

#: The attribute set on a `KeyboardInterrupt` whose penalty has been given (or is not due).
PENALISED = "repfit_penalised"

FrameKey = tuple[int, Any]


def _own(frame: FrameType) -> bool:
    return str(frame.f_globals.get("__name__", "")).startswith("repfit.")


def caller_frames(start: FrameType | None) -> frozenset[FrameKey]:
    """Identity keys of ``start`` and every frame above it that is not repfit's own."""
    keys = set()
    frame = start
    while frame is not None:
        if not _own(frame):
            keys.add((id(frame), frame.f_code))
        frame = frame.f_back
    return frozenset(keys)


def penalised(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a Ctrl+C whose penalty repfit has already given."""
    return bool(getattr(exc, PENALISED, False))


class SigintChain:
    """One run's SIGINT handler, chained in front of the previous one.

    Parameters
    ----------
    penalise : callable
        Gives the run's penalty (stores it, publishes it with a bounded wait).
    training : frozenset
        `caller_frames` keys of the frames running the training; empty: the whole run counts.
    """

    def __init__(self, penalise: Callable[[], object], training: frozenset[FrameKey]) -> None:
        self.penalise = penalise
        self.training = training
        self._previous: Any = None
        self.installed = False

    def install(self) -> bool:
        """Chain in front of the current handler; False (nothing done) off the main thread
        or when the current handler is not a Python one (ignored, or set from C)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):
            return False
        self._previous = previous
        signal.signal(signal.SIGINT, self._handle)
        self.installed = True
        return True

    def restore(self) -> None:
        """Put the previous handler back (if ours is still the current one)."""
        if not self.installed:
            return
        self.installed = False
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous)

    def training_running(self, frame: FrameType | None) -> bool:
        if not self.training:
            return True
        while frame is not None:
            if (id(frame), frame.f_code) in self.training:
                return True
            frame = frame.f_back
        return False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous
        active = self.training_running(frame)
        # Restored first: a second Ctrl+C during the penalty's bounded wait goes straight
        # to the previous handler and ends the wait.
        self.restore()
        try:
            if active:
                self.penalise()
            previous(signum, frame)
        except KeyboardInterrupt as exc:
            if active:
                setattr(exc, PENALISED, True)
            raise

