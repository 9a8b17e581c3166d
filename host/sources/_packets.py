"""Pure decoders: one BLE notification in, one `Frame` of accelerometer samples (in g) out.

No I/O, no clocks, no state: the connection manager (`_ble`) stamps arrival times and the
stream assembler (`_stream`) turns frames into `SampleBatch` objects. Every decoder raises
`PacketError(profile, length, reason)` for a notification it cannot trust (truncated,
oversized, unknown version, reserved bits set) and returns ``None`` for a well-formed
notification that simply carries no samples (e.g. a WitMotion register reply).

Profiles and their published sources
------------------------------------
repfit (our firmware)
    ``docs/ble-profile.md``; the C encoder in ``device_firmware/lib/repfit_packet`` writes it.
BBC micro:bit accelerometer service
    Lancaster University, micro:bit DAL ``MicroBitAccelerometerService`` (v2.x) and the
    "micro:bit Bluetooth profile" pages: data characteristic E95DCA4B-251D-470A-A062-
    FA1922DFA9A8 notifies X, Y, Z as int16 little-endian in milli-g; period characteristic
    E95DFB24-... (uint16, ms). The firmware rounds a written period to one its
    accelerometer supports and writes the actual one back, so the host reads it again.
Polar H10 / Verity Sense (PMD)
    Polar BLE SDK (polar-ble-sdk 5.x): ``technical_documentation/Polar_Measurement_Data_
    Specification.pdf`` and the Android parsers ``PmdDataFrame``, ``AccData``,
    ``PmdSetting``, ``PmdControlPointResponse`` and ``PmdTimeStampUtils``. Control point
    FB005C81-..., data FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8. See `decode_polar_pmd`.
WitMotion WT901BLE family
    WitMotion "WT901BLE / BLE 5.0 communication protocol" and its official Python SDK
    (``device_model.py``): service 0000FFE5-0000-1000-8000-00805F9A34FB, notify 0xFFE4,
    write 0xFFE9 (on the base ``-0000-1000-8000-00805f9a34fb``, not the Bluetooth base);
    20-byte records ``0x55 0x61`` + 9 int16 LE (acc X/Y/Z, gyro X/Y/Z, angle roll/pitch/yaw);
    acceleration = raw / 32768 * 16 g. Commands ``FF AA reg lo hi``: unlock, write, save.
Nordic Thingy:52 raw motion
    Nordic Thingy:52 firmware documentation (v2.x), "Motion service": raw data
    characteristic EF680406-9B35-4933-9B10-52FFA9740042, 18 bytes: accelerometer int16 x3 in
    Q6.10 fixed point (g), gyroscope Q11.5 (deg/s), compass Q12.4 (uT); configuration
    EF680401-... (9 bytes, readable).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from ._errors import PacketError

__all__ = [
    "FULL_SCALE_G",
    "HEADER_LEN",
    "PACKET_VERSION",
    "SAMPLE_LEN",
    "Control",
    "Frame",
    "PmdResponse",
    "PolarSetting",
    "decode_control_state",
    "decode_microbit",
    "decode_pmd_response",
    "decode_pmd_settings",
    "decode_polar_pmd",
    "decode_repfit",
    "decode_thingy52",
    "decode_thingy52_config",
    "decode_witmotion",
    "encode_control",
    "encode_repfit",
    "polar_frame_kind",
    "polar_get_settings",
    "polar_start",
    "polar_stop",
    "samples_per_packet",
]

PACKET_VERSION = 1
"""The only repfit packet version this host understands."""
HEADER_LEN = 14
"""Bytes before the first sample in a repfit notification."""
SAMPLE_LEN = 6
"""One repfit sample: int16 x, y, z little-endian."""
FULL_SCALE_G = (2.0, 4.0, 8.0, 16.0)
"""Full-scale range by range code (low two bits of byte 12)."""
OVERFLOW_FLAG = 0x80
RESERVED_RANGE_BITS = 0x7C

_HEADER = struct.Struct("<BBHIIBB")
_U32 = 1 << 32


@dataclass(frozen=True, eq=False)
class Frame:
    """Samples decoded from one notification, before sequencing and clock mapping.

    Attributes
    ----------
    acc : numpy.ndarray
        Shape ``(n, 3)``, in g.
    counter : int or None
        Device sample counter of the first sample (loss detection), if the profile has one.
    counter_modulus : int
        Value at which ``counter`` wraps (0: never).
    t_dev : float or None
        Device clock at the first sample in seconds, if the profile carries one.
    t_dev_modulus : float
        Period after which ``t_dev`` wraps, in seconds (0: never).
    rate_hz : float or None
        Sample rate stated by the packet itself.
    range_g : float or None
        Full-scale range stated by the packet itself.
    overflow : bool
        The device discarded samples before this packet (its buffer overflowed).
    """

    acc: np.ndarray
    counter: int | None = None
    counter_modulus: int = 0
    t_dev: float | None = None
    t_dev_modulus: float = 0.0
    rate_hz: float | None = None
    range_g: float | None = None
    overflow: bool = False

    def __len__(self) -> int:
        return int(self.acc.shape[0])


# --------------------------------------------------------------------------- repfit (ours)

def samples_per_packet(att_mtu: int) -> int:
    """Samples that fit one notification at a negotiated ATT MTU (payload is MTU - 3)."""
    payload = att_mtu - 3
    if payload < HEADER_LEN + SAMPLE_LEN:
        return 0
    return min(255, (payload - HEADER_LEN) // SAMPLE_LEN)


def decode_repfit(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one repfit v1 notification (layout: ``docs/ble-profile.md``).

    Raises
    ------
    PacketError
        Shorter than a header plus one sample, a version other than 1, a length that does
        not match the sample count in the header (truncated or oversized), reserved bits
        set, or a zero sample rate.
    """
    length = len(data)
    if length < HEADER_LEN + SAMPLE_LEN:
        raise PacketError("repfit", length,
                          f"shorter than header + one sample ({HEADER_LEN + SAMPLE_LEN} bytes)")
    version, n, rate_hz, first, t_us, rng, _reserved = _HEADER.unpack_from(data)
    if version != PACKET_VERSION:
        raise PacketError("repfit", length,
                          f"unknown packet version {version} (this host reads {PACKET_VERSION})")
    expected = HEADER_LEN + SAMPLE_LEN * n
    if length != expected:
        kind = "truncated" if length < expected else "oversized"
        raise PacketError("repfit", length,
                          f"{kind}: header announces {n} samples = {expected} bytes")
    if rng & RESERVED_RANGE_BITS:
        raise PacketError("repfit", length, f"reserved bits set in range byte 0x{rng:02x}")
    if rate_hz == 0:
        raise PacketError("repfit", length, "sample rate 0 Hz")
    fs = FULL_SCALE_G[rng & 3]
    raw = np.frombuffer(data, dtype="<i2", count=3 * n, offset=HEADER_LEN)
    acc = raw.reshape(n, 3) * (fs / 32768.0)
    return Frame(acc=acc, counter=first, counter_modulus=_U32, t_dev=t_us * 1e-6,
                 t_dev_modulus=_U32 * 1e-6, rate_hz=float(rate_hz), range_g=fs,
                 overflow=bool(rng & OVERFLOW_FLAG))


def encode_repfit(raw: np.ndarray, *, first_index: int, t_us: int, rate_hz: int,
                  range_code: int, overflow: bool = False) -> bytes:
    """Encode one repfit v1 notification (the host-side twin of ``rf_encode`` in C).

    Used by the replay transport and the benchmarks; the C encoder is the reference and the
    tests check both produce identical bytes.

    Parameters
    ----------
    raw : numpy.ndarray
        Integer counts, shape ``(n, 3)``, 1 <= n <= 255; ``g = raw * full_scale / 32768``.
    """
    raw = np.asarray(raw)
    n = raw.shape[0]
    if not 1 <= n <= 255 or raw.shape != (n, 3):
        raise ValueError(f"raw must have shape (n, 3) with 1 <= n <= 255, got {raw.shape}")
    if not 0 <= range_code <= 3:
        raise ValueError(f"range_code must be 0..3, got {range_code}")
    header = _HEADER.pack(PACKET_VERSION, n, rate_hz, first_index % _U32, t_us % _U32,
                          range_code | (OVERFLOW_FLAG if overflow else 0), 0)
    return header + np.ascontiguousarray(raw, dtype="<i2").tobytes()


class Control(IntEnum):
    """Opcodes of the repfit control characteristic (see ``docs/ble-profile.md``)."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    SET_RANGE = 0x04


def encode_control(opcode: int, value: int | None = None) -> bytes:
    """Bytes of one control write: start, stop, set rate (Hz, 10..400), set range (code 0..3)."""
    if opcode in (Control.START, Control.STOP):
        return bytes([opcode])
    if opcode == Control.SET_RATE:
        if value is None or not 10 <= value <= 400:
            raise ValueError(f"sample rate must be 10..400 Hz, got {value}")
        return struct.pack("<BH", opcode, value)
    if opcode == Control.SET_RANGE:
        if value is None or not 0 <= value <= 3:
            raise ValueError(f"range code must be 0..3 (2, 4, 8, 16 g), got {value}")
        return bytes([opcode, value])
    raise ValueError(f"unknown control opcode 0x{opcode:02x}")


_CONTROL_STATE = struct.Struct("<BBH")


def decode_control_state(data: bytes | bytearray | memoryview) -> tuple[bool, int, int]:
    """Control characteristic read back: ``(streaming, range code, rate Hz)``."""
    if len(data) != _CONTROL_STATE.size:
        raise PacketError("repfit", len(data), "control state must be exactly 4 bytes")
    state, rng, rate = _CONTROL_STATE.unpack(bytes(data))
    if state > 1 or rng > 3 or rate == 0:
        raise PacketError("repfit", len(data),
                          f"control state out of range (state {state}, range {rng}, {rate} Hz)")
    return bool(state), rng, rate


# --------------------------------------------------------------------------- micro:bit

_MICROBIT = struct.Struct("<hhh")


def decode_microbit(data: bytes | bytearray | memoryview) -> Frame:
    """BBC micro:bit Accelerometer Data: int16 X, Y, Z little-endian in milli-g (6 bytes)."""
    if len(data) != _MICROBIT.size:
        raise PacketError("microbit", len(data), "accelerometer data must be exactly 6 bytes")
    x, y, z = _MICROBIT.unpack(data)
    return Frame(acc=np.array([[x, y, z]], dtype=np.float64) * 1e-3)


# --------------------------------------------------------------------------- Polar PMD

POLAR_ACC = 0x02
POLAR_MEASUREMENT_MASK = 0x3F
"""Low six bits of a PMD frame's first byte name the measurement; the top two flag
offline/recording variants (Polar masks them off, so does repfit)."""
POLAR_RESPONSE = 0xF0
POLAR_GET_SETTINGS = 0x01
POLAR_START = 0x02
POLAR_STOP = 0x03
POLAR_RAW_TYPES = {0x00: 1, 0x01: 2, 0x02: 3}
"""Uncompressed ACC frame types and their sample width in bytes (values in milli-g)."""
POLAR_COMPRESSED_TYPES = (0x80, 0x81)
"""Delta-compressed ACC frame types: 0x80 = raw x factor in g, 0x81 = raw x factor in mg."""


class PolarSetting(IntEnum):
    """PMD setting ids and, in `POLAR_SETTING_SIZE`, the size of one value in bytes."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


POLAR_SETTING_SIZE = {PolarSetting.SAMPLE_RATE: 2, PolarSetting.RESOLUTION: 2,
                      PolarSetting.RANGE: 2, PolarSetting.RANGE_MILLIUNIT: 4,
                      PolarSetting.CHANNELS: 1, PolarSetting.FACTOR: 4}
POLAR_ERRORS = {1: "invalid op code", 2: "invalid measurement type", 3: "not supported",
                4: "invalid length", 5: "invalid parameter", 6: "already in that state",
                7: "invalid resolution", 8: "invalid sample rate", 9: "invalid range",
                10: "invalid MTU", 11: "invalid number of channels", 12: "invalid state",
                13: "device in charger", 14: "disk full"}
"""PMD control-point error codes (status byte of a response)."""

_POLAR_HEAD = struct.Struct("<BQB")


@dataclass(frozen=True)
class PmdResponse:
    """One PMD control-point response: ``F0 op measurement status more parameters...``."""

    op: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def error(self) -> str:
        return POLAR_ERRORS.get(self.status, f"error code {self.status}")


def decode_pmd_response(data: bytes | bytearray | memoryview) -> PmdResponse | None:
    """A control-point indication as a `PmdResponse`; ``None`` for device-initiated messages
    (first byte other than 0xF0, e.g. 0x01 "measurement stopped")."""
    data = bytes(data)
    if not data or data[0] != POLAR_RESPONSE:
        return None
    if len(data) < 4:
        raise PacketError("polar", len(data), "control-point response shorter than 4 bytes")
    ok = data[3] == 0
    return PmdResponse(op=data[1], measurement=data[2] & POLAR_MEASUREMENT_MASK,
                       status=data[3], more=ok and len(data) > 4 and data[4] != 0,
                       params=data[5:] if ok else b"")


def decode_pmd_settings(params: bytes | bytearray | memoryview) -> dict[PolarSetting,
                                                                        tuple[float, ...]]:
    """Settings block (``id, count, count x value``...) -> values per setting.

    Integers are little-endian unsigned; the factor (id 5) is an IEEE-754 float32.

    Raises
    ------
    PacketError
        An unknown setting id or a value list running past the end.
    """
    params = bytes(params)
    out: dict[PolarSetting, tuple[float, ...]] = {}
    off = 0
    while off < len(params):
        if off + 2 > len(params):
            raise PacketError("polar", len(params), "settings block ends inside a setting header")
        sid, count = params[off], params[off + 1]
        off += 2
        try:
            setting = PolarSetting(sid)
        except ValueError:
            raise PacketError("polar", len(params), f"unknown PMD setting id {sid}") from None
        size = POLAR_SETTING_SIZE[setting]
        if off + size * count > len(params):
            raise PacketError("polar", len(params),
                              f"setting {setting.name} announces {count} values past the end")
        values: list[float] = []
        for k in range(count):
            chunk = params[off + k * size: off + (k + 1) * size]
            if setting is PolarSetting.FACTOR:
                values.append(struct.unpack("<f", chunk)[0])
            else:
                values.append(int.from_bytes(chunk, "little"))
        out[setting] = tuple(values)
        off += size * count
    return out


def polar_get_settings(measurement: int = POLAR_ACC) -> bytes:
    """PMD "get measurement settings" request: the device answers with what it supports."""
    return bytes([POLAR_GET_SETTINGS, measurement])


def polar_start(selected: dict[PolarSetting, int], measurement: int = POLAR_ACC) -> bytes:
    """PMD start request with one chosen value per setting (the factor is never sent)."""
    out = bytearray([POLAR_START, measurement])
    for setting, value in selected.items():
        if setting is PolarSetting.FACTOR:
            continue
        size = POLAR_SETTING_SIZE[setting]
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"PMD setting {setting.name} = {value} does not fit {size} bytes")
        out += bytes([setting, 1]) + int(value).to_bytes(size, "little")
    return bytes(out)


def polar_stop(measurement: int = POLAR_ACC) -> bytes:
    """PMD stop request."""
    return bytes([POLAR_STOP, measurement])


POLAR_STOP_ACC = polar_stop()
"""PMD control-point command stopping the ACC stream."""


def polar_frame_kind(data: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """``(measurement, frame type)`` of a PMD data frame (measurement masked), or ``None`` if
    it is shorter than the header."""
    if len(data) < _POLAR_HEAD.size:
        return None
    return data[0] & POLAR_MEASUREMENT_MASK, data[_POLAR_HEAD.size - 1]


def decode_polar_pmd(data: bytes | bytearray | memoryview, rate_hz: float,
                     factor: float | None = None, previous_ns: int | None = None) -> Frame | None:
    """Polar PMD accelerometer frame (Polar BLE SDK ``AccData``/``PmdDataFrame`` layout).

    Header: measurement type (low six bits; 0x02 = ACC), uint64 LE timestamp in ns of the
    *last* sample, frame type. Uncompressed types 0x00/0x01/0x02 carry 8/16/24-bit signed
    X, Y, Z samples in milli-g. Delta-compressed types carry a reference sample (3 x int16),
    then blocks of ``delta bit width, sample count`` followed by that many bit-packed (LSB
    first) signed deltas per axis: type 0x80 samples are ``raw x factor`` in g, type 0x81
    ``raw x factor`` in milli-g, where ``factor`` is the float the device returned in its
    reply to the start request. 0x80 without a factor cannot be scaled and is rejected; 0x81
    without one uses 1.0, as Polar's SDK does.

    Timing follows Polar's SDK: with ``previous_ns`` (the previous frame's timestamp) the
    samples are spaced by ``(timestamp - previous_ns) / n`` and the frame's ``rate_hz`` is
    that spacing's inverse; without it the nominal ``rate_hz`` spaces them back from the
    timestamp. Frames of other measurements (ECG, PPG, ...) return ``None``.

    Raises
    ------
    PacketError
        Truncated header or body, an unknown frame type, a compressed body that does not
        parse, 0x80 without a factor, or a non-positive rate.
    """
    length = len(data)
    if length < _POLAR_HEAD.size:
        raise PacketError("polar", length, f"shorter than the {_POLAR_HEAD.size}-byte PMD header")
    mtype, ts_ns, ftype = _POLAR_HEAD.unpack_from(data)
    if mtype & POLAR_MEASUREMENT_MASK != POLAR_ACC:
        return None
    if not rate_hz > 0:
        raise PacketError("polar", length, f"nominal sample rate must be positive, got {rate_hz}")
    body = bytes(memoryview(data)[_POLAR_HEAD.size:])
    if ftype & 0x80:
        if ftype not in POLAR_COMPRESSED_TYPES:
            raise PacketError("polar", length, f"unknown compressed ACC frame type 0x{ftype:02x}")
        if factor is None and ftype == 0x80:
            raise PacketError("polar", length, "frame type 0x80 needs the factor from the "
                              "start reply and none was given")
        scale = (factor if factor is not None else 1.0) * (1.0 if ftype == 0x80 else 1e-3)
        if not np.isfinite(scale) or scale == 0.0:
            raise PacketError("polar", length, f"factor {factor!r} cannot scale samples")
        acc = _polar_delta_samples(body, length) * scale
    else:
        width = POLAR_RAW_TYPES.get(ftype)
        if width is None:
            raise PacketError("polar", length, f"unknown ACC frame type 0x{ftype:02x}")
        per_sample = 3 * width
        if len(body) == 0 or len(body) % per_sample:
            raise PacketError("polar", length,
                              f"payload of {len(body)} bytes is not a whole number of "
                              f"{per_sample}-byte samples")
        if width == 3:
            b = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            raw = np.where(v & 0x800000, v - (1 << 24), v).reshape(-1, 3)
        else:
            raw = np.frombuffer(body, dtype="<i1" if width == 1 else "<i2").reshape(-1, 3)
        acc = raw * 1e-3
    n = acc.shape[0]
    if previous_ns is not None and 0 <= previous_ns < ts_ns:
        step_ns = (ts_ns - previous_ns) / n
        return Frame(acc=acc, t_dev=(previous_ns + step_ns) * 1e-9, rate_hz=1e9 / step_ns)
    return Frame(acc=acc, t_dev=ts_ns * 1e-9 - (n - 1) / rate_hz, rate_hz=float(rate_hz))


def _polar_delta_samples(body: bytes, length: int) -> np.ndarray:
    """Reference sample (3 x int16) plus bit-packed delta blocks -> (n, 3) int64 counts."""
    if len(body) < 6:
        raise PacketError("polar", length, "compressed frame shorter than its reference sample")
    rows = [np.frombuffer(body, dtype="<i2", count=3).astype(np.int64)[None, :]]
    off = 6
    bits_all = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little")
    while off < len(body):
        if off + 2 > len(body):
            raise PacketError("polar", length, "truncated delta block header")
        width, count = body[off], body[off + 1]
        off += 2
        nbits = width * count * 3
        nbytes = (nbits + 7) // 8
        if width == 0 or width > 32 or off + nbytes > len(body):
            raise PacketError("polar", length,
                              f"delta block of {count} samples x {width} bits overruns the frame")
        if count == 0:
            continue
        bits = bits_all[off * 8: off * 8 + nbits].reshape(count * 3, width).astype(np.int64)
        vals = bits @ (np.int64(1) << np.arange(width, dtype=np.int64))
        vals = np.where(vals >= (1 << (width - 1)), vals - (1 << width), vals)
        rows.append(rows[-1][-1] + np.cumsum(vals.reshape(count, 3), axis=0))
        off += nbytes
    return np.concatenate(rows)


# --------------------------------------------------------------------------- WitMotion

_WIT_RECORD = 20
_WIT_ACC = struct.Struct("<3h")
_WIT_MIN = 2 + _WIT_ACC.size


def decode_witmotion(data: bytes | bytearray | memoryview) -> Frame | None:
    """WitMotion WT901BLE notification: one or more 20-byte ``0x55 0x61`` records.

    Register replies (``0x55 0x71``) carry no acceleration and return ``None``. Some
    firmware variants (WT901BLE68) send a shortened single record; one record of at least
    8 bytes (header + acceleration) is accepted as well.
    """
    length = len(data)
    if length % _WIT_RECORD and not (_WIT_MIN <= length < _WIT_RECORD):
        raise PacketError("witmotion", length,
                          "neither whole 20-byte records nor one short record")
    rows: list[tuple[int, int, int]] = []
    for off in range(0, length, _WIT_RECORD):
        if data[off] != 0x55:
            raise PacketError("witmotion", length,
                              f"record at byte {off} starts 0x{data[off]:02x}, not 0x55")
        if data[off + 1] == 0x61:
            rows.append(_WIT_ACC.unpack_from(data, off + 2))
    if not rows:
        return None
    return Frame(acc=np.array(rows, dtype=np.float64) * (16.0 / 32768.0), range_g=16.0)


WITMOTION_UNLOCK = bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5])
"""Register write enable (key 0xB588 into register 0x69), valid for the next writes."""
WITMOTION_SAVE = bytes([0xFF, 0xAA, 0x00, 0x00, 0x00])
"""SAVE register = 0: keep the configuration just written (WitMotion's SDKs send it after
every setting)."""
WITMOTION_RATE_CODES = {10: 0x06, 20: 0x07, 50: 0x08, 100: 0x09, 200: 0x0B}


def witmotion_set_rate(rate_hz: int) -> bytes:
    """Register write RRATE (0x03): ``FF AA 03 code 00`` (send `WITMOTION_UNLOCK` first)."""
    code = WITMOTION_RATE_CODES.get(rate_hz)
    if code is None:
        raise ValueError(f"WitMotion return rate must be one of {sorted(WITMOTION_RATE_CODES)} "
                         f"Hz, got {rate_hz}")
    return bytes([0xFF, 0xAA, 0x03, code, 0x00])


# --------------------------------------------------------------------------- Thingy:52

_THINGY_RAW = struct.Struct("<9h")
_THINGY_CONFIG = struct.Struct("<HHHHB")


def decode_thingy52(data: bytes | bytearray | memoryview) -> Frame:
    """Thingy:52 raw motion: accelerometer int16 x3 in Q6.10 g (then gyro, compass)."""
    if len(data) != _THINGY_RAW.size:
        raise PacketError("thingy52", len(data), "raw motion data must be exactly 18 bytes")
    f = _THINGY_RAW.unpack(data)
    return Frame(acc=np.array([f[:3]], dtype=np.float64) / 1024.0)


def decode_thingy52_config(data: bytes | bytearray | memoryview) -> int:
    """Motion-processing frequency (Hz) from a 9-byte motion configuration read back."""
    if len(data) != _THINGY_CONFIG.size:
        raise PacketError("thingy52", len(data), "motion configuration must be 9 bytes")
    freq = int(_THINGY_CONFIG.unpack(bytes(data))[3])
    if freq == 0:
        raise PacketError("thingy52", len(data), "motion processing frequency 0 Hz")
    return freq


def thingy52_config_with_rate(current: bytes, rate_hz: int) -> bytes:
    """Motion configuration (9 bytes) with the motion-processing frequency replaced.

    Layout: pedometer interval ms, temperature compensation ms, compass compensation ms,
    motion processing frequency Hz (5..200) - all uint16 LE - and wake-on-motion uint8.
    """
    if not 5 <= rate_hz <= 200:
        raise ValueError(f"Thingy:52 motion frequency must be 5..200 Hz, got {rate_hz}")
    if len(current) != _THINGY_CONFIG.size:
        raise PacketError("thingy52", len(current), "motion configuration must be 9 bytes")
    pedo, temp, comp, _freq, wom = _THINGY_CONFIG.unpack(current)
    return _THINGY_CONFIG.pack(pedo, temp, comp, rate_hz, wom)
