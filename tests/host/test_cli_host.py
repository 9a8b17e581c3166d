"""`repfit host` as a user runs it: a separate process, a real broker, bad input on the wire."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.bus import Bus
from repfit.host.store import Store


def _start_host(settings: MqttSettings, user: str, data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "100", "XDG_CONFIG_HOME": str(data_dir / "cfg")}
    return subprocess.Popen(
        [sys.executable, "-m", "repfit", "host", "--broker", settings.url, "--user", user,
         "--data-dir", str(data_dir), "--no-sound"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


async def _drive(settings: MqttSettings, user: str) -> wire.Result:
    # The athlete listens on a bus of its own: each bus has one consumer of its messages.
    async with Bus(settings, user=user, role="wearable") as bus, \
            Bus(settings, user=user, role="wearable") as athlete_bus:
        await bus.subscribe("result", "progress", "status")
        async for incoming in bus.messages():  # the host is online once it has subscribed
            m = incoming.message
            if isinstance(m, wire.Status) and m.role == "host" and m.online:
                break
        athlete_task = asyncio.create_task(
            perform_assignments(athlete_bus, Athlete(speed=20.0, seed=11), limit=1,
                                since=time.time() - 5))
        a = wire.Assignment(id=f"cli-{user}", exercise="squat", target=6, issued_at=time.time())
        bus.publish(a)
        garbage_sent = False
        async for incoming in bus.messages():
            if isinstance(incoming.message, wire.Progress) and not garbage_sent:
                # The host has opened the session, so it is subscribed: now feed it garbage.
                await asyncio.to_thread(_publish_garbage, settings, user)
                garbage_sent = True
            if isinstance(incoming.message, wire.Result):
                athlete_task.cancel()
                return incoming.message
    raise AssertionError("unreachable")


def _publish_garbage(settings: MqttSettings, user: str) -> None:
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    raw.connect(settings.host, settings.port)
    raw.loop_start()
    for topic, payload in (
        (f"repfit/{user}/assignment", b"{oops"),
        (f"repfit/{user}/assignment", b'{"v":1,"type":"assignment","id":"x","exercise":"squat",'
                                      b'"target":"many"}'),
        (f"repfit/{user}/samples/w", b'{"v":1,"type":"samples","device":"w","t":[0,1],'
                                     b'"acc":[[0,0,1]]}'),
    ):
        raw.publish(topic, payload, qos=1).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()


def test_host_process_survives_bad_payloads_and_verifies(mosquitto: MqttSettings, user: str,
                                                         tmp_path: Path) -> None:
    host = _start_host(mosquitto, user, tmp_path)
    try:
        result = asyncio.run(asyncio.wait_for(_drive(mosquitto, user), 60))
    except asyncio.TimeoutError:
        host.send_signal(signal.SIGINT)
        said = "\n".join(host.communicate(timeout=30))
        raise AssertionError("no result; host said:\n" + said) from None
    host.send_signal(signal.SIGINT)
    out, err = host.communicate(timeout=30)
    assert result.completed and result.reps == 6, (out, err)
    assert "invalid JSON" in err and "'target'" in err and "expected a number" in err
    assert "1 rows for 2 timestamps" in err
    assert "squats: completed - 6/6 reps" in out  # the vocabulary's words
    with Store.in_dir(tmp_path) as store:
        assert store.results(user) == [result]
    assert host.returncode in (0, 130)


@pytest.mark.slow
def test_host_with_unreachable_broker_says_so(tmp_path: Path) -> None:
    from repfit.host.broker import free_port

    proc = subprocess.run(
        [sys.executable, "-m", "repfit", "host", "--broker", f"mqtt://127.0.0.1:{free_port()}",
         "--user", "ada", "--data-dir", str(tmp_path), "--no-sound"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")},
    )
    assert proc.returncode == 3
    # Said at the first failed attempt, before the retries run out; then the error.
    retrying = proc.stderr.find("is not answering (Connection refused); retrying for up to 10 s")
    error = proc.stderr.find("could not connect to the MQTT broker at mqtt://127.0.0.1:")
    assert 0 <= retrying < error, proc.stderr


def test_bad_broker_url_names_the_option(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "repfit", "host", "--broker", "http://nope", "--user", "ada",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")},
    )
    assert proc.returncode == 2
    assert "--broker" in proc.stderr and "mqtt://HOST:PORT" in proc.stderr


def test_bad_wearable_options_name_the_option(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    base = [sys.executable, "-m", "repfit", "host", "--broker", "mqtt://127.0.0.1:1", "--user",
            "ada", "--data-dir", str(tmp_path)]
    phone = subprocess.run([*base, "--phone", "notaurl"], capture_output=True, text=True,
                           timeout=60, env=env)
    assert phone.returncode == 2 and "--phone: expected a URL like mqtt://HOST:PORT" in phone.stderr
    replay = subprocess.run([*base, "--replay", "hopscotch"], capture_output=True, text=True,
                            timeout=60, env=env)
    assert replay.returncode == 2 and "--replay" in replay.stderr
    assert "unknown exercise 'hopscotch'" in replay.stderr


def test_a_corrupt_history_file_is_reported_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "repfit.sqlite3"
    db.write_bytes(b"not a database, but somebody's data" * 50)
    proc = subprocess.run(
        [sys.executable, "-m", "repfit", "history", "--user", "ada", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert proc.returncode == 4
    assert "is not a usable repfit database" in proc.stderr and "Traceback" not in proc.stderr
    assert db.read_bytes() == b"not a database, but somebody's data" * 50
