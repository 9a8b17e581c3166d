"""The embedded broker behaves like Mosquitto where repfit depends on it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest

from repfit.config import MqttSettings
from repfit.host.broker import EmbeddedBroker


def _client(port: int, topic: str, got: list[tuple[str, bool]]) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    c.on_connect = lambda cl, u, f, r, p: cl.subscribe(topic, qos=1)
    c.on_subscribe = lambda *a: subscribed.set()
    # The empty publish that clears the retained message at the end is not a delivery.
    c.on_message = lambda cl, u, m: m.payload and got.append((m.topic, bool(m.retain)))
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert subscribed.wait(5), f"no SUBACK for {topic}"
    return c


def _retained_deliveries(port: int) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """A retained assignment while the host holds its subscription; then two newcomers."""
    host_got: list[tuple[str, bool]] = []
    host = _client(port, "repfit/ada/assignment", host_got)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pub.publish("repfit/ada/assignment", b"{}", qos=1, retain=True).wait_for_publish(5)
    unrelated: list[tuple[str, bool]] = []
    interested: list[tuple[str, bool]] = []
    others = [_client(port, "other/topic", unrelated),
              _client(port, "repfit/ada/assignment", interested)]
    deadline = time.monotonic() + 5
    while not interested and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # time for a stray delivery to the unrelated client to show
    pub.publish("repfit/ada/assignment", b"", qos=1, retain=True).wait_for_publish(5)
    for c in (host, pub, *others):
        c.disconnect()
        c.loop_stop()
    return unrelated, interested


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_port(request: pytest.FixtureRequest, mosquitto: MqttSettings) -> Callable[..., object]:
    """Runs a function with the port of each broker repfit supports."""
    def run(fn: Callable[[int], object]) -> object:
        if request.param == "mosquitto":
            return fn(mosquitto.port)

        async def embedded() -> object:
            async with EmbeddedBroker() as broker:
                return await asyncio.to_thread(fn, broker.port)

        return asyncio.run(embedded())
    return run


@pytest.mark.slow
def test_retained_message_reaches_only_its_subscribers(broker_port: Callable[..., object]) -> None:
    unrelated, interested = broker_port(_retained_deliveries)  # type: ignore[misc]
    assert interested == [("repfit/ada/assignment", True)]
    assert unrelated == []
