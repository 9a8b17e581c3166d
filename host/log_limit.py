"""Rate-limited log lines: a misbehaving device or publisher must not flood the log, nor go
unreported. Shared by the MQTT bus and the wearable sources."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog"]


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
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
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
        held = self._held.pop(key, 0)
        self._last[key] = now
        if held:
            self.logger.log(level, msg + " (%d more since last report)", *args, held)
        else:
            self.logger.log(level, msg, *args)
        return True

    def warning(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, msg, *args)
