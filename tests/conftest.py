"""Shared fixtures: real brokers (a private Mosquitto process, the embedded amqtt broker)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from repfit.config import MqttSettings
from repfit.host.broker import free_port

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "reps"


def _wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def start_mosquitto(tmp: Path, extra_conf: str = "") -> tuple[subprocess.Popen[bytes], int]:
    """A private Mosquitto on a free loopback port (tests may kill or reconfigure it)."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        if os.environ.get("REPFIT_REQUIRE_MOSQUITTO"):
            pytest.fail("mosquitto is required (REPFIT_REQUIRE_MOSQUITTO is set) but not installed")
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    conf = tmp / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    + extra_conf)
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_port(port)
    except RuntimeError:
        proc.kill()
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"mosquitto did not start: {err}") from None
    return proc, port


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttSettings]:
    """A Mosquitto process owned by this test session, on a free port."""
    proc, port = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield MqttSettings(host="127.0.0.1", port=port)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def user() -> str:
    """A user name of its own for each test, so topics never collide."""
    return f"t{uuid.uuid4().hex[:10]}"
