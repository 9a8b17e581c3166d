"""`repfit host` as a user runs it, with a webhook set up: a separate process, a real broker,
and the post received by a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.bus import Bus
from repfit.host.store import Store


class Hook:
    """A webhook receiver on a free loopback port that records what it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.received = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()
                hook.received.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/SECRETPATH"


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    thread = threading.Thread(target=h.server.serve_forever, daemon=True)
    thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()


async def drive(settings: MqttSettings, user: str) -> wire.Result:
    async with Bus(settings, user=user, role="wearable") as bus, \
            Bus(settings, user=user, role="wearable") as athlete_bus:
        await bus.subscribe("result", "status")
        async for incoming in bus.messages():
            m = incoming.message
            if isinstance(m, wire.Status) and m.role == "host" and m.online:
                break
        athlete = asyncio.create_task(perform_assignments(
            athlete_bus, Athlete(speed=20.0, seed=11), limit=1, since=time.time() - 5))
        bus.publish(wire.Assignment(id=f"post-{user}", exercise="squat", target=6,
                                    issued_at=time.time(), label="flexions de jambes"))
        async for incoming in bus.messages():
            if isinstance(incoming.message, wire.Result):
                athlete.cancel()
                return incoming.message
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_host_posts_a_verified_set_to_a_webhook(mosquitto: MqttSettings, user: str,
                                                tmp_path: Path, hook: Hook) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[posts]\ntimezone = "UTC"\n[posts.webhook]\nformat = "json"\n'
                      'when = ["verified"]\ntemplate = "$outcome: $exercise $done"\n'
                      '[posts.x]\ntemplate = "$nope"\n')
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "COLUMNS": "200",
           "REPFIT_WEBHOOK_URL": hook.url}
    host = subprocess.Popen(
        [sys.executable, "-m", "repfit", "--config", str(config), "host", "--broker",
         mosquitto.url, "--user", user, "--data-dir", str(tmp_path), "--no-sound"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        result = asyncio.run(asyncio.wait_for(drive(mosquitto, user), 60))
        assert hook.received.wait(60), "the webhook received nothing"
    finally:
        host.send_signal(signal.SIGINT)
        out, err = host.communicate(timeout=30)
    assert result.completed, (out, err)
    (body,) = hook.bodies
    assert body == {"text": f"completed: flexions de jambes {result.reps}/6 reps [verified]",
                    "idempotency_key": f"webhook:{user}:set:post-{user}"}
    assert hook.headers[0]["Idempotency-Key"] == body["idempotency_key"]
    assert "posts.x.template: unknown field $nope" in out + err
    assert "SECRETPATH" not in out + err
    with Store.in_dir(tmp_path) as store:
        (item,) = store.outbox()
    assert item.state == "sent" and "SECRETPATH" not in str(item)
