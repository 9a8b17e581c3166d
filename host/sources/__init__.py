"""Wearable sources: everything that yields accelerometer samples to the host.

Every source (simulator, BLE device profiles, phone bridges) implements `WearableSource`::

    async with source:
        async for batch in source.samples():
            ...  # repfit.wire.SampleBatch: t in s (device clock), acc in g, shape (n, 3)

Concrete sources live in private modules and are imported lazily by `open_source`, so
importing `repfit.detection` or an integration never pulls in bleak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import Enum
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from repfit.wire import SampleBatch

__all__ = [
    "ConnectionLost",
    "DeviceNotFound",
    "DeviceRefused",
    "NoAdapter",
    "PacketError",
    "SourceError",
    "SourceKind",
    "TransportError",
    "WearableSource",
    "open_source",
]


class SourceKind(str, Enum):
    """Families of wearable sources."""

    SIM = "sim"
    BLE = "ble"
    PHONE = "phone"


class SourceError(Exception):
    """Base class for wearable-source failures (device not found, bad packets, ...)."""


@runtime_checkable
class WearableSource(Protocol):
    """An async context manager that streams `SampleBatch` objects until closed or exhausted."""

    name: str

    async def __aenter__(self) -> WearableSource: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def samples(self) -> AsyncIterator[SampleBatch]: ...


def open_source(kind: SourceKind | str, **options: Any) -> WearableSource:
    """Build a source of ``kind``, importing only that kind's dependencies.

    ``ble``: ``address`` (required), ``device_kind`` (``repfit``, ``microbit``, ``polar``,
    ``witmotion``, ``thingy52``), ``rate_hz``, ``range_g``, ``backend`` (bleak backend),
    ``policy`` (`_ble.Reconnect`), ``name``. ``phone``: ``broker_url`` (required),
    ``topic``, ``device_id``, ``name``. ``sim``: the arguments of `SimulatedWearable`.

    Raises
    ------
    ValueError
        Unknown kind, or options the chosen source does not accept.
    """
    try:
        chosen = SourceKind(kind)
    except ValueError:
        raise ValueError(f"unknown source kind {kind!r}; expected one of "
                         f"{', '.join(k.value for k in SourceKind)}") from None
    try:
        if chosen is SourceKind.BLE:
            from ._ble import open_ble

            return open_ble(**options)
        if chosen is SourceKind.PHONE:
            from ._phone import SensorLoggerSource

            return SensorLoggerSource(**options)
        from ._sim import SimulatedWearable

        return SimulatedWearable(**options)
    except TypeError as err:
        raise ValueError(f"bad options for a {chosen.value} source: {err}") from err


# Errors with structured fields live in `_errors` (they subclass `SourceError` above).
from ._errors import (  # noqa: E402
    ConnectionLost,
    DeviceNotFound,
    DeviceRefused,
    NoAdapter,
    PacketError,
    TransportError,
)
