"""Rate-limited log lines: a misbehaving device or publisher must not flood the log, nor go
unreported. Shared by the MQTT bus, the host and the wearable sources.

Two limits: one line per key (a topic, a device, a kind of fault) per interval, and a global
`LogBudget` shared by every limited logger, so that many keys (a stranger inventing device
names) cannot flood the log either. What is held back is counted and said.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["GLOBAL_BUDGET", "LogBudget", "RateLimitedLog"]


class LogBudget:
    """At most ``lines`` rate-limited lines per ``window_s``, all keys and loggers together.

    Lines over the budget are dropped and counted; the first line of the next window is
    preceded by one that says how many were held back.
    """

    def __init__(self, lines: int = 30, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lines = lines
        self.window_s = window_s
        self.clock = clock
        self.held = 0
        self._start: float | None = None
        self._used = 0

    def reset(self) -> None:
        """Start a new window with nothing held (tests start from a clean slate)."""
        self.held, self._start, self._used = 0, None, 0

    def take(self, logger: logging.Logger) -> bool:
        """True when one more line may go out now."""
        now = self.clock()
        if self._start is None or now - self._start >= self.window_s:
            if self.held:
                logger.warning("%d log line(s) held back in the last %g s (at most %d a "
                               "window)", self.held, self.window_s, self.lines)
                self.held = 0
            self._start, self._used = now, 0
        if self._used < self.lines:
            self._used += 1
            return True
        self.held += 1
        return False


#: The budget every `RateLimitedLog` shares unless it is given its own.
GLOBAL_BUDGET = LogBudget()


class RateLimitedLog:
    """Log at most one line per ``key`` every ``interval_s``, counting what was held back.

    The first occurrence is always logged; later ones within the interval are counted and
    the count is appended to the next line that goes out ("... (12 more since last report)").

    Parameters
    ----------
    logger : logging.Logger
        Where lines go.
    interval_s : float
        Minimum seconds between two lines with the same key.
    clock : callable
        Monotonic seconds; injectable for tests.
    budget : LogBudget, optional
        The global budget (default: `GLOBAL_BUDGET`).
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 budget: LogBudget | None = None) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self.budget = budget or GLOBAL_BUDGET
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    #: Keys remembered at most; past it the oldest are forgotten (keys can come from the
    #: outside, e.g. topics, and must not grow memory without bound).
    max_keys = 1024

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the interval; True if logged."""
        now = self.clock()
        if key not in self._last and len(self._last) >= self.max_keys:
            oldest = min(self._last, key=self._last.__getitem__)
            del self._last[oldest]
            self._held.pop(oldest, None)
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if not self.budget.take(self.logger):
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        self._last[key] = now
        if held:
            self.logger.log(level, msg + " (%d more since last report)", *args, held)
        else:
            self.logger.log(level, msg, *args)
        return True

    def warning(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, msg, *args)
