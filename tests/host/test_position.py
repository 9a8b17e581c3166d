"""Where the sensor is worn: the setting, and a set the host cannot count from there refused
with the reason, on the console, in the result, in the history."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from repfit import wire
from repfit.config import ConfigError, MqttSettings, load
from repfit.host.athlete import Athlete, recording_for
from repfit.host.bus import Bus
from repfit.host.console import ConsoleObserver, describe_result
from repfit.host.service import WorkoutHost
from repfit.host.store import Store
from repfit.host.wearing import position_setting


def test_a_set_the_position_cannot_count_is_refused_and_the_next_one_counted(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    situps = wire.Assignment(id="s1", exercise="sit-ups", target=8, issued_at=time.time())
    squats = wire.Assignment(id="q1", exercise="squat", target=4, issued_at=time.time())
    athlete = Athlete(position="thigh", seed=2)
    rec = recording_for(squats, athlete, seed=2)
    screen = io.StringIO()
    observer = ConsoleObserver(Console(file=screen, width=400, color_system=None))

    async def scenario() -> list[wire.Result]:
        with Store(tmp_path / "repfit.sqlite3") as store:
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, observer=observer, position="trouser-pocket")
                await host.handle(situps)
                await host.handle(squats)
                await host.handle(wire.SampleBatch(device="phone", t=rec.t, acc=rec.acc))
                return host.results

    results = asyncio.run(scenario())
    refused, counted = results
    assert (refused.assignment_id, refused.outcome, refused.reps) == ("s1", "cancelled", 0)
    assert refused.detail is not None
    assert "sit-ups can't be counted from a trouser pocket" in refused.detail
    assert (counted.assignment_id, counted.outcome, counted.reps) == ("q1", "target_reached", 4)
    shown = screen.getvalue()
    assert "can't be counted from a trouser pocket" in shown
    assert "wear the sensor on the wrist" in shown
    with Store(tmp_path / "repfit.sqlite3") as store:
        stored = {r.assignment_id: r for r in store.results(user)}
        assert stored["s1"].detail == refused.detail
        assert "refused: " in describe_result(stored["s1"], date=True)
        state, _, detail = store.transitions("s1")[-1]
        assert (state, detail) == ("cancelled", refused.detail)


def test_the_setting_comes_from_the_option_else_the_config_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('sensor_position = "Pocket"\n')
    cfg = load(cfg_file, env={})
    assert position_setting(cfg.tables, str(cfg_file)) == "thigh"
    assert position_setting(cfg.tables, str(cfg_file), given="armband") == "upper_arm"
    assert position_setting({}) is None
    cfg_file.write_text('sensor_position = "knee"\n')
    with pytest.raises(ConfigError, match=r"sensor_position \(in .*config.toml\): expected "
                                          r"where the sensor is worn: wrist, upper_arm, chest, "
                                          r"thigh .*got 'knee'"):
        position_setting(load(cfg_file, env={}).tables, str(cfg_file))

