"""Supervision: a task that fails unexpectedly is logged once and restarted with backoff."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, recording_for
from repfit.host.bus import Bus
from repfit.host.service import WorkoutHost
from repfit.host.store import Store
from repfit.host.supervision import TaskHealth, supervise


def test_a_failing_task_is_restarted_and_reported_once(
        caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 4:
            raise KeyError("boom")

    told: list[int] = []
    health = TaskHealth("flaky")
    asyncio.run(supervise(health, flaky, on_failure=lambda h: told.append(h.restarts),
                          backoff_s=0.001))
    assert len(runs) == 4 and health.restarts == 3 and told == [1, 2, 3]
    assert health.last_error == "KeyError: 'boom'"
    lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert lines == ["flaky failed (KeyError: 'boom'); restarting it in 0.0 s"]
    assert "restarted 3 times" in health.describe()


def test_cancelling_the_supervisor_stops_the_task() -> None:
    async def scenario() -> bool:
        started = asyncio.Event()

        async def forever() -> None:
            started.set()
            await asyncio.sleep(3600)

        task = asyncio.create_task(supervise(TaskHealth("forever"), forever))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(scenario())


class ClumsyObserver:
    """A display that fails once (a plugin with a bug), then works."""

    def __init__(self) -> None:
        self.failed = False
        self.results: list[wire.Result] = []
        self.health_lines: list[str] = []
        self.done = asyncio.Event()

    def assignment(self, a: wire.Assignment) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("display went away")

    def progress(self, p: wire.Progress) -> None: ...

    def cue(self, c: wire.Cue) -> None: ...

    def result(self, r: wire.Result) -> None:
        self.results.append(r)
        self.done.set()

    def health(self, text: str) -> None:
        self.health_lines.append(text)


def test_the_message_loop_survives_an_unexpected_failure(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    a = wire.Assignment(id=f"sup-{user}", exercise="squat", target=3, issued_at=time.time())
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)

    async def scenario() -> tuple[ClumsyObserver, WorkoutHost]:
        observer = ClumsyObserver()
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="trainer") as trainer:
                host = WorkoutHost(host_bus, store, observer=observer)
                task = asyncio.create_task(host.run())
                await host.ready.wait()
                trainer.publish(a)
                for i in range(0, len(rec.t), 25):
                    trainer.publish(wire.SampleBatch("sim", rec.t[i:i + 25],
                                                     rec.acc[i:i + 25], seq=i))
                    await asyncio.sleep(0.01)
                await asyncio.wait_for(observer.done.wait(), 60)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return observer, host

    observer, host = asyncio.run(scenario())
    assert [r.assignment_id for r in observer.results] == [a.id]
    assert host.health["message loop"].restarts == 1
    assert observer.health_lines == ["message loop failed (RuntimeError: display went away); "
                                     "restarted"]
    assert "message loop: restarted 1 time (last failure: RuntimeError: display went away)" \
        in host.status_lines()
