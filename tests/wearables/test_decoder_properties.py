"""Every BLE decoder, for ANY bytes: a value, or its one documented error (`PacketError`).

Hypothesis feeds raw bytes and valid frames mutated byte by byte (changed, dropped,
inserted, truncated, extended). A decoded value must be usable: samples of shape (n, 3),
finite, with finite times and a positive rate.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repfit.host.sources import DeviceRefused, PacketError
from repfit.host.sources import _packets as pk
from repfit.host.sources._devices import Link, PolarAccDecoder

from .vendor_frames import (
    H10_ACC_SETTINGS,
    VERITY_ACC_SETTINGS,
    microbit_sample,
    pmd_compressed,
    pmd_factor,
    pmd_raw16,
    witmotion_record,
)

PROFILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def _check_frame(frame: Any) -> None:
    if frame is None:
        return
    assert isinstance(frame, pk.Frame)
    assert frame.acc.ndim == 2 and frame.acc.shape[1] == 3 and frame.acc.shape[0] >= 1
    assert np.all(np.isfinite(frame.acc))
    if frame.t_dev is not None:
        assert math.isfinite(frame.t_dev)
    if frame.rate_hz is not None:
        assert math.isfinite(frame.rate_hz) and frame.rate_hz > 0


def _polar_stream() -> Callable[[bytes], Any]:
    decoder = PolarAccDecoder("prop", 52.0, 2.44e-4, Link("prop"))

    def decode(data: bytes) -> Any:
        try:
            return decoder(data)
        except DeviceRefused:  # its documented way to stop an unreadable stream
            return None
    return decode


def _parsed_settings(data: bytes) -> Any:
    out = pk.decode_pmd_settings(data)
    assert all(isinstance(v, tuple) for v in out.values())
    return None


def _returns(decoder: Callable[[bytes], Any], kind: type) -> Callable[[bytes], Any]:
    """A decoder of non-frame values: check the type, hand the frame check ``None``."""
    def decode(data: bytes) -> Any:
        value = decoder(data)
        assert value is None or isinstance(value, kind)
        return None
    return decode


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "repfit": pk.decode_repfit,
    "microbit": pk.decode_microbit,
    "polar": lambda d: pk.decode_polar_pmd(d, 52.0),
    "polar-factor": lambda d: pk.decode_polar_pmd(d, 52.0, 2.44e-4, previous_ns=10**9),
    "polar-stream": _polar_stream(),
    "witmotion": pk.decode_witmotion,
    "thingy52": pk.decode_thingy52,
    "pmd-response": _returns(pk.decode_pmd_response, pk.PmdResponse),
    "pmd-settings": _parsed_settings,
    "control-state": _returns(pk.decode_control_state, tuple),
    "thingy52-config": _returns(pk.decode_thingy52_config, int),
}

_acc = np.array([[12, -980, 40], [15, -978, 44], [400, -1200, 90], [-3000, 2500, 7]])
VALID: dict[str, list[bytes]] = {
    "repfit": [pk.encode_repfit(_acc, first_index=7, t_us=1000, rate_hz=100, range_code=1)],
    "microbit": [microbit_sample((12, -980, 40))],
    "polar": [pmd_raw16(_acc, 10**10), pmd_compressed(0x81, _acc, 10**10)],
    "polar-factor": [pmd_compressed(0x80, _acc, 2 * 10**9), pmd_raw16(_acc, 2 * 10**9)],
    "polar-stream": [pmd_compressed(0x80, _acc, 3 * 10**9), pmd_raw16(_acc, 4 * 10**9)],
    "witmotion": [witmotion_record((2048, 0, -2048)) * 2,
                  bytes.fromhex("556135ff59ff0a08000000000000b9fc")],
    "thingy52": [bytes.fromhex("0000" "00fc" "0004") + bytes(12)],
    "pmd-response": [bytes.fromhex("f0010200" "00") + H10_ACC_SETTINGS,
                     bytes.fromhex("f0020200" "00") + pmd_factor(2.44e-4)],
    "pmd-settings": [H10_ACC_SETTINGS, VERITY_ACC_SETTINGS, pmd_factor(0.5)],
    "control-state": [bytes.fromhex("01026400")],
    "thingy52-config": [bytes.fromhex("e80310276400320001")],
}


@st.composite
def mutated(draw: st.DrawFn, frames: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "drop", "insert", "truncate", "extend"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "drop" and data:
            del data[i]
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        elif op == "truncate":
            del data[i:]
        else:
            data += draw(st.binary(max_size=40))
    return bytes(data)


def _decode_or_documented_error(name: str, data: bytes) -> None:
    with contextlib.suppress(PacketError):
        _check_frame(DECODERS[name](data))


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_any_bytes(name: str) -> None:
    @PROFILE
    @given(st.binary(max_size=300))
    def check(data: bytes) -> None:
        _decode_or_documented_error(name, data)
    check()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_valid_frames_mutated_byte_by_byte(name: str) -> None:
    @PROFILE
    @given(mutated(VALID[name]))
    def check(data: bytes) -> None:
        _decode_or_documented_error(name, data)
    check()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_valid_frames_decode(name: str) -> None:
    for frame in VALID[name]:
        _check_frame(DECODERS[name](frame))
