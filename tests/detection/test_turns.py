"""The hysteresis trigger alone: turning points that are final once the signal comes back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from repfit.detection._events import Rejection, RepEvent
from repfit.detection._turns import TurningPoints


class _NoPending:
    def retreat_level(self) -> tuple[int, float] | None:
        return None

    def on_retreat(self, events: list[RepEvent], rejected: list[Rejection] | None = None,
                   at: int = -1) -> None:
        raise AssertionError("no rep is pending")

    def flight_check(self, events: list[RepEvent], rejected: list[Rejection],
                     lo: int, hi: int) -> None:
        pass


def _turns(s: np.ndarray, h: float, cuts: list[int]) -> tuple[list[tuple], TurningPoints]:
    found: list[tuple] = []

    def sink(pol: int, val: float, k: int, t: float, swing: float, width: float,
             events: list[RepEvent], rejected: list[Rejection], at: int) -> None:
        found.append((pol, k, round(swing, 9), round(width, 9)))

    tp = TurningPoints(_NoPending(), sink)
    g = np.arange(s.size) / 25.0
    for lo, hi in zip([0, *cuts], [*cuts, s.size], strict=True):
        tp.scan(lo, g[lo:hi], s[lo:hi].tolist(), [h] * (hi - lo), [], [])
    return found, tp


@pytest.mark.parametrize("cuts", [[], [1, 2, 3, 50, 51, 120], list(range(7, 500, 7))])
def test_turning_points_are_the_extremes_however_the_signal_is_cut(cuts: list[int]) -> None:
    g = np.arange(500) / 25.0
    s = np.sin(2 * np.pi * g / 2.0) + 0.05 * np.random.default_rng(1).normal(size=g.size)
    found, _ = _turns(s, 0.6, cuts)
    assert found == _turns(s, 0.6, [])[0]
    pols = [f[0] for f in found]
    assert all(a == -b for a, b in itertools.pairwise(pols))   # they alternate
    # The run's first sample is its first turning point (the signal rose from it by the
    # hysteresis), then every maximum and minimum of the 10 periods.
    assert found[0][:2] == (-1, 0)
    assert len(found) == 21
    for pol, k, _swing, _width in found[1:]:
        window = s[max(0, k - 12):k + 13]
        assert s[k] == (window.max() if pol > 0 else window.min())
    for _pol, _k, swing, width in found[2:]:
        assert swing > 1.6 and width == pytest.approx(2.0, abs=0.4)


def test_the_last_extreme_counts_at_a_run_end_only_once_the_signal_came_back() -> None:
    # Up to a maximum, then back by 0.2 (under half the 0.6 hysteresis) or by 0.4.
    for back, counted in ((0.2, False), (0.4, True)):
        s = np.concatenate([np.linspace(0.0, -1.0, 20), np.linspace(-1.0, 1.0, 40),
                            np.linspace(1.0, 1.0 - back, 5)])
        found, tp = _turns(s, 0.6, [])
        assert [f[0] for f in found] == [+1, -1]    # the start, then the minimum
        tp.close([], [])
        assert (len(found) == 3) is counted
