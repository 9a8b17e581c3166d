"""The C encoder, the MicroPython encoder and the host decoder agree byte for byte."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from repfit.host.sources import PacketError
from repfit.host.sources._packets import (
    FULL_SCALE_G,
    Control,
    decode_repfit,
    encode_control,
    encode_repfit,
    samples_per_packet,
)

from .conftest import CEncoder


def _args(v: dict[str, Any]) -> dict[str, Any]:
    return {k: v[k] for k in ("rate_hz", "first_index", "t_us", "range_code", "overflow")}


def test_c_encoder_reproduces_every_golden_packet(c_encoder: CEncoder,
                                                  vectors: dict[str, Any]) -> None:
    for v in vectors["packets"]:
        assert c_encoder.encode(v["samples"], **_args(v)).hex() == v["hex"], v["name"]


def test_python_encoder_matches_the_c_reference(vectors: dict[str, Any]) -> None:
    for v in vectors["packets"]:
        assert encode_repfit(np.array(v["samples"]), **_args(v)).hex() == v["hex"], v["name"]


def test_micropython_encoder_matches_under_cpython(mpy_packet: ModuleType,
                                                   vectors: dict[str, Any]) -> None:
    for v in vectors["packets"]:
        flat = [c for s in v["samples"] for c in s]
        out = mpy_packet.encode(flat, len(v["samples"]), v["rate_hz"], v["first_index"],
                                v["t_us"], v["range_code"], v["overflow"])
        assert out.hex() == v["hex"], v["name"]


def test_decoder_recovers_every_field(vectors: dict[str, Any]) -> None:
    for v in vectors["packets"]:
        f = decode_repfit(bytes.fromhex(v["hex"]))
        fs = FULL_SCALE_G[v["range_code"]]
        np.testing.assert_array_equal(f.acc, np.array(v["samples"]) * fs / 32768.0)
        assert f.counter == v["first_index"]
        assert f.t_dev == pytest.approx(v["t_us"] * 1e-6)
        assert f.rate_hz == v["rate_hz"]
        assert f.range_g == fs
        assert f.overflow is v["overflow"]


def test_first_vector_matches_the_documented_byte_walkthrough(vectors: dict[str, Any]) -> None:
    # docs/ble-profile.md walks through this packet byte by byte.
    assert vectors["packets"][0]["hex"] == "0101320000000000000000000000000000000040"
    f = decode_repfit(bytes.fromhex(vectors["packets"][0]["hex"]))
    np.testing.assert_array_equal(f.acc, [[0.0, 0.0, 1.0]])


def test_bad_packets_are_rejected_with_the_reason(vectors: dict[str, Any]) -> None:
    for v in vectors["bad_packets"]:
        data = bytes.fromhex(v["hex"])
        with pytest.raises(PacketError, match=v["reason"]) as info:
            decode_repfit(data)
        assert info.value.profile == "repfit"
        assert info.value.length == len(data)


def test_c_encoder_refuses_what_it_cannot_encode(c_encoder: CEncoder) -> None:
    assert c_encoder.encode([], rate_hz=50, first_index=0, t_us=0, range_code=0) == b""
    assert c_encoder.encode([[1, 2, 3]], rate_hz=50, first_index=0, t_us=0,
                            range_code=4) == b""
    assert c_encoder.encode([[1, 2, 3]] * 3, rate_hz=50, first_index=0, t_us=0,
                            range_code=0, cap=14 + 6 * 3 - 1) == b""


def test_control_writes_parse_identically_in_c_and_micropython(
        c_encoder: CEncoder, mpy_packet: ModuleType, vectors: dict[str, Any]) -> None:
    for v in vectors["control"]:
        data = bytes.fromhex(v["hex"])
        rc, out = c_encoder.parse_control(data)
        op, value = mpy_packet.parse_control(data)
        if "error" in v:
            assert rc == -v["error"] and value == -v["error"], v["name"]
            continue
        assert rc == 0 and out.opcode == v["opcode"] == op, v["name"]
        if "rate_hz" in v:
            assert out.rate_hz == v["rate_hz"] == value
        if "range_code" in v:
            assert out.range_code == v["range_code"] == value


def test_host_control_encoder_produces_the_golden_writes(vectors: dict[str, Any]) -> None:
    by_name = {v["name"]: v["hex"] for v in vectors["control"]}
    assert encode_control(Control.START).hex() == by_name["start"]
    assert encode_control(Control.STOP).hex() == by_name["stop"]
    assert encode_control(Control.SET_RATE, 100).hex() == by_name["rate_100hz"]
    assert encode_control(Control.SET_RATE, 400).hex() == by_name["rate_400hz"]
    assert encode_control(Control.SET_RANGE, 2).hex() == by_name["range_8g"]
    with pytest.raises(ValueError, match=r"10\.\.400"):
        encode_control(Control.SET_RATE, 5)
    with pytest.raises(ValueError, match=r"0\.\.3"):
        encode_control(Control.SET_RANGE, 4)


def test_milli_g_conversion_agrees(c_encoder: CEncoder, mpy_packet: ModuleType,
                                   vectors: dict[str, Any]) -> None:
    for v in vectors["mg_to_raw"]:
        assert c_encoder.mg_to_raw(v["mg"], v["range_code"]) == v["raw"]
        assert mpy_packet.mg_to_raw(v["mg"], v["range_code"]) == v["raw"]


def test_batch_size_follows_the_mtu_everywhere(c_encoder: CEncoder,
                                               mpy_packet: ModuleType) -> None:
    for mtu in (0, 20, 23, 26, 27, 185, 247, 517, 1700, 65535):
        expected = samples_per_packet(mtu)
        assert c_encoder.samples_per_packet(mtu) == expected == mpy_packet.samples_per_packet(mtu)
    assert samples_per_packet(23) == 1
    assert samples_per_packet(247) == 38


def test_random_round_trip_through_c_and_host(c_encoder: CEncoder) -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 39))
        raw = rng.integers(-32768, 32768, size=(n, 3))
        kw = {"rate_hz": int(rng.integers(10, 401)), "first_index": int(rng.integers(0, 2**32)),
              "t_us": int(rng.integers(0, 2**32)), "range_code": int(rng.integers(0, 4)),
              "overflow": bool(rng.integers(0, 2))}
        data = c_encoder.encode(raw.tolist(), **kw)
        assert data == encode_repfit(raw, **kw)
        f = decode_repfit(data)
        np.testing.assert_array_equal(np.rint(f.acc * 32768.0 / f.range_g), raw)
