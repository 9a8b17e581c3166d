"""WorkoutHost: one result per assignment, whatever arrives while the result is written."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, recording_for
from repfit.host.bus import Bus
from repfit.host.service import WorkoutHost
from repfit.host.store import QueuedPost, SavedSet, Store


class SlowStore(Store):
    """The real SQLite store, whose result write takes a while (a busy disk) and says when
    it has started."""

    writing = threading.Event()

    def add_result(self, user: str, r: wire.Result, published_at: float | None = None, *,
                   assignment: wire.Assignment | None = None, posts: Sequence[QueuedPost] = (),
                   now: float | None = None) -> None:
        self.writing.set()
        time.sleep(0.5)
        super().add_result(user, r, published_at, assignment=assignment, posts=posts, now=now)


def test_a_result_is_settled_once_while_it_is_being_written(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    a = wire.Assignment(id="a1", exercise="squat", target=3, issued_at=time.time())
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)     # 6 squats
    batch = wire.SampleBatch(device="sim", t=rec.t, acc=rec.acc)

    async def scenario() -> list[wire.Result]:
        store = SlowStore(tmp_path / "repfit.sqlite3")
        try:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, tick_s=0.01)
                ticks = asyncio.create_task(host._tick_deadlines())
                await host.handle(a)
                # The whole set in one batch: the target is reached and the result written.
                first = asyncio.create_task(host.handle(batch))
                assert await asyncio.to_thread(store.writing.wait, 10)
                # Meanwhile: more samples, deadline ticks (running) and a cancel.
                await host.handle(wire.SampleBatch(device="sim", t=rec.t + rec.t[-1] + 1,
                                                   acc=rec.acc, seq=1))
                await host.cancel_active()
                await first
                ticks.cancel()
                return host.results
        finally:
            store.close()

    results = asyncio.run(scenario())
    assert [(r.assignment_id, r.outcome) for r in results] == [("a1", "target_reached")]
    with Store(tmp_path / "repfit.sqlite3") as store:
        assert [r.assignment_id for r in store.results(user)] == ["a1"]


class FailingOnceStore(Store):
    """The real SQLite store, whose first result write fails (a locked or full disk)."""

    failed = False

    def add_result(self, user: str, r: wire.Result, published_at: float | None = None, *,
                   assignment: wire.Assignment | None = None, posts: Sequence[QueuedPost] = (),
                   now: float | None = None) -> None:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database is locked")
        super().add_result(user, r, published_at, assignment=assignment, posts=posts, now=now)


def test_a_result_that_could_not_be_written_is_kept_and_written_later(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    a = wire.Assignment(id="a2", exercise="squat", target=3, issued_at=time.time())
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)

    async def scenario() -> list[wire.Result]:
        with FailingOnceStore(tmp_path / "repfit.sqlite3") as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store)
                await host.handle(a)
                await host.handle(wire.SampleBatch(device="sim", t=rec.t, acc=rec.acc))
                assert host.active is None and not store.has_result("a2")
                for _ in range(100):      # the first retry is a second later
                    await host.keep_once()
                    if store.has_result("a2"):
                        break
                    await asyncio.sleep(0.05)
                return host.results

    results = asyncio.run(scenario())
    assert [(r.assignment_id, r.outcome) for r in results] == [("a2", "target_reached")]
    with Store(tmp_path / "repfit.sqlite3") as store:
        assert [r.assignment_id for r in store.results(user)] == ["a2"]


def test_a_result_stored_late_is_stored_with_its_posts(mosquitto: MqttSettings,
                                                       tmp_path: Path, user: str) -> None:
    """The keeper's late store queues the result's posts in the same transaction."""
    a = wire.Assignment(id="late1", exercise="squat", target=3, issued_at=time.time())
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)

    def posts(u: str, r: wire.Result, samples: object) -> list[QueuedPost]:
        return [QueuedPost(f"x:{u}:set:{r.assignment_id}", "x", u, "set", "a post", 0.0,
                           r.assignment_id)]

    async def scenario() -> None:
        with FailingOnceStore(tmp_path / "repfit.sqlite3") as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, posts=posts)
                await host.handle(a)
                await host.handle(wire.SampleBatch(device="sim", t=rec.t, acc=rec.acc))
                assert store.outbox() == [] and not store.has_result("late1")
                for _ in range(100):      # the first retry is a second later
                    await host.keep_once()
                    if store.has_result("late1"):
                        break
                    await asyncio.sleep(0.05)

    asyncio.run(scenario())
    with Store(tmp_path / "repfit.sqlite3") as store:
        assert store.has_result("late1")
        (item,) = store.outbox()
    assert (item.key, item.kind, item.text) == (f"x:{user}:set:late1", "set", "a post")


def test_open_assignments_it_abandons_are_closed_with_their_reps_the_others_resumed(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    now = time.time()
    left = wire.Assignment(id="left", exercise="squat", target=10, issued_at=now,
                           experiment="repfit-demo")
    real = wire.Assignment(id="real", exercise="pushup", target=5, issued_at=now)
    with Store(tmp_path / "repfit.sqlite3") as store:
        for a in (left, real):
            assert store.add_assignment(user, a, now)
        store.start_set("left", now)
        store.save_set(SavedSet("left", started_at=now, reps=4), now)

    async def scenario() -> tuple[list[wire.Result], str, wire.Message]:
        with Store(tmp_path / "repfit.sqlite3") as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="wearable") as watcher:
                await watcher.subscribe("result")
                host = WorkoutHost(host_bus, store,
                                   abandon=lambda a: a.experiment == "repfit-demo")
                serving = asyncio.create_task(host.run())
                await asyncio.wait_for(host.ready.wait(), 10)
                published = await asyncio.wait_for(anext(watcher.messages()), 10)

                async def opened() -> str:
                    while host.active is None:
                        await asyncio.sleep(0.01)
                    return host.active.assignment.id

                active = await asyncio.wait_for(opened(), 10)
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
                return host.results, active, published.message

    results, active, published = asyncio.run(scenario())
    (closed,) = results
    assert (closed.assignment_id, closed.outcome, closed.reps, closed.completed) == (
        "left", "cancelled", 4, False)
    assert published == closed                 # told to the broker like any result
    assert active == "real"                    # the other open one is resumed, not closed
    with Store(tmp_path / "repfit.sqlite3") as store:
        assert store.results(user) == [closed]
        assert [a.id for a in store.open_assignments(user)] == ["real"]
