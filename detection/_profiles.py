"""Exercise profiles: the physical ranges that make a movement a rep of a given exercise.

Every number here is a property of human movement, not of a data set: how fast people can
repeat the exercise (cadence range), which frequencies carry the movement (the filter band),
and how large a real rep's swing is on the movement axis (in g, which at the sensor mixes
tilt against gravity with linear acceleration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from repfit.exercises import canonical

__all__ = ["EXERCISES", "HOLD_EXERCISES", "PROFILES", "ExerciseProfile", "profile_for",
           "profile_name"]


STEP_BAND_HZ = (1.2, 2.8)
"""Step rate of walking, running and stair climbing (steps per second)."""
STEP_BAND_LOW_HZ = STEP_BAND_HZ[0]
SMOOTH_STEP = 0.45
"""Step-rate limit of the smooth, slow exercises (see ``max_step``)."""
RHYTHMIC_STEP = 0.9
"""Step-rate limit of ``generic`` (reps as fast as 0.7 s have their fundamental there) and
of jumping jacks (landings twice per rep)."""
SMOOTH_SHAKE = 1.6
"""Shake limit of exercises that do not land on the feet (see ``max_shake``)."""
LANDING_SHAKE = 2.5
"""Shake limit of exercises that may land on the feet: each landing is a broadband impact
(``generic`` may be any rhythmic exercise, jumps too)."""
BODY_MAX_SWING = 2.4
"""Largest swing (g) on the movement axis of a push-up or a squat. No body segment turns by
more than ~90-100 degrees in either (a push-up keeps the body a rigid plank and turns the
upper arm at the shoulder; a squat turns the thighs, and the arms if they are raised
forward), a chord of gravity of 1.4-1.5 g, and the body's rise and fall adds well under
1 g even at 0.8 s per rep (real upper-arm reps: push-ups at most 1.9 g, squats 2.0 g). A
sit-up seen from the upper arm turns it with the trunk by ~150 degrees (real reps: median
2.5 g) and is refused (real sit-ups counted as push-ups 1.06 -> 0.08 of their reps, as
squats 1.03 -> 0.06; the real push-up and squat counts do not change from 2.0 to 3.0).
Sit-ups keep the generous limit: from the upper arm they swing that far."""
LANDING_G = 1.6
"""Peak |a| (g) a jump's landing reaches at least: it decelerates the body well beyond
gravity. The landing check of jumping jacks (``jump_g``), and the mark of a rep that
landed for the step limit's impact-free exemption (`_reps._impact_free`)."""
JUMPING_JACK_SHAKE = 3.5
"""Shake limit of jumping jacks. A fast one (0.6-0.8 s per rep) lands every 0.3-0.4 s, and
its arms sweep 160 degrees, whose gravity projection and centripetal pull have harmonics
above 3 Hz too: simulated wrist reps at 0.6-0.8 s show a median of 2.3-3.1 times the
movement there. Their third-order band edge (``lowpass_order``) keeps hand shaking, at
3 Hz and up, out of the movement signal, so shaking shows about 3 times the movement or
more (1st percentile 3.0, median 6.8; simulated, 80 seeds) and is still refused."""


@dataclass(frozen=True)
class ExerciseProfile:
    """How one exercise moves.

    Attributes
    ----------
    name : str
        Exercise name.
    min_period_s, max_period_s : float
        Fastest and slowest plausible rep (seconds per rep). A candidate sooner than
        ``min_period_s`` after the previous rep is refused ("cadence out of range").
    lowpass_hz : float
        Upper edge of the movement band. About 1.5x the fastest cadence: it keeps the
        fundamental of every plausible rep and drops the harmonics that make one rep look
        like two (burpees are multi-phase, so theirs is lower).
    lowpass_order : int
        Butterworth order of that edge. 2 keeps the delay short; jumping jacks, whose band
        reaches 2 Hz, take 3 so that hand shaking just above it (3-4 Hz) does not pass as
        an arm-sized swing (simulated: 87 false reps in 80 min of shaking -> 0).
    min_swing_g : float
        Smallest peak-to-peak swing of a real rep on the movement axis. Tilting a segment by
        ~10 degrees already changes the gravity component by ~0.17 g, so the minimums sit
        well below what any full rep produces and above sensor noise and fidgeting.
    max_swing_g : float
        Largest plausible swing after the movement band filter; beyond it the motion is a
        shake or a blow, not this exercise.
    hold : bool
        True for static holds (counted in seconds, not reps).
    max_step : float
        Largest variation of |a| at walking step rates (1.2-2.8 Hz), relative to the
        movement itself, that a rep may carry. Walking and stairs put heel strikes and
        bounce there; push-ups, squats and sit-ups are slow, smooth whole-body movements
        whose own harmonics leave little there (a third of the movement or less). Faster
        exercises (``generic`` allows 0.7 s reps, whose fundamental is in that band) need
        more room, and so do jumping jacks: their landings add to |a| there, but the arm
        swing they are counted from still dominates (walking or climbing with the sensor
        on a leg does not). Burpees, with no dominant swing, have no limit. A rep with no
        impact around it (little above 3 Hz, |a| under 1.6 g: `_reps.IMPACT_FREE_SHAKE`)
        is exempt: steps always land, while a fast push-up or squat (1.2-1.5 s per rep)
        puts its own second harmonic in the step band.
    step_pace_s : float
        The step limit applies only while the movement repeats at least this fast (s per
        cycle: its last half cycle doubled, or the autocorrelation's period). A walking or
        stair stride takes 0.8-1.7 s (real walking recordings: 0.9-1.4 s), so a movement
        slower than 2 s on both counts is not being walked, whatever |a| does at step
        rates: a jump inside a slow rep (burpees counted as ``generic``: within ±1 49 ->
        54 %, MAE 2.6 -> 1.7). Only ``generic`` uses it: for the named exercises the step
        limit also keeps burpees from passing as squats and sit-ups (real burpees as
        squats 0.01 -> 0.16 of their reps without it). inf: always applies.
    max_shake : float
        Largest acceleration above walking step rates (3 Hz and up, all three axes),
        relative to the movement, that a rep may carry. Shaking a device by hand (3-8 Hz)
        puts more there than the movement itself; real reps of smooth exercises stay near
        or below half of it, jumping exercises add the impact of each landing.
    max_bounce : float
        Largest correlation (0-1) between the movement signal and |a| that a rep may show.
        A limb turning against gravity leaves |a| nearly unchanged, while steps, stairs
        and hops move the body up and down along gravity, so the movement *is* |a|.
        Jumping jacks are counted from the arm swing, whose landings come twice per rep,
        out of step with it; 1.0 disables the check (whole-body exercises rise and fall).
    multi_phase : bool
        A rep has several bumps of similar size (a burpee goes down, kicks back, returns
        and jumps), so a chain of bumps can keep a steady pace at half the rep's period. A
        set then starts only once the autocorrelation, which sees whole reps, gives the
        period the chain must keep.
    one_swing : bool
        A rep is one swing out and back at the set's pace (push-ups, squats, sit-ups,
        jumping jacks), so once a set has kept its pace, a rep-sized turn that splits the
        time between two reps in two even beats is a rep at twice the pace, not a bump
        inside one (`_reps.SetTracker._faster`). Not for burpees (``multi_phase``) and
        not for ``generic``: an exercise we do not know may swing twice per rep (the two
        sides of a twist, a pendulum's back swing).
    short_sets : bool
        Whether two reps in rhythm that no third follows still count (a set of two). Sets
        of two happen with slow, hard exercises (the last burpees or sit-ups of a series);
        jumping jacks are done in tens, and a lone pair at their pace is far more often a
        burst of shaking or two hops.
    jump_g : float
        The exercise includes a jump: the magnitude |a| must have peaked at least this high
        (g) around each rep (a landing decelerates the body at well over 1 g on top of
        gravity); 0 disables the check.
    flight_g : float
        The jump leaves the ground: in flight the sensor falls freely and |a| drops towards
        0 g, which no squat or sit-up does (real ones keep 0.4 g or more; real burpees
        dip to 0.24 g or less, sampled at 10 Hz). |a| must have dipped to this (g) within
        the last ~8 s: at each rep inside a set, and at the end of the reps that start
        one (the first rep's jump may come after its counted turn), unless a landing of
        2 g or more (`_reps.HARD_LANDING_G`) proves the jump. 0 disables the check.
    """

    name: str
    min_period_s: float
    max_period_s: float
    lowpass_hz: float
    min_swing_g: float
    max_swing_g: float
    hold: bool = False
    max_step: float = SMOOTH_STEP
    step_pace_s: float = math.inf
    jump_g: float = 0.0
    max_shake: float = SMOOTH_SHAKE
    max_bounce: float = 1.0
    flight_g: float = 0.0
    multi_phase: bool = False
    one_swing: bool = True
    short_sets: bool = True
    lowpass_order: int = 2


PROFILES: dict[str, ExerciseProfile] = {
    p.name: p
    for p in (
        ExerciseProfile("pushup", 0.6, 10.0, 1.5, 0.08, BODY_MAX_SWING),
        ExerciseProfile("squat", 1.0, 10.0, 1.2, 0.10, BODY_MAX_SWING),
        ExerciseProfile("situp", 1.0, 10.0, 1.2, 0.10, 6.0),
        ExerciseProfile("jumping_jack", 0.5, 4.0, 2.0, 1.20, 16.0, max_step=RHYTHMIC_STEP,
                        jump_g=LANDING_G, max_shake=JUMPING_JACK_SHAKE, max_bounce=0.95,
                        short_sets=False, lowpass_order=3),
        ExerciseProfile("burpee", 2.0, 15.0, 0.8, 0.50, 16.0, max_step=math.inf,
                        jump_g=1.2, flight_g=0.5, multi_phase=True, one_swing=False),
        ExerciseProfile("plank", 0.0, 0.0, 1.0, 0.0, 0.0, hold=True),
        ExerciseProfile("generic", 0.7, 12.0, 1.5, 0.08, 8.0, max_step=RHYTHMIC_STEP,
                        max_shake=LANDING_SHAKE, step_pace_s=2.0, one_swing=False),
    )
}
EXERCISES: tuple[str, ...] = tuple(PROFILES)
HOLD_EXERCISES: tuple[str, ...] = tuple(n for n, p in PROFILES.items() if p.hold)


def profile_name(exercise: str) -> str | None:
    """The profile for an exercise as people write it, or None when there is none.

    The names come from the shared vocabulary (`repfit.exercises`): case, spaces, hyphens,
    underscores, accents and a plural are ignored, so ``"Push-ups"``, ``"sit_up"`` and
    ``"jumping jacks"`` all find their profile; ``"press-up"``, ``"pompes"`` and
    ``"star jump"`` are the same exercises under other names.
    """
    return canonical(exercise)


def profile_for(exercise: str) -> ExerciseProfile:
    """The profile of ``exercise`` (any spelling `profile_name` knows); `ValueError`
    listing the known names otherwise."""
    name = profile_name(exercise)
    if name is None:
        raise ValueError(f"unknown exercise {exercise!r}; known: {', '.join(EXERCISES)} "
                         "(use 'generic' for any other rhythmic exercise)")
    return PROFILES[name]
