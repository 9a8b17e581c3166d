"""How the reps that start a set are chosen: the pure core fed turning points, and whole
streams where the start is hard."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from repfit.detection import Rejection, RepCounter, RepEvent
from repfit.detection._profiles import PROFILES
from repfit.detection._reps import Extreme, Posture, SetTracker
from repfit.detection.simulate import simulate_activity, simulate_set
from repfit.host.recordings import read_csv


def _feed_points(profile: str, points: list[tuple[float, int, float]],
                 period: float | None = None, jump: float = 2.0,
                 low: float = 0.2) -> list[float]:
    """Turning points (time, polarity, swing into it), each seen with a landing (peak |a|
    ``jump``) and a flight (lowest |a| ``low``) nearby, as the jumping profiles ask; the
    autocorrelation period seen at each is ``period`` (None: not known yet). Returns the
    times of the reps emitted."""
    tracker = SetTracker(PROFILES[profile], lambda mark: period)
    tracker.rhythm_mark = 0
    events, rejected = [], []
    for i, (t, pol, swing) in enumerate(points):
        e = Extreme(pol, pol * swing / 2, t, i, swing, jump=jump, low=low)
        tracker.on_extreme(e, events, rejected)
    return [e.t for e in events]


def _feed(profile: str, times: list[float], swing: float = 1.0,
          period: float | None = None, **context: float) -> int:
    """Alternating minima (the candidates) and maxima at ``times``, all of one swing."""
    points = [(t, -1 if i % 2 == 0 else +1, swing if i else 0.0) for i, t in enumerate(times)]
    return len(_feed_points(profile, points, period, **context))


# Minima 2.3 s then 3.0 s apart: the two bumps of one burpee and the first of the next.
BUMPS = [4.0, 5.1, 6.3, 7.4, 8.6, 10.1, 11.6]


def test_a_smooth_exercise_starts_a_set_on_three_reps_that_keep_a_pace() -> None:
    assert _feed("squat", BUMPS) == 3


def test_a_multi_phase_exercise_waits_for_the_autocorrelation() -> None:
    # Burpee bumps keep a pace at half the rep's period; without the autocorrelation's
    # period the chain proves nothing, and with it (5.3 s) the bumps are off the beat.
    assert _feed("burpee", BUMPS) == 0
    assert _feed("burpee", BUMPS, period=5.3) == 0
    reps = [4.0, 6.6, 9.3, 11.9, 14.6, 17.2, 19.9]      # whole reps every 5.3 s
    assert _feed("burpee", reps, period=5.3) == 3


def test_the_reps_that_start_a_set_keep_a_steady_pace() -> None:
    # Turning points 2.0 s then 2.9-3.0 s apart: the shorter gap is under 0.75 of the
    # longer, as when fidgeting moves at random moments; 2.4 s then 2.6 s is a steady start.
    assert _feed("squat", [4.0, 5.0, 6.0, 7.0, 8.9, 10.0, 11.0]) == 0
    assert _feed("squat", [4.0, 5.2, 6.4, 7.7, 9.0, 10.2, 11.4]) == 3


def test_burpees_may_vary_more_around_the_autocorrelation_period() -> None:
    # Whole reps 3.3 s then 5.0 s apart against a 5.0 s period: 0.66 of it is within the
    # burpee's 0.6 but outside the 0.75 every other profile keeps.
    times = [2.3, 4.0, 5.6, 7.3, 8.9, 12.3, 13.9, 15.5]
    assert _feed("burpee", times, period=5.0) == 3
    assert _feed("squat", times, period=5.0) == 0


def test_a_wobble_near_the_beat_does_not_join_the_reps_that_start_a_set() -> None:
    # Shoulder abduction seen from the wrist (as in SPAR): each 1.9 s rep lifts (maximum),
    # lowers (minimum), wobbles up a little at 0.65 of the period and settles. The
    # wobble's maximum is less than half a rep's swing and is off the set's pace (0.65 of
    # the period, the start rule keeps 0.75-1.33): it must not take a place in the chain,
    # or the first reps are counted late or lost.
    p = 1.9
    points = []
    for k in range(6):
        t0 = 1.0 + k * p
        points += [(t0, +1, 3.3), (t0 + 0.35 * p, -1, 3.3), (t0 + 0.65 * p, +1, 1.4),
                   (t0 + 0.8 * p, -1, 1.6)]
    assert _feed_points("generic", points, period=p)[:3] == pytest.approx([1.0, 2.9, 4.8])


def _count_from_rest(rest: tuple[float, float, float], spread: float) -> list[float]:
    """Squat-paced turns 1.25 s apart from a maximum on, minima and maxima in turn; the
    sensor points at (0, 0, -1) g at every minimum and (0, 0.7, -0.7) g at every maximum,
    and before the first minimum it lay at ``rest`` with the axes spreading ``spread`` g;
    later it moves. Returns the times of the reps emitted."""
    times = [2.75, 4.0, 5.25, 6.5, 7.75, 9.0, 10.25, 11.5, 12.75, 14.0]

    def posture(k: int, span: tuple[float, float]) -> Posture:
        if span[1] < 0:                       # the seconds before a turn
            return Posture(rest, spread) if k == 1 else Posture(rest, 0.6)
        return Posture((0.0, 0.0, -1.0) if k % 2 else (0.0, 0.7, -0.7), 0.1)

    tracker = SetTracker(PROFILES["squat"], lambda mark: 2.5, posture=posture)
    tracker.rhythm_mark = 0
    events: list[RepEvent] = []
    rejected: list[Rejection] = []
    for i, t in enumerate(times):
        pol = -1 if i % 2 else +1
        e = Extreme(pol, pol * 0.5, t, i, 1.0 if i else 0.0, width_s=2.5)
        tracker.on_extreme(e, events, rejected)
    return [e.t for e in events]


def test_the_posture_a_set_starts_from_is_not_its_first_rep() -> None:
    # The minima return to where the sensor lay still before the set: counted there, the
    # first minimum would be that rest itself. The set is counted at the turns away from
    # it, the maxima.
    assert _count_from_rest((0.0, 0.0, -1.0), 0.05)[:3] == [5.25, 7.75, 10.25]
    # Resting where the maxima are, or not still: the minima are the reps, from the first.
    assert _count_from_rest((0.0, 0.7, -0.7), 0.05)[:3] == [4.0, 6.5, 9.0]
    assert _count_from_rest((0.0, 0.0, -1.0), 0.5)[:3] == [4.0, 6.5, 9.0]


@pytest.mark.parametrize("position", ["wrist", "upper_arm", "chest"])
def test_a_set_after_half_a_minute_of_typing_keeps_its_first_rep(position: str) -> None:
    # The counter ran while the user typed; the set's first reps are then a small part of
    # the rhythm window, but they still start the set.
    before = simulate_activity("typing", duration_s=30.0, position=position, seed=700)
    rec = simulate_set("situp", reps=10, position=position, seed=700, cadence_s=3.0,
                       rest_before_s=2.0)
    t = np.concatenate([before.t, rec.t + before.t[-1] + 0.02])
    acc = np.concatenate([before.acc, rec.acc])
    c = RepCounter("situp")
    for lo in range(0, t.size, 50):
        c.feed(t[lo:lo + 50], acc[lo:lo + 50])
    assert c.finish().count == 10


@pytest.mark.parametrize(("jump", "low", "counted"), [
    (1.5, 0.2, True),     # a flight (free fall) proves the jump
    (2.5, 0.9, True),     # so does a hard landing (the arm's swing may hide the flight)
    (1.5, 0.9, False),    # a stomp without a flight is no jump: squats are no burpees
])
def test_a_burpee_set_needs_a_flight_or_a_hard_landing(jump: float, low: float,
                                                       counted: bool) -> None:
    reps = [4.0, 6.6, 9.3, 11.9, 14.6, 17.2, 19.9]      # whole reps every 5.3 s
    got = _feed("burpee", reps, period=5.3, jump=jump, low=low)
    assert (got == 3) is counted


@pytest.mark.parametrize(("half_cycle", "period", "counted"), [
    (2.0, 4.0, 3),     # slow reps with jumps in them: not walking (a set starts)
    (0.5, 1.0, 0),     # steps at a walking pace are refused
    (2.0, 1.0, 0),     # a slow swing while the movement repeats at a stride's pace
])
def test_generic_refuses_steps_only_at_a_walking_pace(half_cycle: float, period: float | None,
                                                      counted: int) -> None:
    # |a| varies at step rates far more than generic allows (a landing in every rep, or
    # walking). A stride takes under 2 s: movement slower than that on both counts (its
    # half cycle and its autocorrelation period) is not being walked. Steps land (|a| up
    # to 1.8 g, broadband above 3 Hz), so the impact-free exemption does not apply.
    tracker = SetTracker(PROFILES["generic"], lambda mark: period)
    tracker.rhythm_mark = 0
    events, rejected = [], []
    for i in range(9):
        pol = -1 if i % 2 == 0 else +1
        e = Extreme(pol, 0.5 * pol, 2.0 + i * half_cycle, i, 1.0 if i else 0.0,
                    width_s=2.0 * half_cycle, step=3.0, shake=1.5, jump=1.8)
        tracker.on_extreme(e, events, rejected)
    assert len(events) == counted
    assert counted or any(r.reason.startswith("steps, not a generic") for r in rejected)


def test_the_start_posture_is_not_a_rep() -> None:
    # Standing still, then five squats of 2 s, counted at the bottoms. Standing shows up as
    # a maximum reached by a small drift (0.4 g) and left by a full swing: it is the
    # posture the set starts from. Taken as a rep, it started the set at the tops, one rep
    # too early, and the return to standing after the last squat made a sixth.
    points = [(0.5, -1, 0.0), (1.0, +1, 0.4)]
    for i in range(5):
        points += [(2.0 + 2 * i, -1, 1.0), (3.0 + 2 * i, +1, 1.0)]
    points += [(12.5, -1, 0.1)]
    tracker = SetTracker(PROFILES["squat"])
    events, rejected = [], []
    for i, (t, pol, swing) in enumerate(points):
        tracker.on_retreat(events)       # the signal came well back from the last turn
        tracker.on_extreme(Extreme(pol, pol * swing / 2, t, i, swing), events, rejected)
    assert [e.t for e in events] == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_a_real_squat_set_from_standing_counts_its_squats(reps_data: Path) -> None:
    # Five squats (the app's schedule); the counter took standing for a rep: 6.
    name = "exermote__P1__squat__20170422T153627_set1.csv"
    t, acc = read_csv(reps_data / "data" / name)
    c = RepCounter("squat")
    for lo in range(0, t.size, 10):
        c.feed(t[lo:lo + 10], acc[lo:lo + 10])
    assert c.finish().count == 5


def test_fast_real_pushups_are_counted(reps_data: Path) -> None:
    # Push-ups at 0.8 s per rep (two real sets) put their own fundamental in the step band,
    # and 0.8 s was the edge of the autocorrelation's range: they were refused as steps
    # (3 and 0 of 10 counted).
    with open(reps_data / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if r["file"].startswith(("workoutbuddy__U19__", "workoutbuddy__U28__"))]
    assert len(rows) == 2
    for row in rows:
        t, acc = read_csv(reps_data / "data" / row["file"])
        c = RepCounter("pushup")
        for lo in range(0, t.size, 20):
            c.feed(t[lo:lo + 20], acc[lo:lo + 20])
        assert abs(c.finish().count - int(row["true_reps"])) <= 2, row["file"]


def _squats(t: np.ndarray, starts: list[float], period: float, held: float | None = None
            ) -> np.ndarray:
    """Squats as a 35 degree tilt and back, one ``period`` each from ``starts``; with
    ``held``, the last one goes down and stays there from that time on."""
    tilt = np.zeros_like(t)
    for i, s0 in enumerate(starts):
        inside = (t >= s0) & (t < s0 + period)
        u = (t[inside] - s0) / period
        if held is not None and i == len(starts) - 1:
            u = np.minimum(u, 0.5)
        tilt[inside] = 0.6 * (1 - np.cos(2 * np.pi * u)) / 2
        if held is not None and i == len(starts) - 1:
            tilt[t >= s0 + period] = 0.6
    return np.stack([np.sin(tilt), 0 * t, np.cos(tilt)], axis=1)


def _emitted(t: np.ndarray, acc: np.ndarray) -> list[tuple[float, float]]:
    """(time the batch ended, rep time) of every event, fed in 100 ms batches."""
    c = RepCounter("squat")
    out = []
    for lo in range(0, t.size, 5):
        now = float(t[min(lo + 5, t.size) - 1])
        out += [(now, e.t) for e in c.feed(t[lo:lo + 5], acc[lo:lo + 5]).events]
    out += [(float(t[-1]), e.t) for e in c.finish().events]
    return out


def test_a_set_starts_as_its_third_rep_comes_back() -> None:
    # Three squats of 2.5 s from standing, then rest. The third rep starts the set; it used
    # to be counted only once the turn after it was certain, about a second after the
    # squatter stood up again. Now all three are counted as the third comes back up,
    # before it is complete.
    t = np.arange(0, 20, 0.02)
    starts = [3.0, 5.5, 8.0]
    emitted = _emitted(t, _squats(t, starts, 2.5))
    assert len(emitted) == 3
    third_done = starts[-1] + 2.5
    assert all(now <= third_done for now, _ in emitted), emitted


def test_a_rep_held_at_the_bottom_does_not_start_the_set() -> None:
    # Two squats, then a third that goes down and stays down: its return never comes, so
    # it starts no set, however long it is held.
    t = np.arange(0, 20, 0.02)
    starts = [3.0, 5.5, 8.0]
    emitted = _emitted(t, _squats(t, starts, 2.5, held=True))
    assert not any(abs(rep - 9.25) < 0.6 for _, rep in emitted), emitted


def test_real_burpees_as_jumping_jacks_give_the_same_events_in_any_batches(
        reps_data: Path) -> None:
    # Real burpees counted as jumping jacks: a third turn judged early that did not start
    # the set waits for its swing out, and is judged again on the window read at its
    # first judgement, unless the counter had released that window (reading it then
    # raised). Any batching gives the same events.
    t, acc = read_csv(reps_data / "data" / "exermote__P1__burpee__20170330T185049_set1.csv")
    results = []
    for step in (10, 7, 1):
        c = RepCounter("jumping_jack")
        events = []
        for lo in range(0, t.size, step):
            events += c.feed(t[lo:lo + step], acc[lo:lo + step]).events
        events += c.finish().events
        results.append(events)
    assert results[0] == results[1] == results[2]


def test_a_start_judged_early_counts_only_what_it_emits() -> None:
    # Two squats in rhythm, then a long pause and one more: that turn ends the pair's chain
    # (a set of two, emitted when the turn after it is certain). Judged early as it comes
    # back, it must neither count the pair silently nor count it twice.
    points = [(0.5, +1, 0.0), (2.0, -1, 1.0), (3.0, +1, 1.0), (4.0, -1, 1.0),
              (5.0, +1, 1.0), (20.0, -1, 1.0), (21.0, +1, 1.0)]
    counts = []
    for early in (False, True):
        tracker = SetTracker(PROFILES["squat"], lambda mark: 2.0, lambda at: (0, 2.0, 0.2))
        tracker.rhythm_mark = 0
        events: list = []
        for i, (t, pol, swing) in enumerate(points):
            if early and tracker.retreat_level() is not None:
                tracker.on_retreat(events, [], 0)
            tracker.on_extreme(Extreme(pol, pol * swing / 2, t, i, swing, jump=2.0, low=0.2),
                               events, [])
            assert tracker.count == len(events)
        counts.append(len(events))
    assert counts[0] == counts[1]


def _burpee_start(lows: list[float]) -> tuple[int, int]:
    """Three burpees in rhythm (turns at 0.5, 4.5, 8.5 s, each landing hard enough), the
    third coming back; then samples whose lowest recent |a| is each of ``lows`` in turn,
    before the turn after the third rep. Returns the reps emitted as the third came back
    and the reps emitted by then."""
    ctx = {"low": 0.9}
    tracker = SetTracker(PROFILES["burpee"], lambda mark: 4.0,
                         lambda at: (0, 1.5, ctx["low"]))
    tracker.rhythm_mark = 0
    events: list = []
    points = [(0.0, +1, 0.0), (0.5, -1, 1.5), (2.5, +1, 1.5), (4.5, -1, 1.5),
              (6.5, +1, 1.5), (8.5, -1, 1.5)]
    for i, (t, pol, swing) in enumerate(points):
        tracker.on_extreme(Extreme(pol, pol * swing / 2, t, i, swing, jump=1.5, low=0.9),
                           events, [])
    assert tracker.retreat_level() is not None     # the third rep may start the set
    tracker.on_retreat(events, [], 0)
    early = len(events)
    for i, low in enumerate(lows):
        ctx["low"] = low
        tracker.flight_check(events, [], i, i + 1)
    return early, len(events)


def test_a_burpee_start_that_lacks_only_a_flight_is_judged_again_when_one_shows() -> None:
    # No flight in the window as the third rep comes back: no set yet, and none while
    # |a| stays up; the third rep's jump (|a| near free fall) starts it, all three reps.
    assert _burpee_start([0.9, 0.8, 0.7]) == (0, 0)
    assert _burpee_start([0.9, 0.3, 0.9]) == (0, 3)
    # With a flight already in the window, the set starts as the third rep comes back.
    ctx_low = 0.3
    tracker = SetTracker(PROFILES["burpee"], lambda mark: 4.0, lambda at: (0, 1.5, ctx_low))
    tracker.rhythm_mark = 0
    events: list = []
    for i, (t, pol, swing) in enumerate([(0.0, +1, 0.0), (0.5, -1, 1.5), (2.5, +1, 1.5),
                                         (4.5, -1, 1.5), (6.5, +1, 1.5), (8.5, -1, 1.5)]):
        tracker.on_extreme(Extreme(pol, pol * swing / 2, t, i, swing, jump=1.5, low=0.3),
                           events, [])
    tracker.on_retreat(events, [], 0)
    assert len(events) == 3


@pytest.mark.parametrize("position", ["chest", "thigh"])
def test_a_burpee_start_waiting_for_its_flight_does_not_depend_on_the_batches(
        position: str) -> None:
    # (seed 202: the set's first reps show no flight, so its start waits for the third
    # rep's jump)
    rec = simulate_set("burpee", reps=12, fs_hz=50.0, position=position, seed=202,
                       cadence_s=4.0)
    results = []
    for step in (rec.t.size, 1, 5, 37):
        c = RepCounter("burpee")
        events, rejected = [], []
        for lo in range(0, rec.t.size, step):
            u = c.feed(rec.t[lo:lo + step], rec.acc[lo:lo + step])
            events += u.events
            rejected += u.rejected
        u = c.finish()
        results.append((events + list(u.events), rejected + list(u.rejected)))
    assert all(r == results[0] for r in results)
    assert len(results[0][0]) >= 6


def test_a_burpee_start_off_the_steady_pace_waits_for_the_next_turn() -> None:
    # Gaps of 4.5 s and 2.8 s at a 4.5 s period: within the multi-phase tolerance, so the
    # turn after the third rep starts the set, but not at the steady pace an early
    # judgement needs (it may be a turn of another phase of the rep).
    counts = []
    for gap in (4.4, 2.8):
        tracker = SetTracker(PROFILES["burpee"], lambda mark: 4.5, lambda at: (0, 1.5, 0.3))
        tracker.rhythm_mark = 0
        events: list = []
        third = 5.0 + gap
        points = [(0.0, +1, 0.0), (0.5, -1, 1.5), (2.5, +1, 1.5), (5.0, -1, 1.5),
                  (7.0 if gap > 3 else 6.5, +1, 1.5), (third, -1, 1.5)]
        for i, (t, pol, swing) in enumerate(points):
            tracker.on_extreme(Extreme(pol, pol * swing / 2, t, i, swing, jump=1.5, low=0.3),
                               events, [])
        tracker.on_retreat(events, [], 0)
        early = len(events)
        tracker.on_extreme(Extreme(+1, 0.75, third + 1.5, 6, 1.5, jump=1.5, low=0.3),
                           events, [])
        counts.append((early, len(events)))
    assert counts == [(3, 3), (0, 3)]


def _feed_swings(profile: str, minima: list[float], period: float) -> list[float]:
    """Full swings between minima at ``minima`` and a maximum halfway between each two,
    every return seen as it comes; the autocorrelation reads ``period`` throughout (a
    window still filled with the old pace). The first minimum and maximum are reached
    from rest, so the set is counted at the minima. Returns the times of the reps
    emitted."""
    tracker = SetTracker(PROFILES[profile], lambda mark: period)
    tracker.rhythm_mark = 0
    events: list[RepEvent] = []
    rejected: list[Rejection] = []
    turns = [(t, -1) for t in minima] + [((a + b) / 2, +1)
                                          for a, b in itertools.pairwise(minima)]
    for k, (t, pol) in enumerate(sorted(turns)):
        tracker.on_extreme(Extreme(pol, pol * 0.5, t, k, 1.0 if k > 1 else 0.1), events,
                           rejected)
        tracker.on_retreat(events, rejected)
    tracker.close(events, rejected)
    return [e.t for e in events]


SLOW = [2.0 + 2.5 * i for i in range(6)]                   # 2.5 s per rep...
FAST = [SLOW[-1] + 1.25 * (i + 1) for i in range(6)]       # ... then twice as fast


def test_a_set_that_speeds_up_twofold_keeps_every_rep() -> None:
    # At twice the pace every other rep comes sooner than the old pace allows
    # (REFRACTORY); one that splits the time between two reps evenly is a faster rep.
    assert _feed_swings("squat", SLOW + FAST, period=2.5) == pytest.approx((SLOW + FAST)[1:])
    # generic may be swinging twice per rep (a twist's two sides): the old pace holds,
    # and every other fast swing is refused.
    assert _feed_swings("generic", SLOW + FAST, period=2.5) == pytest.approx(
        SLOW[1:] + FAST[1::2])


def test_a_turn_off_the_even_beat_stays_refused_and_so_do_later_ones() -> None:
    # A rep-sized swing off the even beat (1.05 s then 1.45 s: under the 0.75 ratio the
    # start of a set keeps) is a bump inside a rep, not a faster pace; once the set has
    # shown one, later even splits are not taken as faster reps either.
    bump, beat = SLOW[-1] + 1.05, SLOW[-1] + 2.5
    fast = [beat + 1.25 * (i + 1) for i in range(4)]
    counted = _feed_swings("squat", [*SLOW, bump, beat, *fast], period=2.5)
    assert counted == pytest.approx([*SLOW[1:], beat, *fast[1::2]])
