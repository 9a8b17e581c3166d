"""Off-the-shelf sensors, golden: the makers' documented bytes through the real stack.

Each device is emulated on a bumble virtual controller with the maker's own UUIDs and
control-point behaviour (`virtual_device`), and read by the production path: `BleakClient`
-> `BleakTransport` -> `BleWearable` (its start conversation, decoders, stream assembly).
A mistyped UUID fails the subscription; an ignored reply (factor, period, rate) gives
values at the wrong scale or time and fails the comparisons.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest

pytest.importorskip("bumble", reason="bumble is a test extra: pip install 'repfit[test]'")

from bumble.link import LocalLink

from repfit.detection.simulate import simulate_set
from repfit.host.sources import DeviceRefused, SourceError, open_source
from repfit.host.sources._ble import BleWearable, Reconnect
from repfit.host.sources._bumble import backend_for
from repfit.host.sources._devices import PolarAccDecoder
from repfit.wire import SampleBatch

from .vendor_frames import (
    H10_ACC_SETTINGS,
    VERITY_ACC_SETTINGS,
    microbit_sample,
    pmd_compressed,
    pmd_factor,
    pmd_raw16,
    polar_frames,
    witmotion_record,
)
from .virtual_device import (
    MICROBIT_PERIOD,
    POLAR_PMD_CONTROL,
    WITMOTION_WRITE,
    VirtualMicrobit,
    VirtualPolar,
    VirtualVendorDevice,
    VirtualWitMotion,
    make_device,
)

POLICY = Reconnect(connect_timeout_s=5, first_delay_s=0.05, max_attempts=2, silence_s=1.0)


async def drive(make: Any, kind: str, expect: int, **options: Any
                ) -> tuple[VirtualVendorDevice, BleWearable, list[SampleBatch], Exception | None]:
    """Connect the production stack to ``make(link)`` and read ``expect`` samples."""
    link = LocalLink()
    device = make(link)
    central = make_device(link, "host", "F1:F1:F1:F1:F1:F1")
    await device.start()
    await central.power_on()
    src = open_source("ble", address=device.address, device_kind=kind,
                      backend=backend_for(central), policy=POLICY, **options)
    assert isinstance(src, BleWearable)
    batches: list[SampleBatch] = []
    error: Exception | None = None
    try:
        async with src:
            async for b in src.samples():
                batches.append(b)
                if sum(len(x) for x in batches) >= expect:
                    break
    except SourceError as err:
        error = err
    await asyncio.sleep(0.02)
    return device, src, batches, error


def joined(batches: list[SampleBatch]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b.t for b in batches]), np.concatenate([b.acc for b in batches])


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    """Two squats at 52 Hz, in g."""
    return simulate_set("squat", reps=2, fs_hz=52, seed=4, rest_before_s=0.5,
                        rest_after_s=0.5).acc


# --------------------------------------------------------------------------- Polar

POLAR_SAMPLE = np.array([[1905, 27376, -29282]])
"""Polar's own test sample for a type-0 compressed frame with factor 2.44e-4 ..."""
POLAR_SAMPLE_G = np.array([[0.465, 6.680, -7.145]])
"""... published as these values in g."""


def test_verity_sense_starts_at_its_52_hz_and_0x80_frames_use_the_reply_factor(
        motion: np.ndarray) -> None:
    factor = 2.44e-4
    counts = np.concatenate([POLAR_SAMPLE, np.rint(motion / np.float32(factor))])
    counts = counts[: len(counts) // 36 * 36].astype(np.int64)
    frames = polar_frames(counts, 36, 52.0, lambda c, ts: pmd_compressed(0x80, c, ts))
    device, src, batches, err = asyncio.run(drive(
        lambda link: VirtualPolar(link, frames, settings=VERITY_ACC_SETTINGS,
                                  start_params=pmd_factor(factor)),
        "polar", len(counts)))
    assert err is None
    # It asked what the device supports, then started with exactly that: 52 Hz, 8 g, 16 bit,
    # 3 channels (the factor is never sent); it stopped the stream on exit.
    assert [w.hex() for _, w in device.writes] == [
        "0102", "0202" "00013400" "02010800" "01011000" "040103", "0302"]
    assert all(uuid == POLAR_PMD_CONTROL.lower() for uuid, _ in device.writes)
    assert src.assembler.rate_hz == 52.0 and src.battery_percent == 64
    t, acc = joined(batches)
    np.testing.assert_allclose(acc[:1], POLAR_SAMPLE_G, atol=5e-4)
    np.testing.assert_allclose(acc, counts * np.float32(factor), rtol=1e-6, atol=1e-9)
    # Rest at the end of the set reads 1 g, not 1000x that (nor a rescaled guess).
    assert np.linalg.norm(acc[-20:], axis=1).mean() == pytest.approx(1.0, abs=0.05)
    assert src.assembler.units.scale == 1.0
    assert np.median(np.diff(t)) == pytest.approx(1 / 52, rel=0.02)


def test_0x81_frames_are_milli_g_times_the_factor(motion: np.ndarray) -> None:
    factor = 0.5
    counts = np.rint(motion[:180] * 1000 / factor).astype(np.int64)
    frames = polar_frames(counts, 36, 52.0, lambda c, ts: pmd_compressed(0x81, c, ts))
    _device, _, batches, err = asyncio.run(drive(
        lambda link: VirtualPolar(link, frames, settings=VERITY_ACC_SETTINGS,
                                  start_params=pmd_factor(factor)),
        "polar", len(counts)))
    assert err is None
    np.testing.assert_allclose(joined(batches)[1], counts * factor / 1000, atol=1e-9)


def test_h10_unsupported_rate_falls_back_to_the_nearest_offered_with_one_line(
        motion: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    mg = np.rint(motion[:200] * 1000).astype(np.int64)
    # Measurement byte 0x42: ACC with a flag in the top bits, which Polar masks off.
    frames = polar_frames(mg, 25, 50.0, lambda c, ts: pmd_raw16(c, ts, measurement=0x42))
    with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
        device, src, batches, err = asyncio.run(drive(
            lambda link: VirtualPolar(link, frames, settings=H10_ACC_SETTINGS), "polar",
            len(mg), rate_hz=60))
    assert err is None
    assert device.writes[1][1].hex() == "0202" "00013200" "02010800" "01011000"
    lines = [r.getMessage() for r in caplog.records if "not offered" in r.getMessage()]
    assert len(lines) == 1 and "60 Hz" in lines[0] and "50 Hz" in lines[0]
    assert src.name in lines[0]
    np.testing.assert_allclose(joined(batches)[1], mg / 1000)


@pytest.mark.parametrize(("options", "frame_type", "expected"), [
    ({"start_params": b""}, 0x80, "0x80"),                 # reply without a factor
    ({"start_params": pmd_factor(2.44e-4)}, 0x83, "0x83"),  # a frame type repfit does not know
    ({"start_status": 8}, 0x80, "invalid sample rate"),    # the device refuses the rate
])
def test_polar_streams_that_cannot_be_scaled_stop_with_one_clear_line(
        options: dict[str, Any], frame_type: int, expected: str,
        caplog: pytest.LogCaptureFixture) -> None:
    counts = np.tile([[0, 0, 4098]], (72, 1))
    frames = polar_frames(counts, 36, 52.0, lambda c, ts: pmd_compressed(frame_type, c, ts))
    _, _, batches, err = asyncio.run(drive(
        lambda link: VirtualPolar(link, frames, settings=VERITY_ACC_SETTINGS, **options),
        "polar", len(counts)))
    assert isinstance(err, DeviceRefused)
    assert expected in str(err) and err.device in str(err)
    assert batches == []  # never a sample at the wrong scale


def test_polar_device_that_never_answers_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from repfit.host.sources import _devices

    monkeypatch.setattr(_devices, "POLAR_REPLY_TIMEOUT_S", 0.3)
    _, _, batches, err = asyncio.run(drive(
        lambda link: VirtualPolar(link, [], settings=VERITY_ACC_SETTINGS, answer=False),
        "polar", 1))
    assert isinstance(err, DeviceRefused) and "no PMD reply to request 0102" in str(err)
    assert batches == []


# --------------------------------------------------------------------------- WitMotion

def test_witmotion_uuids_commands_and_records(motion: np.ndarray) -> None:
    counts = np.rint(motion[:120] * 32768 / 16).astype(np.int64)
    records = [witmotion_record(tuple(c)) for c in counts.tolist()]
    records.insert(5, bytes([0x55, 0x71]) + bytes(18))  # a register reply, no samples
    device, _, batches, err = asyncio.run(drive(
        lambda link: VirtualWitMotion(link, records), "witmotion", len(counts), rate_hz=50))
    assert err is None
    # Unlock, return rate 50 Hz (code 0x08), save - on FFE9 of WitMotion's base UUID.
    write = WITMOTION_WRITE.lower()
    assert write == "0000ffe9-0000-1000-8000-00805f9a34fb"
    assert device.writes == [(write, bytes.fromhex("ffaa6988b5")),
                             (write, bytes.fromhex("ffaa030800")),
                             (write, bytes.fromhex("ffaa000000"))]
    np.testing.assert_allclose(joined(batches)[1], counts * 16 / 32768)


def test_witmotion_short_wt901ble68_record() -> None:
    # 16 bytes as posted from a WT901BLE68 (header, acceleration, 8 more bytes).
    record = bytes.fromhex("556135ff59ff0a08000000000000b9fc")
    _, _, batches, err = asyncio.run(drive(lambda link: VirtualWitMotion(link, [record] * 3),
                                           "witmotion", 3))
    assert err is None
    np.testing.assert_allclose(joined(batches)[1][0], np.array([-203, -167, 2058]) * 16 / 32768)


# --------------------------------------------------------------------------- micro:bit

def test_microbit_period_is_read_back_and_decides_the_rate(motion: np.ndarray) -> None:
    mg = np.rint(motion[:150] * 1000).astype(np.int64)
    notes = [microbit_sample(tuple(m)) for m in mg.tolist()]
    device, src, batches, err = asyncio.run(drive(
        lambda link: VirtualMicrobit(link, notes), "microbit", len(mg), rate_hz=30))
    assert err is None
    assert device.writes == [(MICROBIT_PERIOD.lower(), (33).to_bytes(2, "little"))]
    assert device.period_ms == 20  # the board rounded 33 ms to its nearest supported period
    assert src.assembler.rate_hz == 50.0  # ... and the host took the board's value
    np.testing.assert_allclose(joined(batches)[1], mg / 1000)


def test_h10_lost_frames_are_an_exact_gap_and_samples_follow_the_device_clock(
        motion: np.ndarray) -> None:
    # The sensor's clock runs 0.4 % slow: its timestamps, not the nominal 50 Hz, space samples.
    mg = np.rint(motion[:250] * 1000).astype(np.int64)
    frames = polar_frames(mg, 25, 49.8, lambda c, ts: pmd_raw16(c, ts))
    kept = frames[:3] + frames[5:]  # two frames lost on air
    _, src, batches, err = asyncio.run(drive(
        lambda link: VirtualPolar(link, kept, settings=H10_ACC_SETTINGS), "polar",
        25 * len(kept)))
    assert err is None
    assert [b.lost_before for b in batches if b.lost_before] == [50]
    assert src.stats.samples == 25 * len(kept) and src.stats.lost == 50
    assert isinstance(src.decoder, PolarAccDecoder)
    assert src.decoder.device_rate_hz == pytest.approx(49.8, rel=1e-6)
