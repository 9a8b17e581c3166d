"""Fixtures for the wearable tests: the C encoder compiled with gcc, the golden vectors."""

from __future__ import annotations

import ctypes
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "device_firmware"
C_SOURCES = [FIRMWARE / "lib" / "repfit_packet" / name for name in ("repfit_packet.c", "rf_ring.c")]
VECTORS = FIRMWARE / "golden" / "golden_vectors.json"


class CHeader(ctypes.Structure):
    """Mirror of ``rf_header_t``."""

    _fields_ = [("rate_hz", ctypes.c_uint16), ("first_index", ctypes.c_uint32),
                ("t_us", ctypes.c_uint32), ("range_code", ctypes.c_uint8),
                ("overflow", ctypes.c_uint8)]


class CControl(ctypes.Structure):
    """Mirror of ``rf_control_t``."""

    _fields_ = [("opcode", ctypes.c_uint8), ("rate_hz", ctypes.c_uint16),
                ("range_code", ctypes.c_uint8)]


class CSlot(ctypes.Structure):
    """Mirror of ``rf_slot_t``."""

    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16), ("z", ctypes.c_int16),
                ("index", ctypes.c_uint32), ("t_us", ctypes.c_uint32)]


class CRing(ctypes.Structure):
    """Mirror of ``rf_ring_t``."""

    _fields_ = [("slots", ctypes.POINTER(CSlot)), ("cap", ctypes.c_uint16),
                ("head", ctypes.c_uint16), ("count", ctypes.c_uint16),
                ("overflowed", ctypes.c_uint8)]


class FirmwareRing:
    """The firmware's sample ring (rf_ring.c) driven from Python."""

    def __init__(self, lib: ctypes.CDLL, cap: int) -> None:
        self.lib = lib
        self.storage = (CSlot * cap)()
        self.ring = CRing()
        lib.rf_ring_init(ctypes.byref(self.ring), self.storage, cap)

    def push(self, xyz: tuple[int, int, int], index: int, t_us: int) -> None:
        self.lib.rf_ring_push(ctypes.byref(self.ring), CSample(*xyz), ctypes.c_uint32(index),
                              ctypes.c_uint32(t_us))

    def packet(self, max_n: int, rate_hz: int = 100, range_code: int = 0) -> tuple[bytes, int]:
        out = (ctypes.c_uint8 * 2048)()
        n = ctypes.c_uint8()
        size = self.lib.rf_ring_packet(ctypes.byref(self.ring), max_n, rate_hz, range_code, out,
                                       2048, ctypes.byref(n))
        return bytes(out[:size]), n.value

    def consume(self, n: int) -> None:
        self.lib.rf_ring_consume(ctypes.byref(self.ring), n)


class CSample(ctypes.Structure):
    """Mirror of ``rf_sample_t``."""

    _fields_ = [("x", ctypes.c_int16), ("y", ctypes.c_int16), ("z", ctypes.c_int16)]


class CEncoder:
    """The firmware's C encoder, compiled into a shared library and called through ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.rf_encode.restype = ctypes.c_size_t
        lib.rf_mg_to_raw.restype = ctypes.c_int16
        lib.rf_samples_per_packet.restype = ctypes.c_uint8
        lib.rf_parse_control.restype = ctypes.c_int
        lib.rf_ring_packet.restype = ctypes.c_size_t

    def ring(self, cap: int) -> FirmwareRing:
        return FirmwareRing(self.lib, cap)

    def encode(self, samples: list[list[int]], *, rate_hz: int, first_index: int, t_us: int,
               range_code: int, overflow: bool = False, cap: int = 4096) -> bytes:
        flat = [c for s in samples for c in s]
        arr = (ctypes.c_int16 * max(1, len(flat)))(*flat)
        h = CHeader(rate_hz, first_index % (1 << 32), t_us % (1 << 32), range_code,
                    int(overflow))
        out = (ctypes.c_uint8 * cap)()
        n = self.lib.rf_encode(out, cap, ctypes.byref(h), arr, len(samples))
        return bytes(out[:n])

    def parse_control(self, data: bytes) -> tuple[int, CControl]:
        buf = (ctypes.c_uint8 * max(1, len(data)))(*data)
        out = CControl()
        rc = self.lib.rf_parse_control(buf, len(data), ctypes.byref(out))
        return rc, out

    def mg_to_raw(self, mg: int, range_code: int) -> int:
        return int(self.lib.rf_mg_to_raw(mg, range_code))

    def samples_per_packet(self, mtu: int) -> int:
        return int(self.lib.rf_samples_per_packet(mtu))


@pytest.fixture(scope="session")
def c_encoder(tmp_path_factory: pytest.TempPathFactory) -> CEncoder:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed; the C encoder cannot be compiled")
    so = tmp_path_factory.mktemp("cenc") / "librepfit_packet.so"
    subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2",
                    "-shared", "-fPIC", "-o", str(so), *map(str, C_SOURCES)], check=True)
    return CEncoder(ctypes.CDLL(str(so)))


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


@pytest.fixture(scope="session")
def mpy_packet() -> ModuleType:
    """The MicroPython encoder module, imported under CPython."""
    path = FIRMWARE / "micropython" / "repfit_packet.py"
    spec = importlib.util.spec_from_file_location("mpy_repfit_packet", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
