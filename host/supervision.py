"""Keep the host's long-running tasks alive: a task that fails unexpectedly is restarted.

The bus message loop, each wearable source, the result keeper and the cue player each run
under `supervise`. An unexpected exception is logged once with its reason (a task failing the
same way again and again is summarised, not repeated) and the task restarts after a backoff
that doubles up to a ceiling and starts over once the task has run well for a while. What
happened is kept in a `TaskHealth` per task, so the host's status can say it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from repfit.host.log_limit import RateLimitedLog

__all__ = ["TaskHealth", "supervise"]

log = logging.getLogger(__name__)
_limited = RateLimitedLog(log, interval_s=60.0)


@dataclass
class TaskHealth:
    """What one supervised task has been through."""

    name: str
    restarts: int = 0
    last_error: str | None = None
    running: bool = False

    def describe(self) -> str:
        if self.restarts == 0:
            return f"{self.name}: running" if self.running else f"{self.name}: stopped"
        return (f"{self.name}: restarted {self.restarts} time{'s' * (self.restarts > 1)} "
                f"(last failure: {self.last_error})")


async def supervise(
    health: TaskHealth,
    run: Callable[[], Awaitable[None]],
    *,
    on_failure: Callable[[TaskHealth], None] | None = None,
    backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    healthy_after_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run ``run()`` until it returns; restart it after an unexpected exception.

    Cancellation is never caught: cancelling the supervisor stops the task for good.
    """
    delay = backoff_s
    while True:
        started = clock()
        health.running = True
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the point of supervision: anything unexpected
            if clock() - started >= healthy_after_s:
                delay = backoff_s
            health.restarts += 1
            health.last_error = f"{type(exc).__name__}: {exc}"[:300]
            _limited.log(logging.ERROR, f"{health.name}|{type(exc).__name__}",
                         "%s failed (%s); restarting it in %.1f s", health.name,
                         health.last_error, delay)
            log.debug("%s failed", health.name, exc_info=True)
            if on_failure is not None:
                on_failure(health)
        finally:
            health.running = False
        await asyncio.sleep(delay)
        delay = min(delay * 2.0, max_backoff_s)
