# repfit_packet.py -- MicroPython twin of device_firmware/lib/repfit_packet (profile v1).
#
# Pure, allocation-light and free of MicroPython-only modules, so the host's tests run it
# under CPython against device_firmware/golden/golden_vectors.json, exactly like the C file.
# Layout: docs/ble-profile.md.

import struct

VERSION = 1
HEADER_LEN = 14
SAMPLE_LEN = 6
FLAG_OVERFLOW = 0x80

CTRL_START = 0x01
CTRL_STOP = 0x02
CTRL_SET_RATE = 0x03
CTRL_SET_RANGE = 0x04

ERR_EMPTY = 1
ERR_OPCODE = 2
ERR_LENGTH = 3
ERR_VALUE = 4

_HEADER = "<BBHIIBB"


def samples_per_packet(att_mtu):
    """Samples per notification for a negotiated ATT MTU (payload = MTU - 3)."""
    payload = att_mtu - 3
    if payload < HEADER_LEN + SAMPLE_LEN:
        return 0
    return min(255, (payload - HEADER_LEN) // SAMPLE_LEN)


def encode_into(buf, samples, n, rate_hz, first_index, t_us, range_code, overflow=False):
    """Write one notification into bytearray ``buf``; return its length (0 on bad input).

    ``samples`` is a flat sequence x0, y0, z0, x1, ... of int16 counts
    (g = raw * full_scale / 32768); the first ``n`` samples are encoded.
    """
    need = HEADER_LEN + SAMPLE_LEN * n
    if n < 1 or n > 255 or range_code > 3 or len(buf) < need or len(samples) < 3 * n:
        return 0
    flags = range_code | (FLAG_OVERFLOW if overflow else 0)
    struct.pack_into(_HEADER, buf, 0, VERSION, n, rate_hz & 0xFFFF, first_index & 0xFFFFFFFF,
                     t_us & 0xFFFFFFFF, flags, 0)
    off = HEADER_LEN
    for i in range(3 * n):
        struct.pack_into("<h", buf, off, samples[i])
        off += 2
    return need


def encode(samples, n, rate_hz, first_index, t_us, range_code, overflow=False):
    """Return one notification as bytes (see ``encode_into``)."""
    buf = bytearray(HEADER_LEN + SAMPLE_LEN * max(n, 0))
    length = encode_into(buf, samples, n, rate_hz, first_index, t_us, range_code, overflow)
    return bytes(buf[:length])


def parse_control(data):
    """Return (opcode, value) for a control write, or (0, -ERR_*) when it is invalid."""
    if not data:
        return 0, -ERR_EMPTY
    op = data[0]
    if op in (CTRL_START, CTRL_STOP):
        return (op, 0) if len(data) == 1 else (0, -ERR_LENGTH)
    if op == CTRL_SET_RATE:
        if len(data) != 3:
            return 0, -ERR_LENGTH
        rate = data[1] | (data[2] << 8)
        return (op, rate) if 10 <= rate <= 400 else (0, -ERR_VALUE)
    if op == CTRL_SET_RANGE:
        if len(data) != 2:
            return 0, -ERR_LENGTH
        return (op, data[1]) if data[1] <= 3 else (0, -ERR_VALUE)
    return 0, -ERR_OPCODE


def mg_to_raw(mg, range_code):
    """Milli-g to counts for a range code, rounded half away from zero, saturated."""
    fs_mg = 2000 << (range_code & 3)
    num = mg * 32768
    q = (num + fs_mg // 2) // fs_mg if num >= 0 else -((-num + fs_mg // 2) // fs_mg)
    if q > 32767:
        return 32767
    if q < -32768:
        return -32768
    return q
