"""BLE wearables: the connection manager, and the bleak-backed transport it drives.

`BleWearable` is a `WearableSource`. It connects (with a timeout), subscribes, starts the
device's stream and yields `SampleBatch` objects; when the link drops or goes silent it
reconnects with exponential backoff, resubscribes and restarts the stream, and the sample
counter tells exactly how many samples the outage cost (a gap, never interpolated). On
exit it stops the stream, unsubscribes and disconnects - some devices refuse the next
connection while a stale one lingers.

The radio sits behind `BleTransport` (`_transport`): `BleakTransport` here for real
devices, `_replay.ReplayTransport` for tests. The notification callback only stamps the
arrival time and ``put_nowait``s the raw bytes into a bounded queue; decoding happens in
the consumer, so a slow consumer can never stall the BLE stack.

bleak is imported only inside `BleakTransport` and `scan`, so importing this module does not
require a Bluetooth stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from repfit.host.log_limit import RateLimitedLog
from repfit.host.sources import SourceError
from repfit.wire import SampleBatch

from ._devices import BATTERY_LEVEL_UUID, PROFILES, DeviceProfile, Link, profile_for
from ._errors import ConnectionLost, DeviceNotFound, NoAdapter, PacketError, TransportError
from ._packets import Frame
from ._stream import StreamAssembler, StreamStats
from ._transport import BleTransport, NotifyCallback, TransportFactory

__all__ = ["BleWearable", "BleakTransport", "FoundDevice", "Reconnect", "find_device", "open_ble",
           "probe_adapter", "scan"]

log = logging.getLogger(__name__)
# bleak warns on every start when the bluetoothctl tool is missing; repfit reports the
# adapter problem itself in one line, so this one only adds noise.
logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)

_DISCONNECTED = object()
_LINK_ERRORS = (TransportError, DeviceNotFound, OSError, asyncio.TimeoutError)
"""What a connection attempt or a stop/disconnect can fail with (retried or logged)."""


@dataclass(frozen=True)
class Reconnect:
    """Connection policy.

    Attributes
    ----------
    connect_timeout_s : float
        Per connection attempt.
    first_delay_s, factor, max_delay_s : float
        Backoff between attempts: first, multiplied by factor, capped.
    max_attempts : int or None
        Consecutive failed attempts before giving up (`ConnectionLost`); None = never.
    silence_s : float
        No notification for this long while connected counts as a dead link.
    """

    connect_timeout_s: float = 10.0
    first_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 10.0
    max_attempts: int | None = 8
    silence_s: float = 5.0

    def delays(self) -> Iterator[float]:
        """Backoff delays for attempt 1, 2, ... (capped geometric)."""
        d = self.first_delay_s
        while True:
            yield d
            d = min(self.max_delay_s, d * self.factor)


class BleWearable:
    """A BLE device streaming accelerometer samples through one `DeviceProfile`.

    Parameters
    ----------
    transport_factory : callable
        ``factory(on_disconnect) -> BleTransport``; one transport per connection attempt.
    profile : DeviceProfile
        What the device is and how to talk to it.
    name : str or None
        Device name on the batches (default: the transport's address).
    policy : Reconnect
        Timeouts and backoff.
    clock : callable
        Host monotonic seconds, used to stamp arrivals (injectable for tests).
    sleep : callable
        ``await sleep(seconds)`` between reconnection attempts (injectable for tests).
    queue_size : int
        Raw notifications buffered between the BLE callback and the consumer.
    """

    def __init__(self, transport_factory: TransportFactory, profile: DeviceProfile, *,
                 name: str | None = None, policy: Reconnect | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 queue_size: int = 4096, reorder_depth: int = 3) -> None:
        self.profile = profile
        self.policy = policy or Reconnect()
        self._factory = transport_factory
        self._clock = clock
        self._sleep = sleep
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._transport: BleTransport | None = None
        self._limiter = RateLimitedLog(log, clock=clock)
        self.name = name or "ble"
        self.assembler = StreamAssembler(self.name, profile.rate_hz, range_g=profile.range_g,
                                         reorder_depth=reorder_depth, limiter=self._limiter)
        self._decode: Callable[[bytes], Frame | None] | None = None
        self.battery_percent: int | None = None
        self.mtu: int | None = None
        self.connected = False
        self.attempt_log: list[float] = []
        """Backoff delays actually waited, in order (diagnostics and tests)."""

    @property
    def decoder(self) -> Callable[[bytes], Frame | None] | None:
        """The decoder the device's answers set up on the current connection."""
        return self._decode

    @property
    def stats(self) -> StreamStats:
        return self.assembler.stats

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> BleWearable:
        await self._connect_with_retry()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close_transport(stop=True)

    async def _close_transport(self, *, stop: bool) -> None:
        t, self._transport = self._transport, None
        self.connected = False
        if t is None:
            return
        if t.is_connected:
            try:
                if stop:
                    await self.profile.stop(t)
                await t.stop_notify(self.profile.data_uuid)
            except _LINK_ERRORS as err:
                log.info("%s: stopping the stream before disconnect failed: %s", self.name, err)
        try:
            await t.disconnect()
        except _LINK_ERRORS as err:
            log.warning("%s: disconnect failed: %s", self.name, err)

    def _on_notify(self, data: bytes) -> None:
        item = (self._clock(), bytes(data))
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._limiter.warning("queue", "%s: consumer too slow, notification dropped "
                                  "(counted as lost when the next one arrives)", self.name)

    def _on_disconnect(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_DISCONNECTED)

    async def _connect_once(self) -> None:
        t = self._factory(self._on_disconnect)
        self._transport = t
        await asyncio.wait_for(t.connect(self.policy.connect_timeout_s),
                               self.policy.connect_timeout_s)
        if self.name == "ble":
            self.name = t.address
            self.assembler.device = t.address
        self.mtu = t.mtu_size
        if self.profile.has_battery:
            try:
                raw = await t.read(BATTERY_LEVEL_UUID)
                self.battery_percent = raw[0] if raw else None
            except _LINK_ERRORS as err:
                log.info("%s: battery level unavailable: %s", self.name, err)
        await t.start_notify(self.profile.data_uuid, self._on_notify)
        started = await self.profile.start(t, Link(self.name, self._limiter))
        # The device's answers, not the request, decide how its bytes are read.
        self._decode = started.decode
        self.assembler.set_rate(started.rate_hz, started.range_g)
        self.connected = True
        log.info("%s: streaming (%s at %g Hz, MTU %s)", self.name, self.profile.kind,
                 started.rate_hz, self.mtu)

    async def _connect_with_retry(self) -> None:
        attempts = 0
        delays = self.policy.delays()
        while True:
            try:
                await self._connect_once()
                return
            except _LINK_ERRORS as err:
                attempts += 1
                cause = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                await self._close_transport(stop=False)
                if self.policy.max_attempts is not None and attempts >= self.policy.max_attempts:
                    raise ConnectionLost(self.name, attempts, cause) from err
                delay = next(delays)
                log.warning("%s: connection attempt %d failed (%s); retrying in %.1f s",
                            self.name, attempts, cause, delay)
                self.attempt_log.append(delay)
                await self._sleep(delay)
            except SourceError:  # no adapter, or a refused setting: no retry changes that
                await self._close_transport(stop=False)
                raise

    # -- the stream --------------------------------------------------------------------

    async def samples(self) -> AsyncIterator[SampleBatch]:
        """Batches until the device is given up on (`ConnectionLost`) or the caller stops."""
        if self._transport is None:
            raise RuntimeError("use 'async with source:' before iterating samples()")
        silent_sessions = 0
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self.policy.silence_s)
            except asyncio.TimeoutError:
                item = None
                log.warning("%s: no data for %g s; reconnecting", self.name,
                            self.policy.silence_s)
            if item is None or item is _DISCONNECTED:
                for batch in self.assembler.flush():
                    yield batch
                if item is _DISCONNECTED:
                    log.warning("%s: link lost; reconnecting", self.name)
                else:
                    silent_sessions += 1
                    limit = self.policy.max_attempts
                    if limit is not None and silent_sessions >= limit:
                        await self._close_transport(stop=True)
                        raise ConnectionLost(
                            self.name, silent_sessions,
                            f"connected but no data for {self.policy.silence_s:g} s")
                await self._close_transport(stop=False)
                self._drain_queue()
                await self._connect_with_retry()
                self.assembler.resync()
                continue
            silent_sessions = 0
            arrival, data = item
            assert self._decode is not None
            try:
                frame = self._decode(data)
            except PacketError as err:
                self.stats.bad_packets += 1
                self._limiter.warning(f"bad:{err.reason[:24]}", "%s: %s", self.name, err)
                continue
            if frame is None:
                continue
            for batch in self.assembler.push(frame, arrival):
                yield batch

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


# ------------------------------------------------------------------------------- bleak


class BleakTransport:
    """`BleTransport` over a real `bleak.BleakClient`.

    Parameters
    ----------
    device : str or bleak.backends.device.BLEDevice
        Address (or a device object from a scan).
    on_disconnect : callable
        Run (on the event loop) when the link drops.
    backend : type or None
        Passed to `BleakClient(backend=...)`: a custom backend (e.g. a virtual controller).
    """

    def __init__(self, device: Any, on_disconnect: Callable[[], None], *,
                 backend: type | None = None) -> None:
        from bleak import BleakClient

        self.address = device if isinstance(device, str) else device.address
        kwargs: dict[str, Any] = {"disconnected_callback": lambda _c: on_disconnect()}
        if backend is not None:
            kwargs["backend"] = backend
        self._client = BleakClient(device, **kwargs)

    @property
    def is_connected(self) -> bool:
        return bool(self._client.is_connected)

    @property
    def mtu_size(self) -> int:
        return int(self._client.mtu_size)

    async def _call(self, operation: str, coro: Awaitable[Any]) -> Any:
        from bleak.exc import BleakError

        try:
            return await coro
        except (BleakError, OSError) as err:
            no_adapter = _no_adapter(err)
            if no_adapter is not None:
                raise no_adapter from err
            raise TransportError(operation, self.address, str(err) or type(err).__name__) \
                from err

    async def connect(self, timeout_s: float) -> None:
        await self._call("connect", self._client.connect(timeout=timeout_s))

    async def disconnect(self) -> None:
        await self._call("disconnect", self._client.disconnect())

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        await self._call(f"subscribe {char_uuid}", self._client.start_notify(
            char_uuid, lambda _char, data: callback(bytes(data))))

    async def stop_notify(self, char_uuid: str) -> None:
        await self._call(f"unsubscribe {char_uuid}", self._client.stop_notify(char_uuid))

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        await self._call(f"write {char_uuid}",
                         self._client.write_gatt_char(char_uuid, data, response=response))

    async def read(self, char_uuid: str) -> bytes:
        return bytes(await self._call(f"read {char_uuid}", self._client.read_gatt_char(char_uuid)))


_NO_ADAPTER_WORDS = ("adapter", "turned off", "powered off", "not ready", "notready",
                     "bluetoothd")


def _no_adapter(err: BaseException) -> NoAdapter | None:
    """`NoAdapter` if ``err`` means this machine has no usable Bluetooth (no adapter, adapter
    off, no BlueZ/D-Bus), else ``None``. A missing system bus shows up as an ``OSError``."""
    if isinstance(err, OSError):
        return NoAdapter(f"the system's Bluetooth service is not reachable: "
                         f"{err.strerror or err}")
    text = str(err).lower()
    if any(word in text for word in _NO_ADAPTER_WORDS):
        return NoAdapter(str(err))
    return None


@dataclass(frozen=True)
class FoundDevice:
    """One supported device seen in a scan."""

    name: str
    address: str
    kind: str
    rssi: int | None


def classify(name: str | None, service_uuids: list[str]) -> str | None:
    """The profile kind of an advertisement, by service UUID first, then by name prefix."""
    uuids = {u.lower() for u in service_uuids}
    for kind in PROFILES:
        p = profile_for(kind)
        if p.service_uuid in uuids:
            return kind
    for kind in PROFILES:
        p = profile_for(kind)
        if name and any(name.startswith(prefix) for prefix in p.name_prefixes):
            return kind
    return None


async def scan(timeout_s: float = 5.0, *, backend: type | None = None) -> list[FoundDevice]:
    """Supported devices advertising nearby, strongest signal first (needs a BLE adapter).

    ``backend`` is handed to `BleakScanner` (a custom or virtual stack).
    """
    from bleak import BleakScanner
    from bleak.exc import BleakError

    kwargs: dict[str, Any] = {"backend": backend} if backend is not None else {}
    try:
        seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except (BleakError, OSError) as err:
        raise _no_adapter(err) or NoAdapter(f"scan failed: {err}") from err
    found: list[FoundDevice] = []
    for device, adv in seen.values():
        kind = classify(adv.local_name or device.name, list(adv.service_uuids))
        if kind is not None:
            found.append(FoundDevice(adv.local_name or device.name or "?", device.address, kind,
                                     adv.rssi))
    found.sort(key=lambda d: -(d.rssi if d.rssi is not None else -999))
    return found


async def probe_adapter(*, backend: type | None = None) -> None:
    """Raise `NoAdapter` now if this machine has no usable Bluetooth (a 0.1 s scan), so a
    command fails with one line instead of retrying a connection that cannot work."""
    await scan(0.1, backend=backend)


async def find_device(query: str, timeout_s: float = 5.0, *,
                      backend: type | None = None) -> FoundDevice:
    """The first supported device whose address or name matches ``query`` (case-insensitive).

    Raises
    ------
    DeviceNotFound
        Nothing matching advertised within ``timeout_s``.
    """
    q = query.lower()
    for d in await scan(timeout_s, backend=backend):
        if d.address.lower() == q or d.name.lower() == q or d.name.lower().startswith(q):
            return d
    raise DeviceNotFound(query, timeout_s)


def open_ble(address: str, device_kind: str = "repfit", *, rate_hz: float | None = None,
             range_g: float | None = None, backend: type | None = None,
             policy: Reconnect | None = None, name: str | None = None) -> BleWearable:
    """A `BleWearable` for the device at ``address`` over a real `BleakClient`.

    ``backend`` is handed to `BleakClient(backend=...)` (a custom or virtual stack).
    """
    profile = profile_for(device_kind, rate_hz=rate_hz, range_g=range_g)

    def factory(on_disconnect: Callable[[], None]) -> BleTransport:
        return BleakTransport(address, on_disconnect, backend=backend)

    return BleWearable(factory, profile, name=name or address, policy=policy)
