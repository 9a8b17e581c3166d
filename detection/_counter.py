"""The streaming rep counter.

Pipeline (all state carried between batches, all of it bounded):

1. clean: drop NaN/inf rows and timestamps that are not later than every earlier one;
2. resample onto a uniform 25 Hz grid (linear, never across a gap longer than ``gap_s``);
3. band-pass the three axes (2nd-order Butterworth low-pass, 1st-order high-pass;
   `sosfilt` with carried ``zi``, started at the first sample's level so gravity does not
   ring up as a fake first rep);
4. project onto the movement axis: the principal axis of an exponentially weighted
   covariance of the band-passed signal (time constant ~4 s), tracked by power iteration at
   fixed grid blocks, so any sensor orientation works and the sign of the axis never flips;
5. find turning points with a hysteresis (Schmitt) trigger whose threshold follows the
   running amplitude: an extreme is confirmed as soon as the signal has come back from it
   by the threshold, and can never change after that;
6. measure the context of each turning point: the rep period (autocorrelation,
   `_rhythm.py`), walking-step and shaking content of |a|, and the recent peak of |a|
   (landings);
7. turn turning points into reps (`_reps.py`): a set starts with three reps in rhythm,
   later reps are emitted as the signal comes back; every candidate gets a plausibility
   verdict and is accepted or refused with a reason.

Hold exercises (plank) skip 3-7: `_hold.py` accumulates the seconds spent in a stable,
plank-like posture. See ``docs/detection.md`` for the parameters and verdict reasons.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.signal import butter

from ._events import CounterUpdate, Rejection, RepEvent
from ._filters import ew_sos, filter_rows, steady_state
from ._hold import HoldTracker
from ._profiles import ExerciseProfile, profile_for
from ._reps import Extreme, SetTracker
from ._resample import CleanStats, Resampler, clean_batch
from ._rhythm import RhythmTracker

__all__ = ["RepCounter"]

log = logging.getLogger(__name__)

FS_HZ = 25.0
"""Internal grid rate: 12.5 Hz Nyquist is far above any exercise cadence (<= 2 Hz)."""
HIGHPASS_HZ = 0.08
"""Removes gravity and slow posture drift; passes the slowest rep (10+ s) well enough."""
GAP_S = 1.0
"""Longer silences are gaps: never interpolated, never bridged with reps."""
AXIS_TAU_S = 4.0
"""Memory of the movement-axis estimate (a couple of reps)."""
AXIS_BLOCK = 12
"""Grid samples between movement-axis updates (~0.5 s)."""
ENV_TAU_S = 3.0
"""Release time of the amplitude envelope that scales the hysteresis."""
HYSTERESIS = 0.6
"""Fraction of the running amplitude (half peak-to-peak) the signal must retreat from an
extreme before the extreme is confirmed: 30 % of a full swing."""
STEP_BAND_HZ = (1.2, 2.8)
"""Step rate of walking, running and stair climbing (steps per second)."""
SHAKE_HZ = 3.0
"""Above the step band: hand shaking and vibration (3-8 Hz)."""
FEATURE_TAU_S = 2.0
"""Smoothing of the step and shake measures (about one rep)."""
CHUNK = 1024
"""Grid samples processed per inner step (bounds work per step; results do not depend on it)."""
AXIS_POWER = 4
"""Power-iteration steps per block: the axis settles within a rep of the stream start."""
RHYTHM_EVERY = 2
"""Axis blocks between re-estimates of the rep period (~1 s)."""
HOLD_BLOCK = 12
"""Grid samples per hold-posture decision (~0.5 s)."""


class RepCounter:
    """Count reps of one exercise from a stream of accelerometer batches.

    Parameters
    ----------
    exercise : str
        One of `repfit.detection.EXERCISES`; ``plank`` is a hold (seconds, not reps).
    gap_s : float
        Silence (s) after which the stream is treated as interrupted.
    keep_trace : bool
        Keep the movement signal (grid time, value) for plotting; memory then grows with
        the stream, so only for offline analysis (``repfit count --plot``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 30, 0.02)
    >>> moving = (t > 3) & (t < 23)                       # 10 reps of 2 s: a 35 degree
    >>> tilt = 0.6 * (1 - np.cos(np.pi * (t - 3))) / 2 * moving   # tilt and back
    >>> z = np.cos(tilt)
    >>> acc = np.stack([np.sin(tilt), 0 * t, z], axis=1)
    >>> c = RepCounter("squat")
    >>> first = c.feed(t[:700], acc[:700])             # batches of any size
    >>> rest = c.feed(t[700:], acc[700:])
    >>> c.finish().count
    10
    """

    def __init__(self, exercise: str, *, gap_s: float = GAP_S, keep_trace: bool = False) -> None:
        self.profile: ExerciseProfile = profile_for(exercise)
        self.exercise = self.profile.name
        if not gap_s > 0:
            raise ValueError(f"gap_s must be positive, got {gap_s}")
        self.stats = CleanStats()
        self._res = Resampler(FS_HZ, gap_s)
        self._finished = False
        p = self.profile
        if not p.hold:
            # First-order high-pass: its step response decays without overshoot, so the
            # change of mean tilt when a set starts or ends never makes an extra extreme.
            self._sos = np.vstack([
                butter(2, p.lowpass_hz, btype="lowpass", fs=FS_HZ, output="sos"),
                butter(1, HIGHPASS_HZ, btype="highpass", fs=FS_HZ, output="sos")])
            self._sos_feat = butter(2, [STEP_BAND_HZ[0], STEP_BAND_HZ[1]], btype="bandpass",
                                    fs=FS_HZ, output="sos")
            self._sos_hf = butter(2, SHAKE_HZ, btype="highpass", fs=FS_HZ, output="sos")
        self._sos_pow = ew_sos(math.exp(-1.0 / (FS_HZ * FEATURE_TAU_S)))
        self._zi_feat = self._zi_hf = self._zi_pow = np.zeros(0)
        self._step_ratio = self._shake_ratio = np.zeros(1)
        self._zi: np.ndarray | None = None
        self._trace: list[tuple[np.ndarray, np.ndarray]] | None = [] if keep_trace else None
        self._cov = np.eye(3) * 1e-9
        self._axis = np.array([1.0, 1.0, 1.0]) / math.sqrt(3.0)
        self._lam_axis = math.exp(-1.0 / (FS_HZ * AXIS_TAU_S))
        self._lam_env = math.exp(-1.0 / (FS_HZ * ENV_TAU_S))
        self._env = 0.0
        self._blk: list[np.ndarray] = []
        self._w_blk = (self._lam_axis ** np.arange(AXIS_BLOCK - 1, -1, -1))[None, :]
        self._lam_axis_blk = self._lam_axis ** AXIS_BLOCK
        self._lam_env_blk = self._lam_env ** AXIS_BLOCK
        self._h_floor = 0.5 * p.min_swing_g
        self._reset_trigger()
        self._reps = SetTracker(p)
        self._rhythm = RhythmTracker(FS_HZ, p.min_period_s, p.max_period_s)
        self._blocks = 0
        self._period = math.nan
        # Decaying peak of |a| (landings of jumps): value at the last block end, running
        # max in the current block.
        self._peaks = np.zeros((1, 2))
        self._jmp = np.zeros(1)
        self._per = np.full(1, math.nan)
        self._prev_val: float | None = None
        self._prev_t = 0.0
        self._last_s = 0.0
        self._last_h = self._h_floor
        # Hold state.
        self._hold = HoldTracker(HOLD_BLOCK / FS_HZ, self.profile.name)
        self._hold_buf: list[np.ndarray] = []
        self._hold_buf_n = 0

    # ---- public API -------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Accepted reps so far."""
        return self._reps.count

    @property
    def hold_seconds(self) -> float | None:
        """Seconds held in a stable posture (hold exercises), else None."""
        return self._hold.seconds if self.profile.hold else None

    @property
    def trace(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid times and movement signal seen so far (``keep_trace=True`` only)."""
        if self._trace is None:
            raise RuntimeError("make the counter with keep_trace=True to read its trace")
        if not self._trace:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([g for g, _ in self._trace]),
                np.concatenate([s for _, s in self._trace]))

    def feed(self, t: object, acc: object) -> CounterUpdate:
        """Add a batch: ``t`` (n,) seconds, ``acc`` (n, 3) in g.

        Returns the reps that became certain in this batch. Rows with NaN/inf and
        timestamps not after every earlier one are dropped (counted in ``self.stats``);
        shapes that do not match raise `ValueError`.
        """
        if self._finished:
            raise RuntimeError("feed() after finish(): make a new RepCounter for a new stream")
        tt, aa = clean_batch(t, acc, self._res.last_t, self.stats)
        events: list[RepEvent] = []
        rejected: list[Rejection] = []
        for k0, g, x, new_run in self._res.push(tt, aa):
            if new_run and self._zi is not None:
                self.stats.gaps += 1
                self._close_run(events, rejected)
            for lo in range(0, g.size, CHUNK):
                self._process(k0 + lo, g[lo:lo + CHUNK], x[lo:lo + CHUNK],
                              new_run and lo == 0, events, rejected)
        return self._update(events, rejected)

    def finish(self) -> CounterUpdate:
        """End of stream: confirm a pending extreme that the signal had already left."""
        events: list[RepEvent] = []
        rejected: list[Rejection] = []
        if not self._finished and self._zi is not None:
            self._close_run(events, rejected)
        self._finished = True
        return self._update(events, rejected)

    # ---- internals --------------------------------------------------------------------

    def _update(self, events: list[RepEvent], rejected: list[Rejection]) -> CounterUpdate:
        return CounterUpdate(tuple(events), tuple(rejected), self.count, self.hold_seconds)

    def _reset_trigger(self) -> None:
        self._mode = 0          # 0: no extreme yet, +1: seeking a maximum, -1: a minimum
        self._ext_val = 0.0     # the extreme being sought so far (mode +-1)
        self._ext_k = -1
        self._ext_t = 0.0
        self._run_max = (-math.inf, -1, 0.0)  # mode 0: running max and min (value, k, t)
        self._run_min = (math.inf, -1, 0.0)
        self._prev_val = None

    def _close_run(self, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """The stream ended or broke: keep a pending extreme only if the signal had
        already retreated from it by half the hysteresis; then forget the run."""
        if self.profile.hold:
            self._hold_buf, self._hold_buf_n = [], 0
            self._hold.reset_run()
            return
        if self._mode != 0 and abs(self._last_s - self._ext_val) >= 0.5 * self._last_h:
            self._confirm(self._mode, self._ext_val, self._ext_k, self._ext_t, events, rejected)
        self._reps.close(events, rejected)
        self._reset_trigger()
        self._zi = None

    def _process(self, k0: int, g: np.ndarray, x: np.ndarray, new_run: bool,
                 events: list[RepEvent], rejected: list[Rejection]) -> None:
        if g.size == 0:
            return
        if self.profile.hold:
            self._zi = np.zeros(1)  # marks "a run is open"
            self._hold_feed(g, x, rejected)
            return
        xr = np.ascontiguousarray(x.T)            # rows: one per axis
        m = np.sqrt(xr[0] * xr[0] + xr[1] * xr[1] + xr[2] * xr[2])
        if new_run or self._zi is None:
            self._zi = steady_state(self._sos, xr[:, 0])
            self._zi_feat = steady_state(self._sos_feat, np.array([m[0]]))
            self._zi_hf = steady_state(self._sos_hf, np.array([m[0]]))
            self._zi_pow = np.zeros((3, 1, 2))
        y = filter_rows(self._sos, xr, self._zi)
        s, h = self._project(k0, y)
        self._features(m, s)
        self._jmp = self._decaying_peaks(k0, m[None, :])[0]
        if self._trace is not None:
            self._trace.append((g.copy(), s.copy()))
        self._trigger(k0, g, s, h, events, rejected)
        self._last_s = float(s[-1])
        self._last_h = float(h[-1])

    def _features(self, m: np.ndarray, s: np.ndarray) -> None:
        """Orientation-free context of the movement: how much of the magnitude |a| varies
        at walking step rates (1.4-2.8 Hz) and above (shaking), relative to the movement
        signal itself, smoothed over ~2 s."""
        fs_ = filter_rows(self._sos_feat, m[None, :], self._zi_feat)[0]
        fh = filter_rows(self._sos_hf, m[None, :], self._zi_hf)[0]
        pw = filter_rows(self._sos_pow, np.vstack([fs_ * fs_, fh * fh, s * s]), self._zi_pow)
        floor = 1e-6 + pw[2]
        self._step_ratio = np.sqrt(pw[0] / floor)
        self._shake_ratio = np.sqrt(pw[1] / floor)

    def _decaying_peaks(self, k0: int, rows: np.ndarray) -> np.ndarray:
        """Per sample, the peak of each row over roughly the last ENV_TAU_S seconds: the
        running max inside the current axis block and, from earlier blocks, a peak that
        decays at block ends. Max is exact, so batch splits cannot change it."""
        out = np.empty_like(rows)
        n = rows.shape[1]
        i = 0
        while i < n:
            j = min(n, i + AXIS_BLOCK - ((k0 + i) % AXIS_BLOCK))
            run = np.maximum.accumulate(np.maximum(rows[:, i:j], self._peaks[:, 1:2]), axis=1)
            self._peaks[:, 1] = run[:, -1]
            out[:, i:j] = np.maximum(run, self._peaks[:, 0:1])
            if (k0 + j) % AXIS_BLOCK == 0:
                self._peaks[:, 0] = np.maximum(self._peaks[:, 0] * self._lam_env_blk,
                                               self._peaks[:, 1])
                self._peaks[:, 1] = 0.0
            i = j
        return out

    def _project(self, k0: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Movement-axis projection and amplitude envelope, both updated only at absolute
        block boundaries from whole blocks, so batch splits cannot change a single bit."""
        n = y.shape[1]
        s = np.empty(n)
        h = np.empty(n)
        per = self._per = np.empty(n)
        i = 0
        while i < n:
            k = k0 + i
            j = min(n, i + AXIS_BLOCK - (k % AXIS_BLOCK))
            a = self._axis
            s[i:j] = y[0, i:j] * a[0] + y[1, i:j] * a[1] + y[2, i:j] * a[2]
            h[i:j] = max(self._h_floor, HYSTERESIS * self._env)
            per[i:j] = self._period
            self._blk.append(y[:, i:j])
            if (k0 + j) % AXIS_BLOCK == 0:
                self._end_block(np.ascontiguousarray(np.concatenate(self._blk, axis=1)))
                self._blk = []
            i = j
        return s, h

    def _end_block(self, b: np.ndarray) -> None:
        # Blocks are always whole (AXIS_BLOCK samples), so the decays are constants.
        self._cov = self._cov * self._lam_axis_blk + np.einsum("ik,jk->ij", b * self._w_blk, b)
        # A few power-iteration steps per block track the principal axis.
        c = self._cov / max(1e-300, float(np.trace(self._cov)))
        a = np.linalg.matrix_power(c, AXIS_POWER) @ self._axis
        norm = math.sqrt(float(a @ a))
        if norm > 1e-12:
            self._axis = a = a / norm
        else:
            a = self._axis
        proj = b[0] * a[0] + b[1] * a[1] + b[2] * a[2]
        self._env = max(self._env * self._lam_env_blk, float(np.abs(proj).max()))
        self._rhythm.push(proj)
        self._blocks += 1
        if self._blocks % RHYTHM_EVERY == 0:
            self._rhythm.update()
            self._period = self._rhythm.period_s or math.nan

    def _trigger(self, k0: int, g: np.ndarray, s: np.ndarray, h: np.ndarray,
                 events: list[RepEvent], rejected: list[Rejection]) -> None:
        """Vectorised hysteresis: loop once per confirmed extreme, not per sample."""
        i = 0
        n = s.size
        while i < n:
            seg = s[i:]
            hh = h[i:]
            if self._mode == 0:
                rmax = np.maximum(np.maximum.accumulate(seg), self._run_max[0])
                rmin = np.minimum(np.minimum.accumulate(seg), self._run_min[0])
                down = np.flatnonzero(seg < rmax - hh)
                up = np.flatnonzero(seg > rmin + hh)
                jd = down[0] if down.size else n
                ju = up[0] if up.size else n
                j = min(jd, ju)
                stop = n - i if j == n else j + 1
                jm = int(np.argmax(seg[:stop]))
                if seg[jm] > self._run_max[0]:
                    self._run_max = (float(seg[jm]), k0 + i + jm, float(g[i + jm]))
                jn = int(np.argmin(seg[:stop]))
                if seg[jn] < self._run_min[0]:
                    self._run_min = (float(seg[jn]), k0 + i + jn, float(g[i + jn]))
                if j == n:
                    return
                if jd <= ju:   # came down from a maximum: that was the first extreme
                    self._prev_val, self._prev_t = self._run_min[0], self._run_min[2]
                    v, k, te = self._run_max
                    self._confirm(+1, v, k, te, events, rejected, i + j)
                    self._mode = -1
                else:
                    self._prev_val, self._prev_t = self._run_max[0], self._run_max[2]
                    v, k, te = self._run_min
                    self._confirm(-1, v, k, te, events, rejected, i + j)
                    self._mode = +1
                self._ext_val, self._ext_k, self._ext_t = float(seg[j]), k0 + i + j, float(
                    g[i + j])
                i += j + 1
                continue
            sign = self._mode
            sv = seg * sign                     # seek a maximum of sv
            run = np.maximum(np.maximum.accumulate(sv), self._ext_val * sign)
            hit = np.flatnonzero(sv < run - hh)
            stop = hit[0] + 1 if hit.size else n - i
            level = self._reps.retreat_level()
            if level is not None and level[0] == -sign:
                # Retreating from a pending rep: emit it once the signal passes the level.
                cross = np.flatnonzero(run[:stop] >= sign * level[1])
                if cross.size:
                    self._reps.on_retreat(events)
                    continue
            jm = int(np.argmax(sv[:stop]))
            if sv[jm] > self._ext_val * sign:
                self._ext_val, self._ext_k, self._ext_t = float(seg[jm]), k0 + i + jm, float(
                    g[i + jm])
            if not hit.size:
                return
            j = int(hit[0])
            self._confirm(sign, self._ext_val, self._ext_k, self._ext_t, events, rejected,
                          i + j)
            self._mode = -sign
            self._ext_val, self._ext_k, self._ext_t = float(seg[j]), k0 + i + j, float(g[i + j])
            i += j + 1

    def _confirm(self, pol: int, val: float, k: int, te: float,
                 events: list[RepEvent], rejected: list[Rejection], at: int = -1) -> None:
        """An extreme is final (``at``: index in the current chunk where that became
        certain): hand it to the set tracker with the motion context there."""
        swing = abs(val - self._prev_val) if self._prev_val is not None else 0.0
        width = 2.0 * (te - self._prev_t) if self._prev_val is not None else 0.0
        self._prev_val, self._prev_t = val, te
        per = float(self._per[at])
        self._reps.rhythm = None if math.isnan(per) else per
        self._reps.on_extreme(Extreme(pol, val, te, int(k), swing, width_s=width,
                                      step=float(self._step_ratio[at]),
                                      shake=float(self._shake_ratio[at]),
                                      jump=float(self._jmp[at])), events, rejected)

    # ---- holds ------------------------------------------------------------------------

    def _hold_feed(self, g: np.ndarray, x: np.ndarray, rejected: list[Rejection]) -> None:
        """Cut the grid into absolute blocks of HOLD_BLOCK samples for the hold tracker."""
        i = 0
        while i < x.shape[0]:
            take = min(HOLD_BLOCK - self._hold_buf_n, x.shape[0] - i)
            self._hold_buf.append(x[i:i + take])
            self._hold_buf_n += take
            i += take
            if self._hold_buf_n == HOLD_BLOCK:
                self._hold.block(np.concatenate(self._hold_buf), float(g[i - 1]), rejected)
                self._hold_buf, self._hold_buf_n = [], 0
