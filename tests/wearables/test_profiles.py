"""Off-the-shelf sensors end to end through the connection manager and replay transport."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from repfit.detection.simulate import simulate_set
from repfit.host.sources import ConnectionLost
from repfit.host.sources._ble import BleWearable, Reconnect, classify
from repfit.host.sources._devices import (
    MICROBIT_PERIOD,
    THINGY_CONFIG,
    WITMOTION_WRITE,
    profile_for,
)
from repfit.host.sources._replay import ReplayDevice, Session
from repfit.wire import SampleBatch


async def _noop(_s: float) -> None:
    await asyncio.sleep(0)


async def run(dev: ReplayDevice, kind: str, rate: float,
              stop_after: int | None = None) -> tuple[BleWearable, list[SampleBatch]]:
    src = BleWearable(dev.factory, profile_for(kind, rate_hz=rate), name=kind,
                      policy=Reconnect(max_attempts=1), clock=dev.clock, sleep=_noop)
    out: list[SampleBatch] = []
    async with src:
        try:
            async for b in src.samples():
                out.append(b)
                if stop_after and sum(len(x) for x in out) >= stop_after:
                    break
        except ConnectionLost:
            pass
    return src, out


def joined(batches: list[SampleBatch]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b.t for b in batches]), np.concatenate([b.acc for b in batches])


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    return simulate_set("pushup", reps=6, fs_hz=50, seed=2).acc


def microbit_stream(acc: np.ndarray, true_rate: float, *, outage: tuple[int, int] | None = None,
                    seed: int = 0) -> list[tuple[float, bytes]]:
    """One 6-byte notification per sample; delivered in bunches of 1-4 per connection event."""
    rng = np.random.default_rng(seed)
    mg = np.rint(acc * 1000).astype("<i2")
    sample_t = np.arange(len(acc)) / true_rate
    # Each notification leaves at the next 30 ms connection event after its sample.
    arrive = (np.floor(sample_t / 0.03) + 1) * 0.03 + rng.exponential(0.002, len(acc))
    arrive = np.maximum.accumulate(arrive)
    keep = np.ones(len(acc), bool)
    if outage:
        keep[outage[0]:outage[1]] = False
    idx = np.flatnonzero(keep)
    delays = np.diff(arrive[idx], prepend=0.0)
    return [(float(d), mg[i].tobytes()) for d, i in zip(delays, idx, strict=True)]


class TestMicrobit:
    def test_period_written_and_every_sample_delivered(self, motion: np.ndarray) -> None:
        dev = ReplayDevice([Session(microbit_stream(motion, 50.0))],
                           reads={MICROBIT_PERIOD: b"\x14\x00"})
        src, batches = asyncio.run(run(dev, "microbit", 50))
        assert dev.ops("write") == [("write", MICROBIT_PERIOD, b"\x14\x00")]  # 20 ms
        t, acc = joined(batches)
        np.testing.assert_allclose(acc, np.rint(motion * 1000) / 1000)
        steps = np.diff(t) * 50
        assert np.abs(steps - 1).max() < 0.01  # bunched arrivals, steady output
        assert src.battery_percent is None  # no battery service on a micro:bit

    def test_rate_error_of_the_board_is_tracked(self, motion: np.ndarray) -> None:
        long = np.concatenate([motion] * 3)
        dev = ReplayDevice([Session(microbit_stream(long, 50.5))])
        _, batches = asyncio.run(run(dev, "microbit", 50))
        t, _ = joined(batches)
        late = np.diff(t[len(t) // 2:])
        assert np.mean(late) == pytest.approx(1 / 50.5, rel=2e-3)

    def test_silence_in_the_link_becomes_an_estimated_gap(self, motion: np.ndarray) -> None:
        dev = ReplayDevice([Session(microbit_stream(motion, 50.0, outage=(300, 400)))])
        src, batches = asyncio.run(run(dev, "microbit", 50))
        lost = sum(b.lost_before for b in batches)
        assert abs(lost - 100) <= 3
        assert src.stats.samples == len(motion) - 100


class TestWitMotionAndThingy:
    def test_witmotion_unlocks_sets_rate_and_decodes(self, motion: np.ndarray) -> None:
        raw = np.rint(motion[:100] * 32768 / 16).astype("<i2")
        recs = [b"\x55\x61" + r.tobytes() + bytes(12) for r in raw]
        dev = ReplayDevice([Session([(0.02, r) for r in recs])])
        _, batches = asyncio.run(run(dev, "witmotion", 50))
        assert [w[1:] for w in dev.ops("write")] == [
            (WITMOTION_WRITE, bytes.fromhex("ffaa6988b5")),
            (WITMOTION_WRITE, bytes.fromhex("ffaa030800")),
            (WITMOTION_WRITE, bytes.fromhex("ffaa000000"))]
        np.testing.assert_allclose(joined(batches)[1], raw * 16 / 32768)

    def test_thingy_patches_its_motion_config(self, motion: np.ndarray,
                                              caplog: pytest.LogCaptureFixture) -> None:
        q = np.rint(motion[:60] * 1024).astype("<i2")
        # This Thingy ignores the write: its configuration still reads 10 Hz afterwards.
        dev = ReplayDevice([Session([(0.02, r.tobytes() + bytes(12)) for r in q])],
                           reads={THINGY_CONFIG: bytes.fromhex("e80310276400" "0a00" "00")})
        with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
            src, batches = asyncio.run(run(dev, "thingy52", 50))
        assert src.assembler.rate_hz == 10.0
        assert any("asked for 50 Hz" in r.getMessage() and "reads 10 Hz" in r.getMessage()
                   for r in caplog.records)
        assert dev.ops("write") == [("write", THINGY_CONFIG, bytes.fromhex("e803102764003200"
                                                                           "00"))]
        np.testing.assert_allclose(joined(batches)[1], q / 1024)


def test_scan_classification_by_service_then_name() -> None:
    assert classify("whatever", ["5F2A0001-7E3C-4B8A-9D61-3A1C0E7B9F20"]) == "repfit"
    assert classify("BBC micro:bit [zutiv]", []) == "microbit"
    assert classify("Polar H10 1A2B3C4D", ["0000180d-0000-1000-8000-00805f9b34fb"]) == "polar"
    assert classify("WT901BLE68", []) == "witmotion"
    assert classify("Headphones", ["0000110b-0000-1000-8000-00805f9b34fb"]) is None


@pytest.mark.parametrize(("kind", "kw", "msg"), [
    ("microbit", {"rate_hz": 5000}, "1..1000 Hz"),
    ("polar", {"rate_hz": 0.5}, "positive rate"),
    ("repfit", {"range_g": 3}, "2, 4, 8, 16"),
    ("garmin", {}, "unknown device kind"),
])
def test_impossible_settings_are_refused_by_name(kind: str, kw: dict[str, float],
                                                 msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        profile_for(kind, **kw)


def test_open_source_picks_lazily_and_names_bad_options() -> None:
    import subprocess
    import sys

    from repfit.host.sources import SourceKind, open_source
    from repfit.host.sources._ble import BleWearable
    from repfit.host.sources._phone import SensorLoggerSource

    src = open_source("ble", address="AA:BB:CC:DD:EE:FF", device_kind="polar", rate_hz=100)
    assert isinstance(src, BleWearable) and src.profile.rate_hz == 100
    assert isinstance(open_source(SourceKind.PHONE, broker_url="mqtt://127.0.0.1:1883"),
                      SensorLoggerSource)
    with pytest.raises(ValueError, match="unknown source kind"):
        open_source("carrier-pigeon")
    with pytest.raises(ValueError, match="bad options for a ble source"):
        open_source("ble", adress="typo")
    # Importing the package and building a phone source never imports bleak.
    code = ("import sys; from repfit.host.sources import open_source; "
            "open_source('phone', broker_url='mqtt://h:1'); print('bleak' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
