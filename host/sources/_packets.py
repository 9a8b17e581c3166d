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
    Lancaster University, "micro:bit Bluetooth profile", Accelerometer Service
    (https://lancaster-university.github.io/microbit-docs/ble/profile/): data characteristic
    E95DCA4B-251D-470A-A062-FA1922DFA9A8 notifies X, Y, Z as int16 little-endian in milli-g;
    period characteristic E95DFB24-... (uint16, ms; 1, 2, 5, 10, 20, 80, 160, 640).
Polar H10 / Verity Sense (PMD)
    Polar, polar-ble-sdk ``technical_documentation/Polar_Measurement_Data_Specification.pdf``
    and its ``PmdDataFrame``/``AccData`` parsers: data characteristic FB005C82-02E7-F387-
    1CAD-8ACD2D8DF0C8; frame = measurement type (0x02 = ACC), uint64 LE timestamp in ns of
    the *last* sample, frame type (0x00/0x01/0x02 = 8/16/24-bit signed samples; bit 7 set =
    delta-compressed), then X, Y, Z per sample in milli-g.
WitMotion WT901BLE family
    WitMotion "WT901BLE5.0 communication protocol": notify characteristic 0xFFE4 carries
    20-byte records ``0x55 0x61`` + 9 int16 LE (acc X/Y/Z, gyro X/Y/Z, angle roll/pitch/yaw);
    acceleration = raw / 32768 * 16 g.
Nordic Thingy:52 raw motion
    Nordic Thingy:52 firmware documentation, "Motion service" (https://nordicsemiconductor.
    github.io/Nordic-Thingy52-FW/documentation/firmware_architecture.html): raw data
    characteristic EF680406-9B35-4933-9B10-52FFA9740042, 18 bytes: accelerometer int16 x3 in
    Q6.10 fixed point (g), gyroscope Q11.5 (deg/s), compass Q12.4 (uT).
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
    "decode_microbit",
    "decode_polar_pmd",
    "decode_repfit",
    "decode_thingy52",
    "decode_witmotion",
    "encode_control",
    "encode_repfit",
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
_POLAR_HEAD = struct.Struct("<BQB")
_POLAR_WIDTH = {0x00: 1, 0x01: 2, 0x02: 3}


def decode_polar_pmd(data: bytes | bytearray | memoryview, rate_hz: float,
                     factor: float = 1.0) -> Frame | None:
    """Polar PMD accelerometer frame, raw (H10: type 0x01) or delta-compressed (Verity Sense).

    Raw frame types 0x00/0x01/0x02 carry 8/16/24-bit signed samples in milli-g. Compressed
    types (bit 7 set; 0x80, 0x81) carry a 16-bit reference sample, then blocks of
    ``delta bit width, sample count`` followed by that many bit-packed (LSB first) signed
    deltas per axis; samples are multiplied by ``factor`` (reported by the device in its
    settings; 1.0 unless configured otherwise). The frame timestamp (ns since 2000-01-01)
    belongs to the last sample; the first sample's time is derived with ``rate_hz``, which
    the frame does not carry. Frames of other measurements (ECG, PPG, ...) return ``None``.
    """
    length = len(data)
    if length < _POLAR_HEAD.size:
        raise PacketError("polar", length, f"shorter than the {_POLAR_HEAD.size}-byte PMD header")
    mtype, ts_ns, ftype = _POLAR_HEAD.unpack_from(data)
    if mtype != POLAR_ACC:
        return None
    body = memoryview(data)[_POLAR_HEAD.size:]
    if ftype & 0x80:
        if ftype & 0x7F > 1:
            raise PacketError("polar", length, f"unknown compressed ACC frame type 0x{ftype:02x}")
        raw = _polar_delta_samples(bytes(body), length) * factor
    else:
        width = _POLAR_WIDTH.get(ftype)
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
    n = raw.shape[0]
    acc = raw * 1e-3
    return Frame(acc=acc, t_dev=ts_ns * 1e-9 - (n - 1) / rate_hz, rate_hz=rate_hz)


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
        bits = bits_all[off * 8: off * 8 + nbits].reshape(count * 3, width).astype(np.int64)
        vals = bits @ (np.int64(1) << np.arange(width, dtype=np.int64))
        vals = np.where(vals >= (1 << (width - 1)), vals - (1 << width), vals)
        rows.append(rows[-1][-1] + np.cumsum(vals.reshape(count, 3), axis=0))
        off += nbytes
    return np.concatenate(rows)


def polar_start_acc(rate_hz: int = 50, range_g: int = 8) -> bytes:
    """PMD control-point command starting the ACC stream (16-bit resolution).

    Layout (Polar PMD specification): op 0x02 (start), type 0x02 (ACC), then settings as
    ``setting id, count, value (uint16 LE)``: 0x00 sample rate, 0x01 resolution, 0x02 range.
    """
    if rate_hz not in (25, 50, 100, 200):
        raise ValueError(f"Polar H10 ACC rate must be 25, 50, 100 or 200 Hz, got {rate_hz}")
    if range_g not in (2, 4, 8):
        raise ValueError(f"Polar H10 ACC range must be 2, 4 or 8 g, got {range_g}")
    return struct.pack("<BBBBHBBHBBH", 0x02, POLAR_ACC, 0x00, 1, rate_hz, 0x01, 1, 16,
                       0x02, 1, range_g)


POLAR_STOP_ACC = bytes([0x03, POLAR_ACC])
"""PMD control-point command stopping the ACC stream."""


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
