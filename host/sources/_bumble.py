"""A bleak client backend over a bumble `Device`: the real `BleakClient`, no OS Bluetooth.

bleak lets the caller choose the backend class (``BleakClient(..., backend=cls)``). This
backend implements bleak's `BaseBleakClient` on top of a bumble central device - bumble is
Google's Bluetooth stack in Python; its devices can sit on a virtual controller link
(`bumble.link.LocalLink`) or on real hardware (a USB dongle through a bumble transport).
repfit uses it to drive `BleakClient`, and everything above it (`BleakTransport`,
`BleWearable`), end to end against an emulated peripheral in the tests.

Bind the central device with `backend_for(device)`, which returns a class bleak can
instantiate. Pairing is not supported (the repfit profile does not need it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

if TYPE_CHECKING:  # a name for type checkers (recent bleak); not needed at runtime
    from bleak.backends.characteristic import CharacteristicPropertyName

__all__ = ["BumbleClientBackend", "BumbleScannerBackend", "backend_for", "scanner_backend_for"]

_PROPERTY_NAMES: dict[int, CharacteristicPropertyName] = {
    0x01: "broadcast", 0x02: "read", 0x04: "write-without-response", 0x08: "write",
    0x10: "notify", 0x20: "indicate", 0x40: "authenticated-signed-writes",
    0x80: "extended-properties"}


def _uuid(u: Any) -> str:
    return normalize_uuid_str(u.to_hex_str("-").lower())


class BumbleClientBackend(BaseBleakClient):
    """`BaseBleakClient` over the bumble device in the class attribute ``central``."""

    central: Any = None
    mtu_request: int = 247

    def __init__(self, address_or_ble_device: Any, *,
                 disconnected_callback: Callable[[], None] | None, timeout: float = 10.0,
                 **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback,
                         timeout=timeout)
        if self.central is None:
            raise BleakError("bind a bumble device first: backend_for(device)")
        self._connection: Any = None
        self._peer: Any = None

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        from bumble.device import Peer

        timeout = kwargs.get("timeout", self._timeout)
        try:
            self._connection = await asyncio.wait_for(self.central.connect(self.address),
                                                      timeout)
        except (asyncio.TimeoutError, OSError) as err:
            raise BleakError(f"bumble: could not connect to {self.address}: {err}") from err
        self._connection.on(self._connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(self._connection)
        await self._peer.request_mtu(self.mtu_request)
        await self._peer.discover_all()
        self.services = self._collect_services()

    def _on_disconnection(self, *_args: Any) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _collect_services(self) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for s in self._peer.services:
            service = BleakGATTService(s, s.handle, _uuid(s.uuid))
            collection.add_service(service)
            for c in s.characteristics:
                props = [name for bit, name in _PROPERTY_NAMES.items() if int(c.properties) & bit]
                char = BleakGATTCharacteristic(c, c.handle, _uuid(c.uuid), props,
                                               lambda: self.mtu_size - 3, service)
                collection.add_characteristic(char)
                for d in c.descriptors:
                    collection.add_descriptor(BleakGATTDescriptor(d, d.handle, _uuid(d.type),
                                                                  char))
        return collection

    async def disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection, self._peer = self._connection, None, None
            connection.remove_listener(connection.EVENT_DISCONNECTION, self._on_disconnection)
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported by the bumble backend")

    def _require(self) -> Any:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        return bytearray(await self._require().read_value(characteristic.obj))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        return bytearray(await self._require().read_value(descriptor.obj))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        await self._require().write_value(characteristic.obj, bytes(data),
                                          with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._require().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        await self._require().subscribe(characteristic.obj,
                                        lambda value: callback(bytearray(value)))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._require().unsubscribe(characteristic.obj)


def backend_for(central: Any, *, mtu: int = 247) -> type[BumbleClientBackend]:
    """A `BumbleClientBackend` subclass bound to the bumble central ``central``."""
    return type("BoundBumbleClientBackend", (BumbleClientBackend,),
                {"central": central, "mtu_request": mtu})


class BumbleScannerBackend(BaseBleakScanner):
    """`BaseBleakScanner` over the bumble device in the class attribute ``central``."""

    central: Any = None

    def __init__(self, detection_callback: Any = None, service_uuids: list[str] | None = None,
                 scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        if self.central is None:
            raise BleakError("bind a bumble device first: scanner_backend_for(device)")

    async def start(self) -> None:
        self.seen_devices = {}
        self.central.on(self.central.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self.central.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        await self.central.stop_scanning()
        self.central.remove_listener(self.central.EVENT_ADVERTISEMENT, self._on_advertisement)

    def _on_advertisement(self, adv: Any) -> None:
        from bumble.core import AdvertisingData

        data = adv.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME)
        uuids: list[str] = []
        for kind in (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
            uuids += [_uuid(u) for u in (data.get(kind) or [])]
        if not self.is_allowed_uuid(uuids):
            return
        address = str(adv.address).split("/")[0]
        ad = AdvertisementData(local_name=name, manufacturer_data={}, service_data={},
                               service_uuids=uuids, tx_power=None, rssi=int(adv.rssi),
                               platform_data=(adv,))
        device = self.create_or_update_device(address, address, name, adv, ad)
        self.call_detection_callbacks(device, ad)


def scanner_backend_for(central: Any) -> type[BumbleScannerBackend]:
    """A `BumbleScannerBackend` subclass bound to the bumble device ``central``."""
    return type("BoundBumbleScannerBackend", (BumbleScannerBackend,), {"central": central})
