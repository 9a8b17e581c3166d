"""Off-the-shelf sensor decoders on byte-exact vectors built from the vendors' documents."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.host.sources import PacketError
from repfit.host.sources._packets import (
    POLAR_STOP_ACC,
    PolarSetting,
    decode_control_state,
    decode_microbit,
    decode_pmd_response,
    decode_pmd_settings,
    decode_polar_pmd,
    decode_thingy52,
    decode_thingy52_config,
    decode_witmotion,
    polar_get_settings,
    polar_start,
    thingy52_config_with_rate,
    witmotion_set_rate,
)

from .vendor_frames import H10_ACC_SETTINGS, VERITY_ACC_SETTINGS, pmd_compressed, pmd_factor


class TestMicrobit:
    def test_milli_g_little_endian(self) -> None:
        f = decode_microbit(bytes.fromhex("e80318fc0000"))  # +1000, -1000, 0 mg
        np.testing.assert_allclose(f.acc, [[1.0, -1.0, 0.0]])
        assert f.counter is None and f.t_dev is None

    @pytest.mark.parametrize("data", [b"", b"\x00" * 5, b"\x00" * 7])
    def test_wrong_length(self, data: bytes) -> None:
        with pytest.raises(PacketError, match="exactly 6 bytes"):
            decode_microbit(data)


class TestPolarPmd:
    # type ACC, timestamp 10 s (ns, LE u64), frame type 0x01 (int16), two samples in mg.
    FRAME = bytes.fromhex("02" "00e40b5402000000" "01" "f4ffd9032800" "030016fcf9ff")

    def test_sixteen_bit_frame(self) -> None:
        f = decode_polar_pmd(self.FRAME, rate_hz=50)
        assert f is not None
        np.testing.assert_allclose(f.acc, [[-0.012, 0.985, 0.040], [0.003, -1.002, -0.007]])
        # The timestamp belongs to the last sample.
        assert f.t_dev == pytest.approx(10.0 - 1 / 50)

    def test_eight_and_twenty_four_bit_frames(self) -> None:
        f8 = decode_polar_pmd(bytes.fromhex("02" "0000000000000000" "00" "ff7f80"), rate_hz=25)
        assert f8 is not None
        np.testing.assert_allclose(f8.acc, [[-0.001, 0.127, -0.128]])
        f24 = decode_polar_pmd(bytes.fromhex("02" "0000000000000000" "02" "e80300" "18fcff"
                                             "a08601"), rate_hz=25)
        assert f24 is not None
        np.testing.assert_allclose(f24.acc, [[1.0, -1.0, 100.0]])

    def test_delta_compressed_type_0x81_is_milli_g_times_factor(self) -> None:
        # Reference (100, -200, 1000), then one block: 4-bit deltas, 2 samples:
        # (+1, -1, +7) and (-8, 0, +2), packed LSB first: nibbles 1, F, 7, 8, 0, 2.
        frame = bytes.fromhex("02" "00e40b5402000000" "81" "6400" "38ff" "e803" "0402"
                              "f1" "87" "20")
        f = decode_polar_pmd(frame, rate_hz=50)  # no factor: 1.0, as Polar's SDK
        assert f is not None
        np.testing.assert_allclose(f.acc * 1000, [[100, -200, 1000], [101, -201, 1007],
                                                   [93, -201, 1009]])
        assert f.t_dev == pytest.approx(10.0 - 2 / 50)
        f2 = decode_polar_pmd(frame, rate_hz=50, factor=0.5)
        assert f2 is not None
        np.testing.assert_allclose(f2.acc * 1000, f.acc * 500)

    def test_delta_compressed_type_0x80_is_g_times_factor(self) -> None:
        # Polar's published test value: (1905, 27376, -29282) x 2.44e-4 = (0.465, 6.680,
        # -7.145) g. The same bytes read as milli-g would be 1000x too large.
        frame = pmd_compressed(0x80, np.array([[1905, 27376, -29282], [1905, 27377, -29282]]),
                               10**10)
        f = decode_polar_pmd(frame, rate_hz=52, factor=2.44e-4)
        assert f is not None
        np.testing.assert_allclose(f.acc[0], [0.465, 6.680, -7.145], atol=5e-4)
        with pytest.raises(PacketError, match="needs the factor"):
            decode_polar_pmd(frame, rate_hz=52)

    def test_measurement_byte_is_masked(self) -> None:
        flagged = bytes([0x42]) + self.FRAME[1:]
        f = decode_polar_pmd(flagged, rate_hz=50)
        assert f is not None and len(f) == 2

    def test_spacing_follows_consecutive_timestamps(self) -> None:
        # Previous frame stamped 20 ms before this frame's last sample, two samples: 10 ms
        # apart (100 Hz), whatever the nominal rate says.
        f = decode_polar_pmd(self.FRAME, rate_hz=50, previous_ns=10**10 - 20_000_000)
        assert f is not None
        assert f.rate_hz == pytest.approx(100.0)
        assert f.t_dev == pytest.approx(10.0 - 0.010)

    def test_other_measurements_carry_no_samples(self) -> None:
        assert decode_polar_pmd(bytes.fromhex("00" + "00" * 8 + "00" + "010203"), 50) is None

    @pytest.mark.parametrize(("hexdata", "reason"), [
        ("0200", "shorter than"),
        ("02" "0000000000000000" "81" "000000", "reference sample"),
        ("02" "0000000000000000" "81" "010002000300" "0402", "overruns"),
        ("02" "0000000000000000" "81" "010002000300" "04", "truncated delta"),
        ("02" "0000000000000000" "80" "010002000300", "needs the factor"),
        ("02" "0000000000000000" "83" "010002000300", "unknown compressed"),
        ("02" "0000000000000000" "05" "000000", "unknown ACC frame type"),
        ("02" "0000000000000000" "01" "0000000000", "whole number"),
    ])
    def test_rejected(self, hexdata: str, reason: str) -> None:
        with pytest.raises(PacketError, match=reason):
            decode_polar_pmd(bytes.fromhex(hexdata), 50)

    def test_settings_query_reply_and_start_request(self) -> None:
        assert polar_get_settings() == b"\x01\x02"
        reply = decode_pmd_response(bytes.fromhex("f0010200" "00") + H10_ACC_SETTINGS)
        assert reply is not None and (reply.op, reply.status, reply.more) == (1, 0, False)
        offered = decode_pmd_settings(reply.params)
        assert offered[PolarSetting.SAMPLE_RATE] == (25, 50, 100, 200)
        assert offered[PolarSetting.RANGE] == (2, 4, 8)
        assert decode_pmd_settings(VERITY_ACC_SETTINGS)[PolarSetting.SAMPLE_RATE] == (52,)
        # 200 Hz, 16 bit, 8 g: the request Polar's SDK sends an H10.
        assert polar_start({PolarSetting.SAMPLE_RATE: 200, PolarSetting.RESOLUTION: 16,
                            PolarSetting.RANGE: 8}).hex() == "02020001c8000101100002010800"
        assert POLAR_STOP_ACC == b"\x03\x02"
        factor = decode_pmd_settings(pmd_factor(2.44e-4))[PolarSetting.FACTOR][0]
        assert factor == pytest.approx(2.44e-4, rel=1e-6)

    def test_error_reply_and_device_messages(self) -> None:
        refused = decode_pmd_response(bytes.fromhex("f0020208"))
        assert refused is not None and refused.error == "invalid sample rate"
        assert decode_pmd_response(bytes.fromhex("0102")) is None  # "measurement stopped"
        with pytest.raises(PacketError, match="unknown PMD setting id 9"):
            decode_pmd_settings(bytes.fromhex("090100"))
        with pytest.raises(PacketError, match="past the end"):
            decode_pmd_settings(bytes.fromhex("000234"))


class TestWitMotion:
    def test_full_record(self) -> None:
        rec = bytes.fromhex("5561" "0008" "0000" "00f8" + "00" * 12)  # 1 g, 0, -1 g
        f = decode_witmotion(rec + rec)
        assert f is not None
        np.testing.assert_allclose(f.acc, [[1.0, 0.0, -1.0]] * 2)
        assert f.range_g == 16.0

    def test_short_record_from_a_wt901ble68(self) -> None:
        f = decode_witmotion(bytes.fromhex("556135ff59ff0a080000000000 00b9fc".replace(" ", "")))
        assert f is not None
        np.testing.assert_allclose(f.acc, np.array([[-203, -167, 2058]]) * 16 / 32768)

    def test_register_reply_has_no_samples(self) -> None:
        assert decode_witmotion(bytes.fromhex("5571") + bytes(18)) is None

    @pytest.mark.parametrize("data", [b"\x55\x61\x00", bytes(20), bytes(25)])
    def test_rejected(self, data: bytes) -> None:
        with pytest.raises(PacketError):
            decode_witmotion(data)

    def test_rate_command(self) -> None:
        assert witmotion_set_rate(10) == bytes.fromhex("ffaa030600")
        assert witmotion_set_rate(50) == bytes.fromhex("ffaa030800")
        assert witmotion_set_rate(200) == bytes.fromhex("ffaa030b00")


class TestThingy52:
    def test_q6_10_acceleration(self) -> None:
        data = bytes.fromhex("0000" "00fc" "0004") + bytes(12)  # 0, -1 g, +1 g
        np.testing.assert_allclose(decode_thingy52(data).acc, [[0.0, -1.0, 1.0]])

    def test_wrong_length(self) -> None:
        with pytest.raises(PacketError, match="18 bytes"):
            decode_thingy52(bytes(17))

    def test_config_keeps_other_fields(self) -> None:
        current = bytes.fromhex("e803" "1027" "6400" "0a00" "01")
        assert thingy52_config_with_rate(current, 50) == bytes.fromhex("e80310276400320001")
        assert decode_thingy52_config(bytes.fromhex("e80310276400320001")) == 50


def test_repfit_control_state_read_back() -> None:
    assert decode_control_state(bytes.fromhex("01026400")) == (True, 2, 100)
    with pytest.raises(PacketError, match="out of range"):
        decode_control_state(bytes.fromhex("05026400"))
