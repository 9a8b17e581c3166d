"""`repfit broker`: the embedded broker as its own process, for the training side, the host
and a phone that publishes over websockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from repfit.host.broker import free_port


def _repfit(*args: str, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "cfg")}
    return subprocess.Popen([sys.executable, "-m", "repfit", "broker", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _client(transport: str, port: int) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport=transport)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_broker_serves_tcp_and_websockets_until_ctrl_c(tmp_path: Path) -> None:
    port, ws_port = free_port(), free_port()
    proc = _repfit("--port", str(port), "--ws-port", str(ws_port), tmp=tmp_path)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"mqtt://127.0.0.1:{port}" in banner and f"ws://127.0.0.1:{ws_port}" in banner
        # A phone publishes over websockets; the host reads over TCP.
        got = threading.Event()
        reader = _client("tcp", port)
        reader.on_message = lambda _c, _u, m: got.set() if m.payload == b"{}" else None
        subscribed = threading.Event()
        reader.on_subscribe = lambda *_: subscribed.set()
        reader.subscribe("sensor-logger", qos=1)
        assert subscribed.wait(10)
        phone = _client("websockets", ws_port)
        phone.publish("sensor-logger", b"{}", qos=1).wait_for_publish(10)
        assert got.wait(10)
        for c in (reader, phone):
            c.disconnect()
            c.loop_stop()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    first = _repfit("--port", str(port), tmp=tmp_path)
    try:
        assert first.stdout is not None and "mqtt://" in first.stdout.readline()
        second = _repfit("--port", str(port), tmp=tmp_path)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 3
        assert f"cannot listen on 127.0.0.1 port {port}" in err and "in use" in err
        assert "Traceback" not in err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)


def test_a_bad_port_names_the_option(tmp_path: Path) -> None:
    proc = _repfit("--ws-port", "70000", tmp=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--ws-port" in err and "70000" in err
