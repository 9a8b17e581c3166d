"""The host loop: assignments and samples in from the bus, progress and results out.

`WorkoutHost` only coordinates. Decisions live in `Session` (pure) and `Leadership` (pure),
bytes in `Bus`, rows in `Store`, sounds in a `CuePlayer`, admission in `SampleGate`, and what
the user sees in a `HostObserver`. Blocking work (SQLite, audio) runs in worker threads so
message handling never stalls.

Nothing is lost in a crash or a fault:

- the open set's progress is saved with every change (`Store.save_set`) before it is
  published, and a restarted host resumes the set from it (`Session.resume`);
- a result is stored, then published; one that cannot be stored (disk full, read-only
  directory) is published anyway, kept in memory and stored as soon as the disk allows; one
  whose publication the broker never acknowledged is published again, at the next start if
  need be (``published_at`` in the store);
- every long-running task runs under `supervise` and restarts after an unexpected failure;
- of several hosts for one user, only the `Leadership` leader verifies; the others stand by.

Every assignment's life is on record: it is admitted against the user's daily caps in the
transaction that stores it (`Store.admit`): one over a cap, or one whose deadline passed
while no host ran, is closed at once and never announced. Each step (received, announced,
in progress, and how it ended) is stored with its time and published on ``state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from repfit import wire
from repfit.detection import sensor_position
from repfit.display_text import plain
from repfit.host.admission import Admission, admit, closing_result, deadline_of
from repfit.host.audio import CuePlayer
from repfit.host.bus import Bus, BusError
from repfit.host.caps import CapRules
from repfit.host.days import day_bounds
from repfit.host.intake import MAX_CUES_HZ, MAX_PENDING, SampleGate, TokenBucket
from repfit.host.leadership import Leadership
from repfit.host.lifecycle import final_state, name_assignment
from repfit.host.log_limit import RateLimitedLog
from repfit.host.session import Session
from repfit.host.setsamples import SetRecorder, SetSamples
from repfit.host.sources import SourceError, WearableSource
from repfit.host.store import QueuedPost, SavedSet, Store
from repfit.host.supervision import TaskHealth, supervise

__all__ = ["HostObserver", "WorkoutHost"]

log = logging.getLogger(__name__)

#: What a failing disk or database raises; the host goes on in memory and says so once.
STORE_ERRORS = (sqlite3.Error, OSError)
#: Cues waiting for the player at most; older ones are dropped (a late tick is worthless).
CUE_BACKLOG = 8


class HostObserver(Protocol):
    """What the user sees; the CLI renders these, tests record them.

    An observer may also have ``health(text: str) -> None``: it is then told when a task of
    the host failed and was restarted, and when this host starts or stops verifying.
    """

    def assignment(self, a: wire.Assignment) -> None: ...
    def progress(self, p: wire.Progress) -> None: ...
    def result(self, r: wire.Result) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...


class Delivery(Protocol):
    """The bus's handle on one published message (paho's ``MQTTMessageInfo``)."""

    def is_published(self) -> bool: ...


@dataclass
class _Kept:
    """A result not yet both stored and acknowledged by the broker."""

    result: wire.Result
    stored: bool
    assignment: wire.Assignment | None = None
    samples: SetSamples | None = None
    delivery: Delivery | None = None
    sent_at: float = 0.0
    failures: int = 0
    next_try: float = 0.0


class WorkoutHost:
    """Verifies assignments one at a time, in arrival order.

    Parameters
    ----------
    bus : Bus
        Connected bus for the user.
    store : Store
        Where assignments, the open set and results are kept.
    observer : HostObserver, optional
        Receives every assignment, progress, result and cue.
    player : CuePlayer, optional
        Plays cues from the training side.
    gate : SampleGate, optional
        Bounds devices and sample rates (default: `SampleGate` defaults).
    clock : callable
        Wall clock (epoch seconds); injectable for tests.
    on_samples : callable, optional
        Told of every wearable sample batch and the battery level when the source knows it
        (the live views show rate, loss and battery); must return at once.
    tick_s : float
        How often deadlines are checked.
    keep_s : float
        How often the result keeper looks at results still to store or to confirm.
    republish_s : float
        A result the broker has not acknowledged after this long is published again.
    caps : CapRules, optional
        The user's daily caps (default: none).
    honour : bool
        Honour mode: sets the user reports with ``repfit done`` (a `wire.Report`) end the
        assignment as reported, never verified. Off by default: reports are ignored.
    posts : callable, optional
        ``posts(user, result, samples)``: the accountability posts a result of this host's
        queues, stored in the same transaction as the result (`repfit.host.posts.planner`);
        results closed on arrival (capped, already missed) too. ``samples``: the set's, when
        ``recorder`` kept them (None otherwise).
    recorder : SetRecorder, optional
        Keeps the open set's samples for a post's picture of the set.
    position : str, optional
        Where the user wears the sensor (`repfit.detection.POSITIONS`; the setting
        ``sensor_position``): an exercise that cannot be counted from there ends at once,
        refused, with the reason (`Session.refusal`).
    abandon : callable, optional
        Open assignments found in the store at start are resumed, except those this
        selects: they are closed as cancelled with what was verified so far (the demo's own
        leftovers, which no one will finish).
    """

    def __init__(
        self,
        bus: Bus,
        store: Store,
        *,
        observer: HostObserver | None = None,
        player: CuePlayer | None = None,
        gate: SampleGate | None = None,
        clock: Callable[[], float] = time.time,
        on_samples: Callable[[wire.SampleBatch, int | None], None] | None = None,
        tick_s: float = 0.5,
        keep_s: float = 0.5,
        republish_s: float = 10.0,
        caps: CapRules | None = None,
        honour: bool = False,
        posts: Callable[[str, wire.Result, SetSamples | None], Sequence[QueuedPost]]
        | None = None,
        recorder: SetRecorder | None = None,
        position: str | None = None,
        abandon: Callable[[wire.Assignment], bool] = lambda a: False,
    ) -> None:
        self.bus = bus
        self.store = store
        self.observer = observer
        self.player = player
        self.gate = gate or SampleGate()
        self.clock = clock
        self.on_samples = on_samples
        self.tick_s = tick_s
        self.keep_s = keep_s
        self.republish_s = republish_s
        self.caps = caps or CapRules()
        self.honour = honour
        self.posts = posts
        self.recorder = recorder
        self.position = None if position is None else sensor_position(position)
        self.abandon = abandon
        self.active: Session | None = None
        self.pending: deque[wire.Assignment] = deque()
        self.results: list[wire.Result] = []
        #: Set once subscribed: from then on nothing published for this user is missed.
        self.ready = asyncio.Event()
        #: Supervised tasks by name: restarts and the last failure of each.
        self.health: dict[str, TaskHealth] = {}
        self.leadership = Leadership(bus.client_id, clock())
        self._known: set[str] = set()
        self._settled: set[str] = set()
        self._kept: dict[str, _Kept] = {}
        self._peer_progress: dict[str, wire.Progress] = {}
        self._cues: asyncio.Queue[wire.Cue] = asyncio.Queue(CUE_BACKLOG)
        self._cue_rate = TokenBucket(MAX_CUES_HZ, 2 * MAX_CUES_HZ)
        self._limiter = RateLimitedLog(log, interval_s=30.0)

    @property
    def user(self) -> str:
        return self.bus.user

    @property
    def verifying(self) -> bool:
        """True when this host is the one that verifies (False: standing by)."""
        return self.leadership.active

    def status_lines(self) -> list[str]:
        """The host's state in a few lines: role, open set, results held back, tasks."""
        role = "verifying" if self.verifying else f"standing by for {self.leadership.leader}"
        lines = [f"{self.user}: {role}"]
        if self.active is not None:
            a = self.active.assignment
            lines.append(f"open set {a.id}: {self.active.reps}/{a.target:g} {a.unit}")
        if self._kept:
            lines.append(f"{len(self._kept)} result(s) not yet stored or acknowledged")
        lines += [h.describe() for h in self.health.values() if h.restarts]
        return lines

    async def run(self, sources: Sequence[WearableSource] = ()) -> None:
        """Serve until cancelled.

        Samples come from the bus (phones, bridges, the simulated athlete) and from local
        ``sources`` (BLE wearables) alike.
        """
        await self._restore()
        # Statuses first: the retained ones arrive before any assignment, so a host that
        # should stand by knows it before it could start verifying.
        await self.bus.subscribe("status")
        await self.bus.subscribe("assignment", "cue", "samples", "progress", "result",
                                 "report")
        self.bus.announce()
        self.ready.set()
        await self._advance()
        jobs: dict[str, Callable[[], Awaitable[None]]] = {
            "message loop": self._message_loop,
            "deadline timer": self._tick_deadlines,
            "result keeper": self._keep_results,
        }
        if self.player is not None:
            jobs["cue player"] = self._play_cues
        for source in sources:
            jobs[f"wearable {source.name}"] = lambda s=source: self._stream(s)  # type: ignore[misc]
        tasks = []
        for name, job in jobs.items():
            health = self.health[name] = TaskHealth(name)
            tasks.append(asyncio.create_task(
                supervise(health, job, on_failure=self._failed), name=name))
        try:
            await tasks[0]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _restore(self) -> None:
        """Results the broker never acknowledged are resent; open assignments are resumed
        (or closed, those ``abandon`` selects)."""
        unpublished = await asyncio.to_thread(self.store.unpublished_results, self.user)
        if unpublished:
            log.warning("publishing %d result(s) stored while the broker could not be reached",
                        len(unpublished))
        for r in unpublished:
            self._settled.add(r.assignment_id)
            self._kept[r.assignment_id] = _Kept(r, stored=True)
        for a in await asyncio.to_thread(self.store.open_assignments, self.user):
            if await self._closed_as_missed(a):
                continue
            if self.abandon(a):
                log.info("closing open assignment %s as cancelled: nobody will do it",
                         plain(name_assignment(a)))
                saved = (await asyncio.to_thread(self.store.saved_set, a.id)
                         or SavedSet(a.id, started_at=self.clock()))
                session = Session.resume(a, saved, position=self.position)
                await self._finish(session.cancel(self.clock()), advance=False, assignment=a)
                continue
            log.info("resuming open assignment %s", plain(name_assignment(a)))
            self._queue(a)

    def _failed(self, health: TaskHealth) -> None:
        self._tell(f"{health.name} failed ({health.last_error}); restarted")

    def _tell(self, text: str) -> None:
        notify = getattr(self.observer, "health", None)
        if notify is not None:
            notify(text)

    async def _message_loop(self) -> None:
        await self._advance()        # after a restart: what was queued when it failed
        async for incoming in self.bus.messages():
            await self.handle(incoming.message, incoming.topic)

    async def _stream(self, source: WearableSource) -> None:
        """Feed one local wearable into the open session; a failing device never stops us."""
        try:
            async with source:
                async for batch in source.samples():
                    await self._on_samples(batch, getattr(source, "battery_percent", None),
                                           local=True)
        except SourceError as exc:
            log.error("wearable %s stopped: %s", source.name, exc)
        else:
            log.info("wearable %s ended its stream", source.name)

    async def handle(self, message: wire.Message, topic: wire.Topic | None = None) -> None:
        """React to one decoded message (``topic``: where it came from, if known)."""
        if isinstance(message, wire.Assignment):
            await self._on_assignment(message)
        elif isinstance(message, wire.SampleBatch):
            await self._on_samples(message)
        elif isinstance(message, wire.Cue):
            self._on_cue(message)
        elif isinstance(message, wire.Status):
            await self._on_status(message, topic.device if topic else message.client_id)
        elif isinstance(message, wire.Progress):
            self._on_peer_progress(message)
        elif isinstance(message, wire.Result):
            await self._on_peer_result(message)
        elif isinstance(message, wire.Report):
            await self._on_report(message)

    # ------------------------------------------------------------------ handlers

    async def _on_assignment(self, a: wire.Assignment) -> None:
        if a.id in self._known or a.id in self._settled:
            self._acknowledge(a)
            return
        if len(self.pending) >= MAX_PENDING:
            self._limiter.warning("pending", "ignoring assignment %s: %d already waiting (at "
                                  "most %d)", a.id, len(self.pending), MAX_PENDING)
            return
        now = self.clock()
        try:
            if await asyncio.to_thread(self.store.has_result, a.id):
                self._known.add(a.id)
                log.debug("assignment %s already verified; ignoring its re-delivery", a.id)
                self._acknowledge(a)
                return
            # Only the verifying host posts: a standby with a store of its own keeps quiet.
            plan = self.posts if self.verifying else None
            posts = None if plan is None else lambda r: plan(self.user, r, None)
            admission = await asyncio.to_thread(
                self.store.admit, self.user, a, now, day_bounds(now, self.caps.timezone),
                partial(admit, self.caps, a, now), posts)
            if admission is None and await asyncio.to_thread(self.store.has_result, a.id):
                # Another host on this store closed it just now (capped, or missed).
                self._known.add(a.id)
                self._acknowledge(a)
                return
        except STORE_ERRORS as exc:
            # Not acknowledged: the training side keeps it and sends it again.
            self._limiter.warning("store-assignment", "could not store assignment %s (%s): "
                                  "verifying it from memory, without daily caps", a.id, exc)
            admission = None
        else:
            self._acknowledge(a)  # stored: the training side may forget it
        if admission is not None:
            self._publish_state(a, "received", now)
            if admission.result is not None:
                await self._close_unannounced(a, admission)
                return
            self._publish_state(a, "announced", now)
        await self._supersede(a)
        self._queue(a)
        await self._advance()

    async def _supersede(self, newer: wire.Assignment) -> None:
        """A newer assignment from the same training run replaces the older one of the same
        reason that is still open (penalties and rewards add up instead)."""
        if newer.run_id is None or newer.reason != "assigned":
            return

        def replaced(a: wire.Assignment) -> bool:
            return a.run_id == newer.run_id and a.reason == "assigned"

        for old in [a for a in self.pending if replaced(a)]:
            self.pending.remove(old)
            log.info("assignment %s superseded by %s from the same run", old.id, newer.id)
            await self._finish(Session(old, started_at=self.clock()).supersede(self.clock()),
                               advance=False, assignment=old)
        if self.active is not None and replaced(self.active.assignment):
            log.info("assignment %s superseded by %s from the same run",
                     self.active.assignment.id, newer.id)
            await self._finish(self.active.supersede(self.clock()), advance=False)

    async def _close_unannounced(self, a: wire.Assignment, admission: Admission) -> None:
        """An assignment the store closed on arrival (capped, or already missed): its result
        is stored already; it is published so the trainer can say so, never announced."""
        result = admission.result
        assert result is not None
        self._known.add(a.id)
        self._settled.add(a.id)
        log.warning("%s not announced: %s", name_assignment(a), admission.detail)
        self._publish_state(a, admission.state, result.finished_at, admission.detail)
        self._kept[a.id] = kept = _Kept(result, stored=True, assignment=a)
        self._send(kept)
        self.results.append(result)
        if self.observer:
            self.observer.result(result)

    async def _closed_as_missed(self, a: wire.Assignment) -> bool:
        """At start: close an open assignment whose deadline passed while no host was
        running, instead of serving it. A set that was under way keeps what was counted."""
        now = self.clock()
        due = deadline_of(a)
        if due is None or now < due:
            return False
        try:
            saved = await asyncio.to_thread(self.store.saved_set, a.id)
        except STORE_ERRORS:
            saved = None
        if saved is not None and (saved.reps or saved.hold_seconds):
            result = Session.resume(a, saved).outcome(now) or \
                Session.resume(a, saved).cancel(now)
        else:
            when = datetime.fromtimestamp(due, self.caps.timezone).strftime("%Y-%m-%d %H:%M")
            result = closing_result(a, "missed", now,
                                    f"missed: it was due by {when}, while no host was running")
        log.warning("%s closed at start: %s", name_assignment(a),
                    result.detail or f"deadline passed with {result.reps} counted")
        self._known.add(a.id)
        await self._finish(result, advance=False, assignment=a)
        return True

    def _publish_state(self, a: wire.Assignment, state: wire.State, at: float,
                       detail: str | None = None) -> None:
        """Tell anyone listening where an assignment's life is (stored before). Only the
        verifying host speaks: a standby keeps its own record quietly."""
        if not self.verifying:
            return
        with contextlib.suppress(BusError):     # the bus is closing; the store has it
            self.bus.publish(wire.StateChange(
                assignment_id=a.id, state=state, at=at, exercise=a.exercise, label=a.label,
                reason=a.reason, experiment=a.experiment, run_id=a.run_id, detail=detail))

    async def _on_report(self, report: wire.Report) -> None:
        """Honour mode: the user says they did a set (``repfit done``); it ends the named
        assignment (or the open one) as reported, never verified."""
        if not self.honour:
            self._limiter.warning("report-off", "a set was reported with `repfit done`, but "
                                  "honour mode is off for %s (honour = true in the config "
                                  "file turns it on): ignored", self.user)
            return
        if not self.verifying:
            return                   # the verifying host answers
        wanted = report.assignment_id
        candidates = ([self.active.assignment] if self.active else []) + list(self.pending)
        if wanted:
            candidates = [a for a in candidates if a.id == wanted or a.id.startswith(wanted)]
        if not candidates:
            log.warning("reported set for %s: no such assignment is open",
                        wanted or "the open assignment")
            return
        a = candidates[0]
        now = self.clock()
        if self.active is not None and self.active.assignment.id == a.id:
            session = self.active
        else:
            self.pending.remove(a)
            session = await self._open(a)
        await self._finish(session.reported(report, now), assignment=a)

    def _acknowledge(self, a: wire.Assignment) -> None:
        with contextlib.suppress(BusError):     # the bus is closing
            self.bus.publish(wire.Ack(a.id, client_id=self.bus.client_id, at=self.clock()))

    def _queue(self, a: wire.Assignment) -> None:
        self._known.add(a.id)
        self.pending.append(a)
        if self.observer:
            self.observer.assignment(a)

    async def _on_samples(self, batch: wire.SampleBatch, battery: int | None = None, *,
                          local: bool = False) -> None:
        if self.on_samples is not None:
            self.on_samples(batch, battery)
        session = self.active
        if session is None or len(batch) == 0:
            return
        admitted = self.gate.admit(batch.device, len(batch), local=local)
        while self.gate.evicted:
            session.forget(self.gate.evicted.pop())
        if not admitted:
            return
        if self.recorder is not None:
            self.recorder.samples(batch)
        now = self.clock()
        progress = session.feed(batch, now)
        # Decided in the same step as the count: nothing else can settle the set in between.
        result = session.outcome(now)
        if progress is not None:
            if result is None:       # a result is stored instead of the progress
                await self._save(session)
            if self.active is session:
                self._show(progress)
        if result is not None:
            await self._finish(result)

    def _show(self, progress: wire.Progress) -> None:
        if self.recorder is not None and self.active is not None:
            self.recorder.progress(progress, [t for _, t in self.active.rep_times])
        self.bus.publish(progress)
        if self.observer:
            self.observer.progress(progress)

    async def _save(self, session: Session) -> None:
        """Persist the set before its progress is shown: a counted rep survives a crash."""
        try:
            await asyncio.to_thread(self.store.save_set, session.saved(), self.clock())
        except STORE_ERRORS as exc:
            self._limiter.warning("store-progress", "could not save the progress of %s (%s): "
                                  "counting goes on in memory", session.assignment.id, exc)

    def _on_cue(self, cue: wire.Cue) -> None:
        if not self._cue_rate.take(1.0, time.monotonic()):
            self._limiter.warning("cues", "ignoring cues: more than %g a second", MAX_CUES_HZ)
            return
        if self.observer:
            self.observer.cue(cue)
        if self.player is not None:
            if self._cues.full():
                self._cues.get_nowait()
            self._cues.put_nowait(cue)

    async def _play_cues(self) -> None:
        assert self.player is not None
        while True:
            cue = await self._cues.get()
            # Playback may block briefly (process start, file write): keep it off the loop.
            await asyncio.to_thread(self.player.play, cue)

    async def _on_status(self, status: wire.Status, client_id: str | None) -> None:
        if client_id is None:
            return
        changed = self.leadership.seen(client_id, status)
        if self.leadership.must_reannounce:
            # Our Last Will was published while we were cut off: we come back as the newest.
            try:
                self.bus.announce()
            except BusError:        # the bus is closing: our own goodbye came back
                return
            log.warning("the broker lost us for a while; announced this host again")
            self.leadership.reannounced(self.clock())
            changed = True
        if not changed:
            return
        if self.verifying:
            log.warning("this host now verifies %s's workouts", self.user)
            self._tell("verifying (no other host is online)")
            await self._advance()
        else:
            leader = self.leadership.leader
            log.warning("standing by: host %s verifies %s's workouts", leader, self.user)
            self._tell(f"standing by: host {leader} verifies")
            if self.active is not None:     # it goes back in line, the leader verifies it
                self.pending.appendleft(self.active.assignment)
                self.active = None

    def _on_peer_progress(self, p: wire.Progress) -> None:
        """While standing by, remember the leader's count: a takeover continues from it."""
        if not self.verifying and any(a.id == p.assignment_id for a in self.pending):
            self._peer_progress[p.assignment_id] = p

    async def _on_peer_result(self, r: wire.Result) -> None:
        """The leader settled an assignment: the standby drops it and records the result."""
        if self.verifying or r.assignment_id in self._settled:
            return
        waiting = [a for a in self.pending if a.id == r.assignment_id]
        if not waiting:
            return
        self.pending.remove(waiting[0])
        self._settled.add(r.assignment_id)
        self._peer_progress.pop(r.assignment_id, None)
        try:
            await asyncio.to_thread(partial(self.store.add_result, self.user, r, self.clock(),
                                            assignment=waiting[0]))
        except STORE_ERRORS as exc:
            self._limiter.warning("store-peer", "could not record %s's result (%s)",
                                  r.assignment_id, exc)
        if self.observer:
            self.observer.result(r)

    async def _tick_deadlines(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.active is not None:
                result = self.active.outcome(self.clock())
                if result is not None:
                    await self._finish(result)

    # ------------------------------------------------------------------ transitions

    async def _open(self, a: wire.Assignment) -> Session:
        """The session of an assignment: resumed from the store or another host's progress,
        or new."""
        now = self.clock()
        saved: SavedSet | None = None
        try:
            saved = await asyncio.to_thread(self.store.saved_set, a.id)
            if saved is None:
                started = await asyncio.to_thread(self.store.start_set, a.id, now)
                saved = SavedSet(a.id, started_at=started)
        except STORE_ERRORS as exc:
            self._limiter.warning("store-open", "could not read or record the set of %s (%s): "
                                  "counting it in memory", a.id, exc)
            saved = SavedSet(a.id, started_at=now)
        peer = self._peer_progress.pop(a.id, None)
        if peer is not None and peer.reps > saved.reps:
            log.warning("taking over %s at %d %s counted by the previous host", a.id,
                        peer.reps, a.unit)
            saved = SavedSet(a.id, saved.started_at, peer.reps, peer.hold_seconds,
                             peer.rejected, peer.last_reason, saved.rep_times)
        elif saved.reps or saved.hold_seconds:
            log.warning("resuming %s at %d/%g %s saved before the restart", a.id, saved.reps,
                        a.target, a.unit)
        return Session.resume(a, saved, position=self.position)

    async def _advance(self) -> None:
        """Open the next pending assignment when none is active and this host verifies."""
        while self.active is None and self.pending and self.verifying:
            a = self.pending.popleft()
            session = await self._open(a)
            if self.active is not None or not self.verifying:   # changed while reading
                self.pending.appendleft(a)
                return
            self.active = session
            self._publish_state(a, "in_progress", session.started_at)
            log.info("verifying %s: %s", a.id, plain(name_assignment(a)))
            result = session.outcome(self.clock())
            if result is not None:  # already past its deadline, or refused
                await self._finish(result)
            else:
                self._show(session.progress(self.clock()))

    async def cancel_active(self) -> None:
        """Settle the open assignment now with what was verified so far (outcome "cancelled")."""
        if self.active is not None:
            await self._finish(self.active.cancel(self.clock()))

    async def _finish(self, result: wire.Result, *, advance: bool = True,
                      assignment: wire.Assignment | None = None) -> None:
        """Store, publish and show a result, once per assignment.

        The result is stored before it is published, so a crash after the store loses
        nothing. When it cannot be stored it is still published, and kept to be stored later.
        """
        if self.active is not None and self.active.assignment.id == result.assignment_id:
            assignment = self.active.assignment
            # Settled from here on: a sample batch, a deadline tick or a cancel that comes
            # while the result is being written must not settle it a second time.
            self.active = None
        if result.assignment_id in self._settled:
            return
        self._settled.add(result.assignment_id)
        samples = self.recorder.result(result) if self.recorder is not None else None
        kept = _Kept(result, stored=False, assignment=assignment, samples=samples)
        try:
            await asyncio.to_thread(self._store_result, result, None, assignment, samples)
            kept.stored = True
        except STORE_ERRORS as exc:
            log.error("could not store the result of %s (%s): it is published anyway and "
                      "kept in memory; storing it is retried until the disk allows",
                      result.assignment_id, exc)
            kept.next_try = self.clock() + 1.0
        if assignment is not None:
            self._publish_state(assignment, final_state(result), result.finished_at,
                                result.detail)
        self._kept[result.assignment_id] = kept
        self._send(kept)
        self.results.append(result)
        if self.observer:
            self.observer.result(result)
        log.info("%s: %s (%d/%g %s)",
                 plain(name_assignment(assignment) if assignment else result.assignment_id),
                 "completed" if result.completed else "not completed", result.reps,
                 result.target, result.unit)
        if advance:
            await self._advance()

    def _store_result(self, result: wire.Result, published_at: float | None,
                      assignment: wire.Assignment | None,
                      samples: SetSamples | None = None) -> None:
        """This host's result and its posts, in one transaction (runs in a worker thread).
        A standby's record of the leader's result queues no posts: the leader posts it."""
        posts = self.posts(self.user, result, samples) if self.posts is not None else ()
        self.store.add_result(self.user, result, published_at, assignment=assignment,
                              posts=posts, now=self.clock())

    def _send(self, kept: _Kept) -> None:
        kept.delivery = self.bus.publish(kept.result)
        kept.sent_at = self.clock()

    async def _keep_results(self) -> None:
        """The store writer for results: store what could not be stored, record what the
        broker acknowledged, publish again what it did not."""
        while True:
            await self.keep_once()
            await asyncio.sleep(self.keep_s)

    async def keep_once(self) -> None:
        """One pass of the result keeper."""
        now = self.clock()
        for aid, kept in list(self._kept.items()):
            acked = _acknowledged(kept.delivery)
            if not kept.stored and now >= kept.next_try:
                try:
                    await asyncio.to_thread(self._store_result, kept.result,
                                            now if acked else None, kept.assignment,
                                            kept.samples)
                except STORE_ERRORS:
                    kept.failures += 1
                    kept.next_try = now + min(2.0 ** kept.failures, 60.0)
                    continue
                kept.stored = True
                log.warning("stored the result of %s, kept in memory until now", aid)
                if acked:
                    del self._kept[aid]
                continue
            if acked and kept.stored:
                try:
                    await asyncio.to_thread(self.store.mark_published, aid, now)
                except STORE_ERRORS:
                    continue       # published anyway; the next start publishes it again
                del self._kept[aid]
            elif kept.delivery is None or now - kept.sent_at >= self.republish_s:
                self._send(kept)


def _acknowledged(delivery: Delivery | None) -> bool:
    """True once the broker acknowledged the publication (QoS 1 PUBACK)."""
    if delivery is None:
        return False
    try:
        return delivery.is_published()
    except (ValueError, RuntimeError):   # not queued, or queued while disconnected
        return False
