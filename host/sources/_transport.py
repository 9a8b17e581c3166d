"""The narrow transport interface: exactly the part of `bleak.BleakClient` repfit uses.

Everything that talks to a radio sits behind `BleTransport`. `_ble.BleakTransport` wraps a
real `BleakClient`; `_replay.ReplayTransport` replays byte-exact notification streams for
tests and benchmarks. The connection manager only ever sees this protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["BleTransport", "NotifyCallback", "TransportFactory"]

NotifyCallback = Callable[[bytes], None]
"""Called on the event loop with each notification's payload."""


@runtime_checkable
class BleTransport(Protocol):
    """One BLE peripheral connection (what `BleakClient` offers, minus what we do not use)."""

    address: str

    @property
    def is_connected(self) -> bool: ...

    @property
    def mtu_size(self) -> int: ...

    async def connect(self, timeout_s: float) -> None: ...

    async def disconnect(self) -> None: ...

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None: ...

    async def stop_notify(self, char_uuid: str) -> None: ...

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None: ...

    async def read(self, char_uuid: str) -> bytes: ...


TransportFactory = Callable[[Callable[[], None]], BleTransport]
"""Builds a transport given the callback to run when the link drops."""
