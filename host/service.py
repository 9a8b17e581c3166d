"""The host loop: assignments and samples in from the bus, progress and results out.

`WorkoutHost` only coordinates. Decisions live in `Session` (pure), bytes in `Bus`, rows in
`Store`, sounds in a `CuePlayer`, and what the user sees in a `HostObserver`. Blocking work
(SQLite, audio) runs in worker threads so message handling never stalls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from repfit import wire
from repfit.host.audio import CuePlayer
from repfit.host.bus import Bus
from repfit.host.session import Session
from repfit.host.sources import SourceError, WearableSource
from repfit.host.store import Store

__all__ = ["HostObserver", "WorkoutHost"]

log = logging.getLogger(__name__)


class HostObserver(Protocol):
    """What the user sees; the CLI renders these, tests record them."""

    def assignment(self, a: wire.Assignment) -> None: ...
    def progress(self, p: wire.Progress) -> None: ...
    def result(self, r: wire.Result) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...


class WorkoutHost:
    """Verifies assignments one at a time, in arrival order.

    Parameters
    ----------
    bus : Bus
        Connected bus for the user.
    store : Store
        Where assignments and results are kept.
    observer : HostObserver, optional
        Receives every assignment, progress, result and cue.
    player : CuePlayer, optional
        Plays cues from the training side.
    clock : callable
        Wall clock (epoch seconds); injectable for tests.
    on_samples : callable, optional
        Told of every wearable sample batch and the battery level when the source knows it
        (the live views show rate, loss and battery); must return at once.
    tick_s : float
        How often deadlines are checked.
    """

    def __init__(
        self,
        bus: Bus,
        store: Store,
        *,
        observer: HostObserver | None = None,
        player: CuePlayer | None = None,
        clock: Callable[[], float] = time.time,
        on_samples: Callable[[wire.SampleBatch, int | None], None] | None = None,
        tick_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.store = store
        self.observer = observer
        self.player = player
        self.clock = clock
        self.on_samples = on_samples
        self.tick_s = tick_s
        self.active: Session | None = None
        self.pending: deque[wire.Assignment] = deque()
        self.results: list[wire.Result] = []
        #: Set once subscribed: from then on nothing published for this user is missed.
        self.ready = asyncio.Event()
        self._known: set[str] = set()

    @property
    def user(self) -> str:
        return self.bus.user

    async def run(self, sources: Sequence[WearableSource] = ()) -> None:
        """Serve until cancelled.

        Samples come from the bus (phones, bridges, the simulated athlete) and from local
        ``sources`` (BLE wearables) alike.
        """
        for a in await asyncio.to_thread(self.store.open_assignments, self.user):
            log.info("resuming open assignment %s (%s)", a.id, a.exercise)
            self._queue(a)
        await self.bus.subscribe("assignment", "cue", "samples")
        self.bus.announce()
        self.ready.set()
        await self._advance()
        helpers = [asyncio.create_task(self._tick_deadlines())]
        helpers += [asyncio.create_task(self._stream(s), name=s.name) for s in sources]
        try:
            async for incoming in self.bus.messages():
                await self.handle(incoming.message)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _stream(self, source: WearableSource) -> None:
        """Feed one local wearable into the open session; a failing device never stops us."""
        try:
            async with source:
                async for batch in source.samples():
                    await self._on_samples(batch, getattr(source, "battery_percent", None))
        except SourceError as exc:
            log.error("wearable %s stopped: %s", source.name, exc)
        else:
            log.info("wearable %s ended its stream", source.name)

    async def handle(self, message: wire.Message) -> None:
        """React to one decoded message."""
        if isinstance(message, wire.Assignment):
            await self._on_assignment(message)
        elif isinstance(message, wire.SampleBatch):
            await self._on_samples(message)
        elif isinstance(message, wire.Cue):
            self._on_cue(message)

    # ------------------------------------------------------------------ handlers

    async def _on_assignment(self, a: wire.Assignment) -> None:
        if a.id in self._known:
            return
        if await asyncio.to_thread(self.store.has_result, a.id):
            self._known.add(a.id)
            log.debug("assignment %s already verified; ignoring its re-delivery", a.id)
            return
        await asyncio.to_thread(self.store.add_assignment, self.user, a, self.clock())
        self._queue(a)
        await self._advance()

    def _queue(self, a: wire.Assignment) -> None:
        self._known.add(a.id)
        self.pending.append(a)
        if self.observer:
            self.observer.assignment(a)

    async def _on_samples(self, batch: wire.SampleBatch, battery: int | None = None) -> None:
        if self.on_samples is not None:
            self.on_samples(batch, battery)
        session = self.active
        if session is None:
            return
        now = self.clock()
        progress = session.feed(batch, now)
        if progress is not None:
            self.bus.publish(progress)
            if self.observer:
                self.observer.progress(progress)
        result = session.outcome(now)
        if result is not None:
            await self._finish(result)

    def _on_cue(self, cue: wire.Cue) -> None:
        if self.observer:
            self.observer.cue(cue)
        if self.player is not None:
            # Playback may block briefly (process start, file write): keep it off the loop.
            asyncio.get_running_loop().run_in_executor(None, self.player.play, cue)

    async def _tick_deadlines(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.active is not None:
                result = self.active.outcome(self.clock())
                if result is not None:
                    await self._finish(result)

    # ------------------------------------------------------------------ transitions

    async def _advance(self) -> None:
        """Open the next pending assignment when none is active."""
        while self.active is None and self.pending:
            a = self.pending.popleft()
            session = Session(a, started_at=self.clock())
            self.active = session
            log.info("verifying %s: %g %s of %s", a.id, a.target, a.unit, a.exercise)
            result = session.outcome(self.clock())
            if result is not None:  # already past its deadline
                await self._finish(result)
            else:
                progress = session.progress(self.clock())
                self.bus.publish(progress)
                if self.observer:
                    self.observer.progress(progress)

    async def cancel_active(self) -> None:
        """Settle the open assignment now with what was verified so far (outcome "cancelled")."""
        if self.active is not None:
            await self._finish(self.active.cancel(self.clock()))

    async def _finish(self, result: wire.Result) -> None:
        # Settled from here on: a sample batch, a deadline tick or a cancel that comes while
        # the result is being written must not settle the same assignment a second time.
        session, self.active = self.active, None
        try:
            # Stored before it is announced: a crash after this point loses nothing.
            await asyncio.to_thread(self.store.add_result, self.user, result)
        except BaseException:
            if self.active is None:
                self.active = session        # not stored: the assignment stays open
            raise
        self.results.append(result)
        self.bus.publish(result)
        if self.observer:
            self.observer.result(result)
        log.info("%s: %s (%d/%g %s)", result.assignment_id,
                 "completed" if result.completed else "not completed", result.reps,
                 result.target, result.unit)
        await self._advance()
