"""Bounds no stranger can abuse: devices, sample rate, log lines, never-ending assignments."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.bus import Bus
from repfit.host.intake import SampleGate
from repfit.host.log_limit import LogBudget, RateLimitedLog
from repfit.host.service import WorkoutHost
from repfit.host.session import MAX_DEADLINE_S, Session
from repfit.host.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_at_most_n_devices_at_once_and_new_ones_get_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    gate = SampleGate(max_devices=2, clock=clock)
    assert gate.admit("wrist", 10) and gate.admit("thigh", 10)
    assert [gate.admit(f"fake{i}", 10) for i in range(1000)] == [False] * 1000
    assert gate.admit("wrist", 10)                       # the admitted keep streaming
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "ignoring samples from new devices" in lines[0]
    assert gate.refused_devices == 1000 and gate.devices == ["wrist", "thigh"]
    clock.now = 31.0                                     # thigh fell silent: its place frees
    assert gate.admit("wrist", 10) and gate.admit("phone", 10)
    assert gate.devices == ["wrist", "phone"]


def test_stray_devices_cannot_lock_a_streaming_one_out() -> None:
    clock = Clock()
    gate = SampleGate(max_devices=3, clock=clock)
    for i in range(100):                         # invented names, one sample each:
        assert not gate.admit(f"fake{i}", 1)     # they take places but cost no counting
    assert gate.admit("wrist", 25)               # a real batch takes a stray one's place
    for i in range(100, 10_000):
        gate.admit(f"fake{i}", 1)
        if i % 500 == 0:
            clock.now += 0.25
            assert gate.admit("wrist", 25)       # and keeps it while it streams
    assert "wrist" in gate.devices and len(gate.devices) == 3
    assert len(gate.evicted) <= 12


def test_samples_per_second_per_device_are_capped() -> None:
    clock = Clock()
    gate = SampleGate(max_rate_hz=100.0, burst_s=2.0, clock=clock)
    assert gate.admit("w", 200)                          # a 2 s burst is fine
    assert not gate.admit("w", 50)                       # then nothing is left
    clock.now = 1.0
    assert gate.admit("w", 100) and not gate.admit("w", 1)
    for _ in range(100):                                 # 90 Hz for 10 s: all of it passes
        clock.now += 0.1
        assert gate.admit("w", 9)
    assert gate.refused_samples == 51


def test_the_global_log_budget_bounds_many_keys(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    budget = LogBudget(lines=5, window_s=60.0, clock=clock)
    limited = RateLimitedLog(logging.getLogger("repfit.test"), clock=clock, budget=budget)
    sent = [limited.warning(f"device-{i}", "new device %d", i) for i in range(500)]
    assert sum(sent) == 5 and len(caplog.records) == 5
    clock.now = 61.0
    assert limited.warning("device-x", "one more")
    assert caplog.records[5].getMessage().startswith("495 log line(s) held back")
    assert caplog.records[6].getMessage() == "one more"


def test_an_unreachable_deadline_is_capped() -> None:
    a = wire.Assignment(id="a", exercise="squat", target=1e12, issued_at=1e300, deadline_s=1e300)
    s = Session(a, started_at=1000.0)
    assert s.deadline == 1000.0 + MAX_DEADLINE_S
    r = s.outcome(1000.0 + MAX_DEADLINE_S)
    assert r is not None and r.outcome == "deadline" and not r.completed


def test_a_newer_assignment_from_the_same_run_supersedes_the_open_one(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    now = time.time()
    stuck = wire.Assignment(id="stuck", exercise="squat", target=1e6, issued_at=now,
                            run_id="run1")
    penalty = wire.Assignment(id="pen", exercise="squat", target=5, issued_at=now,
                              reason="penalty", run_id="run1")
    newer = wire.Assignment(id="newer", exercise="squat", target=5, issued_at=now,
                            run_id="run1")
    other_run = wire.Assignment(id="other", exercise="squat", target=5, issued_at=now,
                                run_id="run2")

    async def scenario() -> tuple[list[wire.Result], str | None, list[str]]:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store)
                for a in (stuck, penalty, other_run, newer):
                    await host.handle(a)
                active = host.active.assignment.id if host.active else None
                return host.results, active, [a.id for a in host.pending]

    results, active, pending = asyncio.run(scenario())
    assert [(r.assignment_id, r.outcome) for r in results] == [("stuck", "superseded")]
    assert active == "pen" and pending == ["other", "newer"]
    with Store.in_dir(tmp_path) as store:
        assert [r.assignment_id for r in store.results(user)] == ["stuck"]
        assert [s for s, _, _ in store.transitions("stuck")] == \
            ["received", "announced", "in_progress", "superseded"]


def test_waiting_assignments_and_cues_are_bounded(mosquitto: MqttSettings, tmp_path: Path,
                                                  user: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from repfit.host.intake import MAX_CUES_HZ, MAX_PENDING

    class Seen:
        def __init__(self) -> None:
            self.cues: list[wire.Cue] = []

        def assignment(self, a: wire.Assignment) -> None: ...
        def progress(self, p: wire.Progress) -> None: ...
        def result(self, r: wire.Result) -> None: ...

        def cue(self, c: wire.Cue) -> None:
            self.cues.append(c)

    async def scenario() -> tuple[WorkoutHost, Seen]:
        seen = Seen()
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, observer=seen)
                for i in range(MAX_PENDING + 50):
                    await host.handle(wire.Assignment(id=f"a{i}", exercise="squat", target=5,
                                                      issued_at=time.time()))
                for _ in range(1000):
                    await host.handle(wire.Cue(kind="announce", text="hello"))
                return host, seen

    host, seen = asyncio.run(scenario())
    assert len(host.pending) == MAX_PENDING and host.active is not None
    assert len(seen.cues) <= 2 * MAX_CUES_HZ + 1
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len([m for m in lines if "ignoring assignment" in m]) == 1
    assert len([m for m in lines if "ignoring cues" in m]) == 1
