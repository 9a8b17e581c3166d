"""The host survives and loses nothing: kill -9 mid-set, a full disk, a broker that is away.

Real parts only: `repfit host` processes killed with SIGKILL, Mosquitto processes stopped and
started again, SQLite files on a real (tiny) file system that fills up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.detection import RepCounter
from repfit.detection.simulate import simulate_set
from repfit.host.broker import free_port
from repfit.host.bus import Bus
from repfit.host.service import WorkoutHost
from repfit.host.store import Store

BATCH = 25          # samples per message: 0.5 s at 50 Hz


def start_host(settings: MqttSettings, user: str, data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "100", "XDG_CONFIG_HOME": str(data_dir / "cfg")}
    return subprocess.Popen(
        [sys.executable, "-m", "repfit", "-v", "host", "--broker", settings.url, "--user",
         user, "--data-dir", str(data_dir), "--no-sound"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


async def wait_for(bus: Bus, want: Callable[[wire.Message], bool],
                   timeout_s: float = 60.0) -> wire.Message:
    async def first() -> wire.Message:
        async for incoming in bus.messages():
            if want(incoming.message):
                return incoming.message
        raise AssertionError("unreachable")

    return await asyncio.wait_for(first(), timeout_s)


def host_online(known: set[str], since: float = 0.0) -> Callable[[wire.Message], bool]:
    """A host status saying online, announced after ``since``, from a host not seen before
    (``known`` collects them; pass a new set to see a restarted host with the same id)."""
    def want(m: wire.Message) -> bool:
        if isinstance(m, wire.Status) and m.role == "host" and m.online \
                and m.at >= since and m.client_id not in known:
            known.add(m.client_id)
            return True
        return False
    return want


def batches(t: np.ndarray, acc: np.ndarray, start_seq: int = 0) -> list[wire.SampleBatch]:
    return [wire.SampleBatch("wrist", t[i:i + BATCH], acc[i:i + BATCH], seq=start_seq + i)
            for i in range(0, len(t), BATCH)]


def count(parts: list[wire.SampleBatch]) -> int:
    counter = RepCounter("squat")
    for b in parts:
        counter.feed(b.t, b.acc)
    return counter.count


async def stream(bus: Bus, parts: list[wire.SampleBatch], rate: float = 4.0) -> None:
    """Publish batches at ``rate`` times real time."""
    for b in parts:
        bus.publish(b)
        await asyncio.sleep(len(b) / 50.0 / rate)


@pytest.mark.slow
def test_a_counted_rep_survives_kill_9(mosquitto: MqttSettings, user: str,
                                       tmp_path: Path) -> None:
    rec = simulate_set("squat", reps=16, seed=7, cadence_s=2.0, rest_before_s=2.0,
                       rest_after_s=2.0)
    parts = batches(rec.t, rec.acc)
    # Split where a fresh counter has confirmed at least 6 reps; the host counts the same.
    split = next(i for i in range(len(parts)) if count(parts[:i]) >= 6)
    before = count(parts[:split])
    after = count(parts[split:])          # what a restarted counter finds in the rest
    target = before + after
    assert after < target                 # without what was saved, the set is not done
    a = wire.Assignment(id=f"k9-{user}", exercise="squat", target=target,
                        issued_at=time.time(), deadline_s=600)

    async def scenario() -> tuple[wire.Result, subprocess.Popen[str]]:
        hosts: set[str] = set()
        async with Bus(mosquitto, user=user, role="wearable") as bus:
            await bus.subscribe("status", "progress", "result")
            first = start_host(mosquitto, user, tmp_path)
            try:
                await wait_for(bus, host_online(hosts))
                bus.publish(a)
                await stream(bus, parts[:split])
                await wait_for(bus, lambda m: isinstance(m, wire.Progress)
                               and m.reps >= before)
            finally:
                first.send_signal(signal.SIGKILL)
                first.communicate(timeout=30)
            killed_at = time.time()
            second = start_host(mosquitto, user, tmp_path)
            await wait_for(bus, host_online(set(), since=killed_at))
            await stream(bus, parts[split:])
            result = await wait_for(bus, lambda m: isinstance(m, wire.Result)
                                    and m.assignment_id == a.id)
            assert isinstance(result, wire.Result)
            return result, second

    result, second = asyncio.run(scenario())
    out, err = stop(second)
    assert result.completed and result.reps == target, (out, err)
    assert f"resuming {a.id} at {before}/{target:g} reps saved before the restart" in err
    with Store.in_dir(tmp_path) as store:
        assert store.results(user) == [result]


# ---------------------------------------------------------------- a disk that fills up


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system (tmpfs); tests fill it with a file of their own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system up, with a file that can be removed to make room again."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


def test_a_result_that_cannot_be_stored_is_published_kept_and_stored_later(
        mosquitto: MqttSettings, user: str, tiny_disk: Path) -> None:
    rec = simulate_set("squat", reps=5, seed=3, rest_before_s=2.0, rest_after_s=2.0)
    a = wire.Assignment(id=f"full-{user}", exercise="squat", target=5, issued_at=time.time())
    db = tiny_disk / "repfit.sqlite3"

    async def scenario() -> tuple[wire.Message, WorkoutHost]:
        with Store(db) as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="wearable") as watcher:
                await watcher.subscribe("result")
                host = WorkoutHost(host_bus, store, keep_s=0.05)
                await host.handle(a)
                filler = fill(tiny_disk)
                for b in batches(rec.t, rec.acc):
                    await host.handle(b)
                # The disk is full: the result was not stored, but it was published.
                assert host.active is None and [r.assignment_id for r in host.results] == [a.id]
                published = await wait_for(watcher, lambda m: isinstance(m, wire.Result))
                assert not store.has_result(a.id)
                await host.keep_once()
                assert not store.has_result(a.id)          # still full: still kept
                filler.unlink()
                for _ in range(200):              # the next retry is at most 2 s away
                    await host.keep_once()
                    if not host.status_lines()[1:]:
                        break
                    await asyncio.sleep(0.05)
                return published, host

    published, host = asyncio.run(scenario())
    assert isinstance(published, wire.Result) and published.completed
    with Store(db) as store:
        assert store.results(user) == [published]
        assert store.unpublished_results(user) == []
    assert host.status_lines() == [f"{user}: verifying"]


def test_the_full_disk_is_reported_in_one_line(mosquitto: MqttSettings, user: str,
                                                tiny_disk: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    a = wire.Assignment(id=f"line-{user}", exercise="squat", target=5, issued_at=time.time(),
                        deadline_s=0.0)                          # settles at once

    async def scenario() -> None:
        with Store(tiny_disk / "repfit.sqlite3") as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store)
                fill(tiny_disk)
                await host.handle(a)

    caplog.set_level("INFO", logger="repfit")
    asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(lines) == 1, lines
    assert f"could not store the result of {a.id}" in lines[0]
    assert "published anyway and kept in memory" in lines[0] and "full" in lines[0]


# ------------------------------------------------------ a broker that is away at the end


@pytest.mark.slow
def test_a_result_stored_while_the_broker_was_down_is_published_at_the_next_start(
        private_broker: Callable[..., subprocess.Popen[bytes]], user: str,
        tmp_path: Path) -> None:
    port = free_port()
    settings = MqttSettings(host="127.0.0.1", port=port)
    broker = private_broker(port, "allow_anonymous true")
    a = wire.Assignment(id=f"away-{user}", exercise="squat", target=5, issued_at=time.time(),
                        deadline_s=4.0)

    async def announce_and_watch() -> None:
        hosts: set[str] = set()
        async with Bus(settings, user=user, role="trainer") as bus:
            await bus.subscribe("status", "progress")
            await wait_for(bus, host_online(hosts))
            bus.publish(a)
            await wait_for(bus, lambda m: isinstance(m, wire.Progress))   # set opened

    host = start_host(settings, user, tmp_path)
    try:
        asyncio.run(announce_and_watch())
        broker.terminate()
        broker.wait(10)
        db = tmp_path / "repfit.sqlite3"
        for _ in range(300):      # the deadline passes while the broker is away
            with contextlib.closing(sqlite3.connect(db)) as con:
                if con.execute("SELECT count(*) FROM results").fetchone()[0]:
                    break
            time.sleep(0.1)
    finally:
        host.send_signal(signal.SIGKILL)
        _, err = host.communicate(timeout=30)
    with Store(db) as store:
        (stored,) = store.unpublished_results(user)
    assert stored.assignment_id == a.id and stored.outcome == "deadline", err

    private_broker(port, "allow_anonymous true")

    async def watch_result() -> wire.Message:
        async with Bus(settings, user=user, role="trainer") as bus:
            await bus.subscribe("result")
            again = start_host(settings, user, tmp_path)
            try:
                result = await wait_for(bus, lambda m: isinstance(m, wire.Result))
                for _ in range(100):          # the host records the broker's acknowledgement
                    with Store(db) as store:
                        if not store.unpublished_results(user):
                            break
                    await asyncio.sleep(0.1)
                return result
            finally:
                _, err = stop(again)
                assert "publishing 1 result(s) stored while the broker could not be " \
                       "reached" in err, err

    assert asyncio.run(watch_result()) == stored
    with Store(db) as store:
        assert store.unpublished_results(user) == []


# ------------------------------------------------------------ two hosts for one user


@pytest.mark.slow
def test_two_hosts_one_verifies_the_other_takes_over_at_its_last_will(
        mosquitto: MqttSettings, user: str, tmp_path: Path) -> None:
    rec = simulate_set("squat", reps=16, seed=9, cadence_s=2.0, rest_before_s=2.0,
                       rest_after_s=2.0)
    parts = batches(rec.t, rec.acc)
    split = next(i for i in range(len(parts)) if count(parts[:i]) >= 5)
    before, after = count(parts[:split]), count(parts[split:])
    short = simulate_set("squat", reps=4, seed=2, rest_before_s=2.0, rest_after_s=2.0)
    first_set = batches(short.t + rec.t[-1] + 10.0, short.acc)
    now = time.time()
    a1 = wire.Assignment(id=f"one-{user}", exercise="squat", target=count(first_set),
                         issued_at=now)
    a2 = wire.Assignment(id=f"two-{user}", exercise="squat", target=before + after,
                         issued_at=now)
    leader_dir, standby_dir = tmp_path / "leader", tmp_path / "standby"

    async def scenario() -> tuple[list[wire.Result], subprocess.Popen[str], str]:
        hosts: set[str] = set()
        results: list[wire.Result] = []
        async with Bus(mosquitto, user=user, role="trainer") as bus:
            await bus.subscribe("status", "progress", "result")
            leader = start_host(mosquitto, user, leader_dir)
            await wait_for(bus, host_online(hosts))
            standby = start_host(mosquitto, user, standby_dir)
            await wait_for(bus, host_online(hosts))
            try:
                bus.publish(a1)
                await stream(bus, first_set)
                r1 = await wait_for(bus, lambda m: isinstance(m, wire.Result))
                assert isinstance(r1, wire.Result)
                results.append(r1)
                bus.publish(a2)
                await stream(bus, parts[:split])
                await wait_for(bus, lambda m: isinstance(m, wire.Progress)
                               and m.assignment_id == a2.id and m.reps >= before)
            finally:
                leader.send_signal(signal.SIGKILL)
                _, leader_err = leader.communicate(timeout=30)
            killed_at = time.time()
            # The standby takes over at the leader's Last Will; then the set goes on.
            await wait_for(bus, lambda m: isinstance(m, wire.Progress)
                           and m.assignment_id == a2.id and m.at >= killed_at)
            await stream(bus, parts[split:])
            r2 = await wait_for(bus, lambda m: isinstance(m, wire.Result)
                                and m.assignment_id == a2.id)
            assert isinstance(r2, wire.Result)
            results.append(r2)
            return results, standby, leader_err

    (r1, r2), standby, leader_err = asyncio.run(scenario())
    _, standby_err = stop(standby)
    assert r1.completed and r2.completed and r2.reps == before + after, standby_err
    assert f"verifying {a1.id}" in leader_err and f"verifying {a2.id}" in leader_err
    assert f"verifying {a1.id}" not in standby_err
    assert "standing by: host repfit-host-" in standby_err
    assert "this host now verifies" in standby_err
    assert f"taking over {a2.id} at {before} reps counted by the previous host" in standby_err
    with Store.in_dir(standby_dir) as store:       # the standby recorded both results
        assert [r.assignment_id for r in store.results(user)] == [a1.id, a2.id]
