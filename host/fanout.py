"""Several host observers as one: the terminal, the live page and Home Assistant all watch
the same host, and a view that fails must not silence the others or stop the host."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from repfit import wire
from repfit.host.service import HostObserver

__all__ = ["FanOut"]

log = logging.getLogger(__name__)


class FanOut:
    """A `HostObserver` that tells each of ``observers`` in turn; an exception in one is
    logged and the rest are still told."""

    def __init__(self, observers: Sequence[HostObserver]) -> None:
        self.observers = list(observers)

    def _each(self, call: Callable[[Any], None], name: str) -> None:
        for observer in self.observers:
            try:
                call(observer)
            except Exception:
                log.exception("observer %s failed on %s", type(observer).__name__, name)

    def assignment(self, a: wire.Assignment) -> None:
        self._each(lambda o: o.assignment(a), "an assignment")

    def progress(self, p: wire.Progress) -> None:
        self._each(lambda o: o.progress(p), "progress")

    def result(self, r: wire.Result) -> None:
        self._each(lambda o: o.result(r), "a result")

    def cue(self, c: wire.Cue) -> None:
        self._each(lambda o: o.cue(c), "a cue")

    def health(self, text: str) -> None:
        """The host's optional health line, for the observers that show it."""
        for observer in self.observers:
            notify = getattr(observer, "health", None)
            if notify is not None:
                try:
                    notify(text)
                except Exception:
                    log.exception("observer %s failed on a health line",
                                  type(observer).__name__)
