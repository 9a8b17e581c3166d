"""The loop closes in the training log: a line when assigned, a line with the host's verdict.

Real parts: `lgb.train` with the repfit callback, Mosquitto, the host (`WorkoutHost`) with a
real SQLite store, and a simulated athlete streaming samples over MQTT.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.bus import Bus
from repfit.host.caps import CapRules, Limits
from repfit.host.service import WorkoutHost
from repfit.host.store import Store
from repfit.integrations.report import assigned_line, result_line

PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 4,
          "min_data_in_leaf": 5}


def _train(settings: MqttSettings, user: str, data_dir: Path, **options: object) -> None:
    """The README's plain form: the callback in the list, no ``with``."""
    from repfit.integrations.lightgbm import workout

    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5))
    y = (x[:, 0] > 0).astype(int)
    cb = workout(user=user, broker=settings.url, exercise="squats", reps=8, seed=1,
                 data_dir=data_dir, history=False, **options)
    lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=30, callbacks=[cb])
    cb.close()


async def _with_host(settings: MqttSettings, user: str, data_dir: Path, athlete: Athlete,
                     **options: object) -> tuple[str, list[wire.Result]]:
    with Store.in_dir(data_dir) as store:
        async with Bus(settings, user=user) as host_bus, \
                Bus(settings, user=user, role="wearable") as athlete_bus:
            host = WorkoutHost(host_bus, store, tick_s=0.1)
            tasks = [asyncio.create_task(host.run()),
                     asyncio.create_task(perform_assignments(athlete_bus, athlete, limit=1))]
            await host.ready.wait()
            # The host's retained "online" status is on the broker before training starts.
            await asyncio.to_thread(_train, settings, user, data_dir, **options)
            await tasks[1]
            tasks[0].cancel()
            await asyncio.gather(tasks[0], return_exceptions=True)
        return host_bus.client_id, store.results(user)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "repfit.workout"]


def test_training_log_says_where_the_assignment_went_and_what_the_host_verified(
        mosquitto: MqttSettings, user: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="repfit.workout")
    host_id, results = asyncio.run(_with_host(mosquitto, user, tmp_path,
                                              Athlete(speed=20.0, seed=3), result_wait_s=60))
    [result] = results
    assert result.completed
    lines = _lines(caplog)
    assert lines[0] == f"assigned 8 squats to {user} (host {host_id} online)"
    assert result_line(result) in lines
    assert result_line(result) == f"verified: {result.reps}/8 squats"


@pytest.mark.slow
def test_a_set_left_half_done_is_reported_not_verified_at_its_deadline(
        mosquitto: MqttSettings, user: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="repfit.workout")
    _, results = asyncio.run(_with_host(mosquitto, user, tmp_path,
                                        Athlete(speed=20.0, seed=5, effort=0.5),
                                        result_wait_s=60, deadline_s=6))
    [result] = results
    assert not result.completed and result.outcome == "deadline"
    assert f"not verified: {result.reps}/8 squats (deadline)" in _lines(caplog)


def test_with_no_host_online_the_assignment_is_kept_for_later(
        mosquitto: MqttSettings, user: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="repfit.workout")
    _train(mosquitto, user, tmp_path, result_wait_s=60)
    assert _lines(caplog) == [f"assigned 8 squats to {user} (no host online: kept for later)"]


def test_an_unreachable_broker_is_named_at_the_end_of_the_run(
        user: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from repfit.host.broker import free_port

    caplog.set_level(logging.INFO, logger="repfit.workout")
    down = MqttSettings(port=free_port())
    # A wait that did not give up on an unreachable broker would hang here for 10 minutes.
    _train(down, user, tmp_path, result_wait_s=600)
    assert _lines(caplog) == [f"assigned 8 squats to {user} (broker {down.url} not reachable: "
                              "kept for later)"]


def test_lines_use_the_users_own_name_for_the_exercise() -> None:
    a = wire.Assignment("a1", "pushup", 30, reason="penalty", label="pompes")
    assert assigned_line(a, "alice", ["repfit-host-1"]) == \
        "assigned 30 pompes to alice as a penalty (host repfit-host-1 online)"
    hold = wire.Result("a2", "plank", False, "cancelled", 0, 60, "seconds", hold_seconds=12.4)
    assert result_line(hold) == "not verified: plank held 12 s (cancelled)"


def test_a_capped_or_reported_set_says_so() -> None:
    capped = wire.Result("a3", "squat", False, "capped", 0, 25,
                         detail="cap reached: 100/100 squats today")
    assert result_line(capped) == "cap reached: 100/100 squats today — training goes on"
    penalty = wire.Result("a4", "pushup", False, "capped", 0, 10, reason="penalty",
                          label="pompes", detail="cap reached: 3/3 assignments today")
    assert result_line(penalty) == \
        "cap reached: 3/3 assignments today — penalty — training goes on"
    reported = wire.Result("a5", "squat", True, "reported", 25, 25, verified=False)
    assert result_line(reported) == "reported, not verified: 25/25 squats"


def test_every_adapter_says_where_its_assignment_went(
        mosquitto: MqttSettings, user: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from repfit.integrations.loop import workout

    caplog.set_level(logging.INFO, logger="repfit.workout")
    with workout(user=user, broker=mosquitto.url, exercise="pompes", reps=12,
                 data_dir=tmp_path) as coach:
        for _ in coach.track(range(20)):
            pass
    assert _lines(caplog) == [f"assigned 12 pompes to {user} (no host online: kept for later)"]


@pytest.mark.parametrize("whose", ["user", "run"])
def test_a_capped_assignment_is_answered_and_training_goes_on(
        mosquitto: MqttSettings, user: str, tmp_path: Path, whose: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The user's caps (on the host) or the run's own (sent with the assignment): over a
    cap, the host answers at once and the training log says so."""
    caplog.set_level(logging.INFO, logger="repfit.workout")
    caps = CapRules(Limits(reps_per_day=5)) if whose == "user" else None
    run_caps = {"caps": {"reps_per_day": 5}} if whose == "run" else {}

    async def scenario() -> tuple[str, list[wire.Result]]:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as host_bus:
                host = WorkoutHost(host_bus, store, tick_s=0.1, caps=caps)
                serving = asyncio.create_task(host.run())
                await host.ready.wait()
                await asyncio.to_thread(_train, mosquitto, user, tmp_path, result_wait_s=60,
                                        **run_caps)
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
            return host_bus.client_id, store.results(user)

    host_id, [result] = asyncio.run(scenario())
    assert (result.outcome, result.completed) == ("capped", False)
    lines = _lines(caplog)
    assert lines[-2:] == [f"assigned 8 squats to {user} (host {host_id} online)",
                          "cap reached: 0/5 squats today (8 more asked) — training goes on"]
