"""``repfit scan`` / ``repfit stream`` as a user runs them (subprocess) and their pure parts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import numpy as np
import pytest

from repfit.host.broker import free_port
from repfit.host.sources._ble import BleWearable, Reconnect
from repfit.host.sources._devices import profile_for
from repfit.host.sources._replay import ReplayDevice, Session, encode_recording
from repfit.host.wearables_cli import StreamStatus, describe_status, stream


def repfit(*args: str, timeout: float = 120,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "repfit", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def test_stream_replay_counts_reps_through_the_real_ble_path() -> None:
    out = repfit("stream", "--replay", "squat", "--speed", "200", "--exercise", "squat")
    assert out.returncode == 0, out.stderr
    assert "rep 1 at" in out.stdout
    assert "10 reps" in out.stdout.splitlines()[-1]
    assert "lost 0" in out.stdout


def test_stream_replay_with_loss_reports_it() -> None:
    out = repfit("stream", "--replay", "pushup", "--speed", "200", "--drop", "0.1")
    assert out.returncode == 0, out.stderr
    lost = int(out.stdout.split("lost ")[-1].split()[0].rstrip(","))
    assert lost > 0 and lost % 38 == 0  # whole notifications, counted exactly


@pytest.mark.slow
def test_stream_counts_other_exercises_as_generic_and_refuses_unknown_kind() -> None:
    out = repfit("stream", "--replay", "squat", "--speed", "200", "--exercise", "juggling")
    assert out.returncode == 0, out.stderr
    assert "no detection profile for exercise 'juggling'" in out.stderr
    out = repfit("stream", "--device", "AA:BB:CC:DD:EE:FF", "--kind", "garmin")
    assert out.returncode == 2 and "invalid choice" in out.stderr


@pytest.mark.slow
def test_stream_says_when_the_position_cannot_count_the_exercise() -> None:
    out = repfit("stream", "--replay", "situp", "--speed", "200", "--exercise", "sit-ups",
                 "--position", "pocket")
    assert out.returncode == 0, out.stderr
    assert "refused, no reps counted" in out.stdout
    assert "can't be counted from a trouser pocket" in out.stdout
    assert "0 reps" in out.stdout.splitlines()[-1]
    out = repfit("stream", "--replay", "situp", "--exercise", "situp", "--position", "knee")
    assert out.returncode == 2
    assert "--position: expected where the sensor is worn: wrist, upper_arm" in out.stderr


def test_stream_phone_with_no_broker_says_so() -> None:
    out = repfit("stream", "--phone", f"mqtt://127.0.0.1:{free_port()}", "--seconds", "1")
    assert out.returncode == 3
    assert "could not connect to the MQTT broker" in out.stdout
    assert "Connection refused" in out.stdout


def test_scan_without_crashing() -> None:
    # With no Bluetooth adapter (CI, containers) the command explains; with one it lists.
    out = repfit("scan", "--timeout", "0.5")
    assert "Traceback" not in out.stderr
    assert out.returncode in (0, 4)
    if out.returncode == 4:
        assert "no usable Bluetooth adapter" in out.stdout


NO_BLUETOOTH = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/repfit-test-bus"}
"""On Linux, bleak reaches BlueZ over the system D-Bus: pointing it nowhere is a machine
without Bluetooth, whatever this machine has."""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BlueZ (Linux) only")
@pytest.mark.parametrize("args", [
    ("host", "--device", "AA:BB:CC:DD:EE:FF", "--kind", "polar"),
    ("host", "--device", "my-band"),
    ("stream", "--device", "AA:BB:CC:DD:EE:FF", "--kind", "repfit"),
    ("stream", "--device", "my-band"),
    ("scan", "--timeout", "0.5"),
])
def test_no_bluetooth_adapter_is_one_line_and_a_non_zero_exit(args: tuple[str, ...],
                                                               tmp_path: object) -> None:
    out = repfit(*args, *(("--data-dir", str(tmp_path)) if args[0] == "host" else ()),
                 env=NO_BLUETOOTH, timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode in (3, 4)
    assert "Traceback" not in text and "retrying" not in text
    errors = [line for line in text.splitlines() if "no usable Bluetooth adapter" in line]
    assert len(errors) == 1
    other = [line for line in text.splitlines() if line and "scanning for" not in line]
    assert other == errors


def test_status_tracks_rate_loss_and_reps() -> None:
    rec = np.tile([[0.0, 0.0, 1.0]], (1000, 1))
    pkts = encode_recording(rec, rate_hz=100)
    notes = [(0.38, p) for i, p in enumerate(pkts) if i != 10]
    dev = ReplayDevice([Session(notes)])
    src = BleWearable(dev.factory, profile_for("repfit", rate_hz=100), name="w",
                      clock=dev.clock, policy=Reconnect(max_attempts=1))
    shown: list[str] = []
    status = asyncio.run(stream(src, exercise="squat", seconds=None,
                                show=lambda s: shown.append(describe_status(s)),
                                on_rep=lambda n, t: None))
    assert (status.samples, status.lost, status.reps) == (1000 - 38, 38, 0)
    assert abs(status.rate_hz - 100) < 2
    assert status.ended is not None and "gave up" in status.ended
    assert "battery 87%" in shown[-1] and "lost 38 (3.8%)" in shown[-1]


def test_describe_status_without_battery_or_counter() -> None:
    s = StreamStatus("phone")
    s.add(np.array([0.0, 0.02]), np.array([[0.0, 0.0, 1.0], [0.01, -0.02, 0.99]]), 0)
    assert describe_status(s) == "phone  x +0.01 y -0.02 z +0.99 g |   0.0 Hz | lost 0 (0.0%)"
