"""Shared fixtures: real brokers (a private Mosquitto process, the embedded amqtt broker)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from repfit.config import MqttSettings
from repfit.host.broker import free_port

REPO = Path(__file__).resolve().parents[1]
REPS_DATA = Path(os.environ.get("REPFIT_REPS_DATA", REPO.parent / "shared" / "data" / "reps"))
"""The development recordings (``../shared/data/reps``); CI points at them with
REPFIT_REPS_DATA. Never copied into the repository."""


@pytest.fixture
def reps_data() -> Path:
    """The development recordings' folder (labels.csv, data/); skips the test without it."""
    if not (REPS_DATA / "labels.csv").is_file():
        pytest.skip(f"development data not present at {REPS_DATA}")
    return REPS_DATA


def run_mosquitto(tmp: Path, port: int, *lines: str) -> subprocess.Popen[bytes]:
    """A private Mosquitto on ``port`` with extra config ``lines`` (e.g. a password file).

    Tests that kill, restart or reconfigure a broker use their own, never the shared one.
    """
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        if os.environ.get("REPFIT_REQUIRE_MOSQUITTO"):
            pytest.fail("mosquitto is required (REPFIT_REQUIRE_MOSQUITTO is set) but not installed")
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    conf = tmp / f"mosquitto-{port}.conf"
    # As root, Mosquitto would switch to its own user, who cannot read files in tmp_path.
    conf.write_text("\n".join([f"listener {port} 127.0.0.1", "persistence false",
                               f"user {getpass.getuser()}", *lines]) + "\n")
    output = tmp / f"mosquitto-{port}.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=sink, stderr=sink)
    # Every listener, not only the first: a websockets listener may open a moment later.
    waiting = [port] + [int(line.split()[1]) for line in lines if line.startswith("listener ")]
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", waiting[0])) == 0:
                waiting.pop(0)
                if not waiting:
                    return proc
                continue
        if proc.poll() is not None:
            tail = output.read_text(errors="replace")[-600:]
            raise RuntimeError(f"mosquitto exited with {proc.returncode} (config {conf}):\n{tail}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"mosquitto did not listen on {waiting[0]}")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttSettings]:
    """A Mosquitto process owned by this test session, on a free port."""
    port = free_port()
    proc = run_mosquitto(tmp_path_factory.mktemp("mosquitto"), port, "allow_anonymous true")
    yield MqttSettings(host="127.0.0.1", port=port)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start Mosquitto processes owned by one test; all are stopped at its end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(port: int, *lines: str) -> subprocess.Popen[bytes]:
        proc = run_mosquitto(tmp_path, port, *lines)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def user() -> str:
    """A user name of its own for each test, so topics never collide."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _fresh_log_budget() -> None:
    """Each test starts with the whole global log budget (host/log_limit.py)."""
    from repfit.host.log_limit import GLOBAL_BUDGET

    GLOBAL_BUDGET.reset()


@pytest.fixture(autouse=True)
def _close_left_publishers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every training-side publisher a test made and left open. Left running, it
    keeps retrying its broker and warns into a later test's log (one made a later test's
    count of "unreachable" warnings flaky)."""
    from repfit.integrations.publisher import Publisher

    made: list[Publisher] = []
    init = Publisher.__init__

    def tracked(self: Publisher, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Publisher, "__init__", tracked)
    yield
    for publisher in made:
        publisher.close(timeout=0.0)
