"""The BLE route counts a recording as the counter does on the same samples: real sets
streamed as byte-exact repfit notifications through the host's connection manager
(`BleWearable` over the replay transport), arriving with bunched, jittered delays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.host.recordings import read_csv
from repfit.host.sources import ConnectionLost
from repfit.host.sources._ble import BleWearable, Reconnect
from repfit.host.sources._devices import profile_for
from repfit.host.sources._packets import decode_repfit
from repfit.host.sources._replay import ReplayDevice, Session, encode_recording

PER = 38

#: Real sets whose count moved when arrival jitter bent the host's time axis, and others.
SETS = {
    "exermote__P1__burpee__20170422T153049_set5.csv": "burpee",
    "spar__S2__external-rotation-band__E4_R.csv": "generic",
    "muvr__jan__lat-pulldown-angled__back-jan-2-34.csv": "generic",
    "muvr__jan__leverage-high-row__back-jan-2-7.csv": "generic",
    "workoutbuddy__U20__push-up__normal_2015-02-28T155920.csv": "pushup",
}


async def _ble_count(exercise: str, packets: list[bytes], delays: np.ndarray,
                     rate: int) -> int:
    dev = ReplayDevice([Session(list(zip(delays.tolist(), packets, strict=True)))])
    src = BleWearable(dev.factory, profile_for("repfit", rate_hz=rate), name="wrist",
                      clock=dev.clock, policy=Reconnect(max_attempts=1))
    counter = RepCounter(exercise)
    async with src:
        try:
            async for batch in src.samples():
                counter.feed(batch.t, batch.acc)
        except ConnectionLost:
            pass   # the recording ends: the manager gives up on the device
    counter.finish()
    return counter.count


@pytest.mark.parametrize("name", list(SETS))
def test_the_ble_route_counts_real_sets_as_the_counter_does(reps_data: Path,
                                                           name: str) -> None:
    t, acc = read_csv(reps_data / "data" / name)
    rate = round(1.0 / float(np.median(np.diff(t))))
    packets = encode_recording(acc, rate_hz=rate, per_packet=PER)
    samples = np.concatenate([decode_repfit(p).acc for p in packets])
    offline = RepCounter(SETS[name])
    offline.feed(np.arange(samples.shape[0]) / rate, samples)
    offline.finish()
    # Each notification leaves as its last sample is taken and arrives 8 ms + exp(30 ms)
    # later, one in twenty in a 150 ms burst: delays between arrivals on the host clock.
    rng = np.random.default_rng(3)
    lat = 0.008 + rng.exponential(0.03, len(packets)) + (rng.random(len(packets)) < 0.05) * 0.15
    sent = (np.arange(len(packets)) * PER + PER - 1) / rate
    delays = np.diff(np.concatenate([[0.0], sent + lat]))
    assert np.all(delays > 0)
    assert asyncio.run(_ble_count(SETS[name], packets, delays, rate)) == offline.count
