"""Supported BLE device profiles: UUIDs, set-up commands and decoders, one table.

Each `DeviceProfile` says how to recognise a device in a scan (advertised service UUID,
name prefixes), which characteristic carries samples, how to start and stop streaming, and
which pure decoder in `_packets` reads a notification. Sources for every UUID, command and
scale are cited in `_packets`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from . import _packets as pk
from ._packets import Control, Frame
from ._transport import BleTransport

__all__ = ["BATTERY_LEVEL_UUID", "PROFILES", "DeviceProfile", "profile_for"]

log = logging.getLogger(__name__)


def _uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


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

POLAR_PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

WITMOTION_SERVICE = _uuid16(0xFFE5)
WITMOTION_NOTIFY = _uuid16(0xFFE4)
WITMOTION_WRITE = _uuid16(0xFFE9)

THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"

Setup = Callable[[BleTransport], Awaitable[None]]


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
        Sample rate requested from the device (nominal rate for arrival-stamped profiles).
    range_g : float or None
        Full-scale range requested (profiles that can set it).
    decode : callable
        Pure ``bytes -> Frame | None`` decoder.
    start, stop : callable
        Coroutines run after subscribing / before unsubscribing.
    name_prefixes : tuple of str
        Advertised names that identify the kind when the service UUID is not advertised.
    """

    kind: str
    label: str
    service_uuid: str
    data_uuid: str
    rate_hz: float
    decode: Callable[[bytes], Frame | None]
    start: Setup
    stop: Setup
    name_prefixes: tuple[str, ...] = ()
    range_g: float | None = None
    has_battery: bool = True


async def _repfit_start(rate_hz: int, range_g: float, t: BleTransport) -> None:
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.SET_RANGE,
                                                    REPFIT_RANGE_CODES[range_g]))
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.SET_RATE, rate_hz))
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.START))


async def _repfit_stop(t: BleTransport) -> None:
    await t.write(REPFIT_CONTROL, pk.encode_control(Control.STOP))


async def _microbit_start(period_ms: int, t: BleTransport) -> None:
    await t.write(MICROBIT_PERIOD, period_ms.to_bytes(2, "little"))


def _polar_response(data: bytes) -> None:
    """Log a PMD control-point response: ``F0 op type error ...`` (error 0 = success)."""
    if len(data) >= 4 and data[0] == 0xF0:
        if data[3] == 0:
            log.info("Polar PMD: op 0x%02x on measurement %d accepted", data[1], data[2])
        else:
            log.warning("Polar PMD refused op 0x%02x on measurement %d: error code %d (6 = "
                        "already streaming, 8/9 = rate/range not supported)", data[1], data[2],
                        data[3])


async def _polar_start(rate_hz: int, range_g: int, t: BleTransport) -> None:
    # The control point answers by indication; the device expects them enabled first.
    await t.start_notify(POLAR_PMD_CONTROL, _polar_response)
    await t.write(POLAR_PMD_CONTROL, pk.polar_start_acc(rate_hz, range_g))


async def _polar_stop(t: BleTransport) -> None:
    await t.write(POLAR_PMD_CONTROL, pk.POLAR_STOP_ACC)


async def _witmotion_start(rate_hz: int, t: BleTransport) -> None:
    await t.write(WITMOTION_WRITE, pk.WITMOTION_UNLOCK, response=False)
    await t.write(WITMOTION_WRITE, pk.witmotion_set_rate(rate_hz), response=False)


async def _thingy_start(rate_hz: int, t: BleTransport) -> None:
    current = await t.read(THINGY_CONFIG)
    await t.write(THINGY_CONFIG, pk.thingy52_config_with_rate(current, rate_hz))


async def _nothing(t: BleTransport) -> None:
    return None


def profile_for(kind: str, *, rate_hz: float | None = None,
                range_g: float | None = None) -> DeviceProfile:
    """The profile for ``kind`` with the requested rate/range checked against the device's.

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
                             rate, pk.decode_repfit, partial(_repfit_start, rate, rng),
                             _repfit_stop, ("repfit-",), range_g=rng)
    if kind == "microbit":
        period = round(1000 / (rate_hz or 50))
        if period not in MICROBIT_PERIODS_MS:
            raise ValueError(f"micro:bit period must be one of {MICROBIT_PERIODS_MS} ms, "
                             f"got {period} ms ({rate_hz} Hz)")
        return DeviceProfile("microbit", "BBC micro:bit", MICROBIT_SERVICE, MICROBIT_DATA,
                             1000 / period, pk.decode_microbit, partial(_microbit_start, period),
                             _nothing, ("BBC micro:bit",), has_battery=False)
    if kind == "polar":
        rate = int(rate_hz or 50)
        rng = int(range_g or 8)
        pk.polar_start_acc(rate, rng)  # validates
        return DeviceProfile("polar", "Polar H10 / Verity Sense", POLAR_PMD_SERVICE,
                             POLAR_PMD_DATA, rate,
                             partial(pk.decode_polar_pmd, rate_hz=rate),
                             partial(_polar_start, rate, rng), _polar_stop,
                             ("Polar H10", "Polar Sense", "Polar OH1"), range_g=rng)
    if kind == "witmotion":
        rate = int(rate_hz or 50)
        pk.witmotion_set_rate(rate)  # validates
        return DeviceProfile("witmotion", "WitMotion WT901BLE", WITMOTION_SERVICE,
                             WITMOTION_NOTIFY, rate, pk.decode_witmotion,
                             partial(_witmotion_start, rate), _nothing, ("WT901", "WT"),
                             range_g=16.0, has_battery=False)
    if kind == "thingy52":
        rate = int(rate_hz or 50)
        if not 5 <= rate <= 200:
            raise ValueError(f"Thingy:52 motion frequency must be 5..200 Hz, got {rate}")
        return DeviceProfile("thingy52", "Nordic Thingy:52", THINGY_MOTION_SERVICE, THINGY_RAW,
                             rate, pk.decode_thingy52, partial(_thingy_start, rate), _nothing,
                             ("Thingy",))
    raise ValueError(f"unknown device kind {kind!r}; expected one of {', '.join(PROFILES)}")


PROFILES = ("repfit", "microbit", "polar", "witmotion", "thingy52")
"""Every supported kind, in the order a scan reports them."""
