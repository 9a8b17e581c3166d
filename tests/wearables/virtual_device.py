"""A repfit wearable emulated on a bumble virtual controller (the firmware's behaviour in Python).

It serves the GATT profile of docs/ble-profile.md - samples (notify), control (write/read),
Battery, Device Information - and, once started, notifies packets built with the given
encoder (the tests pass the firmware's C encoder) at the batch size the connection's MTU
allows. Its sample counter keeps running across disconnects, like the firmware's, so
samples produced while nobody listens are lost exactly as on a real device with a full ring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from repfit.host.sources._devices import REPFIT_CONTROL, REPFIT_SAMPLES, REPFIT_SERVICE
from repfit.host.sources._packets import samples_per_packet


def advertisement(name: str, service_uuid: str | None = None) -> bytes:
    """Advertising data: complete local name and, optionally, one 128-bit service UUID."""
    structures = [(AdvertisingData.COMPLETE_LOCAL_NAME, name.encode())]
    if service_uuid is not None:
        structures.append((AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                           UUID(service_uuid).to_bytes(True)))
    return bytes(AdvertisingData(structures))


def make_device(link: LocalLink, name: str, address: str) -> Device:
    controller = Controller(name, link=link, public_address=address)
    return Device(name=name, address=Address(address),
                  host=Host(controller, AsyncPipeSink(controller)))


class VirtualWearable:
    """The emulated peripheral. ``raw`` is the motion as int16 counts, shape (n, 3)."""

    def __init__(self, link: LocalLink, raw: np.ndarray, encode: Callable[..., bytes], *,
                 rate_hz: int = 100, battery: int = 77) -> None:
        self.device = make_device(link, "repfit-VIRT", "F0:F0:F0:F0:F0:F0")
        self.raw = raw
        self.encode = encode
        self.rate_hz = rate_hz
        self.range_code = 0
        self.counter = 0
        self.writes: list[bytes] = []
        self.sent = 0
        self.connections = 0
        self.streaming = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.samples = Characteristic(REPFIT_SAMPLES, Characteristic.Properties.NOTIFY,
                                      Characteristic.Permissions.READABLE, b"")
        self.control = Characteristic(
            REPFIT_CONTROL, Characteristic.Properties.READ | Characteristic.Properties.WRITE,
            Characteristic.Permissions.READABLE | Characteristic.Permissions.WRITEABLE,
            CharacteristicValue(read=self._read_control, write=self._on_control))
        battery = Characteristic("2A19", Characteristic.Properties.READ,
                                 Characteristic.Permissions.READABLE, bytes([battery]))
        model = Characteristic("2A24", Characteristic.Properties.READ,
                               Characteristic.Permissions.READABLE, b"virtual (bumble)")
        self.device.add_services([Service(REPFIT_SERVICE, [self.samples, self.control]),
                                  Service("180F", [battery]), Service("180A", [model])])
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    @property
    def address(self) -> str:
        return str(self.device.random_address)

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(
            auto_restart=True, advertising_data=advertisement("repfit-VIRT", REPFIT_SERVICE),
            advertising_interval_min=20, advertising_interval_max=20)

    def _on_connection(self, connection: Any) -> None:
        self.connections += 1

    def _read_control(self, connection: Any) -> bytes:
        return bytes([1 if self.streaming.is_set() else 0, self.range_code,
                      self.rate_hz & 0xFF, self.rate_hz >> 8])

    def _on_control(self, connection: Any, value: bytes) -> None:
        self.writes.append(bytes(value))
        op = value[0] if value else 0
        if op == 0x01:
            self.streaming.set()
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._stream())
        elif op == 0x02:
            self.streaming.clear()
        elif op == 0x04:
            self.range_code = value[1]

    async def _stream(self) -> None:
        """Sample in real time at ``rate_hz``; notify while someone is connected.

        Samples taken while nobody is connected are lost (this twin has no ring), so a
        dropped link costs exactly the samples of the outage - the host must count them.
        """
        loop = asyncio.get_running_loop()
        t0 = loop.time() - self.counter / self.rate_hz
        pending_from = self.counter
        while self.counter < len(self.raw) and self.streaming.is_set():
            await asyncio.sleep(0.01)
            self.counter = min(len(self.raw), int((loop.time() - t0) * self.rate_hz))
            connections = list(self.device.connections.values())
            if not connections:
                pending_from = self.counter  # nobody listening: these samples are gone
                continue
            n = max(1, samples_per_packet(connections[0].att_mtu))
            while self.counter - pending_from >= n or (
                    self.counter == len(self.raw) and pending_from < self.counter):
                lo, hi = pending_from, min(pending_from + n, self.counter)
                pkt = self.encode(self.raw[lo:hi], first_index=lo,
                                  t_us=round(lo * 1e6 / self.rate_hz), rate_hz=self.rate_hz,
                                  range_code=self.range_code)
                await self.device.notify_subscribers(self.samples, pkt)
                self.sent += 1
                pending_from = hi

    async def drop_link(self) -> None:
        """The peripheral goes out of range for a moment (disconnect from its side)."""
        for connection in list(self.device.connections.values()):
            await connection.disconnect()
