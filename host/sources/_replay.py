"""A faithful fake at the BLE boundary: replays byte-exact notification streams.

`ReplayDevice` holds a script of connection sessions. Each connection attempt consumes one
`Session`: it may fail to connect, or connect and play its notifications (raw bytes, each
after a host-time delay on an injected `ManualClock`), then drop the link, go silent, or
stay up. Everything the manager does to the device (connects, subscriptions, writes,
disconnects) is recorded so tests can check the protocol, e.g. a clean disconnect on exit.

It is also what the benchmarks and ``repfit stream --replay`` feed through the real
decoding and connection logic. Streams are built from simulated motion with an encoder
(`encode_recording`); the tests pass the firmware's C encoder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ._errors import TransportError
from ._packets import encode_repfit
from ._transport import NotifyCallback

__all__ = ["ManualClock", "ReplayDevice", "ReplayTransport", "Session", "encode_recording"]


class ManualClock:
    """A host clock that moves only when told (``clock()`` returns the current time)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, dt: float) -> None:
        self.now += dt


@dataclass
class Session:
    """One connection's worth of behaviour.

    Attributes
    ----------
    notifications : sequence of (delay_s, bytes)
        Host seconds since the previous notification (or since subscribing), payload.
    end : {"disconnect", "silence", "stay"}
        After the last notification the link drops (the disconnected callback fires), or
        stays up with nothing more sent ("silence"), or stays up ("stay", same as silence
        but without intent: the test stops iterating).
    fail_connect : bool
        The attempt fails (device out of range) and nothing else happens.
    """

    notifications: Sequence[tuple[float, bytes]] = ()
    end: Literal["disconnect", "silence", "stay"] = "disconnect"
    fail_connect: bool = False


@dataclass
class ReplayDevice:
    """The scripted peripheral; `factory` is a `TransportFactory` for `BleWearable`."""

    sessions: list[Session]
    clock: ManualClock = field(default_factory=ManualClock)
    address: str = "AA:BB:CC:DD:EE:01"
    mtu: int = 247
    battery: int = 87
    reads: dict[str, bytes] = field(default_factory=dict)
    log: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(operation, characteristic, bytes) for connect/notify/write/unsubscribe/disconnect."""
    played: int = 0
    pace: float | None = None
    """If set, really wait ``delay / pace`` seconds before each notification (a live demo
    at ``pace`` times real speed); the manual clock still advances by the full delay."""

    def factory(self, on_disconnect: Callable[[], None]) -> ReplayTransport:
        return ReplayTransport(self, on_disconnect)

    def ops(self, name: str) -> list[tuple[str, str, bytes]]:
        return [e for e in self.log if e[0] == name]


class ReplayTransport:
    """`BleTransport` that plays the next `Session` of a `ReplayDevice`."""

    def __init__(self, device: ReplayDevice, on_disconnect: Callable[[], None]) -> None:
        self.device = device
        self.address = device.address
        self._on_disconnect = on_disconnect
        self._connected = False
        self._session: Session | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def mtu_size(self) -> int:
        return self.device.mtu

    async def connect(self, timeout_s: float) -> None:
        self.device.log.append(("connect", "", b""))
        if not self.device.sessions:
            raise TransportError("connect", self.address, "device not reachable (script ended)")
        session = self.device.sessions.pop(0)
        if session.fail_connect:
            raise TransportError("connect", self.address, "device not reachable")
        self._session = session
        self._connected = True

    async def disconnect(self) -> None:
        self.device.log.append(("disconnect", "", b""))
        if self._task is not None:
            self._task.cancel()
        self._connected = False

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        self.device.log.append(("notify", char_uuid, b""))
        self._task = asyncio.get_running_loop().create_task(self._play(callback))

    async def stop_notify(self, char_uuid: str) -> None:
        self.device.log.append(("unsubscribe", char_uuid, b""))

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        if not self._connected:
            raise TransportError(f"write {char_uuid}", self.address, "not connected")
        self.device.log.append(("write", char_uuid, bytes(data)))

    async def read(self, char_uuid: str) -> bytes:
        if char_uuid in self.device.reads:
            return self.device.reads[char_uuid]
        if char_uuid.startswith("00002a19"):
            return bytes([self.device.battery])
        raise TransportError(f"read {char_uuid}", self.address, "characteristic not found")

    async def _play(self, callback: NotifyCallback) -> None:
        assert self._session is not None
        await asyncio.sleep(0)  # let the manager finish its start-up writes first
        for delay, payload in self._session.notifications:
            if self.device.pace:
                await asyncio.sleep(delay / self.device.pace)
            self.device.clock.advance(delay)
            callback(payload)
            self.device.played += 1
            await asyncio.sleep(0)
        if self._session.end == "disconnect":
            self._connected = False
            self._on_disconnect()


def encode_recording(acc_g: np.ndarray, *, rate_hz: int = 100, per_packet: int = 38,
                     range_code: int = 2, first_index: int = 0, t0_us: int = 0,
                     encode: Callable[..., bytes] | None = None) -> list[bytes]:
    """Encode motion (shape ``(n, 3)``, in g) as repfit notifications, in order.

    ``encode`` has the signature of `encode_repfit` (the default); tests pass the C encoder.
    """
    enc = encode or encode_repfit
    fs = (2.0, 4.0, 8.0, 16.0)[range_code]
    raw = np.clip(np.rint(np.asarray(acc_g) * 32768.0 / fs), -32768, 32767).astype(np.int64)
    out: list[bytes] = []
    for lo in range(0, raw.shape[0], per_packet):
        chunk = raw[lo:lo + per_packet]
        idx = first_index + lo
        out.append(enc(chunk, first_index=idx, t_us=t0_us + round(lo * 1e6 / rate_hz),
                       rate_hz=rate_hz, range_code=range_code))
    return out
