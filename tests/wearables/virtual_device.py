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


# --------------------------------------------------------------------------- vendor devices

# The makers' UUIDs, written here from their documents (not imported from the host, so a
# typo on either side fails the tests).
POLAR_PMD_SERVICE = "FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8"
POLAR_PMD_CONTROL = "FB005C81-02E7-F387-1CAD-8ACD2D8DF0C8"
POLAR_PMD_DATA = "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8"
WITMOTION_SERVICE = "0000FFE5-0000-1000-8000-00805F9A34FB"
WITMOTION_NOTIFY = "0000FFE4-0000-1000-8000-00805F9A34FB"
WITMOTION_WRITE = "0000FFE9-0000-1000-8000-00805F9A34FB"
MICROBIT_SERVICE = "E95D0753-251D-470A-A062-FA1922DFA9A8"
MICROBIT_DATA = "E95DCA4B-251D-470A-A062-FA1922DFA9A8"
MICROBIT_PERIOD = "E95DFB24-251D-470A-A062-FA1922DFA9A8"


class VirtualVendorDevice:
    """An off-the-shelf sensor emulated on a bumble virtual controller.

    It serves the maker's GATT layout (the UUIDs are the makers', so a mistyped UUID on
    the host side fails the subscription), answers control writes the way the maker's
    documents say the device does (subclasses), and, once ``streaming`` is set, notifies
    ``frames`` in order on ``data`` (paced, while someone is connected).
    """

    name = "vendor"
    address_text = "F4:F4:F4:F4:F4:F4"

    def __init__(self, link: LocalLink, frames: list[bytes], *, pace_s: float = 0.004) -> None:
        self.device = make_device(link, self.name, self.address_text)
        self.frames = list(frames)
        self.pace_s = pace_s
        self.writes: list[tuple[str, bytes]] = []
        self.sent = 0
        self.streaming = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.data: Characteristic = self.build()
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self.device.on("characteristic_subscription", self._on_subscription)

    streams_when_subscribed = False
    """Sensors that stream by themselves (no start command) begin once notifications are on."""

    def _on_subscription(self, connection: Any, characteristic: Any, notify: bool,
                         indicate: bool) -> None:
        if self.streams_when_subscribed and characteristic is self.data and notify:
            self.streaming.set()

    def build(self) -> Characteristic:
        """Add the services; return the characteristic that carries samples."""
        raise NotImplementedError

    @property
    def address(self) -> str:
        return str(self.device.random_address)

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(
            auto_restart=True, advertising_data=advertisement(self.name),
            advertising_interval_min=20, advertising_interval_max=20)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_connection(self, connection: Any) -> None:
        self.spawn(self._stream())

    async def _stream(self) -> None:
        await self.streaming.wait()
        while self.sent < len(self.frames) and self.device.connections:
            if self.streaming.is_set():
                await self.device.notify_subscribers(self.data, self.frames[self.sent])
                self.sent += 1
            await asyncio.sleep(self.pace_s)


def _char(uuid: str, props: Any, *, read: Any = None, write: Any = None,
          value: bytes = b"") -> Characteristic:
    perms = Characteristic.Permissions.READABLE | Characteristic.Permissions.WRITEABLE
    if read is None and write is None:
        return Characteristic(uuid, props, perms, value)
    return Characteristic(uuid, props, perms, CharacteristicValue(read=read, write=write))


class VirtualPolar(VirtualVendorDevice):
    """A Polar PMD device (H10 or Verity Sense) per Polar's PMD specification.

    ``settings`` is the parameter block of its "get measurement settings" reply and
    ``start_params`` that of its start reply (the factor lives there). ``start_status`` lets
    a test make it refuse. It streams only after a start request it accepted.
    """

    name = "Polar Sense 0A1B2C3D"

    def __init__(self, link: LocalLink, frames: list[bytes], *, settings: bytes,
                 start_params: bytes = b"", start_status: int = 0, answer: bool = True,
                 battery: int = 64) -> None:
        self.settings = settings
        self.start_params = start_params
        self.start_status = start_status
        self.answer = answer
        self.battery = battery
        super().__init__(link, frames)

    def build(self) -> Characteristic:
        p = Characteristic.Properties
        self.control = _char(POLAR_PMD_CONTROL, p.READ | p.WRITE | p.INDICATE,
                             read=lambda _c: bytes([0x0F, 0x05, 0x00]), write=self._on_write)
        data = _char(POLAR_PMD_DATA, p.NOTIFY)
        battery = _char("2A19", p.READ, value=bytes([self.battery]))
        self.device.add_services([Service(POLAR_PMD_SERVICE, [self.control, data]),
                                  Service("180F", [battery])])
        return data

    def _on_write(self, connection: Any, value: bytes) -> None:
        value = bytes(value)
        self.writes.append((POLAR_PMD_CONTROL.lower(), value))
        if not self.answer or len(value) < 2:
            return
        op, mtype = value[0], value[1]
        if op == 0x01:
            reply = bytes([0xF0, op, mtype, 0, 0]) + self.settings
        elif op == 0x02:
            status = self.start_status
            reply = bytes([0xF0, op, mtype, status, 0]) + (self.start_params if not status
                                                           else b"")
            if not status:
                self.streaming.set()
        elif op == 0x03:
            self.streaming.clear()
            reply = bytes([0xF0, op, mtype, 0, 0])
        else:
            reply = bytes([0xF0, op, mtype, 1, 0])
        self.spawn(self.device.indicate_subscribers(self.control, reply))


class VirtualWitMotion(VirtualVendorDevice):
    """A WitMotion WT901BLE: service FFE5, notify FFE4, write FFE9 on WitMotion's base
    UUID (``...-00805f9a34fb``). It streams from connection on, like the real sensor."""

    name = "WT901BLE68"
    streams_when_subscribed = True

    def build(self) -> Characteristic:
        p = Characteristic.Properties
        data = _char(WITMOTION_NOTIFY, p.NOTIFY | p.READ)
        write = _char(WITMOTION_WRITE, p.WRITE_WITHOUT_RESPONSE | p.WRITE,
                      read=lambda _c: b"", write=self._on_write)
        self.device.add_services([Service(WITMOTION_SERVICE, [data, write])])
        return data

    def _on_write(self, connection: Any, value: bytes) -> None:
        self.writes.append((WITMOTION_WRITE.lower(), bytes(value)))


class VirtualMicrobit(VirtualVendorDevice):
    """A BBC micro:bit accelerometer service as the DAL implements it: a written period is
    rounded to the nearest one the accelerometer supports and the actual one is what a read
    returns afterwards."""

    name = "BBC micro:bit [vivit]"
    streams_when_subscribed = True
    supported_ms = (1, 2, 5, 10, 20, 80, 160, 640)

    def __init__(self, link: LocalLink, frames: list[bytes], *,
                 supported_ms: tuple[int, ...] | None = None) -> None:
        if supported_ms is not None:
            self.supported_ms = supported_ms
        self.period_ms = 20
        super().__init__(link, frames)

    def build(self) -> Characteristic:
        p = Characteristic.Properties
        data = _char(MICROBIT_DATA, p.NOTIFY | p.READ)
        period = _char(MICROBIT_PERIOD, p.READ | p.WRITE,
                       read=lambda _c: self.period_ms.to_bytes(2, "little"),
                       write=self._on_write)
        self.device.add_services([Service(MICROBIT_SERVICE, [data, period])])
        return data

    def _on_write(self, connection: Any, value: bytes) -> None:
        self.writes.append((MICROBIT_PERIOD.lower(), bytes(value)))
        asked = int.from_bytes(bytes(value)[:2], "little")
        self.period_ms = min(self.supported_ms, key=lambda p: (abs(p - asked), p))
