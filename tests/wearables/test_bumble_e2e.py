"""End to end through the real `BleakClient`, with no radio.

bleak runs with a custom backend (`repfit.host.sources._bumble`) over a bumble central
device; the peripheral is a repfit wearable emulated on a bumble virtual controller, linked
in-process (`LocalLink`). Everything from `BleakClient` up - `BleakTransport`,
`BleWearable`, decoding, sequencing, clock mapping - is the production code.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("bumble", reason="bumble is a test extra: pip install 'repfit[test]'")

from bumble.link import LocalLink

from repfit.detection.simulate import simulate_set
from repfit.host.sources import ConnectionLost, open_source
from repfit.host.sources._ble import Reconnect, find_device, scan
from repfit.host.sources._bumble import backend_for, scanner_backend_for

from .conftest import CEncoder
from .virtual_device import VirtualWearable, advertisement, make_device


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    acc = simulate_set("squat", reps=2, fs_hz=100, seed=8, rest_before_s=0.5,
                       rest_after_s=0.5).acc
    return np.clip(np.rint(acc * 16384), -32768, 32767).astype(np.int64)  # +-2 g counts


def _c_encode(c_encoder: CEncoder):  # type: ignore[no-untyped-def]
    def encode(chunk: np.ndarray, **kw: int) -> bytes:
        return c_encoder.encode(chunk.tolist(), **kw)
    return encode


async def _run(raw: np.ndarray, c_encoder: CEncoder, *, drop_after: int | None = None):  # type: ignore[no-untyped-def]
    link = LocalLink()
    wearable = VirtualWearable(link, raw, _c_encode(c_encoder))
    central = make_device(link, "host", "F1:F1:F1:F1:F1:F1")
    await wearable.start()
    await central.power_on()
    src = open_source("ble", address=wearable.address, device_kind="repfit", rate_hz=100,
                      range_g=2, backend=backend_for(central),
                      policy=Reconnect(connect_timeout_s=5, first_delay_s=0.05, max_attempts=3,
                                       silence_s=1.0))
    batches = []
    dropped = False
    async with src:
        try:
            async for b in src.samples():
                batches.append(b)
                got = sum(len(x) for x in batches) + sum(x.lost_before for x in batches)
                if drop_after is not None and not dropped and got >= drop_after:
                    dropped = True
                    await wearable.drop_link()
                    await asyncio.sleep(0.05)  # samples produced meanwhile are lost
                if got >= len(raw):
                    break
        except ConnectionLost:
            pass
    await asyncio.sleep(0.01)
    return wearable, src, batches


def test_real_bleak_client_streams_from_a_virtual_wearable(raw: np.ndarray,
                                                           c_encoder: CEncoder) -> None:
    wearable, src, batches = asyncio.run(_run(raw, c_encoder))
    acc = np.concatenate([b.acc for b in batches])
    np.testing.assert_array_equal(np.rint(acc * 16384), raw)
    assert sum(b.lost_before for b in batches) == 0
    assert src.mtu == 247 and src.battery_percent == 77
    # The host's start-up and shut-down writes reached the device's control point.
    assert [w.hex() for w in wearable.writes] == ["0400", "036400", "01", "02"]
    # 38 samples per notification at MTU 247.
    assert max(len(b) for b in batches) == 38
    t = np.concatenate([b.t for b in batches])
    assert np.all(np.diff(t) > 0)
    assert not wearable.device.connections  # clean disconnect on exit


@pytest.mark.slow
def test_link_loss_reconnects_and_counts_the_gap_exactly(raw: np.ndarray,
                                                         c_encoder: CEncoder) -> None:
    wearable, src, batches = asyncio.run(_run(raw, c_encoder, drop_after=200))
    assert wearable.connections == 2
    delivered = sum(len(b) for b in batches)
    lost = sum(b.lost_before for b in batches)
    assert lost > 0
    assert delivered + lost == len(raw)
    assert src.stats.reconnects == 1
    # Every delivered sample is the right one: rebuild indices from the gap accounting.
    index, rebuilt = 0, []
    for b in batches:
        index += b.lost_before
        rebuilt.append(np.arange(index, index + len(b)))
        index += len(b)
    idx = np.concatenate(rebuilt)
    acc = np.concatenate([b.acc for b in batches])
    np.testing.assert_array_equal(np.rint(acc * 16384), raw[idx])


def test_scan_finds_supported_devices_by_service_uuid_and_name(raw: np.ndarray,
                                                               c_encoder: CEncoder) -> None:
    async def run():  # type: ignore[no-untyped-def]
        link = LocalLink()
        wearable = VirtualWearable(link, raw, _c_encode(c_encoder))
        microbit = make_device(link, "microbit", "F2:F2:F2:F2:F2:F2")
        headphones = make_device(link, "phones", "F3:F3:F3:F3:F3:F3")
        central = make_device(link, "host", "F1:F1:F1:F1:F1:F1")
        await wearable.start()
        for dev, name in ((microbit, "BBC micro:bit [tupov]"), (headphones, "Headphones")):
            await dev.power_on()
            await dev.start_advertising(advertising_data=advertisement(name),
                                        advertising_interval_min=20,
                                        advertising_interval_max=20)
        await central.power_on()
        backend = scanner_backend_for(central)
        found = await scan(0.5, backend=backend)
        chosen = await find_device("repfit-virt", 0.5, backend=backend)
        return found, chosen, wearable.address

    found, chosen, address = asyncio.run(run())
    kinds = {d.name: d.kind for d in found}
    assert kinds == {"repfit-VIRT": "repfit", "BBC micro:bit [tupov]": "microbit"}
    assert all(d.rssi is not None for d in found)
    assert (chosen.address, chosen.kind) == (address, "repfit")
