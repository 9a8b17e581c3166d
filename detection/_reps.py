"""From confirmed turning points to accepted reps: sets, rhythm and plausibility verdicts.

The hysteresis trigger hands over each turning point (extreme) of the movement signal once
it is final. A rep is one full cycle, counted at the extremes of one polarity. What makes a
run of extremes a *set* of reps rather than fidgeting, a half movement at the end of a set
or the second bump of a multi-phase rep:

- **Set start needs rhythm.** Outside a set, candidates of one polarity form a chain when
  each follows the previous within the exercise's cadence range and with a similar
  amplitude, each measured on both sides (the smaller of the swing into and out of the
  extreme, so a half cycle at a set's edge never qualifies). Three in a chain start the
  set and are emitted together; an isolated movement never counts. A candidate more than
  ``FIDGET_RATIO`` times the chain's largest starts a new chain (what came before was
  fidgeting); one under half of it joins only on the beat.
- **Inside a set, reps are emitted early**: as soon as the signal has come back from the
  extreme by ``RETREAT`` of the set's typical swing, without waiting for the next extreme.
  A return that stalls short of that (a wobble or a sag at the turn) leaves the rep
  pending; the next turn of the same polarity completes it, measured from where the rep
  began, and only if that turn is refused too is the rep refused as incomplete.
  A turn after a pause (more than ``PAUSE_PERIODS`` of the set's periods after the last
  rep, with no rep-sized turn between) may be the body leaving the set (getting up off
  the floor), not a rep: it counts once it has come back ``RETURN`` of its own swing, as a
  set's start does (not for multi-phase reps).
- **Rhythm**: chain members must repeat at the movement's period (autocorrelation, or the
  chain's own gaps before that is known); a shallow candidate joins only on the beat (a
  sloppy rep keeps the pace, a wobble does not); bumps closer than ``REFRACTORY`` of the
  period are parts of one rep, except, for exercises whose rep is one swing, a rep-sized
  turn that the next rep shows to have split the time evenly: the set sped up
  (`SetTracker._faster`).
- **Verdicts**: a candidate is refused when its swing is below the exercise's physical
  minimum or below ``REL_AMPLITUDE`` of the set's typical swing, when it comes sooner than
  the exercise allows or than ``REFRACTORY`` of the set's period, when |a| around it
  varies like walking steps (unless nothing landed: a fast smooth rep has its own
  harmonic at step rates; for ``generic``, also when it both bounces and lands as at
  every step, under its looser limit), when the axes move above step rates like shaking,
  when the movement rises and falls with |a| (jumping jacks: a bounce, not an arm swing),
  or (jumping exercises) when no landing was seen.
- **A set ends** after ``SET_TIMEOUT_PERIODS`` of its periods (at most ``max_period_s``)
  without a rep.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from ._events import Rejection, RepEvent
from ._profiles import LANDING_G, RHYTHMIC_STEP, STEP_BAND_LOW_HZ, ExerciseProfile
from ._rhythm import NO_RHYTHM

__all__ = ["Extreme", "Posture", "SetTracker"]

REL_AMPLITUDE = 0.4
"""Outside a set, a candidate under this fraction of the chain's largest is a wobble, not a
rep. Lower than `SET_REL_AMPLITUDE`: the first rep after rest is measured on a movement
axis still turning from the rest posture, and can show about half its real swing."""
SET_REL_AMPLITUDE = 0.5
"""Inside a set, a rep swings at least this fraction of the set's typical rep (the median
of the last five): a sloppy rep still goes half way, measured on a settled movement axis
(simulated sloppy reps are 55-75 % deep). A smaller turn is a wobble at the top, a half
movement at the set's end, or the second bump of one rep."""
PAIR_RATIO = 2.0
"""A candidate smaller than the chain's largest by more than this factor joins it only on
the beat (a sloppy rep keeps the pace, a wobble does not)."""
FIDGET_RATIO = 3.0
"""Candidates before a set are dropped as fidgeting when one this many times larger follows.
Larger than `PAIR_RATIO`: the first rep after rest is measured on a movement axis still
turning from the rest posture's noise, and can show half its real swing."""
RETREAT = 0.35
"""Fraction of the set's typical swing the signal must come back before a rep is emitted."""
RETURN = 0.75
"""The turn that completes a set's start counts once the signal has come back this fraction
of the swing into it, the return well under way, without waiting for the next turn to be
certain (which took until the next rep was under way: ~1 s after the rep was complete). A
turn whose return never comes (a rep held at the bottom) does not count. Inside a set, the
same holds for a turn after a pause (`SetTracker._after_pause`)."""
REFRACTORY = 0.6
"""Reps inside a set are at least this fraction of the set's period apart."""
SET_START_REPS = 3
"""Reps in rhythm (similar amplitude, plausible cadence) before a set counts as started; a
pair that is never followed by a third still counts when the stream ends or the rhythm
stops if the autocorrelation confirms its period (except for profiles without
``short_sets``), unless much larger reps follow it (then it was fidgeting before the set)."""
START_TOLERANCE = 0.75
"""The reps that start a set are spaced within this ratio of the movement's period (or of
each other): people start a set at a steady pace, while fidgeting moves at random moments
(at 0.6, simulated desk fidgeting started sets more often: see docs/detection.md)."""
MULTI_PHASE_TOLERANCE = 0.6
"""The same for multi-phase reps against the autocorrelation's period: a burpee's length
varies more from rep to rep (how deep, how high the jump, a pause at the top)."""
REST_RATIO = 0.5
"""Outside a set, an extreme whose swing in is under this fraction of its swing out is the
posture the motion starts from, not a rep's turn, and starts no chain. A set starts from
rest: the first turn of the movement is the turn away from the start posture, and the
rest posture itself shows up as an extreme reached by a small drift and left by a full
swing. Counted, it made one rep too many, or a set counted at the turns back to the start
posture (real squats from standing counted at the tops: 6 for 5); the reps' own turns
swing about as far in as out."""
REST_BEFORE_S = (-2.0, -0.5)
"""Where the posture before a set is read, relative to the chain's first turn (s): the
second and a half before that turn's swing began (`SetTracker._starts_at_rest`)."""
TURN_POSTURE_S = (-0.2, 0.2)
"""And the posture at a turn: the mean around it (s)."""
REST_STILL_G = 0.2
"""The sensor was still before the chain when its axes spread less than this (g, root of
their summed variance): at rest, not handling or walking into the set. Looser readings
(0.25 g and up) take more fence posts off the real sets but let moving postures decide,
and some sets' counts then hang on the clock (docs/benchmarks.md)."""
REST_SIDE = 0.75
"""The rest posture is on the chain's side when it lies past this fraction of the way from
the opposite turns to the chain's own: in the quarter nearest the chain's turns. Chosen
on the real sets with any source left out; 0.65-0.8 keep every set's count within one of
the same label, also with the time axis stretched or resampled at another grid phase."""
PAUSE_PERIODS = 1.75
"""Inside a set, a turn more than this many of the set's periods after the last rep, with
no rep-sized turn between, comes after a pause: the body held still for three quarters of
a rep beyond the pace, and may now be leaving the set rather than doing a rep
(`SetTracker._after_pause`). Past the beat a set's reps keep (1/`START_TOLERANCE`, 1.33
periods) and short of the set's end (`SET_TIMEOUT_PERIODS`). Real sets: 1.5-1.9 give the
same counts on every source (the swings up off the floor after upper-arm push-ups come
2.0-2.3 periods after the last rep, so 2.0 keeps one of them and 2.2 three); the clock
and grid-phase tests move one set more at 1.5 and four more at 1.34 (a last turn right at
a stream's end, whose return the recording cuts)."""
SET_TIMEOUT_PERIODS = 2.6
"""A set ends after this many of its periods without a rep (or max_period_s): one missed or
refused rep leaves two periods and a little hesitation, and the set goes on."""


IMPACT_FREE_SHAKE = 0.5
"""Acceleration above 3 Hz, relative to the movement, under which a motion has no impacts:
walking puts 1.4x or more there (each heel strike is broadband; real walking recordings,
5th percentiles), real burpees 0.46-1.49x (p5-p95), a smooth exercise its own upper
harmonics only (fast simulated push-ups at the chest and thigh: 0.27-0.41x)."""
WALKING_STEP = 0.6
"""Step-rate |a| variation, relative to the movement, that walking shows at the least
(`WALKING_SHAKE`)."""
WALKING_SHAKE = 1.4
"""With `WALKING_STEP`: a walker's signature, both at once. Each step bounces |a| at the
step rate and lands with a broadband impact, and real walking shows both at the same
extreme: 0.6x or more at step rates and 1.4x or more above 3 Hz at 91-98 % of the turns
at a stride's pace in the three Daphnet recordings (ankle, thigh, lower trunk). Alone,
either overlaps real reps (band rows reach 0.87x at step rates, burpees 1.5x above 3 Hz),
which is why `generic`'s step limit sits at 0.9x, and real walking seen from the lower
back passed that limit at 0.57-0.85x. Together they refuse that walking; of the real sets
counted as `generic`, only burpees' landings show both (21 turns, 18 of them over 0.9x
already) and three turns before a push-up set, and no count changes
(`SetTracker._lands_like_steps`)."""
HARD_LANDING_G = 2.0
"""A landing this hard proves a jump as well as a flight does: squats and sit-ups seldom
land that hard (real ones peak at 1.5 g and 2.3 g, 95th percentiles), while at the wrist
the arm's swing in flight may hide the free fall."""


def _no_period(mark: int) -> float | None:
    return None


def _no_context(at: int) -> tuple[int | None, float, float]:
    return None, 0.0, 1.0


def _no_posture(k: int, span: tuple[float, float]) -> Posture | None:
    return None


@dataclass(frozen=True)
class Posture:
    """The sensor's acceleration over a stretch of time, as it came (not filtered)."""

    mean: tuple[float, float, float]  # where gravity points, plus the mean motion (g)
    spread: float                     # root of the axes' summed variance: 0 when still (g)


@dataclass(frozen=True)
class Extreme:
    """A confirmed turning point of the movement signal."""

    pol: int           # +1 maximum, -1 minimum
    val: float         # signal value (g)
    t: float           # time of the extreme (s)
    k: int             # grid index
    swing_in: float    # |val - previous extreme's val| (g), 0 for the first
    width_s: float = 0.0  # twice the time since the previous (opposite) extreme
    step: float = 0.0   # |a| variation at walking step rates, relative to the movement
    shake: float = 0.0  # acceleration above step rates (shaking), relative to the movement
    jump: float = 0.0   # peak |a| over the last few seconds (g): landings
    bounce: float = 0.0  # |correlation| of the movement with |a| (1: a rise and fall)
    low: float = 1.0    # lowest |a| over the last few seconds (g): flight
    settled: bool = True  # the step and shake measures have settled since the run began


def _impact_free(e: Extreme) -> bool:
    """Nothing around ``e`` landed or struck: little above 3 Hz and |a| never high. A fast
    smooth rep (a push-up in 1.2 s) has its own second harmonic in the step band, which
    the step limit would take for walking; steps always land."""
    return e.shake < IMPACT_FREE_SHAKE and e.jump < LANDING_G


@dataclass
class _Open:
    """A candidate outside a set, waiting for the swing out of it."""

    e: Extreme
    amp: float = 0.0   # min(swing in, swing out) once known
    before: Extreme | None = None   # the turn its swing in started from


class SetTracker:
    """Turns extremes into accepted reps and refusals for one exercise profile."""

    def __init__(self, profile: ExerciseProfile,
                 period_at: Callable[[int], float | None] = _no_period,
                 context_at: Callable[[int], tuple[int | None, float, float]] = _no_context,
                 posture: Callable[[int, tuple[float, float]], Posture | None] = _no_posture
                 ) -> None:
        """``period_at(mark)``: the rep period from the autocorrelation at a rhythm mark
        (`RhythmTracker.period_at`), computed only when a decision reads `rhythm`;
        ``context_at(at)``: the rhythm mark, peak |a| and lowest |a| at sample ``at`` of the
        current chunk (where the signal passed `retreat_level`); ``posture(k, span)``: the
        sensor's acceleration from ``span[0]`` to ``span[1]`` s around grid index ``k``,
        None where it is not known (`_starts_at_rest`)."""
        self.p = profile
        self.count = 0
        self.set_pol = 0
        self.last_rep_t: float | None = None
        self.amps: deque[float] = deque(maxlen=5)
        self.periods: deque[float] = deque(maxlen=4)
        # Their medians, kept up to date (read at every turning point inside a set).
        self.typical_amp = 0.0
        self.period: float | None = None
        self.pending: Extreme | None = None
        self.back = 0.0       # how far (g) the signal must come back from it to count
        # A rep-sized turn of the set's polarity came since the last rep (`_after_pause`).
        self.moved = False
        # A pending rep whose return stalled after a small dip, and the refusal it gets
        # unless the next turn completes it (`_resume`).
        self.stalled: tuple[Extreme, Rejection] | None = None
        # A rep-sized turn refused as too soon inside a set, its refusal, and whether the
        # set had kept its pace until then: the first rep at a faster pace unless the next
        # rep shows otherwise (`_faster`).
        self.sooner: tuple[Extreme, Rejection, bool] | None = None
        self.set_reps = 0          # reps of the current set
        self.split_set = False     # a too-soon rep-sized turn was refused in this set
        self.open: _Open | None = None                       # latest extreme outside a set
        # Candidates in rhythm per polarity, outside a set (at most SET_START_REPS long).
        self.chains: dict[int, list[_Open]] = {+1: [], -1: []}
        self.prev: Extreme | None = None
        self.prev_known = False
        self._period_at = period_at
        self._context_at = context_at
        self._posture = posture
        self._early_tried = -1     # grid index of the last turn judged early without a start
        self._flight_wait = -1     # and of one of them that waits for a flight
        self._early = False        # judging a set start as its third rep comes back
        self.rhythm_mark: int | None = None   # the owner's rhythm mark at the current extreme
        self._pinned: tuple[int, float | None] | None = None   # (mark, period) kept

    # ---- set statistics ---------------------------------------------------------------

    @property
    def rhythm(self) -> float | None:
        """Rep period from the autocorrelation (s) at the current extreme, None while the
        window is too short to tell, `NO_RHYTHM` (falsy) when nothing in it repeats.

        Read it while handling that extreme: the counter releases the window behind it at
        the end of the chunk unless `pin_rhythm` kept the value (reading it later raises)."""
        mark = self.rhythm_mark
        if mark is None:
            return None
        if self._pinned is not None and self._pinned[0] == mark:
            return self._pinned[1]
        return self._period_at(mark)

    def pin_rhythm(self, keep: int | None) -> None:
        """The owner releases rhythm marks before ``keep``: if the current extreme's mark
        is one of them and a stream end could still read it (a pair waiting for a third
        rep), keep its period."""
        mark = self.rhythm_mark
        if mark is None or keep is None or mark >= keep or (
                self._pinned is not None and self._pinned[0] == mark):
            return
        if self._short_set(self.chains[+1]) or self._short_set(self.chains[-1]):
            self._pinned = (mark, self._period_at(mark))

    def retreat_level(self) -> tuple[int, float] | None:
        """(polarity, signal level) the pending rep waits for the signal to pass, or the
        open candidate that may complete a set's start (`RETURN`)."""
        e = self.pending
        if e is not None:
            return e.pol, e.val - e.pol * self.back
        if self._completes_start():
            assert self.open is not None
            e = self.open.e
            return e.pol, e.val - e.pol * RETURN * e.swing_in
        return None

    def _completes_start(self) -> bool:
        """Whether the open candidate is the turn that may start a set and be judged as it
        comes back: two reps in rhythm wait before it, the last within the slowest rep,
        and each came back at least `RETURN` of the way it went (a set returns to its
        start posture every rep; fidgeting need not, and judged early, before the
        window shows it wander, simulated desk fidgeting started half as many sets
        again). Jumping exercises that need a flight (burpees) are judged on the flights
        of the reps before (the lowest |a| of the last few seconds); without one the turn
        waits for the next one, whose window holds this rep's jump. Multi-phase reps are
        judged early only at a steady pace (`START_TOLERANCE` of the period, as other
        exercises): a chain let in by the looser `MULTI_PHASE_TOLERANCE` may hold a turn
        of another phase, and waits for the next turn, where the rhythm is measured on a
        longer window."""
        o = self.open
        if o is None or self.set_pol or o.e.k == self._early_tried:
            return False
        chain = self.chains[o.e.pol]
        # (a turn after the chain's rhythm stopped ends that chain: judged when it comes)
        return (len(chain) == SET_START_REPS - 1
                and o.e.t - chain[-1].e.t <= self.p.max_period_s
                and all(c.amp >= RETURN * c.e.swing_in for c in chain))

    def _set_timeout(self) -> float:
        per = self.period
        return min(self.p.max_period_s, SET_TIMEOUT_PERIODS * per) if per else self.p.max_period_s

    # ---- events -----------------------------------------------------------------------

    def _faster(self, e: Extreme, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """The rep at ``e`` is accepted. A turn refused as too soon since the last rep was
        the first rep at a faster pace when the set had kept its pace so far and that turn
        splits the time between the two reps into even beats (within `START_TOLERANCE`):
        a 2x speed-up puts a rep where the old pace allows none, and the autocorrelation
        takes most of its window to follow. Otherwise it stays refused, and so does every
        later one in the set (reps with a bump inside show one from the start)."""
        held, self.sooner = self.sooner, None
        if held is None:
            return
        c, refusal, kept = held
        last = self.last_rep_t
        if kept and last is not None and e.t > c.t:
            beats = (c.t - last) / (e.t - c.t)
            if START_TOLERANCE <= beats <= 1.0 / START_TOLERANCE:
                self._accept(c, c.swing_in, events)
                return
        self.split_set = True
        rejected.append(refusal)

    def _accept(self, e: Extreme, amp: float, events: list[RepEvent]) -> None:
        period = None
        if self.last_rep_t is not None and e.t - self.last_rep_t <= self.p.max_period_s:
            period = e.t - self.last_rep_t
            self.periods.append(period)
            self.period = statistics.median(self.periods)
        self.last_rep_t = e.t
        self.set_reps += 1
        self.amps.append(amp)
        self.typical_amp = statistics.median(self.amps)
        self.count += 1
        self.moved = False
        typical = self.typical_amp or amp
        regular = 1.0
        if period is not None and self.period:
            regular = max(0.0, 1.0 - abs(period / self.period - 1.0))
        confidence = round(min(1.0, amp / typical) * (0.5 + 0.5 * regular)
                           * min(1.0, amp / (2.0 * self.p.min_swing_g)), 3)
        events.append(RepEvent(t=e.t, amplitude=amp, confidence=confidence,
                               prominence=e.swing_in, width_s=e.width_s, period_s=period,
                               index=e.k))

    def on_retreat(self, events: list[RepEvent], rejected: list[Rejection] | None = None,
                   at: int = -1) -> None:
        """The signal came back far enough from the pending extreme: it is a rep. Or from
        the turn that may start a set (at sample ``at`` of the chunk): judge it now, its
        swing out taken as its swing in (the return is well under way, `RETURN`)."""
        if self.pending is not None:
            self._faster(self.pending, events, [] if rejected is None else rejected)
            self._accept(self.pending, self.pending.swing_in, events)
            self.pending = None
        elif self._completes_start():
            # Judge it now as if its return were complete. Only a set start is final: if
            # the set does not start yet, the turn waits for its swing out as before, and
            # is judged again then.
            o = self.open
            assert o is not None
            self._early_tried = o.e.k
            own = self.rhythm_mark
            if own is not None and (self._pinned is None or self._pinned[0] != own):
                # Reading a later window releases this one: keep its period for the wait
                # (unless the owner released it already: then nothing reads it again).
                with contextlib.suppress(RuntimeError):
                    self._pinned = own, self._period_at(own)
            if not self._early_start(at, events, rejected) and self.p.flight_g:
                _, jump, low = self._context_at(at)
                if self._no_flight(low, jump) is not None:
                    self._flight_wait = o.e.k     # judged again once a flight shows

    def awaits_flight(self) -> bool:
        """Whether the turn that may start a set was judged early and waits for a flight
        (`flight_check`) until the next turn judges it."""
        o = self.open
        return o is not None and not self.set_pol and o.e.k == self._flight_wait

    def flight_check(self, events: list[RepEvent], rejected: list[Rejection],
                     lo: int, hi: int) -> None:
        """Jumping exercises: the turn that may start a set came back before any flight
        was seen (the set's first reps may not leave the ground much, and this rep's own
        jump comes after its turn). At the first of samples ``lo``..``hi - 1`` of the
        chunk where |a| shows one, judge the turn again, as the next turn would with the
        jump in its window. The trigger hands every sample over in order, before the
        turn after it, so the batches do not change where that happens."""
        if self._flight_wait < 0:
            return
        if not self.awaits_flight():
            self._flight_wait = -1           # the next turn came first and judged it
            return
        for at in range(lo, hi):
            _, jump, low = self._context_at(at)
            if self._no_flight(low, jump) is None:
                self._flight_wait = -1
                self._early_start(at, events, rejected)
                return

    def _early_start(self, at: int, events: list[RepEvent],
                     rejected: list[Rejection] | None) -> bool:
        """Judge the open candidate with the motion context at sample ``at`` of the chunk,
        its swing out taken as its swing in; whether that started a set."""
        o = self.open
        assert o is not None
        now, jump, low = self._context_at(at)
        back = Extreme(-o.e.pol, o.e.val - o.e.pol * o.e.swing_in, o.e.t, o.e.k,
                       o.e.swing_in, jump=jump, low=low)
        started: list[RepEvent] = []
        refused: list[Rejection] = []
        self._early = True
        try:
            if not self._start_trial(back, now, started, refused):
                return False
        finally:
            self._early = False
        events += started
        if rejected is not None:
            rejected += refused
        return True

    def _start_trial(self, back: Extreme, mark: int | None, events: list[RepEvent],
                     rejected: list[Rejection]) -> bool:
        """Close the open candidate against ``back`` with the rhythm at ``mark``; whether
        that started a set (if not, everything is as before)."""
        saved = self._state()
        self.rhythm_mark = mark
        self._close_open(back, events, rejected)
        if self.set_pol:
            return True
        self._restore(saved)
        return False

    def _state(self) -> tuple:
        """What closing a candidate may change (`_start_trial`)."""
        o = self.open
        return (o, o.amp if o else 0.0, {pol: list(c) for pol, c in self.chains.items()},
                self.rhythm_mark, self.count, self.last_rep_t, list(self.amps),
                list(self.periods), self.typical_amp, self.period, self.set_pol)

    def _restore(self, st: tuple) -> None:
        (self.open, amp, self.chains, self.rhythm_mark, self.count, self.last_rep_t, amps,
         periods, self.typical_amp, self.period, self.set_pol) = st
        if self.open is not None:
            self.open.amp = amp
        self.amps.clear()
        self.amps.extend(amps)
        self.periods.clear()
        self.periods.extend(periods)

    def on_extreme(self, e: Extreme, events: list[RepEvent], rejected: list[Rejection]) -> None:
        p = self.p
        # The previous extreme now has its swing out (= this extreme's swing in).
        if self.pending is not None and self.pending.pol != e.pol:
            self.stalled = self.pending, Rejection(self.pending.t, (
                f"incomplete rep: came back {e.swing_in:.2f} g, {self.back:.2f} g needed "
                f"(the set's reps swing {self.typical_amp:.2f} g)"), self.pending.swing_in)
            self.pending = None
        if self.open is not None and self.open.e.pol != e.pol:
            self._close_open(e, events, rejected)
        self.prev_known = self.prev is not None   # the swing into e was fully observed
        # (only used to keep refusals quiet for the stream's first turning point)
        before, self.prev = self.prev, e
        if self.set_pol and self.last_rep_t is not None and (
                e.t - self.last_rep_t > self._set_timeout()):
            self.set_pol = 0                                  # the set is over
            self._drop_sooner(rejected)
            self.amps.clear()
            self.periods.clear()
            self.typical_amp, self.period = 0.0, None
            self._drop_stalled(rejected)
        if self.set_pol:
            if e.pol == self.set_pol:
                self._in_set(e, rejected)
            return
        if e.swing_in >= p.min_swing_g:
            self.open = _Open(e, before=before)

    def _drop_stalled(self, rejected: list[Rejection]) -> None:
        """The stalled rep was not completed: refuse it as incomplete."""
        if self.stalled is not None:
            rejected.append(self.stalled[1])
            self.stalled = None

    def _drop_sooner(self, rejected: list[Rejection]) -> None:
        """No rep came after the turn refused as too soon: it stays refused."""
        if self.sooner is not None:
            rejected.append(self.sooner[1])
            self.sooner = None

    def _resume(self, e: Extreme) -> Extreme:
        """A rep whose return stalled after a small dip (a wobble or pause at the turn) goes
        on at ``e``, the next turn of its polarity: ``e`` then swings from where the stalled
        rep started. (Judged on its own, ``e`` swings only the dip and the stalled rep only
        its return, so the whole rep was refused twice.)"""
        b = self.stalled
        if b is None:
            return e
        self.stalled = None
        base = b[0].val - b[0].pol * b[0].swing_in
        return replace(e, swing_in=max(e.swing_in, abs(e.val - base)))

    def _in_set(self, e: Extreme, rejected: list[Rejection]) -> None:
        p = self.p
        stalled = self.stalled
        e = self._resume(e)
        reason = self._verdict(e, e.swing_in) or self._no_flight(e.low, e.jump)
        if reason is None and e.swing_in < self._rel_amplitude * self.typical_amp:
            reason = (f"amplitude too small for this set: {e.swing_in:.2f} g swing, reps so "
                      f"far {self.typical_amp:.2f} g")
        if reason is None and self.last_rep_t is not None:
            gap = e.t - self.last_rep_t
            per = self.rhythm or self.period
            if per is not None and gap < REFRACTORY * per:
                reason = (f"cadence out of range: {gap:.2f} s after the previous rep, the set's "
                          f"pace is {per:.2f} s per rep")
                if (p.one_swing and self.sooner is None and not self.split_set
                        and self.prev_known):
                    if stalled is not None:
                        rejected.append(stalled[1])
                    kept = self.set_reps >= SET_START_REPS   # past the set's start
                    self.sooner = e, Rejection(e.t, reason, e.swing_in), kept
                    self.moved = True
                    return
        if reason is not None:
            if stalled is not None:
                rejected.append(stalled[1])
            if e.swing_in >= p.min_swing_g and self.prev_known:
                rejected.append(Rejection(e.t, reason, e.swing_in))
            # (a rep-sized turn refused, as too soon say, is motion: no pause)
            self.moved = self.moved or e.swing_in >= self._rel_amplitude * self.typical_amp
            return
        self.pending = e
        self.back = RETREAT * self.typical_amp
        if self._after_pause(e):
            # (a return that stalls leaves `moved` unset: the turn that may complete it is
            # judged after the same pause)
            self.back = max(self.back, RETURN * e.swing_in)
        else:
            self.moved = True

    def _after_pause(self, e: Extreme) -> bool:
        """Whether ``e`` comes after a pause: more than `PAUSE_PERIODS` of the set's periods
        after the last rep, with no rep-sized turn of the set's polarity between (a refused
        or missed rep is motion, not a pause). Then the set may be over and ``e`` the body
        moving on: getting up after push-ups, into a posture the set never returns to. A
        rep returns to where it started, so such a turn counts once its return is three
        quarters done (`RETURN` of its own swing, as a set's start), not at `RETREAT` of
        the set's typical swing: real upper-arm push-ups counted the swing up off the
        floor 2.0-2.3 periods after the last rep, which came back 46-75 % of the way
        (the next turn confirmed there). Reps at the set's pace keep the early count.
        Not for multi-phase reps (burpees): their counted turn is reached from another
        phase's turn (the jump), so its swing in is not the way back to where it started
        (a simulated burpee set's last rep came back 1.2 g of a 2.1 g swing in, to rest)."""
        per = self.period
        return (per is not None and self.last_rep_t is not None and not self.moved
                and not self.p.multi_phase and e.t - self.last_rep_t > PAUSE_PERIODS * per)

    def _verdict(self, e: Extreme, amp: float) -> str | None:
        p = self.p
        if amp < p.min_swing_g:
            return (f"amplitude too small: {amp:.2f} g swing (a {p.name} moves at least "
                    f"{p.min_swing_g:.2f} g)")
        if amp > p.max_swing_g:
            return (f"amplitude too large for a {p.name}: {amp:.1f} g swing (a {p.name} moves "
                    f"at most {p.max_swing_g:.1f} g; a larger turn is another exercise, a "
                    "shake or an impact)")
        if e.shake > p.max_shake:
            return (f"shaking, not a {p.name}: fast motion {e.shake:.1f}x the movement")
        if p.jump_g and e.jump < p.jump_g:
            return (f"no jump: |a| peaked at {e.jump:.1f} g, landing a {p.name} takes "
                    f"{p.jump_g:.1f} g or more")
        if e.bounce > p.max_bounce:
            return (f"bounce, not a {p.name}: the movement rises and falls with |a| "
                    f"(correlation {e.bounce:.2f}), as in steps or hops, not a swing of "
                    "the limbs")
        if e.step > p.max_step and self._walking_pace(e) and not self._own_step_content(e):
            return (f"steps, not a {p.name}: walking/running bounce {e.step:.1f}x the "
                    "movement")
        if self._lands_like_steps(e) and self._walking_pace(e):
            return (f"steps, not a {p.name}: walking bounce {e.step:.1f}x and landings "
                    f"{e.shake:.1f}x the movement")
        if self.last_rep_t is not None and e.t - self.last_rep_t < p.min_period_s:
            return (f"cadence out of range: {e.t - self.last_rep_t:.2f} s after the previous rep "
                    f"(a {p.name} takes at least {p.min_period_s:.1f} s)")
        return None

    def _lands_like_steps(self, e: Extreme) -> bool:
        """Whether ``e`` carries walking's joint signature (`WALKING_STEP` and
        `WALKING_SHAKE`) under a step limit that follows the movement's pace (``generic``,
        whose limit must let fast reps through): the other profiles' limits refuse
        walking on the step measure alone. Only on settled measures: in a run's first
        seconds the filters' start can read as both (a real SPAR row's first rep)."""
        return (self.p.step_pace_s < math.inf and e.settled and e.step > WALKING_STEP
                and e.shake > WALKING_SHAKE)

    def _walking_pace(self, e: Extreme) -> bool:
        """Whether the movement at ``e`` repeats as fast as a walking stride (profile's
        ``step_pace_s``): its last half cycle doubled, or the autocorrelation's period."""
        pace = self.p.step_pace_s
        if e.width_s < pace:
            return True
        per = self.rhythm
        return per is not None and per < pace

    def _own_step_content(self, e: Extreme) -> bool:
        """Whether |a| at step rates may be the rep's own: nothing landed (a fast smooth
        rep has its second harmonic there), or the rep itself repeats at a step rate (its
        period under 1 / ``STEP_BAND_LOW_HZ``: a push-up in 0.8 s puts its fundamental
        there). Either only while the limb's turn still dominates |a| (``RHYTHMIC_STEP``):
        a body that only rises and falls (steps, stairs) moves |a| as much as the movement
        itself. At a step rate that comparison is all that tells a rep from steps, so it
        waits until the step measure has settled after the run's start (it reads low
        while its smoothing fills up)."""
        if e.step > RHYTHMIC_STEP:
            return False
        per = self.rhythm
        if per and per * STEP_BAND_LOW_HZ < 1.0:
            return e.settled
        return _impact_free(e)

    def _no_flight(self, low: float, jump: float) -> str | None:
        """Jumping exercises: the reason to refuse when |a| showed neither a flight (free
        fall) nor a hard landing over the last few seconds, which hold a rep or two."""
        p = self.p
        if p.flight_g and low > p.flight_g and jump < HARD_LANDING_G:
            return (f"no jump: |a| stayed above {low:.2f} g, a {p.name} leaves the ground "
                    f"(|a| under {p.flight_g:.1f} g in flight)")
        return None

    def _close_open(self, nxt: Extreme, events: list[RepEvent],
                    rejected: list[Rejection]) -> None:
        """Outside a set: the open candidate's swing out is known; grow its rhythm chain."""
        assert self.open is not None
        cand = self.open
        self.open = None
        cand.amp = min(cand.e.swing_in, nxt.swing_in)
        if cand.amp < self.p.min_swing_g:
            return
        reason = self._verdict(cand.e, cand.amp)
        if reason is not None:
            rejected.append(Rejection(cand.e.t, reason, cand.amp))
            self.chains[cand.e.pol] = []
            return
        chain = self.chains[cand.e.pol]
        if not chain and cand.e.swing_in < REST_RATIO * nxt.swing_in:
            return        # the posture the motion starts from, not the turn of a rep
        if chain:
            last = chain[-1]
            gap = cand.e.t - last.e.t
            biggest = max(c.amp for c in chain)
            sub = REFRACTORY * self.rhythm if self.rhythm else self.p.min_period_s
            if gap < max(sub, self.p.min_period_s):
                return                       # a bump inside the previous rep: ignore it
            if cand.amp > FIDGET_RATIO * biggest:
                chain.clear()                # what came before was fidgeting, not reps
            elif cand.amp < REL_AMPLITUDE * biggest or (
                    cand.amp * PAIR_RATIO < biggest and not self._on_beat(chain, gap)):
                return                       # a wobble smaller than the reps so far
            elif gap > self.p.max_period_s:
                self._end_chain(chain, events)   # the rhythm had stopped
                chain = self.chains[cand.e.pol]
        chain.append(cand)
        if len(chain) >= SET_START_REPS and not self._rhythmic(chain):
            del chain[0]
        if len(chain) >= SET_START_REPS:
            reason = self._no_flight(nxt.low, nxt.jump)   # the window spans the chain's end
            if reason is not None:
                rejected.append(Rejection(cand.e.t, reason, cand.amp))
                del chain[0]
                return
            if self._starts_at_rest(chain):
                del chain[0]                     # the start posture, not a rep
                return
            # Reps in rhythm: a set starts with this polarity.
            self.set_pol = cand.e.pol
            self.last_rep_t = None
            self.set_reps, self.split_set = 0, False
            for c in chain:
                self._accept(c.e, c.amp, events)
            self._forget()

    def _starts_at_rest(self, chain: list[_Open]) -> bool:
        """Whether the chain's first turn is the posture the set started from. The body
        rests before a set, and each rep turns away from that posture and back: where
        gravity pointed while the sensor lay still (`REST_STILL_G`) in the seconds before
        the chain (`REST_BEFORE_S`) tells which of the movement's two turns is the return
        to rest. When it lies nearer the chain's turns than the opposite turns between
        them, beyond `REST_SIDE` of the way, the chain counts the returns, and its first
        turn is the rest itself, not a rep (the fence post of the count). The movement
        signal cannot tell: its high-pass moves its level to the middle of the swing within
        a rep. Not for multi-phase reps, whose turns include other postures than rest."""
        if self.p.multi_phase:
            return False
        first = chain[0].e
        rest = self._posture(first.k, REST_BEFORE_S)
        if rest is None or rest.spread > REST_STILL_G:
            return False
        between = [c.before for c in chain[1:]]
        if any(b is None or b.pol == first.pol for b in between):
            return False
        own = self._mean_posture([c.e for c in chain])
        other = self._mean_posture([b for b in between if b is not None])
        if own is None or other is None:
            return False
        d = [a - b for a, b in zip(own, other, strict=True)]
        dd = sum(x * x for x in d)
        if dd < (0.25 * self.p.min_swing_g) ** 2:
            return False                      # the turns hardly move gravity: no side
        side = sum((r - b) * x for r, b, x in zip(rest.mean, other, d, strict=True)) / dd
        return side > REST_SIDE

    def _mean_posture(self, turns: list[Extreme]) -> list[float] | None:
        """The mean of where gravity pointed at ``turns`` (None if one is not known)."""
        seen = [self._posture(e.k, TURN_POSTURE_S) for e in turns]
        means = [p.mean for p in seen if p is not None]
        if len(means) < len(seen):
            return None
        return [sum(m[i] for m in means) / len(means) for i in range(3)]

    @property
    def _rel_amplitude(self) -> float:
        """The smallest swing of a rep inside a set, relative to the set's typical one:
        multi-phase reps vary more from rep to rep (how deep, how high the jump) and keep
        the set start's `REL_AMPLITUDE`."""
        return REL_AMPLITUDE if self.p.multi_phase else SET_REL_AMPLITUDE

    @property
    def _start_tolerance(self) -> float:
        """How far the reps that start a set may stray from the period (as a ratio)."""
        return (MULTI_PHASE_TOLERANCE if self.p.multi_phase and not self._early
                else START_TOLERANCE)

    def _on_beat(self, chain: list[_Open], gap: float) -> bool:
        """A shallow candidate still counts when it comes on the chain's beat (a sloppy
        rep keeps the pace; a wobble does not), within the tolerance `_rhythmic` will
        hold the chain to: a wobble let in nearer would only break the chain it joined."""
        per = self.rhythm or (chain[-1].e.t - chain[-2].e.t if len(chain) > 1 else None)
        tol = self._start_tolerance
        return per is not None and tol * per <= gap <= per / tol

    def _rhythmic(self, chain: list[_Open]) -> bool:
        """Reps in a chain repeat at the movement's own period (autocorrelation), not
        just at any plausible spacing: fidgeting wanders, exercise repeats."""
        gaps = [b.e.t - a.e.t for a, b in itertools.pairwise(chain)]
        per = self.rhythm
        if per == NO_RHYTHM:  # the window is long enough and nothing in it repeats
            return False
        if per is None:       # too early for the autocorrelation: the gaps must agree
            # (multi-phase reps wait for it: their bumps agree with each other at half
            # the rep's pace)
            return not self.p.multi_phase and max(gaps) * START_TOLERANCE <= min(gaps)
        tol = self._start_tolerance
        return all(tol * per <= g <= per / tol for g in gaps)

    def _short_set(self, chain: list[_Open]) -> bool:
        """Outside a set, a pair waiting for a third rep that may count as a set of two."""
        return self.p.short_sets and not self.set_pol and len(chain) == SET_START_REPS - 1

    def _end_chain(self, chain: list[_Open], events: list[RepEvent]) -> None:
        """A chain that stopped: two reps in rhythm still make a (short) set."""
        last = self.prev or chain[-1].e
        if (self._short_set(chain) and self.rhythm is not None and self._rhythmic(chain)
                and self._no_flight(last.low, last.jump) is None):
            self.last_rep_t = None
            for c in chain:
                self._accept(c.e, c.amp, events)
        self.chains[chain[0].e.pol] = []

    def close(self, events: list[RepEvent], rejected: list[Rejection]) -> None:
        """Stream ended or broke: a pair in rhythm is a short set; drop the rest."""
        for pol in (+1, -1):
            if self._short_set(self.chains[pol]):
                self._end_chain(self.chains[pol], events)
                break
        self._drop_stalled(rejected)
        self._drop_sooner(rejected)
        if self.pending is not None:
            rejected.append(Rejection(self.pending.t, "incomplete rep: the stream ended",
                                      self.pending.swing_in))
        self.pending = None
        self.open = None
        self._forget()
        self.prev = None

    def _forget(self) -> None:
        self.chains = {+1: [], -1: []}
