"""The phone route carries a long 100 Hz stream over websockets without losing a message."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from repfit.config import MqttSettings
from repfit.host.broker import EmbeddedBroker, free_port
from repfit.host.sources._phone import SensorLoggerSource
from repfit.wire import SampleBatch

from .test_phone import messages

RATE_HZ = 100
PER_MESSAGE = 50            # Sensor Logger's push every 0.5 s at 100 Hz
DURATION_S = 300


def _phone(ws_port: int, payloads: list[bytes], period_s: float) -> None:
    """Sensor Logger's pace: one QoS 0 message per period over websockets, in real time."""
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets")
    phone.connect("127.0.0.1", ws_port, keepalive=60)
    phone.loop_start()
    start = time.monotonic()
    for k, p in enumerate(payloads):
        phone.publish("sensor-logger", p, qos=0)
        time.sleep(max(0.0, start + (k + 1) * period_s - time.monotonic()))
    phone.disconnect()
    phone.loop_stop()


async def _carry(url: str, ws_port: int, payloads: list[bytes], n: int) -> list[SampleBatch]:
    got: list[SampleBatch] = []
    async with SensorLoggerSource(url, device_id="pixel-7", silence_s=10) as source:
        sender = threading.Thread(target=_phone, args=(ws_port, payloads,
                                                       PER_MESSAGE / RATE_HZ))
        sender.start()
        try:
            async for batch in source.samples():
                got.append(batch)
                if sum(len(b) for b in got) >= n:
                    break
        finally:
            await asyncio.to_thread(sender.join)
    return got


@pytest.mark.slow
@pytest.mark.timeout(DURATION_S + 120)
def test_five_minutes_at_100_hz_over_websockets_on_both_brokers(private_broker) -> None:
    n = RATE_HZ * DURATION_S
    t = np.arange(n) / RATE_HZ
    motion = np.column_stack([0.3 * np.sin(2 * np.pi * 0.4 * t), 0.1 * np.cos(t),
                              1.0 + 0.2 * np.sin(2 * np.pi * 0.4 * t)])
    payloads = messages(motion, RATE_HZ, per=PER_MESSAGE)
    port, ws_port = free_port(), free_port()
    private_broker(port, "allow_anonymous true", f"listener {ws_port} 127.0.0.1",
                   "protocol websockets")
    mosquitto = MqttSettings(port=port)

    async def both() -> tuple[list[SampleBatch], list[SampleBatch]]:
        async with EmbeddedBroker(ws_port=0) as embedded:
            assert embedded.ws_port is not None
            # Both brokers at once, so the test takes five minutes, not ten.
            timeout = DURATION_S + 60
            a, b = await asyncio.wait_for(asyncio.gather(
                _carry(embedded.url, embedded.ws_port, payloads, n),
                _carry(mosquitto.url, ws_port, payloads, n)), timeout)
            return a, b

    for got in asyncio.run(both()):
        assert sum(b.lost_before for b in got) == 0
        np.testing.assert_allclose(np.concatenate([b.acc for b in got]), motion, atol=1e-9)
