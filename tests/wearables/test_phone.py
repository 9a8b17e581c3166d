"""The phone route: Sensor Logger pushes over MQTT websockets into a real broker."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from repfit.detection.simulate import simulate_set
from repfit.host.broker import EmbeddedBroker, free_port
from repfit.host.sources import PacketError
from repfit.host.sources._phone import (
    PhoneAssembler,
    SensorLoggerSource,
    decode_sensor_logger,
)
from repfit.wire import SampleBatch

G = 9.80665
T0_NS = 1_698_501_144_401_773_000


def messages(acc_g: np.ndarray, fs: float, *, per: int = 20, android: bool = True,
             session: str = "s1", first_id: int = 0) -> list[bytes]:
    """Sensor Logger push messages carrying ``acc_g`` (in g, gravity included)."""
    out = []
    gravity = np.median(acc_g, axis=0)  # the phone's gravity estimate (slow)
    for k, lo in enumerate(range(0, len(acc_g), per)):
        payload = []
        for i in range(lo, min(lo + per, len(acc_g))):
            t = T0_NS + round(i * 1e9 / fs)
            a = acc_g[i] * G
            if android:
                payload.append({"name": "totalacceleration", "time": t, "accuracy": 3,
                                "values": {"x": a[0], "y": a[1], "z": a[2]}})
            else:
                user = a - gravity * G
                payload.append({"name": "accelerometer", "time": t,
                                "values": {"x": user[0], "y": user[1], "z": user[2]}})
                payload.append({"name": "gravity", "time": t,
                                "values": dict(zip("xyz", (gravity * G).tolist(), strict=True))})
            payload.append({"name": "location", "time": t, "values": {"latitude": 51.5}})
        out.append(json.dumps({"messageId": first_id + k, "sessionId": session,
                               "deviceId": "pixel-7", "payload": payload}).encode())
    return out


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    return simulate_set("situp", reps=5, fs_hz=50, seed=3).acc


class TestDecoding:
    def test_published_schema(self) -> None:
        raw = json.dumps({"messageId": 3, "sessionId": "a", "deviceId": "d", "payload": [
            {"name": "accelerometer", "time": 2, "values": {"x": 1, "y": 2, "z": 3}},
            {"name": "accelerometer", "time": 1, "values": {"x": 4, "y": 5, "z": 6}},
            {"name": "battery", "time": 1, "values": {"batteryLevel": 0.5}}]}).encode()
        msg = decode_sensor_logger(raw)
        t, xyz = msg.readings["accelerometer"]
        assert t.tolist() == [1, 2] and xyz.tolist() == [[4, 5, 6], [1, 2, 3]]
        assert (msg.message_id, msg.session_id, msg.device_id) == (3, "a", "d")

    @pytest.mark.parametrize(("raw", "reason"), [
        (b"\xff\xfe", "not JSON"), (b"[1, 2]", "not a JSON object"),
        (b'{"payload": []}', "messageId"), (b'{"messageId": 1, "payload": {}}', "list"),
        (b'{"messageId": 1, "payload": [{"name": "gravity", "time": 1, "values": {"x": 1}}]}',
         "lacks numeric"),
        (b'{"messageId": 1, "payload": [{"name": "gravity", "time": 1, '
         b'"values": {"x": NaN, "y": 0, "z": 0}}]}', "NaN is not a finite number"),
        (b'{"messageId": 1, "payload": [{"name": "gravity", "time": 1, '
         b'"values": {"x": 1e400, "y": 0, "z": 0}}]}', "non-finite"),
    ])
    def test_bad_messages_name_the_problem(self, raw: bytes, reason: str) -> None:
        with pytest.raises(PacketError, match=reason):
            decode_sensor_logger(raw)


class TestAssembler:
    @pytest.mark.parametrize("android", [True, False])
    def test_gravity_included_in_g_with_steady_time(self, motion: np.ndarray,
                                                    android: bool) -> None:
        asm = PhoneAssembler("phone")
        batches: list[SampleBatch] = []
        for k, m in enumerate(messages(motion, 50, android=android)):
            batches += asm.push(decode_sensor_logger(m), arrival=10.0 + 0.4 * (k + 1) + 0.05)
        acc = np.concatenate([b.acc for b in batches])
        t = np.concatenate([b.t for b in batches])
        # Android's total acceleration, or iOS-style user acceleration + gravity: same total.
        np.testing.assert_allclose(acc, motion, atol=1e-9)
        assert np.abs(np.diff(t) * 50 - 1).max() < 0.01

    def test_missing_and_repeated_messages(self, motion: np.ndarray) -> None:
        msgs = messages(motion, 50)
        stream = msgs[:5] + msgs[4:5] + msgs[8:]  # 5 repeated, 5-7 lost
        asm = PhoneAssembler("phone")
        batches: list[SampleBatch] = []
        for k, m in enumerate(stream):
            batches += asm.push(decode_sensor_logger(m), arrival=10.0 + 0.4 * (k + 1))
        assert [b.lost_before for b in batches if b.lost_before] == [60]
        assert sum(len(b) for b in batches) == len(motion) - 60

    def test_new_session_restarts_cleanly(self, motion: np.ndarray) -> None:
        asm = PhoneAssembler("phone")
        a = asm.push(decode_sensor_logger(messages(motion, 50)[3]), 10.0)
        b = asm.push(decode_sensor_logger(messages(motion, 50, session="s2")[0]), 11.0)
        assert len(a) == len(b) == 1 and b[0].lost_before == 0 and b[0].t[0] > a[0].t[-1]


def _publish_over_websockets(port: int, topic: str, payloads: list[bytes]) -> None:
    """What the phone does: MQTT over websockets, QoS 0."""
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets")
    phone.connect("127.0.0.1", port)
    phone.loop_start()
    for p in payloads:
        phone.publish(topic, p, qos=0).wait_for_publish(5)
    phone.disconnect()
    phone.loop_stop()


async def _receive(url: str, ws_port: int, topic: str, payloads: list[bytes],
                   n_samples: int) -> tuple[SensorLoggerSource, list[SampleBatch]]:
    got: list[SampleBatch] = []
    async with SensorLoggerSource(url, topic=topic, device_id="pixel-7", silence_s=5) as src:
        sender = threading.Thread(target=_publish_over_websockets,
                                  args=(ws_port, topic, payloads))
        sender.start()
        async for b in src.samples():
            got.append(b)
            if sum(len(x) for x in got) >= n_samples:
                break
        await asyncio.to_thread(sender.join)
    return src, got


def test_phone_to_mosquitto_websockets_to_host(motion: np.ndarray, private_broker,
                                               caplog: pytest.LogCaptureFixture) -> None:
    ws_port, port = free_port(), free_port()
    private_broker(port, "allow_anonymous true", f"listener {ws_port} 127.0.0.1",
                   "protocol websockets")
    msgs = messages(motion, 50)
    junk = [b"not json", json.dumps({"messageId": "x", "payload": []}).encode()]
    other = json.dumps({"messageId": 0, "sessionId": "z", "deviceId": "someone-else",
                        "payload": []}).encode()
    payloads = msgs[:3] + junk + [other] + msgs[3:]
    with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
        src, got = asyncio.run(_receive(f"mqtt://127.0.0.1:{port}", ws_port,
                                        "sensor-logger", payloads, len(motion)))
    np.testing.assert_allclose(np.concatenate([b.acc for b in got]), motion, atol=1e-9)
    assert src.bad_messages == 2
    assert any("not JSON" in r.getMessage() for r in caplog.records)


def test_phone_to_embedded_broker_websockets(motion: np.ndarray) -> None:
    async def run() -> list[SampleBatch]:
        async with EmbeddedBroker(ws_port=0) as broker:
            assert broker.ws_port is not None
            _, got = await _receive(broker.url, broker.ws_port, "phones/me",
                                    messages(motion[:200], 50), 200)
            return got

    got = asyncio.run(run())
    np.testing.assert_allclose(np.concatenate([b.acc for b in got]), motion[:200], atol=1e-9)


def test_phone_ignores_messages_it_never_subscribed_to(motion: np.ndarray) -> None:
    """Plain amqtt hands a newcomer the retained messages of other clients' filters (see
    docs/embedded-broker.md); the phone source must not take them for phone messages."""
    from amqtt.broker import Broker

    def hold_retained_assignment(port: int) -> mqtt.Client:
        holder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscribed = threading.Event()
        holder.on_connect = lambda c, u, f, r, p: c.subscribe("repfit/ada/assignment", qos=1)
        holder.on_subscribe = lambda *a: subscribed.set()
        holder.connect("127.0.0.1", port)
        holder.loop_start()
        assert subscribed.wait(5)
        holder.publish("repfit/ada/assignment", b'{"v":1,"type":"assignment"}', qos=1,
                       retain=True).wait_for_publish(5)
        return holder

    async def run() -> tuple[SensorLoggerSource, list[SampleBatch]]:
        port, ws_port = free_port(), free_port()
        broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"},
                                       "ws": {"type": "ws", "bind": f"127.0.0.1:{ws_port}"}},
                         "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                     {"allow_anonymous": True}}})
        await broker.start()
        holder = await asyncio.to_thread(hold_retained_assignment, port)
        try:
            return await _receive(f"mqtt://127.0.0.1:{port}", ws_port, "phones/me",
                                  messages(motion[:100], 50), 100)
        finally:
            holder.disconnect()
            holder.loop_stop()
            await broker.shutdown()

    src, got = asyncio.run(run())
    assert sum(len(b) for b in got) == 100
    assert src.bad_messages == 0


def test_readings_keep_the_phone_clock_whatever_the_arrival_times(motion: np.ndarray) -> None:
    """Arrivals delayed, jittered and bunched: the batches keep the phone's own sample times
    (only shifted onto the host clock), so the counter sees the recording's time axis."""
    rng = np.random.default_rng(5)
    asm = PhoneAssembler("phone")
    batches: list[SampleBatch] = []
    msgs = messages(motion, 50)
    for k, m in enumerate(msgs):
        bunched = 0.8 if k % 7 == 3 else 0.0           # a late message, then the next at once
        arrival = 10.0 + 0.4 * (k + 1) + 0.02 + rng.exponential(0.05) + bunched
        batches += asm.push(decode_sensor_logger(m), arrival)
    t = np.concatenate([b.t for b in batches])
    np.testing.assert_allclose(np.diff(t), 1 / 50, atol=1e-9)
    assert 10.0 < t[0] < 10.5
    # A new recording continues after everything sent before, on its own clock again.
    later = asm.push(decode_sensor_logger(messages(motion[:40], 50, session="s2")[0]), 11.0)
    assert later[0].t[0] > t[-1]
    np.testing.assert_allclose(np.diff(later[0].t), 1 / 50, atol=1e-9)
