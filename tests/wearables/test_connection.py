"""The connection manager driven through the replay transport with byte-exact streams.

The streams are simulated motion encoded by the firmware's C encoder (compiled with gcc),
so these tests exercise exactly the bytes a device would send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.detection.simulate import simulate_set
from repfit.host.sources import ConnectionLost, WearableSource
from repfit.host.sources._ble import BleWearable, Reconnect
from repfit.host.sources._devices import REPFIT_CONTROL, REPFIT_SAMPLES, profile_for
from repfit.host.sources._packets import encode_repfit
from repfit.host.sources._replay import ManualClock, ReplayDevice, Session, encode_recording
from repfit.wire import SampleBatch

from .conftest import CEncoder

RATE = 100
PER = 38


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    return simulate_set("squat", reps=8, fs_hz=RATE, seed=4).acc


@pytest.fixture(scope="module")
def packets(c_encoder: CEncoder, motion: np.ndarray) -> list[bytes]:
    def enc(raw: np.ndarray, **kw: int) -> bytes:
        return c_encoder.encode(raw.tolist(), **kw)
    out = encode_recording(motion, rate_hz=RATE, per_packet=PER, encode=enc)
    assert out == encode_recording(motion, rate_hz=RATE, per_packet=PER)  # C == Python
    return out


def timed(pkts: list[bytes], seed: int = 0,
          drop: frozenset[int] = frozenset()) -> list[tuple[float, bytes]]:
    """Notification delays: one packet period, with bunching jitter (always >= 0).

    Packets in ``drop`` are lost on air: they take their time slot but never arrive.
    """
    rng = np.random.default_rng(seed)
    period = PER / RATE
    due = np.arange(1, len(pkts) + 1) * period + rng.exponential(0.02, len(pkts))
    due = np.maximum.accumulate(due)
    keep = [i for i in range(len(pkts)) if i not in drop]
    return list(zip(np.diff(due[keep], prepend=0.0), [pkts[i] for i in keep], strict=True))


class FakeSleep:
    """Records backoff delays and moves the manual clock instead of waiting."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, s: float) -> None:
        self.delays.append(s)
        if self.clock is not None:
            self.clock.advance(s)
        await asyncio.sleep(0)


def make(device: ReplayDevice, sleep: FakeSleep | None = None, **policy: float) -> BleWearable:
    pol = Reconnect(**{"max_attempts": 3, "silence_s": 2.0, **policy})  # type: ignore[arg-type]
    return BleWearable(device.factory, profile_for("repfit", rate_hz=RATE, range_g=8),
                       name="wrist", policy=pol, clock=device.clock,
                       sleep=sleep or FakeSleep(device.clock))


async def collect(src: BleWearable, stop_after: int | None = None) -> list[SampleBatch]:
    out: list[SampleBatch] = []
    async with src:
        try:
            async for b in src.samples():
                out.append(b)
                if stop_after is not None and sum(len(x) for x in out) >= stop_after:
                    break
        except ConnectionLost:
            pass
    return out


def joined(batches: list[SampleBatch]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b.t for b in batches]), np.concatenate([b.acc for b in batches])


def test_is_a_wearable_source(packets: list[bytes]) -> None:
    assert isinstance(make(ReplayDevice([Session(timed(packets))])), WearableSource)


def test_clean_stream_delivers_every_sample_on_a_steady_clock(
        packets: list[bytes], motion: np.ndarray) -> None:
    dev = ReplayDevice([Session(timed(packets), end="stay")])
    src = make(dev)
    batches = asyncio.run(collect(src, stop_after=len(motion)))
    t, acc = joined(batches)
    np.testing.assert_allclose(acc, motion, atol=8 / 32768)
    assert sum(b.lost_before for b in batches) == 0
    steps = np.diff(t) * RATE
    assert np.all(steps > 0) and np.abs(steps - 1).max() < 0.01
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert src.battery_percent == 87 and src.mtu == 247
    # Start-up protocol: subscribe, range 8 g, rate 100 Hz, start; on exit stop + disconnect.
    writes = [w[2].hex() for w in dev.ops("write")]
    assert writes == ["0402", "036400", "01", "02"]
    assert dev.ops("notify")[0][1] == REPFIT_SAMPLES
    assert all(w[1] == REPFIT_CONTROL for w in dev.ops("write"))
    assert dev.log[-1][0] == "disconnect" and dev.ops("unsubscribe")


def test_drop_outs_become_exact_gaps(packets: list[bytes], motion: np.ndarray) -> None:
    missing = {5, 6, 20}
    dev = ReplayDevice([Session(timed(packets, drop=frozenset(missing)))])
    batches = asyncio.run(collect(make(dev)))
    lost = [(b.seq, b.lost_before) for b in batches if b.lost_before]
    assert [n for _, n in lost] == [2 * PER, PER]
    delivered = sum(len(b) for b in batches)
    assert delivered + sum(b.lost_before for b in batches) == len(motion)
    t, _ = joined(batches)
    gap_steps = np.diff(t) * RATE
    assert sorted(np.round(gap_steps[gap_steps > 1.5]).tolist()) == [PER + 1, 2 * PER + 1]


def test_duplicates_and_reordering_change_nothing(packets: list[bytes]) -> None:
    clean = asyncio.run(collect(make(ReplayDevice([Session(timed(packets))]))))
    messy = list(packets)
    messy[10], messy[11] = messy[11], messy[10]
    messy[30], messy[32] = messy[32], messy[30]
    messy.insert(15, packets[14])
    messy.insert(40, packets[3])
    dev = ReplayDevice([Session(timed(messy))])
    src = make(dev)
    batches = asyncio.run(collect(src))
    np.testing.assert_array_equal(joined(batches)[1], joined(clean)[1])
    assert sum(b.lost_before for b in batches) == 0
    assert src.stats.duplicates + src.stats.late == 2


def test_reconnect_with_backoff_resubscribes_and_counts_the_outage(
        packets: list[bytes], motion: np.ndarray) -> None:
    sleep = FakeSleep()
    # Link drops after packet 9; two failed attempts; the device's ring kept packets 10-11
    # (resent, overlapping the last delivered one) and lost 12-14.
    dev = ReplayDevice([
        Session(timed(packets[:10])),
        Session(fail_connect=True), Session(fail_connect=True),
        Session(timed(packets[9:12] + packets[15:], seed=1)),
    ])
    src = make(dev, sleep, max_attempts=5)
    batches = asyncio.run(collect(src))
    assert sleep.delays[:2] == [0.5, 1.0]  # then the script ends: the device is gone
    assert len(dev.ops("notify")) == 2
    assert [w[2].hex() for w in dev.ops("write")].count("01") == 2
    assert [b.lost_before for b in batches if b.lost_before] == [3 * PER]
    assert sum(len(b) for b in batches) + 3 * PER == len(motion)
    assert src.stats.reconnects == 1
    _, acc = joined(batches)
    np.testing.assert_allclose(acc[: 12 * PER], motion[: 12 * PER], atol=8 / 32768)


def test_gives_up_with_a_clear_error_after_max_attempts(packets: list[bytes]) -> None:
    sleep = FakeSleep()
    dev = ReplayDevice([Session(timed(packets[:3]))] + [Session(fail_connect=True)] * 9)
    src = make(dev, sleep, max_attempts=4, max_delay_s=1.5)

    async def run() -> None:
        async with src:
            async for _ in src.samples():
                pass

    with pytest.raises(ConnectionLost, match="after 4 reconnection attempts") as info:
        asyncio.run(run())
    assert info.value.attempts == 4
    assert sleep.delays == [0.5, 1.0, 1.5]
    assert dev.log[-1][0] == "disconnect"


def test_unreachable_device_fails_at_connect() -> None:
    dev = ReplayDevice([Session(fail_connect=True)] * 3)
    with pytest.raises(ConnectionLost, match="device not reachable"):
        asyncio.run(collect(make(dev, max_attempts=2)))


def test_silent_device_is_reconnected(packets: list[bytes]) -> None:
    dev = ReplayDevice([Session(timed(packets[:5]), end="silence"),
                        Session(timed(packets[5:10]))])
    src = make(dev, silence_s=0.05)
    batches = asyncio.run(collect(src))
    assert sum(len(b) for b in batches) == 10 * PER
    links = [e[0] for e in dev.log if e[0] in ("connect", "disconnect")]
    assert links[:3] == ["connect", "disconnect", "connect"]  # silence -> clean reconnect


def test_a_device_that_connects_but_never_sends_is_given_up_on() -> None:
    dev = ReplayDevice([Session((), end="silence") for _ in range(5)])
    src = make(dev, silence_s=0.02, max_attempts=3)

    async def run() -> None:
        async with src:
            async for _ in src.samples():
                pass

    with pytest.raises(ConnectionLost, match="connected but no data"):
        asyncio.run(run())
    assert len(dev.ops("connect")) == 3 and dev.log[-1][0] == "disconnect"


def test_bad_notifications_are_logged_rate_limited_and_skipped(
        packets: list[bytes], caplog: pytest.LogCaptureFixture) -> None:
    junk: list[bytes] = [b"", b"garbage!" * 3, packets[2][:-1], packets[2] + b"\0",
                         b"\x02" + packets[2][1:]]
    stream = []
    for i, p in enumerate(packets[:20]):
        stream.append(p)
        stream.append(junk[i % len(junk)])
    dev = ReplayDevice([Session(timed(stream))])
    src = make(dev)
    with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
        batches = asyncio.run(collect(src))
    assert sum(len(b) for b in batches) == 20 * PER
    assert src.stats.bad_packets == 20
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert any("truncated" in m for m in lines) and any("version 2" in m for m in lines)
    assert len(lines) < 20  # rate-limited: one line per kind of problem per interval


def _wrong_units(scale: float, range_code: int = 2) -> Callable[[np.ndarray], list[bytes]]:
    def build(motion: np.ndarray) -> list[bytes]:
        return encode_recording(motion * scale, rate_hz=RATE, per_packet=PER,
                                range_code=range_code)
    return build


@pytest.mark.parametrize(("scale", "range_code", "what"), [
    (9.80665, 3, "m/s^2"), (0.5, 2, "factor 0.5"), (2.0, 3, "factor 2")])
def test_wrong_units_are_detected_at_rest_and_corrected(
        motion: np.ndarray, scale: float, range_code: int, what: str,
        caplog: pytest.LogCaptureFixture) -> None:
    pkts = _wrong_units(scale, range_code)(np.clip(motion, -1.6, 1.6))
    dev = ReplayDevice([Session(timed(pkts))])
    with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
        batches = asyncio.run(collect(BleWearable(
            dev.factory, profile_for("repfit", rate_hz=RATE, range_g=(2, 4, 8, 16)[range_code]),
            name="wrist", policy=Reconnect(max_attempts=1), clock=dev.clock,
            sleep=FakeSleep())))
    _, acc = joined(batches)
    tail = np.linalg.norm(acc[-50:], axis=1)  # rest after the set, corrected
    assert np.abs(np.median(tail) - 1.0) < 0.05
    assert any(what in r.getMessage() for r in caplog.records)


def test_range_mismatch_is_reported(motion: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    dev = ReplayDevice([Session(timed(encode_recording(motion, rate_hz=RATE, range_code=1)))])
    with caplog.at_level(logging.WARNING, logger="repfit.host.sources"):
        batches = asyncio.run(collect(make(dev)))
    assert sum(len(b) for b in batches) == len(motion)
    assert any("+-4 g but +-8 g was requested" in r.getMessage() for r in caplog.records)


def test_counter_wrap_is_continuous(motion: np.ndarray) -> None:
    pkts = encode_recording(motion[:400], rate_hz=RATE, per_packet=PER,
                            first_index=2**32 - 100, t0_us=2**32 - 500_000)
    batches = asyncio.run(collect(make(ReplayDevice([Session(timed(pkts))]))))
    assert sum(len(b) for b in batches) == 400
    assert sum(b.lost_before for b in batches) == 0
    steps = np.diff(joined(batches)[0]) * RATE
    assert np.abs(steps - 1).max() < 0.01


def test_outages_never_invent_reps(packets: list[bytes]) -> None:
    def count(batches: list[SampleBatch]) -> int:
        counter = RepCounter("squat")
        for b in batches:
            counter.feed(b.t, b.acc)
        counter.finish()
        return counter.count

    rec = simulate_set("squat", reps=8, fs_hz=RATE, seed=4)
    direct = count([SampleBatch("direct", rec.t, rec.acc)])
    clean = count(asyncio.run(collect(make(ReplayDevice([Session(timed(packets))])))))
    assert clean == direct  # the radio path changes nothing
    resumed = timed(packets[16:], seed=2)
    resumed[0] = (resumed[0][0] + 4 * PER / RATE - 0.5, resumed[0][1])  # outage minus backoff
    dev = ReplayDevice([Session(timed(packets[:12])), Session(fail_connect=True),
                        Session(resumed)])
    batches = asyncio.run(collect(make(dev)))
    (gap,) = [b for b in batches if b.lost_before]
    assert gap.lost_before == 4 * PER
    prev = batches[gap.seq - 1]
    assert gap.t[0] - prev.t[-1] >= 4 * PER / RATE  # the counter sees the hole in time
    assert count(batches) <= rec.reps  # a hole can lose reps, never make them up


def test_python_twin_encoder_agrees_with_c_on_the_stream(
        c_encoder: CEncoder, packets: list[bytes]) -> None:
    # encode_repfit is the host-side twin used by the benchmarks and --replay.
    assert packets[0] == encode_repfit(np.frombuffer(packets[0][14:], "<i2").reshape(-1, 3),
                                       first_index=0, t_us=0, rate_hz=RATE, range_code=2)
