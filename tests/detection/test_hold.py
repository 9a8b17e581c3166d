"""Plank: seconds in a stable plank-like posture, pausing when the posture breaks."""

from __future__ import annotations

import numpy as np
import pytest

from repfit.detection import RepCounter
from repfit.detection.simulate import POSITIONS, simulate_activity, simulate_set


def _hold(t: np.ndarray, acc: np.ndarray) -> tuple[float, list[str]]:
    c = RepCounter("plank")
    reasons = []
    for lo in range(0, t.size, 10):
        u = c.feed(t[lo:lo + 10], acc[lo:lo + 10])
        assert u.count == 0 and u.events == ()
        reasons += [r.reason for r in u.rejected]
    last = c.finish()
    return float(last.hold_seconds), reasons


@pytest.mark.parametrize("position", POSITIONS)
def test_plank_time_at_every_position(position: str) -> None:
    rec = simulate_set("plank", hold_s=30.0, position=position, seed=4)
    held, _ = _hold(rec.t, rec.acc)
    assert 27.0 <= held <= 32.0


def test_a_break_pauses_the_clock_with_a_reason() -> None:
    rec = simulate_set("plank", hold_s=40.0, position="chest", seed=5)
    acc = rec.acc.copy()
    mid = (rec.t > 20.0) & (rec.t < 25.0)             # 5 s of wobbling mid-plank
    acc[mid] += 0.5 * np.sin(2 * np.pi * 1.5 * rec.t[mid])[:, None]
    held, reasons = _hold(rec.t, acc)
    assert 32.0 <= held <= 37.0
    assert any("plank broken" in r for r in reasons)


@pytest.mark.parametrize("kind", ["rest", "lying", "typing"])
def test_standing_sitting_or_a_table_is_not_a_plank(kind: str) -> None:
    rec = simulate_activity(kind, duration_s=60, seed=2)
    assert _hold(rec.t, rec.acc)[0] == 0.0


def test_walking_is_not_a_plank() -> None:
    rec = simulate_activity("walking", duration_s=60, seed=2, position="thigh")
    assert _hold(rec.t, rec.acc)[0] <= 2.0
