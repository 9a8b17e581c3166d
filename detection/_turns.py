"""Turning points of the movement signal: a hysteresis (Schmitt) trigger.

An extreme is final as soon as the signal has come back from it by the hysteresis ``h``
(which the counter scales with the running amplitude), and it never changes after that, so
a stream cut into any batches gives the same turning points. The trigger works on the
samples of one chunk as Python floats: a chunk holds ~25 of them, where array calls cost
more than the loop.

The set tracker may hold a pending rep (or the turn that completes a set's start) that is
to be emitted once the signal passes a level on its way back (`PendingRep.retreat_level`);
the scan checks that level as it goes, so the rep is emitted in the batch where the signal
passed it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ._events import Rejection, RepEvent

__all__ = ["PendingRep", "TurnSink", "TurningPoints"]


class PendingRep(Protocol):
    """The part of the set tracker the trigger talks to."""

    def retreat_level(self) -> tuple[int, float] | None: ...

    def on_retreat(self, events: list[RepEvent], rejected: list[Rejection] | None = None,
                   at: int = -1) -> None: ...

    def flight_check(self, events: list[RepEvent], rejected: list[Rejection],
                     lo: int, hi: int) -> None: ...


TurnSink = Callable[[int, float, int, float, float, float, list[RepEvent], list[Rejection], int],
                    None]
"""Receives a final turning point: polarity (+1 maximum), value, grid index, time, swing
into it (0 for a run's first), twice the time since the previous one (0 for the first),
the batch's event and refusal lists, and the chunk index where it became final (-1: the
run's end)."""


class TurningPoints:
    """Hysteresis trigger over the chunks of one run at a time."""

    def __init__(self, pending: PendingRep, on_turn: TurnSink) -> None:
        self._pending = pending
        self._on_turn = on_turn
        self.last_s = 0.0      # the last sample and its hysteresis (for `close`)
        self.last_h = 0.0
        self.reset()

    def reset(self) -> None:
        """A new run: no extreme yet."""
        self._mode = 0          # 0: no extreme yet, +1: seeking a maximum, -1: a minimum
        self._ext_val = 0.0     # the extreme being sought so far (mode +-1)
        self._ext_k = -1
        self._ext_t = 0.0
        self._run_max = (-math.inf, -1, 0.0)  # mode 0: running max and min (value, k, t)
        self._run_min = (math.inf, -1, 0.0)
        self._prev_val: float | None = None
        self._prev_t = 0.0

    def close(self, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """The run ended: its last extreme counts only if the signal had already come back
        from it by half the hysteresis. Then the trigger starts over."""
        if self._mode != 0 and abs(self.last_s - self._ext_val) >= 0.5 * self.last_h:
            self._turn(self._mode, self._ext_val, self._ext_k, self._ext_t, events, rejected,
                       -1)
        self.reset()

    def scan(self, k0: int, g: np.ndarray, s: list[float], h: list[float],
             events: list[RepEvent], rejected: list[Rejection]) -> None:
        """One chunk: grid index of its first sample, grid times, movement signal and
        hysteresis per sample."""
        i = 0
        n = len(s)
        checked = 0   # samples before this one were handed to `flight_check`
        while i < n:
            if self._mode == 0:
                found = self._seek_first(k0, g, s, h, i)
                if found is None:
                    break
                j, down = found
                if down:   # came down from a maximum: that was the first extreme
                    self._prev_val, self._prev_t = self._run_min[0], self._run_min[2]
                    v, k, te = self._run_max
                    self._turn(+1, v, k, te, events, rejected, j)
                    self._mode = -1
                else:
                    self._prev_val, self._prev_t = self._run_max[0], self._run_max[2]
                    v, k, te = self._run_min
                    self._turn(-1, v, k, te, events, rejected, j)
                    self._mode = +1
            else:
                sign = self._mode
                level = self._pending.retreat_level()
                bar = sign * level[1] if level is not None and level[0] == -sign else math.inf
                # Seek a maximum of sign * s: the first sample that retreats from the running
                # best by the hysteresis confirms the best. (One loop per sign, so that no
                # sample is multiplied by it: negating is exact, so the comparisons agree.)
                best = self._ext_val
                arg = j = -1
                if sign > 0:
                    for jj in range(i, n):
                        v = s[jj]
                        if v > best:
                            best, arg = v, jj
                        elif v < best - h[jj]:
                            j = jj
                            break
                else:
                    for jj in range(i, n):
                        v = s[jj]
                        if v < best:
                            best, arg = v, jj
                        elif v > best + h[jj]:
                            j = jj
                            break
                if best * sign >= bar:
                    # Retreating from a pending rep: emit it once the signal passes the level
                    # (``at``: the first sample that passed it; if none from ``i`` on, the
                    # sample before, which confirmed the last extreme, already had).
                    at = next((jj for jj in range(i, n) if s[jj] * sign >= bar), max(i - 1, 0))
                    self._pending.flight_check(events, rejected, checked, at)
                    self._pending.on_retreat(events, rejected, at)
                    checked = max(checked, at + 1)
                    continue
                if arg >= 0:
                    self._ext_val, self._ext_k, self._ext_t = s[arg], k0 + arg, float(g[arg])
                if j < 0:
                    break
                self._pending.flight_check(events, rejected, checked, j)
                checked = max(checked, j)
                self._turn(sign, self._ext_val, self._ext_k, self._ext_t, events, rejected, j)
                self._mode = -sign
            self._ext_val, self._ext_k, self._ext_t = s[j], k0 + j, float(g[j])
            i = j + 1
        if n and self._mode != 0:
            self._pending.flight_check(events, rejected, checked, n)
            self.last_s, self.last_h = s[-1], h[-1]
            # The chunk's last sample confirmed an extreme and already passed the level a
            # pending rep waits for: emit it here, where that sample's context is at hand.
            level = self._pending.retreat_level()
            sign = self._mode
            if (level is not None and level[0] == -sign and self._ext_k == k0 + n - 1
                    and self._ext_val * sign >= sign * level[1]):
                self._pending.on_retreat(events, rejected, n - 1)
        elif n:
            self.last_s, self.last_h = s[-1], h[-1]

    def _seek_first(self, k0: int, g: np.ndarray, s: list[float], h: list[float],
                    i: int) -> tuple[int, bool] | None:
        """No extreme yet: track the running max and min from sample ``i`` on. Returns the
        first sample that retreats from either by the hysteresis, and whether it came down
        from the max (None: no sample did)."""
        vmax, kmax, tmax = self._run_max
        vmin, kmin, tmin = self._run_min
        found = None
        for j in range(i, len(s)):
            v = s[j]
            if v > vmax:
                vmax, kmax, tmax = v, k0 + j, float(g[j])
            if v < vmin:
                vmin, kmin, tmin = v, k0 + j, float(g[j])
            down = v < vmax - h[j]
            if down or v > vmin + h[j]:
                found = j, down
                break
        self._run_max, self._run_min = (vmax, kmax, tmax), (vmin, kmin, tmin)
        return found

    def _turn(self, pol: int, val: float, k: int, te: float, events: list[RepEvent],
              rejected: list[Rejection], at: int) -> None:
        """Hand a final extreme on, with its swing and width from the previous one."""
        prev = self._prev_val
        swing = abs(val - prev) if prev is not None else 0.0
        width = 2.0 * (te - self._prev_t) if prev is not None else 0.0
        self._prev_val, self._prev_t = val, te
        self._on_turn(pol, val, int(k), te, swing, width, events, rejected, at)
