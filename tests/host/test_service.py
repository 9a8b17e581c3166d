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
from repfit.host.store import QueuedPost, Store


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
