"""The streaming rep counter.

Pipeline (all state carried between batches, all of it bounded):

1. clean: drop NaN/inf rows and timestamps that are not later than every earlier one;
2. resample onto a uniform 25 Hz grid (linear interpolation, each grid point the mean of
   two points 10 ms either side, never across a gap longer than ``gap_s``);
3. band-pass the three axes (2nd-order Butterworth low-pass, 1st-order high-pass;
   `sosfilt` with carried ``zi``, started at steady state so gravity does not ring up as
   a fake first rep, at a typical level of the run's first second, held back for that:
   see `_start_level`);
4. project onto the movement axis: the principal axis of an exponentially weighted
   covariance of the band-passed signal (time constant ~4 s), tracked by power iteration at
   fixed grid blocks, so any sensor orientation works and the sign of the axis never flips;
5. find turning points with a hysteresis (Schmitt) trigger whose threshold follows the
   running amplitude (`_turns.py`): an extreme is confirmed as soon as the signal has come
   back from it by the threshold, and can never change after that;
6. measure the context of each turning point: the rep period (autocorrelation,
   `_rhythm.py`, computed only when a decision reads it), the walking-step content of |a|,
   the shaking content of the three axes, the recent peak of |a| (landings) and, for
   jumping jacks, how far the movement rises and falls with |a| (bounce);
7. turn turning points into reps (`_reps.py`): a set starts with three reps in rhythm,
   later reps are emitted as the signal comes back; every candidate gets a plausibility
   verdict and is accepted or refused with a reason.

Hold exercises (plank) skip 3-7: `_hold.py` accumulates the seconds spent in a stable,
plank-like posture. See ``docs/detection.md`` for the parameters and verdict reasons.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections import deque

import numpy as np
from scipy.signal import butter

from ._events import CounterUpdate, Rejection, RepEvent
from ._filters import ew_sos, filter_inplace, steady_state
from ._hold import HoldTracker
from ._positions import position_refusal, sensor_position, where_countable
from ._profiles import STEP_BAND_HZ, ExerciseProfile, profile_for
from ._reps import Extreme, Posture, SetTracker
from ._resample import CleanStats, Resampler, clean_batch
from ._rhythm import RhythmTracker
from ._turns import TurningPoints

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
RAW_RING = 1024
"""Grid samples (~41 s) of the raw axes kept for `RepCounter._posture`: back to before the
first turn of a set that starts at the slowest pace."""
HYSTERESIS = 0.6
"""Fraction of the running amplitude (half peak-to-peak) the signal must retreat from an
extreme before the extreme is confirmed: 30 % of a full swing."""
SHAKE_HZ = 3.0
"""Above the step band: hand shaking and vibration (3-8 Hz)."""
FEATURE_TAU_S = 2.0
"""Smoothing of the step and shake measures (about one rep)."""
SETTLED = round(2 * FEATURE_TAU_S * FS_HZ)
"""Grid samples after a run starts before the step and shake measures have settled (two of
their time constants): until then the step measure reads low (its smoothing fills up)."""
CHUNK = 1024
"""Grid samples processed per inner step (bounds work per step; results do not depend on it)."""
AXIS_POWER = 4
"""Power-iteration steps per block: the axis settles within a rep of the stream start."""
RHYTHM_EVERY = 2
"""Axis blocks between re-estimates of the rep period (~1 s)."""
FLIGHT_BLOCKS = 17
"""Axis blocks (~8 s) over which the lowest |a| is kept: a jump's flight within the last
rep or so (`ExerciseProfile.flight_g`)."""
HOLD_BLOCK = 12
"""Grid samples per hold-posture decision (~0.5 s)."""
SILENT_MOVEMENT = 0.25
"""A stream whose movement never swung a quarter of the exercise's smallest rep is quiet
(sensor noise, a device on a table): counting nothing there needs no explanation."""
WARMUP = 25
"""Grid samples (1 s) of a run held back before filtering starts, so that the filters
start from a typical level of them (`_start_level`), not from the first sample alone. A
glitch or a mid-movement first sample would otherwise ring through the high-pass for
seconds as one huge swing, and the trigger, scaled to it, would miss the first reps.
Nothing is emitted that early anyway (a set starts on its third rep)."""


def movement_band(profile: ExerciseProfile) -> np.ndarray:
    """The filter (second-order sections on the `FS_HZ` grid) that turns the movement axis
    into the signal reps are counted on: the profile's low-pass edge, then a first-order
    high-pass whose step response decays without overshoot, so the change of mean tilt
    when a set starts or ends never makes an extra extreme."""
    return np.vstack([
        butter(profile.lowpass_order, profile.lowpass_hz, btype="lowpass", fs=FS_HZ,
               output="sos"),
        butter(1, HIGHPASS_HZ, btype="highpass", fs=FS_HZ, output="sos")])


@functools.cache
def _diagonal_blocks(nblk: int) -> np.ndarray:
    """Flat indices, in a (rows, ``nblk``, `AXIS_BLOCK`) array whose row b is every block
    projected on axis b, of block b on its own axis, for b in order: one ``take`` instead
    of a diagonal view, a transpose and a copy. (At most ``CHUNK / AXIS_BLOCK + 2`` sizes.)"""
    b = np.arange(nblk)[:, None]
    return (b * (nblk * AXIS_BLOCK + AXIS_BLOCK) + np.arange(AXIS_BLOCK)).ravel()


def _start_level(x: np.ndarray) -> np.ndarray:
    """The first sample of ``x`` (3, n) that lies as near the middle of them as most do
    (within twice their median distance from their medoid, the sample nearest to all the
    others): a glitch, or a first sample caught mid-movement, is skipped, yet the level is
    one the signal really took. (Starting from the median itself, a level a moving signal
    may never take, put a false swing at the first sample of a real set.) Distances and
    the medoid do not depend on the sensor's axes, so neither does the level's choice."""
    dist = np.sqrt(((x[:, :, None] - x[:, None, :]) ** 2).sum(axis=0))
    d = dist[int(np.argmin(dist.sum(axis=1)))]
    return x[:, int(np.argmax(d <= 2.0 * np.median(d)))].copy()


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
    position : str or None
        Where the sensor is worn (`repfit.detection.POSITIONS`, or a name
        `sensor_position` knows), if the caller knows it. Counting never needs it, but an
        exercise the physics cannot count from there (sit-ups from a trouser pocket) is
        then refused: `refusal` holds the reason, and the first batch returns it as a
        `Rejection` instead of counting a silent 0.

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

    def __init__(self, exercise: str, *, gap_s: float = GAP_S, keep_trace: bool = False,
                 position: str | None = None) -> None:
        self.profile: ExerciseProfile = profile_for(exercise)
        self.exercise = self.profile.name
        self.position = None if position is None else sensor_position(position)
        self.refusal: str | None = (None if position is None
                                    else position_refusal(self.exercise, position))
        """Why this exercise cannot be counted from the sensor's position (None: it can)."""
        self._refusal_told = False
        if not gap_s > 0:
            raise ValueError(f"gap_s must be positive, got {gap_s}")
        self.stats = CleanStats()
        self._res = Resampler(FS_HZ, gap_s)
        # The caller's time of the stream's first sample: everything inside runs on time
        # relative to it (`relative_time`), so that no decision depends on where the
        # caller's clock started; event times are given back on the caller's clock.
        self._origin: float | None = None
        self._finished = False
        self._quiet = CounterUpdate((), (), 0, None)   # the last update without news
        p = self.profile
        if not p.hold:
            self._sos = movement_band(p)
            self._sos_feat = butter(2, [STEP_BAND_HZ[0], STEP_BAND_HZ[1]], btype="bandpass",
                                    fs=FS_HZ, output="sos")
            self._sos_hf = butter(2, SHAKE_HZ, btype="highpass", fs=FS_HZ, output="sos")
        self._sos_pow = ew_sos(math.exp(-1.0 / (FS_HZ * FEATURE_TAU_S)))
        self._zi_feat = self._zi_hf = self._zi_pow = self._zi_mag = np.zeros(0)
        self._bounce = self.profile.max_bounce < 1.0
        self._flight = self.profile.flight_g > 0.0
        self._zi = np.zeros(0)                   # movement filter state (set per run)
        self._run_open = False
        self._run_k0 = 0                         # grid index where the run's filters started
        self._warm: list[tuple[int, np.ndarray, np.ndarray]] = []  # held start of a run
        self._level = np.zeros(3)                # the run's start level, for `_process`
        self._level_mag = 0.0                    # and its magnitude
        self._trace: list[tuple[np.ndarray, np.ndarray]] | None = [] if keep_trace else None
        self._cov = (1e-9, 0.0, 0.0, 0.0, 1e-9, 0.0, 0.0, 0.0, 1e-9)  # row-major 3 x 3
        self._axis = (1.0 / math.sqrt(3.0),) * 3
        self._lam_axis = math.exp(-1.0 / (FS_HZ * AXIS_TAU_S))
        self._lam_env = math.exp(-1.0 / (FS_HZ * ENV_TAU_S))
        self._env = 0.0
        self._env_peak = 0.0                     # the envelope's highest (`_silent_zero`)
        # The unfinished axis block: rows y0, y1, y2, |a|, one column per grid sample.
        self._blk = np.zeros((4, 0))
        self._w_blk = self._lam_axis ** np.arange(AXIS_BLOCK - 1, -1, -1)
        self._lam_axis_blk = self._lam_axis ** AXIS_BLOCK
        self._lam_env_blk = self._lam_env ** AXIS_BLOCK
        self._h_floor = 0.5 * p.min_swing_g
        self._rhythm = RhythmTracker(FS_HZ, p.min_period_s, p.max_period_s)
        self._reps = SetTracker(p, self._rhythm.period_at, self._retreat_context,
                                self._posture)
        self._turns = TurningPoints(self._reps, self._confirm)
        self._blocks = 0
        self._period_mark: int | None = None    # the rhythm re-estimate in force
        # Decaying peak of |a| (landings of jumps), as it was at the last block end.
        self._peak = 0.0
        # Lowest |a| of each of the last blocks (flight of jumps), oldest first.
        self._lows: deque[float] = deque(maxlen=FLIGHT_BLOCKS)
        # The motion context of the last chunk, read only where an extreme is confirmed
        # (`_context`): its block rows, where its first sample sits in them, the rhythm mark
        # and the decayed peak of |a| in force in each block, and the smoothed step, shake
        # and movement powers per sample (and the bounce product and |a| power, if used).
        self._ctx_rows = np.zeros((4, 1))
        self._ctx_r = 0
        self._ctx_n = 1
        self._ctx_per: list[int | None] = [None]
        self._ctx_peak = [0.0]
        self._ctx_low = [1.0]
        self._pw = np.zeros((5 if self._bounce else 3, 1))
        # Hold state.
        self._hold = HoldTracker(HOLD_BLOCK / FS_HZ, self.profile.name)
        self._hold_buf: list[np.ndarray] = []
        self._hold_buf_n = 0
        # The last `RAW_RING` grid samples of the three axes as they came (`_posture`).
        self._raw = np.zeros((3, RAW_RING))
        self._raw_end = 0                        # grid index after the newest one kept

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
        return (np.concatenate([g for g, _ in self._trace]) + (self._origin or 0.0),
                np.concatenate([s for _, s in self._trace]))

    def feed(self, t: object, acc: object) -> CounterUpdate:
        """Add a batch: ``t`` (n,) seconds, ``acc`` (n, 3) in g.

        Returns the reps that became certain in this batch. Rows with NaN/inf and
        timestamps not after every earlier one are dropped (counted in ``self.stats``);
        shapes that do not match raise `ValueError`.
        """
        if self._finished:
            raise RuntimeError("feed() after finish(): make a new RepCounter for a new stream")
        tt, aa, self._origin = clean_batch(t, acc, self._res.last_t, self.stats,
                                           self._origin)
        events: list[RepEvent] = []
        rejected: list[Rejection] = []
        if self.refusal is not None:
            if tt.size:
                self._res.last_t = float(tt[-1])
                self._tell_refusal(float(tt[0]), rejected)
            return self._update(events, rejected)
        for k0, g, x, new_run in self._res.push(tt, aa):
            if new_run:
                self._end_warmup(events, rejected)      # a run shorter than the warm-up
                if self._run_open:
                    self.stats.gaps += 1
                    self._close_run(events, rejected)
            if new_run or self._warm:
                self._warm.append((k0, g, x))
                if sum(w[1].size for w in self._warm) >= WARMUP:
                    self._end_warmup(events, rejected)
                continue
            self._run_chunks(k0, g, x, False, events, rejected)
        return self._update(events, rejected)

    def _end_warmup(self, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """Start the held run, its filters at a typical level of its first samples."""
        if not self._warm:
            return
        k0 = self._warm[0][0]
        g = np.concatenate([w[1] for w in self._warm])
        x = np.ascontiguousarray(np.concatenate([w[2] for w in self._warm], axis=1))
        self._warm = []
        self._level = _start_level(x[:, :WARMUP])
        self._level_mag = norm = math.sqrt(float(self._level @ self._level))
        if self._blocks == 0 and norm > 0.1:
            # The stream's first run: the movement-axis search starts from gravity's
            # direction, not from the device's axes, so that a sensor worn or mounted any
            # other way round gives the same movement signal, the same reps.
            a0, a1, a2 = (self._level / norm).tolist()
            self._axis = (a0, a1, a2)
        self._run_chunks(k0, g, x, True, events, rejected)

    def _run_chunks(self, k0: int, g: np.ndarray, x: np.ndarray, new_run: bool,
                    events: list[RepEvent], rejected: list[Rejection]) -> None:
        if g.size <= CHUNK:                      # the usual batch: one chunk, no slicing
            self._process(k0, g, x, new_run, events, rejected)
            return
        for lo in range(0, g.size, CHUNK):
            self._process(k0 + lo, g[lo:lo + CHUNK], np.ascontiguousarray(x[:, lo:lo + CHUNK]),
                          new_run and lo == 0, events, rejected)

    def finish(self) -> CounterUpdate:
        """End of stream: confirm a pending extreme that the signal had already left."""
        events: list[RepEvent] = []
        rejected: list[Rejection] = []
        if self.refusal is not None and not self._finished:
            last = self._res.last_t
            self._tell_refusal(last if math.isfinite(last) else 0.0, rejected)
        if not self._finished:
            self._end_warmup(events, rejected)
        if not self._finished and self._run_open:
            self._close_run(events, rejected)
        if not self._finished:
            self._silent_zero(rejected)
        self._finished = True
        return self._update(events, rejected)

    # ---- internals --------------------------------------------------------------------

    def _silent_zero(self, rejected: list[Rejection]) -> None:
        """Nothing counted although the movement repeated at the exercise's pace at the
        end of the stream: say so, and where the exercise can be counted from (the
        counter does not know where the sensor is; sit-ups with a phone in a trouser
        pocket or jumping jacks seen from the chest look like this), never a silent 0."""
        p = self.profile
        if (p.hold or self.refusal is not None or self.count or self._period_mark is None
                or self._env_peak < SILENT_MOVEMENT * p.min_swing_g):
            return
        per = self._rhythm.period_at(self._period_mark)
        if per:
            rejected.append(Rejection(self._res.last_t, (
                f"nothing counted: the movement repeated every {per:.1f} s, but no turn of it "
                f"had the size and rhythm of a {p.name} rep; if the sensor sits where this "
                f"exercise hardly moves it, wear it on {where_countable(p.name)}")))

    def _tell_refusal(self, t: float, rejected: list[Rejection]) -> None:
        """Report the position refusal once, at the stream's first sample (or its end)."""
        if self.refusal is not None and not self._refusal_told:
            self._refusal_told = True
            rejected.append(Rejection(t, self.refusal))

    def _update(self, events: list[RepEvent], rejected: list[Rejection]) -> CounterUpdate:
        """The update, its times moved back onto the caller's clock."""
        count, hold = self._reps.count, self.hold_seconds
        if not events and not rejected:
            # Most batches change nothing: the last such update (immutable) says it again.
            quiet = self._quiet
            if quiet.count != count or quiet.hold_seconds != hold:
                quiet = self._quiet = CounterUpdate((), (), count, hold)
            return quiet
        o = self._origin
        if o:
            events = [dataclasses.replace(e, t=e.t + o) for e in events]
            rejected = [dataclasses.replace(r, t=r.t + o) for r in rejected]
        return CounterUpdate(tuple(events), tuple(rejected), count, hold)

    def _close_run(self, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """The stream ended or broke: keep a pending extreme only if the signal had
        already retreated from it by half the hysteresis; then forget the run."""
        self._run_open = False
        if self.profile.hold:
            self._hold_buf, self._hold_buf_n = [], 0
            self._hold.reset_run()
            return
        self._turns.close(events, rejected)
        self._reps.close(events, rejected)

    def _process(self, k0: int, g: np.ndarray, x: np.ndarray, new_run: bool,
                 events: list[RepEvent], rejected: list[Rejection]) -> None:
        """One chunk of a run (grid times ``g``, rows ``x`` (3, n)) through steps 3-7."""
        if g.size == 0:
            return
        if new_run:
            self._run_open = True
            self._run_k0 = k0
        if self.profile.hold:
            self._hold_feed(g, x.T, rejected)
            return
        n = x.shape[1]
        at = k0 % RAW_RING
        if at + n <= RAW_RING:                   # (slices: fancy indexing costs 5 % here)
            self._raw[:, at:at + n] = x
        else:
            self._raw[:, at:] = x[:, :RAW_RING - at]
            self._raw[:, :at + n - RAW_RING] = x[:, RAW_RING - at:]
        self._raw_end = k0 + n
        y = x                                     # rows: one per axis, filtered in place
        rows, cols = self._block_rows(k0, y.shape[1])
        mag = rows[3, cols]                        # |a|
        np.add.reduce(y * y, axis=0, out=mag)     # row by row: (y0^2 + y1^2) + y2^2
        np.sqrt(mag, mag)                          # (``out`` positional: a keyword costs more)
        # Orientation-free context of the movement, relative to the movement signal and
        # smoothed over ~2 s: how much |a| varies at walking step rates, and how much the
        # acceleration moves above them on all three axes (shaking: a shake may hardly
        # change |a|, but it always moves the axes). Rows of pw: |a| filtered in place to
        # the step band, the axes' summed power above it, the movement signal; squared,
        # then smoothed. Profiles that refuse bounce (`_bounce`) add |a| in the movement
        # band times the movement signal, and its square: how far the movement is a
        # rise and fall along gravity rather than a turn of the limb.
        pw = np.empty((5 if self._bounce else 3, g.size))
        pw[0] = mag
        if new_run:                              # (every run starts at `_end_warmup`)
            level = self._level
            level_mag = np.array([self._level_mag])
            self._zi = steady_state(self._sos, level)
            self._zi_feat = steady_state(self._sos_feat, level_mag)
            self._zi_hf = steady_state(self._sos_hf, level)
            if self._bounce:
                self._zi_mag = steady_state(self._sos, level_mag)
            self._zi_pow = np.zeros((pw.shape[0], 1, 2))
        if self._bounce:
            pw[4] = mag
            filter_inplace(self._sos, pw[4:5], self._zi_mag)
        fast = y.copy()
        filter_inplace(self._sos, y, self._zi)
        rows[:3, cols] = y
        filter_inplace(self._sos_feat, pw[0:1], self._zi_feat)
        filter_inplace(self._sos_hf, fast, self._zi_hf)
        s, h = self._project()
        np.square(pw[0], pw[0])
        np.square(fast, fast)
        np.add.reduce(fast, axis=0, out=pw[1])
        np.square(s, pw[2])
        if self._bounce:
            np.multiply(s, pw[4], pw[3])
            np.square(pw[4], pw[4])
        filter_inplace(self._sos_pow, pw, self._zi_pow)
        self._pw = pw
        if self._trace is not None:
            self._trace.append((g.copy(), s.copy()))
        self._turns.scan(k0, g, s.tolist(), h, events, rejected)
        keep = self._ctx_per[-1]                 # only the last block's can be asked again
        self._reps.pin_rhythm(keep)
        self._rhythm.settle(keep)

    def _block_rows(self, k0: int, n: int) -> tuple[np.ndarray, slice]:
        """Rows (y0, y1, y2, |a|) from the start of the unfinished axis block to the end of
        this chunk of ``n`` samples, zero-padded to whole blocks, with the unfinished
        block's samples in front, and the columns for the chunk's (the caller fills them
        in); keeps the new unfinished block."""
        r = self._blk.shape[1]
        assert r == k0 % AXIS_BLOCK, "axis blocks are absolute grid blocks"
        n += r
        rows = np.zeros((4, -(-n // AXIS_BLOCK) * AXIS_BLOCK))
        rows[:, :r] = self._blk
        self._blk = rows[:, n - n % AXIS_BLOCK:n]
        self._ctx_rows, self._ctx_r, self._ctx_n = rows, r, n
        return rows, slice(r, n)

    def _project(self) -> tuple[np.ndarray, list[float]]:
        """Movement signal and hysteresis of the chunk's samples (rows of `_block_rows`).

        The movement axis, the amplitude envelope, the rep period and the decaying peak of
        |a| change only at absolute block ends, from whole blocks, so batch splits cannot
        change them. A chunk takes a few array calls for all of its blocks; only the 3 x 3
        power-iteration step and the scalar recursions run once per block.
        """
        rows, r, n = self._ctx_rows, self._ctx_r, self._ctx_n
        nb = n // AXIS_BLOCK                   # blocks that end in this chunk
        nblk = rows.shape[1] // AXIS_BLOCK     # and the unfinished one, if any
        # The axis in force while block b's samples arrive is axes[b]; its end makes
        # axes[b + 1]. The covariance increments of all whole blocks in one product.
        axes = [self._axis]
        if nb:
            full = rows[:3, :nb * AXIS_BLOCK].reshape(3, nb, AXIS_BLOCK).transpose(1, 0, 2)
            incs = np.matmul(full * self._w_blk, full.transpose(0, 2, 1))   # (nb, 3, 3)
            axes += [self._power_step(inc) for inc in incs.tolist()]
        # Every sample on every axis, and |a| (the last weight row picks it), in one product:
        # q[a, b] is block b projected on axes[a]; q[-1, b] is |a| in block b.
        weights = np.zeros((len(axes) + 1, 4))
        weights[:-1, :3] = axes
        weights[-1, 3] = 1.0
        q = (weights @ rows).reshape(len(weights), nblk, AXIS_BLOCK)
        tops = np.maximum.reduce(np.abs(q), 2).tolist()   # (ndarray.max without its wrapper)
        # Lowest |a| of each whole block (the rest is padding), for profiles with a flight.
        lows = np.minimum.reduce(q[-1, :nb], 1).tolist() if self._flight else []
        per: list[int | None] = []
        peak: list[float] = []
        low: list[float] = []
        self._ctx_per, self._ctx_peak, self._ctx_low = per, peak, low
        # The per-block recursions run on locals (attribute access costs more than the sums).
        env, env_peak, pk, mark, blocks = (self._env, self._env_peak, self._peak,
                                           self._period_mark, self._blocks)
        lam, h_floor, flight, lows_q = self._lam_env_blk, self._h_floor, self._flight, self._lows
        rhythm = self._rhythm
        h: list[float] = []
        for b in range(nblk):
            h += [max(h_floor, HYSTERESIS * env)] * AXIS_BLOCK
            per.append(mark)
            peak.append(pk)
            if flight:
                low.append(min(lows_q, default=1.0))
            if b == nb:
                break
            env = max(env * lam, tops[b + 1][b])
            if env > env_peak:
                env_peak = env
            pk = max(pk * lam, tops[-1][b])
            if flight:
                lows_q.append(lows[b])
            rhythm.push(q[b + 1, b])
            blocks += 1
            if blocks % RHYTHM_EVERY == 0:
                rhythm.mark(blocks)               # computed if an extreme needs it
                mark = blocks
        self._env, self._env_peak, self._peak, self._period_mark, self._blocks = (
            env, env_peak, pk, mark, blocks)
        s = q.take(_diagonal_blocks(nblk)[r:n])  # block b on axes[b]
        return s, h[r:n]

    def _power_step(self, inc: list[list[float]]) -> tuple[float, float, float]:
        """Block end: decay the covariance and add the block's (``inc``, 3 x 3 rows);
        ``AXIS_POWER`` power-iteration steps then track the principal axis, so it settles
        within a rep of the stream start. Plain floats: for 3 x 3, array calls cost more
        than the arithmetic."""
        lam = self._lam_axis_blk
        c0, c1, c2, c3, c4, c5, c6, c7, c8 = self._cov
        (i0, i1, i2), (i3, i4, i5), (i6, i7, i8) = inc
        c = self._cov = (c0 * lam + i0, c1 * lam + i1, c2 * lam + i2, c3 * lam + i3,
                         c4 * lam + i4, c5 * lam + i5, c6 * lam + i6, c7 * lam + i7,
                         c8 * lam + i8)
        c0, c1, c2, c3, c4, c5, c6, c7, c8 = c
        a0, a1, a2 = self._axis
        norm = 0.0
        for _ in range(AXIS_POWER):
            a0, a1, a2 = (c0 * a0 + c1 * a1 + c2 * a2,
                          c3 * a0 + c4 * a1 + c5 * a2,
                          c6 * a0 + c7 * a1 + c8 * a2)
            norm = math.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
            if not norm > 1e-12:
                break
            a0, a1, a2 = a0 / norm, a1 / norm, a2 / norm
        if norm > 1e-12:
            self._axis = (a0, a1, a2)
        return self._axis

    def _context(self, at: int) -> tuple[int | None, float, float, float, float, float]:
        """Rhythm mark, step and shake ratios, decayed peak of |a|, bounce and lowest recent
        |a| (flight profiles; 1 otherwise) at sample ``at`` of the last chunk (-1: its last
        sample). Computed only where an extreme is confirmed, with the same arithmetic as for
        every sample; the period at the mark is computed only if the set tracker asks for it
        (most extremes never need it)."""
        pw = self._pw
        if at < 0:
            at += pw.shape[1]
        col = pw[:, at].tolist()               # the smoothed powers at ``at``, as floats
        floor = 1e-6 + col[2]
        j = self._ctx_r + at                   # position in the chunk's block rows
        b = j // AXIS_BLOCK
        mags = self._ctx_rows[3, b * AXIS_BLOCK:j + 1].tolist()   # <= 12 floats
        bounce = (abs(col[3]) / math.sqrt(floor * (1e-6 + col[4])) if self._bounce else 0.0)
        low = min(min(mags), self._ctx_low[b]) if self._flight else 1.0
        return (self._ctx_per[b], math.sqrt(col[0] / floor), math.sqrt(col[1] / floor),
                max(max(mags), self._ctx_peak[b]), bounce, low)

    def _retreat_context(self, at: int) -> tuple[int | None, float, float]:
        """Rhythm mark, decayed peak of |a| and lowest recent |a| at sample ``at`` of the
        current chunk (`SetTracker.on_retreat`)."""
        mark, _, _, jump, _, low = self._context(at)
        return mark, jump, low

    def _posture(self, k: int, span: tuple[float, float]) -> Posture | None:
        """The sensor's acceleration from ``span[0]`` to ``span[1]`` seconds around grid
        index ``k``, over the samples of the run that have come and are still kept (None if
        none): where gravity points, which the movement signal's high-pass removes, and how
        still the sensor was (`SetTracker._starts_at_rest`)."""
        lo = max(k + round(span[0] * FS_HZ), self._raw_end - RAW_RING, self._run_k0)
        hi = min(k + round(span[1] * FS_HZ) + 1, self._raw_end)
        if hi <= lo:
            return None
        w = self._raw[:, np.arange(lo, hi) % RAW_RING]
        a0, a1, a2 = w.mean(axis=1).tolist()
        return Posture((a0, a1, a2), math.sqrt(float(w.var(axis=1).sum())))

    def _confirm(self, pol: int, val: float, k: int, te: float, swing: float, width: float,
                 events: list[RepEvent], rejected: list[Rejection], at: int) -> None:
        """An extreme is final (``at``: index in the current chunk where that became
        certain, -1 at a run's end): hand it to the set tracker with the motion context
        there."""
        self._reps.rhythm_mark, step, shake, jump, bounce, low = self._context(at)
        self._reps.on_extreme(Extreme(pol, val, te, k, swing, width_s=width, step=step,
                                      shake=shake, jump=jump, bounce=bounce, low=low,
                                      settled=k - self._run_k0 >= SETTLED),
                              events, rejected)

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
