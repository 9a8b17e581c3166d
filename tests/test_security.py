"""docs/security.md's recipe, on a real Mosquitto: password file, ACL per user, TLS.

Each rule is checked from both sides: what is allowed works, what is forbidden is refused
(at connect) or dropped (a publish the ACL denies never reaches anyone). The certificate
authority is made here, thrown away with the test's directory.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings, Secret, broker_settings
from repfit.host.broker import free_port
from repfit.host.bus import Bus, BusError
from repfit.host.sources import open_source
from repfit.integrations.publisher import Publisher
from repfit.mqtt_link import MqttLink

WAIT_S = 30.0
PASSWORDS = {"alice": "tr/ainer@pw:1", "alice-host": "host pw", "bob": "bob-pw",
             "watcher": "watch-pw", "alice-phone": "phone-pw"}

# The ACL of docs/security.md ("Mosquitto: password file and ACL"), word for word.
ACL = """\
# Trainers: the broker user name is the repfit user.
pattern write repfit/%u/assignment
pattern write repfit/%u/cue
pattern read repfit/%u/ack
pattern read repfit/%u/progress
pattern read repfit/%u/result
pattern read repfit/%u/status/+

# One host account per repfit user.
user alice-host
topic read repfit/alice/assignment
topic read repfit/alice/cue
topic read repfit/alice/samples/+
topic read sensor-logger/alice
topic write repfit/alice/progress
topic write repfit/alice/result
topic write repfit/alice/ack
topic readwrite repfit/alice/status/+

# A phone (Sensor Logger) publishes its own topic only.
user alice-phone
topic write sensor-logger/alice

# A read-only dashboard.
user watcher
topic read repfit/#
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path) -> None:
    """A throwaway CA, a server certificate for localhost/127.0.0.1 and a client one."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=repfit test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                  "extendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "localhost"), ("client", "alice")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)
    # A second CA that signed nothing here: a client trusting it must refuse the broker.
    _openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
             "-subj", "/CN=someone else", cwd=d)


@dataclass
class Secured:
    tls: MqttSettings       # mqtts://, broker certificate checked against our CA
    mtls: MqttSettings      # mqtts:// listener that also requires a client certificate
    wss_url: str            # websockets + TLS, for the phone route
    plain_port: int         # a plain listener (loopback) to show anonymous refusal
    certs: Path

    def login(self, base: MqttSettings, name: str) -> MqttSettings:
        return replace(base, username=name, password=Secret(PASSWORDS[name]))


@pytest.fixture
def secured(tmp_path: Path, private_broker) -> Secured:  # type: ignore[no-untyped-def]
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    certs = tmp_path / "certs"
    certs.mkdir()
    make_ca(certs)
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    for name, pw in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(pwfile), name, pw], check=True,
                       capture_output=True)
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    tls_port, mtls_port, wss_port, plain = free_port(), free_port(), free_port(), free_port()
    tls = [f"cafile {certs / 'ca.pem'}", f"certfile {certs / 'server.pem'}",
           f"keyfile {certs / 'server.key'}"]
    private_broker(
        plain, "allow_anonymous false", f"password_file {pwfile}", f"acl_file {acl}",
        f"listener {tls_port} 127.0.0.1", *tls,
        f"listener {mtls_port} 127.0.0.1", *tls, "require_certificate true",
        f"listener {wss_port} 127.0.0.1", "protocol websockets", *tls)
    base = MqttSettings(host="localhost", port=tls_port, tls=True, ca_file=certs / "ca.pem")
    return Secured(
        tls=base,
        mtls=replace(base, port=mtls_port, cert_file=certs / "client.pem",
                     key_file=certs / "client.key"),
        wss_url=f"wss://localhost:{wss_port}",
        plain_port=plain, certs=certs)


class Watcher:
    """A read-only client (the ``watcher`` account) that records what reaches the broker's
    subscribers; messages from one publisher arrive in the order they were sent."""

    def __init__(self, settings: MqttSettings, topic: str = "repfit/#") -> None:
        self.got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        ready = threading.Event()
        self.link = MqttLink(settings, client_id=f"watcher-{time.monotonic_ns()}")
        self.link.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.link.client.on_subscribe = lambda *a: ready.set()
        self.link.client.on_message = lambda c, u, m: self.got.put((m.topic, m.payload))
        self.link.start()
        if not ready.wait(WAIT_S):
            raise RuntimeError("watcher could not subscribe")

    def topics_until(self, sentinel: str) -> list[str]:
        """Topics received up to and including ``sentinel`` (which must come)."""
        seen = []
        while True:
            topic, _ = self.got.get(timeout=WAIT_S)
            seen.append(topic)
            if topic == sentinel:
                return seen

    def close(self) -> None:
        self.link.stop()


@pytest.fixture
def watcher(secured: Secured) -> Iterator[Watcher]:
    w = Watcher(secured.login(secured.tls, "watcher"))
    yield w
    w.close()


def _publish_all(settings: MqttSettings, messages: list[tuple[str, bytes]]) -> None:
    """Publish QoS 1 messages in order and wait for the broker's acknowledgements."""
    connected = threading.Event()
    link = MqttLink(settings, client_id=f"pub-{time.monotonic_ns()}")
    link.client.on_connect = lambda *a: connected.set()
    link.start()
    try:
        assert connected.wait(WAIT_S), link.last_error
        for topic, payload in messages:
            link.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)
    finally:
        link.stop()


def _assignment(aid: str) -> bytes:
    return wire.encode(wire.Assignment(id=aid, exercise="squat", target=5,
                                       issued_at=time.time()))


def _result(aid: str) -> bytes:
    return wire.encode(wire.Result(assignment_id=aid, exercise="squat", completed=True,
                                   outcome="target_reached", reps=5, target=5))


# --------------------------------------------------------------------------- logins


def test_anonymous_and_wrong_passwords_are_refused_with_a_readable_reason(
        secured: Secured, caplog: pytest.LogCaptureFixture) -> None:
    async def connect(settings: MqttSettings) -> str:
        with pytest.raises(BusError) as info:
            async with Bus(settings, user="alice", connect_timeout_s=WAIT_S):
                pass
        return str(info.value)

    anonymous = asyncio.run(connect(replace(secured.tls, username=None, password=None)))
    assert "not authorised" in anonymous
    wrong = asyncio.run(connect(replace(secured.tls, username="alice",
                                        password=Secret("tr/ainer@pw:2"))))
    assert "not authorised" in wrong and "REPFIT_MQTT_PASSWORD" in wrong  # Mosquitto's code 5
    assert "tr/ainer@pw" not in wrong + caplog.text
    # The right login works.
    asyncio.run(_connect_ok(secured.login(secured.tls, "alice-host")))


async def _connect_ok(settings: MqttSettings) -> None:
    async with Bus(settings, user="alice", role="host", connect_timeout_s=WAIT_S) as bus:
        await bus.subscribe("assignment")


# --------------------------------------------------------------------------- ACL


def test_a_trainer_writes_only_its_own_assignment_and_cue_topics(
        secured: Secured, watcher: Watcher) -> None:
    alice = secured.login(secured.tls, "alice")
    cue = wire.encode(wire.Cue("tick"))
    _publish_all(alice, [
        ("repfit/bob/assignment", _assignment("forged-for-bob")),   # another user's
        ("repfit/alice/result", _result("forged-result")),           # the host's
        ("repfit/alice/progress", b"{}"),                            # the host's
        ("repfit/alice/ack", wire.encode(wire.Ack("x"))),            # the host's
        ("repfit/alice/cue", cue),                                   # allowed
        ("repfit/alice/assignment", _assignment("real")),            # allowed
    ])
    assert watcher.topics_until("repfit/alice/assignment") == \
        ["repfit/alice/cue", "repfit/alice/assignment"]


def test_only_the_host_writes_progress_result_and_ack(secured: Secured,
                                                      watcher: Watcher) -> None:
    host = secured.login(secured.tls, "alice-host")
    _publish_all(host, [
        ("repfit/alice/assignment", _assignment("host-may-not-assign")),
        ("repfit/bob/result", _result("not-its-user")),
        ("repfit/alice/progress", b"{}"),
        ("repfit/alice/ack", wire.encode(wire.Ack("a"))),
        ("repfit/alice/result", _result("a")),
    ])
    assert watcher.topics_until("repfit/alice/result") == \
        ["repfit/alice/progress", "repfit/alice/ack", "repfit/alice/result"]


def test_the_whole_loop_works_under_the_acl(secured: Secured, tmp_path: Path) -> None:
    """The trainer's publisher (subscribing to ack and status) and the host's bus (with its
    Last Will and persistent session) both work with only the rights the recipe gives."""
    from repfit.integrations.history import HistoryStore

    login = secured.login(secured.tls, "alice")
    outbox = HistoryStore.in_dir(tmp_path / "trainer")
    trainer = Publisher(login, "alice", outbox=outbox)

    async def scenario() -> list[str]:
        from repfit.host.service import WorkoutHost
        from repfit.host.store import Store

        with Store(tmp_path / "h.sqlite3") as store:
            async with Bus(secured.login(secured.tls, "alice-host"), user="alice",
                           role="host", persistent=True, connect_timeout_s=WAIT_S) as bus:
                host = WorkoutHost(bus, store)
                task = asyncio.create_task(host.run())
                await asyncio.wait_for(host.ready.wait(), WAIT_S)
                acked = await asyncio.to_thread(
                    trainer.deliver, [wire.Assignment(id="acl-1", exercise="squat", target=3,
                                                      issued_at=time.time())], WAIT_S)
                assert acked
                deadline = time.monotonic() + WAIT_S
                while outbox.pending(login.url, "repfit/alice/") and \
                        time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return [a.id for a in store.open_assignments("alice")]

    try:
        assert asyncio.run(scenario()) == ["acl-1"]
        assert outbox.pending(login.url, "repfit/alice/") == []  # the host's ack arrived
    finally:
        trainer.close(timeout=5.0)


# --------------------------------------------------------------------------- TLS


def test_tls_needs_the_right_ca(secured: Secured) -> None:
    login = secured.login(secured.tls, "alice-host")
    asyncio.run(_connect_ok(login))
    for ca in (secured.certs / "other.pem", None):  # someone else's CA; the system's
        with pytest.raises(BusError) as info:
            asyncio.run(_connect_ok(replace(login, ca_file=ca)))
        assert "certificate is not trusted" in str(info.value)
        assert "host pw" not in str(info.value)


def test_a_listener_that_requires_a_client_certificate(secured: Secured) -> None:
    login = secured.login(secured.mtls, "alice-host")
    asyncio.run(_connect_ok(login))
    with pytest.raises(BusError) as info:
        asyncio.run(_connect_ok(replace(login, cert_file=None, key_file=None)))
    assert "client certificate" in str(info.value)


def test_a_plain_connection_to_the_secured_broker_is_refused(secured: Secured) -> None:
    with pytest.raises(BusError, match="not authorised"):
        asyncio.run(_connect_ok(MqttSettings(port=secured.plain_port)))


# --------------------------------------------------------------------------- the phone route


def _phone_message() -> bytes:
    t0 = time.time_ns()
    payload = [{"name": "totalacceleration", "time": t0 + i * 10_000_000,
                "values": {"x": 0.0, "y": 0.0, "z": 9.81}} for i in range(20)]
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": "d",
                       "payload": payload}).encode()


def test_the_phone_route_uses_the_login_and_tls(secured: Secured) -> None:
    config = secured.login(secured.tls, "alice-host")   # what config/env give the host
    phone = secured.login(broker_settings(secured.wss_url, secured.tls, key="phone"),
                          "alice-phone")

    async def first_batch(settings: MqttSettings | None, url: str) -> int:
        source = open_source("phone", broker_url=url, topic="sensor-logger/alice",
                             credentials=settings, connect_timeout_s=WAIT_S)
        async with source:
            await asyncio.to_thread(_publish_all, phone,
                                    [("sensor-logger/alice", _phone_message())])
            async for batch in source.samples():
                return len(batch)
        raise AssertionError("no batch")

    # Credentials and CA from the configuration, as `repfit host --phone URL` passes them.
    assert asyncio.run(first_batch(config, secured.wss_url)) == 20
    # The URL's own login is used too.
    url = secured.wss_url.replace("wss://", "wss://alice-host:host%20pw@")
    assert asyncio.run(first_batch(replace(config, username=None, password=None), url)) == 20
    # Without a login it is refused, loudly, instead of waiting forever.
    with pytest.raises(ConnectionError, match="not authorised"):
        asyncio.run(first_batch(replace(config, username=None, password=None),
                                secured.wss_url))
