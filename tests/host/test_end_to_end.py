"""One verified workout, end to end, with real parts only.

A real `lgb.train` whose repfit callback publishes the assignment -> a real broker (the
embedded amqtt one, and a Mosquitto process) -> the host -> a simulated athlete streaming
samples over MQTT -> a result in a real SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.broker import EmbeddedBroker
from repfit.host.bus import Bus
from repfit.host.service import WorkoutHost
from repfit.host.store import Store


class Recorder:
    """A HostObserver that keeps everything and signals the first result."""

    def __init__(self) -> None:
        self.assignments: list[wire.Assignment] = []
        self.progress_seen: list[wire.Progress] = []
        self.results: list[wire.Result] = []
        self.cues: list[wire.Cue] = []
        self.finished = asyncio.Event()

    def assignment(self, a: wire.Assignment) -> None:
        self.assignments.append(a)

    def progress(self, p: wire.Progress) -> None:
        self.progress_seen.append(p)

    def result(self, r: wire.Result) -> None:
        self.results.append(r)
        self.finished.set()

    def cue(self, c: wire.Cue) -> None:
        self.cues.append(c)


def train_with_callback(settings: MqttSettings, user: str, exercise: str, reps: int,
                        data_dir: Path) -> None:
    from repfit.integrations.lightgbm import workout

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    train = lgb.Dataset(x[:240], y[:240])
    valid = lgb.Dataset(x[240:], y[240:], reference=train)
    with workout(user=user, broker=settings.url, exercise=exercise, reps=reps, seed=1,
                 data_dir=data_dir) as callback:
        lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, train,
                  num_boost_round=30, valid_sets=[valid], callbacks=[callback])


async def verified_workout(settings: MqttSettings, user: str, data_dir: Path,
                           athlete: Athlete, exercise: str = "squat",
                           reps: int = 8) -> Recorder:
    recorder = Recorder()
    with Store.in_dir(data_dir) as store:
        async with Bus(settings, user=user) as host_bus, \
                Bus(settings, user=user, role="wearable") as athlete_bus:
            host = WorkoutHost(host_bus, store, observer=recorder, tick_s=0.1)
            tasks = [asyncio.create_task(host.run()),
                     asyncio.create_task(perform_assignments(athlete_bus, athlete, limit=1))]
            await host.ready.wait()
            await asyncio.to_thread(train_with_callback, settings, user, exercise, reps,
                                    data_dir)
            done = await tasks[1]
            assert done == 1
            # The athlete has finished moving; settle whatever the host has verified.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(recorder.finished.wait(), 5)
            await host.cancel_active()
            tasks[0].cancel()
            await asyncio.gather(tasks[0], return_exceptions=True)
    return recorder


def _check_completed(recorder: Recorder, data_dir: Path, user: str, reps: int) -> None:
    (a,) = recorder.assignments
    assert (a.exercise, a.target, a.unit) == ("squat", reps, "reps")
    (r,) = recorder.results
    assert r.completed and r.outcome == "target_reached" and r.reps == reps
    counts = [p.reps for p in recorder.progress_seen]
    assert counts == sorted(counts) and counts[-1] == reps
    with Store.in_dir(data_dir) as store:
        # With the user's own name for the exercise, which `results()` does not keep.
        assert [rec[3] for rec in store.records(user)] == [r]


def test_lightgbm_to_stored_result_on_embedded_broker(tmp_path: Path, user: str) -> None:
    async def scenario() -> Recorder:
        async with EmbeddedBroker() as broker:
            return await verified_workout(MqttSettings(port=broker.port), user, tmp_path,
                                          Athlete(speed=20.0, seed=3))

    _check_completed(asyncio.run(scenario()), tmp_path, user, 8)


def test_lightgbm_to_stored_result_on_mosquitto(mosquitto: MqttSettings, tmp_path: Path,
                                                user: str) -> None:
    recorder = asyncio.run(verified_workout(mosquitto, user, tmp_path,
                                            Athlete(speed=20.0, seed=4)))
    _check_completed(recorder, tmp_path, user, 8)


@pytest.mark.slow
def test_a_half_done_set_is_not_accepted(mosquitto: MqttSettings, tmp_path: Path,
                                         user: str) -> None:
    recorder = asyncio.run(verified_workout(mosquitto, user, tmp_path,
                                            Athlete(speed=20.0, seed=5, effort=0.5)))
    (r,) = recorder.results
    assert not r.completed and r.outcome == "cancelled"
    assert 2 <= r.reps <= 5


@pytest.mark.parametrize("restart", [False, True])
def test_deadline_and_restart_lose_nothing(mosquitto: MqttSettings, tmp_path: Path, user: str,
                                           restart: bool) -> None:
    """An assignment nobody does ends at its deadline; a host restart in between resumes it."""
    import time

    a = wire.Assignment(id=f"dl-{user}", exercise="situp", target=5, issued_at=time.time(),
                        deadline_s=1.5)

    async def run_host(publish: bool, until_result: bool) -> Recorder:
        recorder = Recorder()
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, observer=recorder, tick_s=0.05)
                task = asyncio.create_task(host.run())
                if publish:
                    await host.ready.wait()
                    bus.publish(a)
                if until_result:
                    await asyncio.wait_for(recorder.finished.wait(), 30)
                else:
                    while not recorder.assignments:
                        await asyncio.sleep(0.02)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return recorder

    if restart:
        asyncio.run(run_host(publish=True, until_result=False))
        recorder = asyncio.run(run_host(publish=False, until_result=True))
    else:
        recorder = asyncio.run(run_host(publish=True, until_result=True))
    (r,) = recorder.results
    assert (r.assignment_id, r.completed, r.outcome, r.reps) == (a.id, False, "deadline", 0)
    with Store.in_dir(tmp_path) as store:
        assert [rec[3] for rec in store.records(user)] == [r]
        assert store.open_assignments(user) == []


class _BrokenWearable:
    """A local source whose device fails mid-stream (e.g. the radio link drops for good)."""

    name = "broken"

    async def __aenter__(self) -> _BrokenWearable:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def samples(self):  # type: ignore[no-untyped-def]
        from repfit.host.sources import SourceError

        yield wire.SampleBatch("broken", [0.0], [[0.0, 0.0, 1.0]])
        raise SourceError("device went away")


class _AfterAssignment:
    """Starts moving once the host has shown the assignment (a person reacts to it)."""

    def __init__(self, inner: object, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.name = "late"

    async def __aenter__(self) -> _AfterAssignment:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def samples(self):  # type: ignore[no-untyped-def]
        while not self.recorder.assignments:
            await asyncio.sleep(0.01)
        async for batch in self.inner.samples():  # type: ignore[attr-defined]
            yield batch


def test_local_wearables_feed_the_host_and_a_failing_one_does_not_stop_it(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    """A BLE-style local source counts like the MQTT stream; a broken one is only logged."""
    import time

    from repfit.detection.simulate import simulate_set
    from repfit.host.sources._sim import SimulatedWearable

    rec = simulate_set("pushup", reps=5, seed=8, rest_before_s=1, rest_after_s=3)

    async def scenario() -> Recorder:
        recorder = Recorder()
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, observer=recorder, tick_s=0.05)
                bus.publish(wire.Assignment(id=f"local-{user}", exercise="pushup", target=5,
                                            issued_at=time.time()))
                task = asyncio.create_task(host.run(
                    sources=[_BrokenWearable(), _AfterAssignment(
                        SimulatedWearable(rec, speed=30.0), recorder)]))
                await asyncio.wait_for(recorder.finished.wait(), 60)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return recorder

    recorder = asyncio.run(scenario())
    (r,) = recorder.results
    assert r.completed and r.reps == 5


@pytest.mark.slow
def test_a_willing_athlete_keeps_going_until_told_the_set_is_done(mosquitto: MqttSettings,
                                                                   tmp_path: Path,
                                                                   user: str) -> None:
    import time

    from repfit.host.athlete import KEEP_GOING, recording_for

    athlete = Athlete(speed=5.0, seed=6)       # the extra reps take over a second
    a = wire.Assignment(id=f"kg-{user}", exercise="squat", target=6, issued_at=time.time())
    full = recording_for(a, athlete, seed=athlete.seed, extra=KEEP_GOING)
    assert full.reps == 6 + KEEP_GOING        # ready to make up missed reps...

    async def scenario() -> tuple[Recorder, float]:
        recorder = Recorder()
        last_t = 0.0
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="wearable") as athlete_bus, \
                    Bus(mosquitto, user=user, role="trainer") as watcher:
                await watcher.subscribe("samples")
                host = WorkoutHost(host_bus, store, observer=recorder, tick_s=0.1)
                tasks = [asyncio.create_task(host.run()),
                         asyncio.create_task(perform_assignments(athlete_bus, athlete,
                                                                 limit=1))]
                await host.ready.wait()
                await asyncio.sleep(0.2)       # the athlete is subscribed
                # Junk on the result topic is not the host's word: the athlete goes on.
                watcher.publish_raw(wire.topic_for(user, "result"), b"{not json")
                host_bus.publish(a)
                assert await asyncio.wait_for(tasks[1], 60) == 1
                while True:                    # every batch the athlete sent, in order
                    try:
                        got = await asyncio.wait_for(anext(watcher.messages()), 1.0)
                    except asyncio.TimeoutError:
                        break
                    if isinstance(got.message, wire.SampleBatch):
                        last_t = max(last_t, float(got.message.t[-1]))
                tasks[0].cancel()
                await asyncio.gather(tasks[0], return_exceptions=True)
        return recorder, last_t

    recorder, last_t = asyncio.run(scenario())
    (r,) = recorder.results
    assert r.completed and r.reps >= 6
    # ... but stopped once the host's result said the set was done.
    assert last_t < float(full.done_times[-1])
