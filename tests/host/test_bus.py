"""The bus against real brokers: decoded messages out, malformed ones logged and dropped."""

from __future__ import annotations

import asyncio
import logging

import paho.mqtt.client as mqtt
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.broker import EmbeddedBroker
from repfit.host.bus import Bus, BusError


def _raw_publish(settings: MqttSettings, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(settings.host, settings.port)
    client.loop_start()
    for topic, payload in items:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


async def _first_valid(settings: MqttSettings, user: str) -> tuple[wire.Message, int]:
    async with Bus(settings, user=user) as bus:
        await bus.subscribe("assignment", "samples")  # returns once the broker acknowledged
        good = wire.Assignment(id="ok", exercise="squat", target=5)
        items = [
            (f"repfit/{user}/assignment", b"{broken"),
            (f"repfit/{user}/assignment", b'{"v": 9, "type": "assignment"}'),
            (f"repfit/{user}/samples/w", b'{"v":1,"type":"samples","device":"w","t":[1],'
                                         b'"acc":[[1,2]]}'),
            (f"repfit/{user}/assignment", b"\x00" * (wire.MAX_PAYLOAD_BYTES + 10)),
            (wire.topic_for(user, good), wire.encode(good)),
        ]
        await asyncio.to_thread(_raw_publish, settings, items)
        incoming = await asyncio.wait_for(anext(aiter(bus.messages())), 10)
        return incoming.message, bus.rejected


def test_malformed_messages_are_dropped_with_reasons(mosquitto: MqttSettings, user: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "repfit.host.bus")
    message, rejected = asyncio.run(_first_valid(mosquitto, user))
    assert message == wire.Assignment(id="ok", exercise="squat", target=5)
    assert rejected == 4
    text = caplog.text
    assert "invalid JSON" in text
    assert "unsupported protocol version 9" in text
    assert "exactly 3" in text
    assert "exceeds" in text


def test_embedded_broker_delivers_retained_state(user: str) -> None:
    async def scenario() -> wire.Message:
        async with EmbeddedBroker() as broker:
            settings = MqttSettings(port=broker.port)
            async with Bus(settings, user=user, role="trainer") as pub:
                pub.publish(wire.Assignment(id="kept", exercise="situp", target=3))
                # leaving the block flushes what is in flight
            async with Bus(settings, user=user) as sub:  # subscribes after the publish
                await sub.subscribe("assignment")
                incoming = await asyncio.wait_for(anext(aiter(sub.messages())), 10)
                assert incoming.retained
                return incoming.message

    assert asyncio.run(scenario()) == wire.Assignment(id="kept", exercise="situp", target=3)


@pytest.mark.slow
def test_unreachable_broker_is_a_clear_error() -> None:
    from repfit.host.broker import free_port

    async def scenario() -> None:
        async with Bus(MqttSettings(port=free_port()), user="ada", connect_timeout_s=1.5):
            pass

    with pytest.raises(BusError, match="could not connect to the MQTT broker at mqtt://"):
        asyncio.run(scenario())
