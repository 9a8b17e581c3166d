"""Supported BLE device profiles: UUIDs, set-up conversations and decoders, one table.

Each `DeviceProfile` says how to recognise a device in a scan (advertised service UUID,
name prefixes), which characteristic carries samples, and how to start and stop streaming.
Starting is a short conversation: repfit asks for a rate (and range), then reads back what
the device actually chose - the Polar start reply's factor, the micro:bit's rounded period,
the Thingy:52's configuration, our firmware's control state - and returns a `Started`
whose decoder and rate come from those answers, not from what was asked. Sources for every
UUID, command and scale are cited in `_packets` and ``docs/ble-profile.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from repfit.host.log_limit import RateLimitedLog

from . import _packets as pk
from ._errors import DeviceRefused, PacketError, TransportError
from ._packets import Control, Frame, PolarSetting
from ._transport import BleTransport

__all__ = ["BATTERY_LEVEL_UUID", "PROFILES", "DeviceProfile", "Link", "PolarAccDecoder",
           "Started", "profile_for"]

log = logging.getLogger(__name__)


def _uuid16(short: int) -> str:
    """A 16-bit UUID on the Bluetooth SIG base."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


def _witmotion_uuid(short: int) -> str:
    """WitMotion's UUIDs: 16-bit values on a base differing from the SIG's (``9a34fb``)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9a34fb"


BATTERY_SERVICE_UUID = _uuid16(0x180F)
BATTERY_LEVEL_UUID = _uuid16(0x2A19)

REPFIT_SERVICE = "5f2a0001-7e3c-4b8a-9d61-3a1c0e7b9f20"
REPFIT_SAMPLES = "5f2a0002-7e3c-4b8a-9d61-3a1c0e7b9f20"
REPFIT_CONTROL = "5f2a0003-7e3c-4b8a-9d61-3a1c0e7b9f20"
REPFIT_RANGE_CODES = {2.0: 0, 4.0: 1, 8.0: 2, 16.0: 3}

MICROBIT_SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
MICROBIT_DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
MICROBIT_PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
MICROBIT_PERIODS_MS = (1, 2, 5, 10, 20, 80, 160, 640)
"""Periods the micro:bit v1 accelerometer (MMA8653) supports; other boards differ, and the
board rounds any written period to its nearest, so repfit reads the period back."""

POLAR_PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

WITMOTION_SERVICE = _witmotion_uuid(0xFFE5)
WITMOTION_NOTIFY = _witmotion_uuid(0xFFE4)
WITMOTION_WRITE = _witmotion_uuid(0xFFE9)

THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"

POLAR_REPLY_TIMEOUT_S = 5.0
"""How long the PMD control point may take to answer one request."""


@dataclass
class Link:
    """What a start conversation may use besides the transport: the device's name (for log
    lines and errors) and the source's rate-limited log."""

    name: str
    limiter: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log))

    def warning(self, key: str, msg: str, *args: object) -> None:
        self.limiter.warning(f"{self.name}:{key}", "%s: " + msg, self.name, *args)


@dataclass(frozen=True)
class Started:
    """What the device agreed to: the decoder for this connection and the actual rate."""

    decode: Callable[[bytes], Frame | None]
    rate_hz: float
    range_g: float | None = None


Setup = Callable[[BleTransport, Link], Awaitable[Started]]
Teardown = Callable[[BleTransport], Awaitable[None]]


@dataclass(frozen=True)
class DeviceProfile:
    """How to find, start, read and stop one kind of device.

    Attributes
    ----------
    kind : str
        Short name used on the command line and in logs (``repfit``, ``microbit``, ...).
    service_uuid : str
        Advertised service used as the scan filter.
    data_uuid : str
        Characteristic whose notifications carry samples.
    rate_hz : float
        Sample rate requested (the nominal rate until the device answers).
    start : callable
        ``await start(transport, link) -> Started``, run after subscribing to the data.
    stop : callable
        Run before unsubscribing.
    name_prefixes : tuple of str
        Advertised names that identify the kind when the service UUID is not advertised.
    range_g : float or None
        Full-scale range requested (profiles that can set it).
    """

    kind: str
    label: str
    service_uuid: str
    data_uuid: str
    rate_hz: float
    start: Setup
    stop: Teardown
    name_prefixes: tuple[str, ...] = ()
    range_g: float | None = None
    has_battery: bool = True


# --------------------------------------------------------------------------- repfit

async def _repfit_start(rate_hz: int, range_g: float, t: BleTransport, link: Link) -> Started:
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.SET_RANGE,
                                                    REPFIT_RANGE_CODES[range_g]))
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.SET_RATE, rate_hz))
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.START))
    # Every packet states its own rate and range; the read-back only makes a refused
    # setting visible at once.
    try:
        _streaming, code, rate = pk.decode_control_state(await t.read(REPFIT_CONTROL))
    except (TransportError, PacketError) as err:
        link.warning("readback", "control state not readable (%s); packets state their rate",
                     err)
        return Started(pk.decode_repfit, rate_hz, range_g)
    actual_range = pk.FULL_SCALE_G[code]
    if rate != rate_hz or actual_range != range_g:
        link.warning("readback", "asked for %d Hz, +-%g g; device runs %d Hz, +-%g g",
                     rate_hz, range_g, rate, actual_range)
    return Started(pk.decode_repfit, float(rate), actual_range)


async def _repfit_stop(t: BleTransport) -> None:
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.STOP))


# --------------------------------------------------------------------------- micro:bit

async def _microbit_start(period_ms: int, t: BleTransport, link: Link) -> Started:
    await t.write(MICROBIT_PERIOD, period_ms.to_bytes(2, "little"))
    try:
        raw = await t.read(MICROBIT_PERIOD)
    except TransportError as err:
        raw, reason = b"", str(err)
    else:
        reason = f"{len(raw)} bytes"
    actual = int.from_bytes(raw, "little") if len(raw) == 2 else 0
    if actual == 0:
        link.warning("period", "period read back as %s; assuming the requested %d ms",
                     reason if len(raw) != 2 else "0 ms", period_ms)
        actual = period_ms
    elif actual != period_ms:
        link.warning("period", "asked for a %d ms period, the board samples every %d ms "
                     "(%.4g Hz); using the board's", period_ms, actual, 1000 / actual)
    return Started(pk.decode_microbit, 1000 / actual)


# --------------------------------------------------------------------------- Polar

class PmdControlPoint:
    """Requests to the PMD control point and their replies (indications), one at a time."""

    def __init__(self, t: BleTransport, link: Link) -> None:
        self.t = t
        self.link = link
        self.replies: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)

    def on_indication(self, data: bytes) -> None:
        if data[:1] == bytes([0x01]) and len(data) >= 2:  # device-initiated stop
            self.link.warning("pmd-stopped", "device stopped measurement %s on its own",
                              ", ".join(f"0x{b:02x}" for b in data[1:]))
            return
        with contextlib.suppress(asyncio.QueueFull):
            self.replies.put_nowait(bytes(data))

    async def request(self, payload: bytes) -> pk.PmdResponse:
        """Write ``payload`` and collect its response (and any "more" continuations)."""
        while not self.replies.empty():
            self.replies.get_nowait()
        await self.t.write(POLAR_PMD_CONTROL, payload)
        first: pk.PmdResponse | None = None
        params = b""
        while True:
            try:
                raw = await asyncio.wait_for(self.replies.get(), POLAR_REPLY_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise DeviceRefused(self.link.name, f"no PMD reply to request {payload.hex()} "
                                    f"within {POLAR_REPLY_TIMEOUT_S:g} s", "silence") from None
            try:
                r = pk.decode_pmd_response(raw)
            except PacketError as err:
                raise DeviceRefused(self.link.name, "unreadable PMD reply", raw.hex()) from err
            if r is None or r.op != payload[0]:
                continue
            first = first or r
            params += r.params
            if not r.more:
                return pk.PmdResponse(first.op, first.measurement, first.status, False, params)


def _nearest(offered: tuple[float, ...], wanted: float) -> int:
    return int(min(offered, key=lambda v: (abs(v - wanted), v)))


async def _polar_start(rate_hz: int | None, range_g: int, t: BleTransport,
                       link: Link) -> Started:
    cp = PmdControlPoint(t, link)
    # The control point answers by indication; the device expects them enabled first.
    await t.start_notify(POLAR_PMD_CONTROL, cp.on_indication)
    reply = await cp.request(pk.polar_get_settings())
    if reply.status:
        raise DeviceRefused(link.name, "accelerometer settings query refused", reply.error)
    try:
        offered = pk.decode_pmd_settings(reply.params)
    except PacketError as err:
        raise DeviceRefused(link.name, "unreadable accelerometer settings",
                            reply.params.hex()) from err
    rates = offered.get(PolarSetting.SAMPLE_RATE, ())
    if not rates:
        raise DeviceRefused(link.name, "settings reply offers no ACC sample rate",
                            reply.params.hex())
    wanted = rate_hz if rate_hz is not None else DEFAULT_RATE_HZ
    rate = _nearest(rates, wanted)
    if rate_hz is not None and rate != rate_hz:
        link.warning("rate", "%d Hz is not offered (offers %s Hz); using %d Hz", rate_hz,
                     ", ".join(str(int(r)) for r in sorted(rates)), rate)
    selected = {PolarSetting.SAMPLE_RATE: rate}
    if PolarSetting.RANGE in offered:
        rng = _nearest(offered[PolarSetting.RANGE], range_g)
        if rng != range_g:
            link.warning("range", "+-%d g is not offered; using +-%d g", range_g, rng)
        selected[PolarSetting.RANGE] = rng
    for setting in (PolarSetting.RESOLUTION, PolarSetting.CHANNELS):
        if offered.get(setting):
            selected[setting] = int(max(offered[setting]))
    start = pk.polar_start(selected)
    reply = await cp.request(start)
    if reply.status == 6:  # already streaming (a stale session): stop, then start again
        await cp.request(pk.polar_stop())
        reply = await cp.request(start)
    if reply.status:
        raise DeviceRefused(link.name, f"start at {rate} Hz refused", reply.error)
    try:
        factor = pk.decode_pmd_settings(reply.params).get(PolarSetting.FACTOR, (None,))[0]
    except PacketError:
        factor = None
    if factor is not None and not (math.isfinite(factor) and factor > 0):
        link.warning("bad-factor", "start reply factor %r cannot scale samples; ignored", factor)
        factor = None
    if factor is None:
        link.warning("factor", "start reply carries no factor; 0x81 frames read with factor "
                     "1.0, 0x80 frames would stop the stream")
    return Started(PolarAccDecoder(link.name, rate, factor, link), float(rate),
                   float(selected.get(PolarSetting.RANGE, range_g)))


class PolarAccDecoder:
    """Polar ACC frames of one started stream: the start reply's factor and Polar's
    timestamp-based sample spacing.

    The spacing is ``(timestamp - previous timestamp) / n`` as in Polar's SDK, except when
    a frame was lost in between (the gap is over 1.5x the last spacing and the next frame
    does not confirm it): then the last spacing is kept, so the loss stays a gap instead of
    stretching the samples. A frame type that cannot be scaled (0x80 without a factor) or
    is unknown stops the stream with `DeviceRefused`.
    """

    def __init__(self, name: str, rate_hz: float, factor: float | None, link: Link) -> None:
        self.name = name
        self.rate_hz = rate_hz
        self.factor = factor
        self.link = link
        self.previous_ns: int | None = None
        self._spacing_ns = 1e9 / rate_hz
        self._last_measured: float | None = None
        self._told = False

    @property
    def device_rate_hz(self) -> float:
        """The rate the device's timestamps show (the agreed one until two frames came)."""
        return 1e9 / self._spacing_ns

    def __call__(self, data: bytes) -> Frame | None:
        kind = pk.polar_frame_kind(data)
        if kind is not None and kind[0] == pk.POLAR_ACC:
            ftype = kind[1]
            if ftype not in pk.POLAR_RAW_TYPES and ftype not in pk.POLAR_COMPRESSED_TYPES:
                raise DeviceRefused(self.name, "unknown ACC frame type", f"0x{ftype:02x}")
            if ftype == 0x80 and self.factor is None:
                raise DeviceRefused(self.name, "frame type 0x80 needs the factor the start "
                                    "reply did not carry", "0x80")
        frame = pk.decode_polar_pmd(data, self.rate_hz, self.factor,
                                    previous_ns=self._previous_for(data))
        if frame is not None:
            self.previous_ns = int.from_bytes(bytes(data[1:9]), "little")
        return frame

    def _previous_for(self, data: bytes) -> int | None:
        prev = self.previous_ns
        if prev is None:
            return None
        ts = int.from_bytes(bytes(data[1:9]), "little")
        n = _polar_sample_count(data)
        if n is None or ts <= prev:
            return None
        measured = (ts - prev) / n
        confirmed = (self._last_measured is not None
                     and abs(measured - self._last_measured) <= 0.1 * measured)
        self._last_measured = measured
        if measured <= 1.5 * self._spacing_ns or confirmed:
            self._spacing_ns = measured
            nominal = 1e9 / self.rate_hz
            if not self._told and abs(measured - nominal) > 0.1 * nominal:
                self._told = True
                self.link.warning("spacing", "timestamps say %.4g Hz, not the %g Hz agreed; "
                                  "timing follows the device", 1e9 / measured, self.rate_hz)
            return prev
        return ts - round(self._spacing_ns * n)


def _polar_sample_count(data: bytes) -> int | None:
    """Samples in an ACC frame without decoding it (``None`` if it cannot be told)."""
    try:
        frame = pk.decode_polar_pmd(data, 1.0, 1.0)
    except PacketError:
        return None
    return None if frame is None else len(frame)


async def _polar_stop(t: BleTransport) -> None:
    await t.write(POLAR_PMD_CONTROL, pk.POLAR_STOP_ACC)


# --------------------------------------------------------------------------- WitMotion

async def _witmotion_start(rate_hz: int, t: BleTransport, link: Link) -> Started:
    # Unlock, write the return rate, save: the order of WitMotion's own SDKs.
    for command in (pk.WITMOTION_UNLOCK, pk.witmotion_set_rate(rate_hz), pk.WITMOTION_SAVE):
        await t.write(WITMOTION_WRITE, command, response=False)
    return Started(pk.decode_witmotion, rate_hz, 16.0)


# --------------------------------------------------------------------------- Thingy:52

async def _thingy_start(rate_hz: int, t: BleTransport, link: Link) -> Started:
    current = await t.read(THINGY_CONFIG)
    try:
        await t.write(THINGY_CONFIG, pk.thingy52_config_with_rate(current, rate_hz))
        actual = pk.decode_thingy52_config(await t.read(THINGY_CONFIG))
    except PacketError as err:
        raise DeviceRefused(link.name, "motion configuration unreadable", err.reason) from err
    if actual != rate_hz:
        link.warning("rate", "asked for %d Hz, motion configuration reads %d Hz; using %d Hz",
                     rate_hz, actual, actual)
    return Started(pk.decode_thingy52, float(actual))


async def _nothing(t: BleTransport) -> None:
    return None


DEFAULT_RATE_HZ = 50
"""Rate asked for when none is given (Polar: the offered rate nearest to it)."""


def profile_for(kind: str, *, rate_hz: float | None = None,
                range_g: float | None = None) -> DeviceProfile:
    """The profile for ``kind`` with the requested rate/range checked where the kind's
    values are fixed (Polar's are asked of the device when it connects).

    Raises
    ------
    ValueError
        Unknown kind, or a rate/range the device cannot do (the message lists valid ones).
    """
    if kind == "repfit":
        rate = int(rate_hz or 100)
        rng = float(range_g or 8.0)
        if rng not in REPFIT_RANGE_CODES:
            raise ValueError(f"repfit range must be one of 2, 4, 8, 16 g, got {range_g}")
        pk.encode_control(Control.SET_RATE, rate)  # validates 10..400
        return DeviceProfile("repfit", "repfit firmware", REPFIT_SERVICE, REPFIT_SAMPLES,
                             rate, partial(_repfit_start, rate, rng), _repfit_stop,
                             ("repfit-",), range_g=rng)
    if kind == "microbit":
        wanted = float(rate_hz or DEFAULT_RATE_HZ)
        if not 1 <= wanted <= 1000:
            raise ValueError(f"micro:bit rate must be 1..1000 Hz (period 1..1000 ms), "
                             f"got {rate_hz}")
        period = round(1000 / wanted)
        return DeviceProfile("microbit", "BBC micro:bit", MICROBIT_SERVICE, MICROBIT_DATA,
                             1000 / period, partial(_microbit_start, period), _nothing,
                             ("BBC micro:bit",), has_battery=False)
    if kind == "polar":
        if rate_hz is not None and not 1 <= rate_hz <= 10000:
            raise ValueError(f"Polar ACC rate must be a positive rate in Hz, got {rate_hz}")
        rng = int(range_g or 8)
        return DeviceProfile("polar", "Polar H10 / Verity Sense", POLAR_PMD_SERVICE,
                             POLAR_PMD_DATA, float(rate_hz or DEFAULT_RATE_HZ),
                             partial(_polar_start, None if rate_hz is None else int(rate_hz),
                                     rng),
                             _polar_stop, ("Polar H10", "Polar Sense", "Polar OH1"),
                             range_g=rng)
    if kind == "witmotion":
        rate = int(rate_hz or DEFAULT_RATE_HZ)
        pk.witmotion_set_rate(rate)  # validates
        return DeviceProfile("witmotion", "WitMotion WT901BLE", WITMOTION_SERVICE,
                             WITMOTION_NOTIFY, rate, partial(_witmotion_start, rate), _nothing,
                             ("WT901", "WT"), range_g=16.0, has_battery=False)
    if kind == "thingy52":
        rate = int(rate_hz or DEFAULT_RATE_HZ)
        if not 5 <= rate <= 200:
            raise ValueError(f"Thingy:52 motion frequency must be 5..200 Hz, got {rate}")
        return DeviceProfile("thingy52", "Nordic Thingy:52", THINGY_MOTION_SERVICE, THINGY_RAW,
                             rate, partial(_thingy_start, rate), _nothing, ("Thingy",))
    raise ValueError(f"unknown device kind {kind!r}; expected one of {', '.join(PROFILES)}")


PROFILES = ("repfit", "microbit", "polar", "witmotion", "thingy52")
"""Every supported kind, in the order a scan reports them."""
