"""Regenerate golden_vectors.json from the C encoder (the reference implementation).

Run from the repository root:  python device_firmware/golden/make_vectors.py
The inputs below are the specification; the hex strings are what repfit_packet.c produces
for them. tests/wearables/ re-encode every vector with the C, Python and MicroPython
encoders and decode it with the host decoder, so any drift fails the tests.
"""

from __future__ import annotations

import ctypes
import json
import pathlib
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "lib" / "repfit_packet" / "repfit_packet.c"


class Header(ctypes.Structure):
    _fields_ = [("rate_hz", ctypes.c_uint16), ("first_index", ctypes.c_uint32),
                ("t_us", ctypes.c_uint32), ("range_code", ctypes.c_uint8),
                ("overflow", ctypes.c_uint8)]


def _lib(tmp: pathlib.Path) -> ctypes.CDLL:
    so = tmp / "librepfit_packet.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-shared", "-fPIC", "-o", str(so), str(SRC)],
                   check=True)
    return ctypes.CDLL(str(so))


def _encode(lib: ctypes.CDLL, v: dict) -> str:
    flat = [c for s in v["samples"] for c in s]
    arr = (ctypes.c_int16 * len(flat))(*flat)
    h = Header(v["rate_hz"], v["first_index"], v["t_us"], v["range_code"], int(v["overflow"]))
    out = (ctypes.c_uint8 * 2048)()
    n = lib.rf_encode(out, 2048, ctypes.byref(h), arr, len(v["samples"]))
    return bytes(out[:n]).hex()


def main() -> None:
    ramp = [[(i * 1723) % 65536 - 32768, -(i * 911) % 30000, 16384 - 40 * i] for i in range(38)]
    packets = [
        {"name": "rest_one_sample_2g", "rate_hz": 50, "first_index": 0, "t_us": 0,
         "range_code": 0, "overflow": False, "samples": [[0, 0, 16384]]},
        {"name": "four_samples_8g", "rate_hz": 100, "first_index": 1000, "t_us": 20_000_000,
         "range_code": 2, "overflow": False,
         "samples": [[4096, -4096, 0], [-32768, 32767, 1], [-1, 2, -3], [123, 4567, -8910]]},
        {"name": "counter_and_clock_wrap_4g", "rate_hz": 200, "first_index": 4294967294,
         "t_us": 4294967040, "range_code": 1, "overflow": True,
         "samples": [[8192, 0, 0], [0, 8192, 0], [0, 0, 8192]]},
        {"name": "full_mtu247_16g", "rate_hz": 200, "first_index": 123456, "t_us": 617280000,
         "range_code": 3, "overflow": False, "samples": ramp},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lib = _lib(pathlib.Path(tmp))
        lib.rf_mg_to_raw.restype = ctypes.c_int16
        for v in packets:
            v["hex"] = _encode(lib, v)
        mg = [[1000, 0], [-1000, 0], [2000, 0], [-2000, 0], [1000, 3], [1, 0], [9, 2],
              [-9, 2], [123456, 1]]
        mg_to_raw = [{"mg": a, "range_code": r, "raw": lib.rf_mg_to_raw(a, r)} for a, r in mg]
    good = bytes.fromhex(packets[1]["hex"])
    bad = [
        {"name": "empty", "hex": "", "reason": "shorter than header"},
        {"name": "header_only", "hex": good[:14].hex(), "reason": "shorter than header"},
        {"name": "truncated_last_byte", "hex": good[:-1].hex(), "reason": "truncated"},
        {"name": "oversized_extra_sample", "hex": (good + good[-6:]).hex(), "reason": "oversized"},
        {"name": "unknown_version_2", "hex": ("02" + good[1:].hex()), "reason": "version 2"},
        {"name": "reserved_range_bits", "hex": (good[:12] + bytes([0x06]) + good[13:]).hex(),
         "reason": "reserved bits"},
        {"name": "rate_zero", "hex": (good[:2] + b"\0\0" + good[4:]).hex(), "reason": "0 Hz"},
        {"name": "ascii_garbage", "hex": b"hello, this is not a packet".hex(),
         "reason": "version"},
    ]
    control = [
        {"name": "start", "hex": "01", "opcode": 1},
        {"name": "stop", "hex": "02", "opcode": 2},
        {"name": "rate_100hz", "hex": "036400", "opcode": 3, "rate_hz": 100},
        {"name": "rate_400hz", "hex": "039001", "opcode": 3, "rate_hz": 400},
        {"name": "range_8g", "hex": "0402", "opcode": 4, "range_code": 2},
        {"name": "empty", "hex": "", "error": 1},
        {"name": "unknown_opcode", "hex": "05", "error": 2},
        {"name": "start_with_payload", "hex": "0100", "error": 3},
        {"name": "rate_short", "hex": "0364", "error": 3},
        {"name": "rate_too_low", "hex": "030500", "error": 4},
        {"name": "range_code_4", "hex": "0404", "error": 4},
    ]
    doc = {"profile": "repfit v1 (docs/ble-profile.md)", "packets": packets,
           "bad_packets": bad, "control": control, "mg_to_raw": mg_to_raw}
    (HERE / "golden_vectors.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
