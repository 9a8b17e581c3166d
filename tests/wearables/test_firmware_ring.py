"""The firmware's sample ring (rf_ring.c, compiled with gcc): drop-outs lose nothing until it
overflows, and then the host sees exactly how much was lost."""

from __future__ import annotations

import numpy as np

from repfit.host.sources._packets import decode_repfit, samples_per_packet

from .conftest import CEncoder, FirmwareRing


def _fill(ring: FirmwareRing, n: int, start: int = 0, first_index: int = 0) -> None:
    for i in range(start, start + n):
        ring.push((i, -i, 16384), first_index + i, 1_000_000 + i * 10_000)


def test_packets_follow_the_mtu_and_carry_counter_and_time(c_encoder: CEncoder) -> None:
    ring = c_encoder.ring(cap=200)
    _fill(ring, 50, first_index=500)
    for mtu, expected in ((23, 1), (247, 38)):
        data, n = ring.packet(samples_per_packet(mtu))
        assert n == expected and len(data) <= mtu - 3
        f = decode_repfit(data)
        assert f.counter == 500 and f.t_dev == 1.0 and not f.overflow
        np.testing.assert_array_equal(np.rint(f.acc[:, 0] * 16384), np.arange(n))


def test_a_refused_notification_is_sent_again(c_encoder: CEncoder) -> None:
    ring = c_encoder.ring(cap=100)
    _fill(ring, 10)
    first, n = ring.packet(38)  # the stack refused it: not consumed
    again, _ = ring.packet(38)
    assert first == again and n == 10
    ring.consume(n)
    assert ring.packet(38) == (b"", 0)


def test_link_down_shorter_than_the_ring_loses_nothing(c_encoder: CEncoder) -> None:
    ring = c_encoder.ring(cap=200)
    got: list[np.ndarray] = []
    _fill(ring, 150)  # link down for 1.5 s at 100 Hz
    while True:
        data, n = ring.packet(38)
        if not n:
            break
        got.append(decode_repfit(data).acc)
        ring.consume(n)
    xs = np.rint(np.concatenate(got)[:, 0] * 16384)
    np.testing.assert_array_equal(xs, np.arange(150))


def test_overflow_drops_the_oldest_and_flags_it(c_encoder: CEncoder) -> None:
    ring = c_encoder.ring(cap=64)
    _fill(ring, 100, first_index=10)
    data, n = ring.packet(38)
    f = decode_repfit(data)
    assert f.overflow and f.counter == 10 + 36  # 36 oldest samples discarded, counted
    assert np.rint(f.acc[0, 0] * 16384) == 36
    ring.consume(n)
    assert not decode_repfit(ring.packet(38)[0]).overflow


def test_a_sample_that_could_not_be_read_is_a_hole_the_host_counts(
        c_encoder: CEncoder) -> None:
    ring = c_encoder.ring(cap=100)
    _fill(ring, 5)
    _fill(ring, 5, start=7)  # samples 5 and 6 failed on the I2C bus
    first, n1 = ring.packet(38)
    ring.consume(n1)
    second, n2 = ring.packet(38)
    assert (n1, n2) == (5, 5)
    assert decode_repfit(first).counter == 0 and decode_repfit(second).counter == 7
