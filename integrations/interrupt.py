"""Ctrl+C means "the score was not improving": a penalty, then the interrupt goes on.

Use it as a context manager around training, or as a decorator on the training function::

    cb = workout()
    with interrupt_penalty(cb):
        lgb.train(params, train, callbacks=[cb])

    @interrupt_penalty()
    def train(): ...

A repfit callback in a plain ``callbacks=[...]`` list already gives the penalty for a Ctrl+C
while it trains (`repfit.integrations.sigint`); these forms add the standalone penalty and
training driven from another thread, and never give a second penalty for one Ctrl+C.

On `KeyboardInterrupt` the penalty assignment (``[training.interrupt]`` in the config:
exercise, size, on/off) is written to the outbox in SQLite, published, and acknowledged by
the broker or given up after ``interrupt_wait_s`` seconds — then the `KeyboardInterrupt` is
re-raised. A second Ctrl+C during that wait ends it at once; the stored penalty is sent by
the next training that reaches the broker. When callbacks are given, the penalty belongs to
their current run (same experiment and run id); without any, a standalone penalty is made
from the config.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from repfit.config import Config
from repfit.integrations._adapter import AdapterCore
from repfit.integrations.session import DEFAULT_INTERRUPT_WAIT_S, WorkoutOptions
from repfit.integrations.sigint import penalised

__all__ = ["interrupt_penalty"]


class interrupt_penalty(contextlib.ContextDecorator):
    """Turn a Ctrl+C inside the block (or decorated function) into a penalty assignment.

    Parameters
    ----------
    *callbacks
        repfit callbacks (any framework) whose current run the penalty belongs to.
    user, broker, config, data_dir, experiment
        For the standalone penalty when no callback has a run (see `WorkoutOptions`).
    interrupt_wait_s : float
        Bound on waiting for the broker's acknowledgement.
    **settings
        `CoachSettings` overrides for the standalone penalty, e.g. ``interrupt=Rule(...)``.
    """

    def __init__(self, *callbacks: Any, user: str | None = None, broker: str | None = None,
                 config: Path | str | Config | None = None,
                 data_dir: Path | str | None = None, experiment: str | None = None,
                 interrupt_wait_s: float = DEFAULT_INTERRUPT_WAIT_S, **settings: Any) -> None:
        cores = []
        for cb in callbacks:
            core = getattr(cb, "core", None)
            if not isinstance(core, AdapterCore):
                raise TypeError(f"interrupt_penalty() takes repfit callbacks, got "
                                f"{type(cb).__name__}")
            cores.append(core)
        self.cores = tuple(cores)
        self.options = WorkoutOptions(user=user, broker=broker, config=config,
                                      data_dir=data_dir, experiment=experiment or "interrupted",
                                      interrupt_wait_s=interrupt_wait_s, settings=settings)

    def __enter__(self) -> interrupt_penalty:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        # A Ctrl+C that reached a training callback's run was penalised there already.
        if exc_type is KeyboardInterrupt and not penalised(exc):
            self.penalize()     # and Ctrl+C goes on to stop the script

    def penalize(self) -> None:
        """Store and publish the penalty now (what happens on Ctrl+C)."""
        live = [c for c in self.cores if c.session is not None and not c.session.closed]
        if live:
            for core in live:
                core.interrupted()
            return
        core = AdapterCore("interrupt", self.options)
        core.begin({})
        core.interrupted()
        core.close(timeout=1.0)
