"""Pure parts of the stream: the sequencer's gap accounting and the clock mapper."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.host.sources._clock import ClockMapper
from repfit.host.sources._sequence import Sequencer


def _run(seq: Sequencer[str], packets: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    out = []
    for i, n in packets:
        out += [(r.index + r.skip, r.n - r.skip, r.lost_before) for r in seq.push(i, n, f"{i}")]
    out += [(r.index + r.skip, r.n - r.skip, r.lost_before) for r in seq.flush()]
    return out


class TestSequencer:
    def test_in_order_packets_pass_at_once(self) -> None:
        seq: Sequencer[str] = Sequencer()
        assert [r.index for r in seq.push(0, 10, "a")] == [0]
        assert [r.index for r in seq.push(10, 10, "b")] == [10]
        assert seq.lost == 0

    def test_gap_is_declared_after_reorder_depth_packets(self) -> None:
        out = _run(Sequencer(reorder_depth=2), [(0, 10), (30, 10), (40, 10), (50, 10)])
        assert out == [(0, 10, 0), (30, 10, 20), (40, 10, 0), (50, 10, 0)]

    def test_reordered_packets_are_put_back_in_order(self) -> None:
        out = _run(Sequencer(), [(0, 10), (20, 10), (10, 10), (30, 10)])
        assert out == [(0, 10, 0), (10, 10, 0), (20, 10, 0), (30, 10, 0)]

    def test_duplicates_and_late_packets_are_dropped(self) -> None:
        seq: Sequencer[str] = Sequencer()
        out = _run(seq, [(0, 10), (0, 10), (10, 10), (20, 10), (20, 10), (5, 5)])
        assert out == [(0, 10, 0), (10, 10, 0), (20, 10, 0)]
        assert seq.duplicates + seq.late == 3

    def test_overlapping_resend_after_resync_skips_the_delivered_head(self) -> None:
        seq: Sequencer[str] = Sequencer()
        seq.push(0, 10, "a")
        seq.resync()
        (r,) = seq.push(6, 10, "b")
        assert (r.skip, r.lost_before, seq.expected) == (4, 0, 16)

    def test_gap_after_resync_is_released_without_waiting(self) -> None:
        seq: Sequencer[str] = Sequencer(reorder_depth=5)
        seq.push(0, 10, "a")
        seq.resync()
        (r,) = seq.push(110, 10, "b")
        assert r.lost_before == 100

    def test_counter_restart_after_resync(self) -> None:
        seq: Sequencer[str] = Sequencer(restart_margin=100)
        seq.push(50_000, 10, "a")
        seq.resync()
        (r,) = seq.push(0, 10, "b")
        assert (r.index, r.lost_before, seq.restarts) == (0, 0, 1)

    def test_every_sample_is_delivered_or_counted_once(self) -> None:
        rng = np.random.default_rng(3)
        packets = [(i * 8, 8) for i in range(300)]
        kept = [p for p in packets if rng.random() > 0.1]
        shuffled = kept.copy()
        for k in range(1, len(shuffled) - 1, 7):  # local swaps (the first packet defines the start)
            shuffled[k], shuffled[k + 1] = shuffled[k + 1], shuffled[k]
        shuffled += kept[::13]  # duplicates
        seq: Sequencer[str] = Sequencer(reorder_depth=3)
        out = _run(seq, shuffled)
        starts = [s for s, _, _ in out]
        assert starts == sorted(starts)
        delivered = sum(n for _, n, _ in out)
        lost = sum(lost for _, _, lost in out)
        last = max(i + n for i, n in kept)
        assert delivered == 8 * len(kept)
        assert delivered + lost == last - kept[0][0]


class TestClockMapper:
    def _feed(self, m: ClockMapper, dev_last: np.ndarray, arrival: np.ndarray,
              per: int, rate: float) -> np.ndarray:
        out = []
        for d, a in zip(dev_last, arrival, strict=True):
            m.observe(d, a)
            out.append(m.map(d - (per - 1 - np.arange(per)) / rate))
        return np.concatenate(out)

    @pytest.mark.parametrize("drift", [0.0, 1e-4, -2e-4, 0.02])
    def test_tracks_drift_under_bunched_arrivals(self, drift: float) -> None:
        rng = np.random.default_rng(1)
        rate, per = 100.0, 38
        n_packets = int(30 * 60 * rate / per)  # a 30-minute session
        dev_last = (np.arange(n_packets) * per + per - 1) / rate
        true_host = 500.0 + dev_last * (1 + drift)
        # Latency: 8 ms floor plus bunching (exponential tail, occasional 150 ms bursts).
        lat = 0.008 + rng.exponential(0.012, n_packets) + (rng.random(n_packets) < 0.05) * 0.15
        t = self._feed(ClockMapper(), dev_last, true_host + lat, per, rate)
        truth = 500.0 + (np.repeat(dev_last, per) - np.tile(per - 1 - np.arange(per), n_packets)
                         / rate) * (1 + drift)
        err = t - truth
        settled = err[len(err) // 10:]
        assert np.all(np.diff(t) > 0)
        # Within the offset the mapper leaves alone (hold_s) of the honest latency floor.
        assert np.abs(settled - 0.008).max() < ClockMapper().hold_s + 0.02
        steps = np.diff(t) * rate
        # Steady rate: every interval within 1 % of the true one once settled.
        assert np.abs(steps[len(steps) // 10:] / (1 + drift) - 1).max() < 0.01

    def test_arrival_jitter_alone_never_bends_the_time_axis(self) -> None:
        """A device at its nominal rate: however the notifications bunch, every interval the
        counter sees is the nominal one (a bent axis moves the rep counter's decisions)."""
        rng = np.random.default_rng(7)
        rate, per = 50.0, 38
        n_packets = int(10 * 60 * rate / per)
        dev_last = (np.arange(n_packets) * per + per - 1) / rate
        lat = 0.008 + rng.exponential(0.03, n_packets) + (rng.random(n_packets) < 0.05) * 0.15
        t = self._feed(ClockMapper(), dev_last, 500.0 + dev_last + lat, per, rate)
        assert np.abs(np.diff(t) * rate - 1).max() < 1e-6

    def test_time_never_goes_backwards(self) -> None:
        m = ClockMapper()
        m.observe(10.0, 100.0)
        a = m.map(np.array([9.9, 10.0]))
        m.observe(5.0, 100.2)  # the device clock restarted
        b = m.map(np.array([4.9, 5.0]))
        assert b[0] > a[-1]

    def test_falling_far_behind_reanchors_instead_of_slewing(self) -> None:
        m = ClockMapper()
        m.observe(1.0, 101.0)
        m.map(np.array([1.0]))
        m.observe(61.0, 171.0)  # 10 s of new offset after a minute away
        (t,) = m.map(np.array([61.0]))
        assert t == pytest.approx(171.0)

    def test_a_late_first_anchor_is_slewed_back_never_compressed(self) -> None:
        m = ClockMapper()
        m.observe(0.99, 102.0)  # first packet delayed by ~1 s (connection start-up burst)
        a = m.map(np.arange(100) / 100)
        m.observe(2.99, 103.01)  # the honest offset is ~100 s, one second less
        b = m.map(1.0 + np.arange(200) / 100)
        steps = np.diff(np.concatenate([a, b])) * 100
        assert np.abs(steps - 1).max() <= 0.006
