"""Byte builders for off-the-shelf sensors, written from the makers' documented formats.

Polar: PMD data frames (measurement type, uint64 LE timestamp of the last sample in ns,
frame type, samples; compressed types: a 3 x int16 reference sample then blocks of
``bit width, count`` and LSB-first packed signed deltas) and control-point settings blocks
(``id, count, values``; the factor is a float32). WitMotion: ``0x55 0x61`` records of nine
int16. micro:bit: int16 X, Y, Z in milli-g. Used by the golden and property tests.
"""

from __future__ import annotations

import struct

import numpy as np

POLAR_T0_NS = 600_000_000_000_000_000
"""A Polar timestamp (ns since 2000-01-01) for the first test frame, about 2019."""


def pmd_header(ftype: int, ts_ns: int, measurement: int = 0x02) -> bytes:
    return struct.pack("<BQB", measurement, ts_ns, ftype)


def pmd_raw16(counts: np.ndarray, ts_ns: int, measurement: int = 0x02) -> bytes:
    """Frame type 0x01: int16 X, Y, Z per sample (milli-g)."""
    return pmd_header(0x01, ts_ns, measurement) + np.asarray(counts, "<i2").tobytes()


def pack_signed(values: list[int], width: int) -> bytes:
    """Two's-complement ``width``-bit values, packed least significant bit first."""
    bits = [(v >> i) & 1 for v in values for i in range(width)]
    bits += [0] * (-len(bits) % 8)
    return bytes(sum(b << i for i, b in enumerate(bits[k:k + 8])) for k in range(0, len(bits), 8))


def pmd_compressed(ftype: int, counts: np.ndarray, ts_ns: int, measurement: int = 0x02) -> bytes:
    """Compressed frame: the first sample as reference, the rest as one block of deltas."""
    counts = np.asarray(counts, dtype=np.int64)
    deltas = np.diff(counts, axis=0)
    width = max(2, int(np.abs(deltas).max(initial=0)).bit_length() + 1)
    body = struct.pack("<3h", *counts[0].tolist())
    if len(deltas):
        body += bytes([width, len(deltas)]) + pack_signed(deltas.ravel().tolist(), width)
    return pmd_header(ftype, ts_ns, measurement) + body


def pmd_settings(*entries: tuple[int, list[int]]) -> bytes:
    """A settings block: ``(id, values)`` pairs; sizes per id from Polar's specification."""
    size = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1}
    out = b""
    for sid, values in entries:
        out += bytes([sid, len(values)]) + b"".join(v.to_bytes(size[sid], "little")
                                                    for v in values)
    return out


def pmd_factor(factor: float) -> bytes:
    """Start-reply parameters carrying the factor (setting 5, one float32)."""
    return bytes([5, 1]) + struct.pack("<f", factor)


H10_ACC_SETTINGS = pmd_settings((0, [25, 50, 100, 200]), (1, [16]), (2, [2, 4, 8]))
"""What an H10 offers for ACC: 25/50/100/200 Hz, 16 bit, +-2/4/8 g."""
VERITY_ACC_SETTINGS = pmd_settings((0, [52]), (1, [16]), (2, [8]), (4, [3]))
"""What a Verity Sense offers for ACC outside SDK mode: 52 Hz, 16 bit, +-8 g, 3 channels."""


def polar_frames(counts: np.ndarray, per: int, rate_hz: float, build, *,  # type: ignore[no-untyped-def]
                 t0_ns: int = POLAR_T0_NS) -> list[bytes]:
    """Split ``counts`` into frames of ``per`` samples stamped at ``rate_hz``."""
    out = []
    for lo in range(0, len(counts) - per + 1, per):
        last_ns = t0_ns + round((lo + per - 1) * 1e9 / rate_hz)
        out.append(build(counts[lo:lo + per], last_ns))
    return out


def witmotion_record(acc_counts: tuple[int, int, int], kind: int = 0x61) -> bytes:
    """A 20-byte record: header, acceleration, then zero gyro and angle."""
    return bytes([0x55, kind]) + struct.pack("<3h", *acc_counts) + bytes(12)


def microbit_sample(mg: tuple[int, int, int]) -> bytes:
    return struct.pack("<3h", *mg)
