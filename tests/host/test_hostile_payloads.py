"""The payloads that stopped the host, through a real Mosquitto: each is refused with one
line and the next good message still arrives, also when the hostile one is retained and a
restarted host receives it again."""

from __future__ import annotations

import asyncio
import logging

import paho.mqtt.client as mqtt
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.bus import Bus

DEEP = b"[" * 100_000
BIG_INT = b'{"v":1,"type":"assignment","id":"x","exercise":"squat","target":1' + b"0" * 400 + b"}"
LONG_INT = b'{"v":1,"type":"cue","kind":"tick","index":' + b"7" * 5000 + b"}"
ZERO = (b'{"v":1,"type":"assignment","id":"zero","exercise":"squat","target":0,'
        b'"deadline_s":600}')
HUGE = (b'{"v":1,"type":"assignment","id":"huge","exercise":"squat","target":1e12,'
        b'"deadline_s":600}')
FOREVER = (b'{"v":1,"type":"assignment","id":"forever","exercise":"squat","target":10,'
           b'"deadline_s":1e300}')


def _publish(settings: MqttSettings, items: list[tuple[str, bytes, bool]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(settings.host, settings.port)
    client.loop_start()
    for topic, payload, retain in items:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


async def _next_good(settings: MqttSettings, user: str, hostile: list[tuple[str, bytes, bool]],
                     good: wire.Assignment) -> tuple[wire.Message, int]:
    async with Bus(settings, user=user) as bus:
        await bus.subscribe("assignment", "cue", "samples")
        await asyncio.to_thread(_publish, settings, [
            *hostile, (wire.topic_for(user, good), wire.encode(good), False)])
        incoming = await asyncio.wait_for(anext(aiter(bus.messages())), 20)
        return incoming.message, bus.rejected


def test_hostile_payloads_are_dropped_and_the_host_goes_on(
        mosquitto: MqttSettings, user: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "repfit.host.bus")
    assignment, cue, samples = (f"repfit/{user}/{k}" for k in ("assignment", "cue",
                                                               "samples/w"))
    hostile = [(assignment, DEEP, True), (cue, DEEP, False), (samples, DEEP, False),
               (assignment, BIG_INT, False), (cue, LONG_INT, False),
               (assignment, ZERO, False), (assignment, HUGE, False),
               (assignment, FOREVER, False)]
    good = wire.Assignment(id="good-1", exercise="squat", target=5)
    try:
        message, rejected = asyncio.run(_next_good(mosquitto, user, hostile, good))
        assert message == good and rejected == len(hostile)
        # A restart: the retained 100,000 '[' arrives again, and is dropped again.
        again = wire.Assignment(id="good-2", exercise="squat", target=5)
        message, rejected = asyncio.run(_next_good(mosquitto, user, [], again))
        assert message == again and rejected == 1
    finally:
        _publish(mosquitto, [(assignment, b"", True)])  # clear the retained payload
    log = caplog.text
    assert "nested deeper than 16 levels" in log
    assert "an integer of 401 digits" in log and "an integer of 5000 digits" in log
    assert "0 reps is outside 1..1000" in log and "1e+12 reps is outside 1..1000" in log
    assert "1e+300 is above the maximum 86400 (field 'deadline_s')" in log
