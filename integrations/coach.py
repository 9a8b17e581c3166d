"""The coach: training progress in, assignments and cues out. Pure: no clock, no I/O.

Every framework adapter turns its callback arguments into `TrainingEvent` values and feeds
them to one `Coach` per training run; the coach returns the `repfit.wire` messages to
publish. Time arrives inside the events (a monotonic ``elapsed_s``) and the wall clock and id
source are injected, so tests drive it with made-up numbers.

What it decides
---------------
* **Assignment and announcement** at the first iteration ("push-ups — 20 times — start").
  A hold measured in iterations is sent once the iteration speed is known (after the
  calibration iterations, or at the last iteration if training is shorter), so it carries an
  ``est_duration_s`` the host can verify against.
* **Start** once the announcement has had time to play (``announce_s``) and the calibration
  iterations are done — the workout never begins over the announcement, and training is never
  paused for it.
* **Metronome.** Holds in iterations: a tick every ``tick_every`` iterations, a distinct one
  every ``major_every``, ``finish`` at the target, nothing after. Count exercises: seconds per
  iteration are measured over the calibration iterations and then followed with an
  exponential moving average, so iterations-per-rep adapts when iterations speed up or slow
  down; one tick per rep, distinct every 10th, ``finish`` at the last. If one iteration is so
  slow that a whole rep's time has passed, the tick comes at that iteration anyway.
* **Comparison with the previous run** of the same experiment at every ``checkpoint_every``
  iterations, honouring higher-is-better: "better" or "worse" cues. At the end of the run a
  worse score gives a penalty assignment and a better one a reward (each configurable).
* **Ctrl+C** gives a penalty assignment (`Coach.interrupted`).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from repfit import wire
from repfit.integrations.menu import DEFAULT_MENU, Exercise, Menu

__all__ = [
    "Coach",
    "CoachSettings",
    "Comparison",
    "Rule",
    "Score",
    "TrainingEvent",
    "guess_higher_is_better",
]

_TRAIN_SET_NAMES = frozenset({"training", "train", "train_0"})
_HIGHER_HINTS = ("auc", "acc", "precision", "recall", "f1", "ndcg", "map", "r2", "score",
                 "iou", "dice")


class Score(NamedTuple):
    """One evaluation result: ``(dataset, metric, value, higher_is_better)``.

    A named tuple rather than a dataclass: adapters build one per iteration, and tuple
    construction is several times cheaper than a frozen dataclass's ``__init__``.
    """

    dataset: str
    metric: str
    value: float
    higher_is_better: bool


class TrainingEvent(NamedTuple):
    """What an adapter reports after each iteration (or step); a named tuple for speed.

    Attributes
    ----------
    iteration : int
        0-based index of the iteration just finished, on the framework's own axis.
    begin : int
        The run's first iteration (non-zero when training continues an earlier model).
    end : int or None
        One past the last planned iteration; ``None`` when unknown.
    elapsed_s : float
        Monotonic seconds, any origin; only differences are used.
    scores : tuple of Score
        Evaluation results available at this iteration (may be empty).
    """

    iteration: int
    begin: int
    end: int | None
    elapsed_s: float
    scores: tuple[Score, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A penalty or reward: whether it is on, which exercise, how much.

    ``exercise`` is a menu name, ``"random"`` or ``"same"`` (the run's own exercise).
    ``size`` is reps for count exercises and seconds for holds (training is over, so holds
    can no longer be measured in iterations).
    """

    enabled: bool = True
    exercise: str = "same"
    size: float = 10.0


@dataclass(frozen=True)
class CoachSettings:
    """Everything configurable about the coach (``[training]`` in the config file)."""

    exercise: str = "random"
    #: Overrides the menu's size: reps for count exercises.
    reps: float | None = None
    #: Overrides the menu's size for holds: iterations or seconds.
    iterations: float | None = None
    seconds: float | None = None
    seed: int | None = None
    tick_every: int = 10
    major_every: int = 100
    major_rep_every: int = 10
    calibration_iterations: int = 10
    announce_s: float = 3.0
    #: Shortest hold the host will ask for: 500 iterations of a fast model can be one second.
    min_hold_s: float = 20.0
    checkpoint_every: int = 100
    deadline_s: float = 900.0
    metric: str | None = None
    dataset: str | None = None
    higher_is_better: bool | None = None
    penalty: Rule = field(default_factory=lambda: Rule(True, "same", 10.0))
    reward: Rule = field(default_factory=lambda: Rule(False, "same", 5.0))
    interrupt: Rule = field(default_factory=lambda: Rule(True, "plank", 100.0))
    #: This run's own daily caps, sent with every assignment: the host applies them on top of
    #: the user's where they are stricter (``{"reps_per_day": 50}``; see `repfit.host.caps`).
    caps: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.caps is not None:
            from repfit.host.caps import run_caps

            object.__setattr__(self, "caps", run_caps(self.caps))
        for name in ("tick_every", "major_every", "major_rep_every", "calibration_iterations",
                     "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("announce_s", "min_hold_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not (math.isfinite(self.deadline_s)
                and wire.DEADLINE_RANGE_S[0] <= self.deadline_s <= wire.DEADLINE_RANGE_S[1]):
            raise ValueError(f"deadline_s must be {wire.DEADLINE_RANGE_S[0]:g}.."
                             f"{wire.DEADLINE_RANGE_S[1]:g} s, got {self.deadline_s!r}")
        for name in ("reps", "iterations", "seconds"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive, got {value!r}")
            high = wire.TARGET_RANGE[name][1]  # what a host accepts (docs/protocol.md)
            if value is not None and value > high:
                raise ValueError(f"{name} must be at most {high:g}, got {value!r}")


@dataclass(frozen=True)
class Comparison:
    """This run against the previous one at one iteration count."""

    iterations: int
    current: float
    previous: float
    higher_is_better: bool

    @property
    def better(self) -> bool:
        if self.higher_is_better:
            return self.current > self.previous
        return self.current < self.previous

    @property
    def worse(self) -> bool:
        return self.current != self.previous and not self.better


def guess_higher_is_better(metric: str) -> bool:
    """For frameworks that do not say: accuracy-like names are higher-is-better."""
    name = metric.lower()
    if "loss" in name or "error" in name or name.endswith(("mse", "mae", "rmse")):
        return False
    return any(h in name for h in _HIGHER_HINTS)


class Coach:
    """Decisions for one training run (see the module docstring).

    Parameters
    ----------
    settings : CoachSettings
    menu : Menu
    run_id, experiment : str
        Provenance copied into assignments.
    now : callable
        Wall clock (seconds since the epoch) for ``issued_at`` / ``at``.
    new_id : callable
        Source of assignment ids.
    rng : random.Random, optional
        For ``"random"`` picks; seeded from ``settings.seed`` by default.

    Raises
    ------
    KeyError
        When ``settings.exercise`` (or a rule's exercise) is not on the menu.
    """

    def __init__(
        self,
        settings: CoachSettings | None = None,
        menu: Menu = DEFAULT_MENU,
        *,
        run_id: str = "",
        experiment: str = "",
        now: Callable[[], float] = lambda: 0.0,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings = settings or CoachSettings()
        self.menu = menu
        self.run_id = run_id
        self.experiment = experiment
        self._now = now
        self._new_id = new_id
        self._rng = rng or random.Random(settings.seed)
        self.exercise = self._sized(menu.pick(settings.exercise, self._rng))
        for rule in (settings.penalty, settings.reward, settings.interrupt):
            if rule.enabled and rule.exercise not in ("same", "random"):
                menu.get(rule.exercise)  # fail now, not at the end of a long training
        self.assignment_id = new_id()
        #: Scores of the compared metric, keyed by iterations done (1-based). `record` is the
        #: way in; an adapter whose every microsecond counts (LightGBM's) may store finite
        #: values here itself once `metric` is chosen, which is all `record` does.
        self.scores: dict[int, float] = {}
        self.metric: tuple[str, str] | None = None
        self.higher_is_better: bool | None = settings.higher_is_better
        self.previous: Mapping[int, float] | None = None
        self.comparisons: list[Comparison] = []
        self.warnings: list[str] = []
        self.finished = False
        self._metric_given_up = False
        self._nan_warned = False
        # run state
        self._started = False
        self._first_iteration = 0
        self._announced_at: float | None = None
        self._calib_n = 0
        self._spi: float | None = None  # seconds per iteration estimate
        self._assignment_sent = False
        self._workout_started = False
        self._start_iteration = 0
        self._ticks = 0
        self._next_tick_iteration = 0
        self._last_tick_elapsed = 0.0
        self._last_tick_iteration = 0
        #: Adapters may skip `step` below both of these (see `step`).
        self.wake_iteration: float = 0
        self.wake_elapsed: float = 0.0
        self._workout_done = False
        self._last_event: TrainingEvent | None = None
        self._next_checkpoint = settings.checkpoint_every

    # ------------------------------------------------------------------ public API

    @property
    def seconds_per_iteration(self) -> float | None:
        """Current estimate (``None`` before the first two iterations)."""
        return self._spi

    @property
    def iterations_per_rep(self) -> int | None:
        """Current metronome spacing for count exercises."""
        spr = self.exercise.seconds_per_rep
        if spr is None or self._spi is None:
            return None
        return max(1, round(spr / self._spi)) if self._spi > 0 else 1

    def set_previous(self, scores: Mapping[int, float]) -> None:
        """The previous run's scores (iterations done -> value), when history has loaded."""
        self.previous = dict(scores)

    def step(self, event: TrainingEvent) -> list[wire.Message]:
        """Messages to publish after one iteration.

        Adapters may skip calling this for an iteration below `wake_iteration` whose
        ``elapsed_s`` is below `wake_elapsed` — nothing can be due then — after storing its
        score with `record`. That keeps the per-iteration cost to a few comparisons.
        """
        out: list[wire.Message] = []
        if not self._started:
            self._begin(event, out)
        self._last_event = event
        if event.scores:
            self._record(event.iteration, event.scores, out)
        if not self._workout_done:
            self._metronome(event, out)
        self._update_wake(event)
        return out

    def record(self, iteration: int, value: float) -> bool:
        """Hot path: store the compared metric's finite ``value`` for ``iteration``.

        Returns False (storing nothing) for a non-finite value or before the metric is
        chosen; the caller then passes the scores through `step`, which warns.
        """
        if self.metric is None or not math.isfinite(value):
            return False
        self.scores[iteration + 1] = value
        return True

    def observe(self, iteration: int, scores: tuple[Score, ...]) -> list[wire.Message]:
        """Evaluation results that arrive apart from an iteration (Keras epoch end, a
        validation loop, a Hugging Face evaluation): recorded and compared, no metronome."""
        out: list[wire.Message] = []
        if scores and not self.finished:
            self._record(iteration, scores, out)
        return out

    def finish(self) -> list[wire.Message]:
        """End of the run: send a pending hold, compare the final score; penalty or reward."""
        if self.finished or not self._started:
            return []
        self.finished = True
        if self.metric is None:
            self.check_metric_seen()
        out: list[wire.Message] = []
        if not self._assignment_sent:
            out.append(self._assignment())
        final = self._final_comparison()
        if final is None:
            return out
        at = self._now()
        reason: Literal["penalty", "reward"]
        if final.worse:
            out.append(wire.Cue("worse", self.assignment_id, None, self._compare_text(final), at))
            rule, reason = self.settings.penalty, "penalty"
        elif final.better:
            out.append(wire.Cue("better", self.assignment_id, None, self._compare_text(final),
                                at))
            rule, reason = self.settings.reward, "reward"
        else:
            return out
        if rule.enabled:
            extra = self._rule_assignment(rule, reason,
                                          f"{'worse' if final.worse else 'better'} than last "
                                          "time")
            out.append(extra)
            out.append(wire.Cue(reason, extra.id, None, extra.text, at))
        return out

    def interrupted(self) -> list[wire.Message]:
        """Ctrl+C: a hold not yet sent (the workout stands), then the penalty and its cue."""
        out: list[wire.Message] = []
        if self._started and not self.finished and not self._assignment_sent:
            out.append(self._assignment())
        self.finished = True
        rule = self.settings.interrupt
        if not rule.enabled:
            return out
        penalty = self._rule_assignment(rule, "penalty", "keyboard interrupt")
        return [*out, penalty, wire.Cue("penalty", penalty.id, None, penalty.text, self._now())]

    # ------------------------------------------------------------------ phases

    def _sized(self, exercise: Exercise) -> Exercise:
        s = self.settings
        if exercise.unit == "reps" and s.reps is not None:
            return exercise.with_target(s.reps)
        if exercise.type == "duration" and s.seconds is not None:
            return Exercise(exercise.name, exercise.detector, "duration", s.seconds, "seconds")
        if exercise.type == "duration" and s.iterations is not None:
            return Exercise(exercise.name, exercise.detector, "duration", s.iterations,
                            "iterations")
        return exercise

    def _begin(self, event: TrainingEvent, out: list[wire.Message]) -> None:
        self._started = True
        self._first_iteration = event.iteration
        self._announced_at = event.elapsed_s
        text = f"{self.exercise.describe()} — start"
        at = self._now()
        if self.exercise.unit != "iterations":
            out.append(self._assignment())
        out.append(wire.Cue("announce", self.assignment_id, None, text, at))

    def _calibrate(self, event: TrainingEvent) -> None:
        # Seconds per iteration over the calibration iterations, as one average.
        n = event.iteration - self._first_iteration
        if n >= 1 and self._announced_at is not None:
            spi = (event.elapsed_s - self._announced_at) / n
            if math.isfinite(spi) and spi >= 0:
                self._spi = spi
                self._calib_n = n

    def _adapt(self, iterations: int, seconds: float) -> None:
        # After each rep: blend in the speed measured over that rep, so iterations-per-rep
        # follows iterations that speed up or slow down (early layers, validation passes).
        if iterations <= 0 or not (math.isfinite(seconds) and seconds >= 0):
            return
        recent = seconds / iterations
        self._spi = recent if self._spi is None else 0.5 * self._spi + 0.5 * recent

    def _update_wake(self, event: TrainingEvent) -> None:
        s = self.settings
        wake_it: float = math.inf
        wake_t = math.inf
        if self.metric is not None and not self._metric_given_up:
            wake_it = self._next_checkpoint - 1
        if not self._workout_done:
            if not self._workout_started:
                if self._calib_n < s.calibration_iterations:
                    wake_it = min(wake_it, self._first_iteration + s.calibration_iterations)
                else:
                    assert self._announced_at is not None
                    wake_t = self._announced_at + s.announce_s
                if not self._assignment_sent and event.end is not None:
                    wake_it = min(wake_it, event.end - 1)
            elif self.exercise.unit == "reps":
                wake_it = min(wake_it, self._next_tick_iteration)
                wake_t = self._last_tick_elapsed + (self.exercise.seconds_per_rep or 1.0)
            elif self.exercise.unit == "iterations":
                done = event.iteration - self._start_iteration
                nxt = (done // s.tick_every + 1) * s.tick_every
                finish = math.ceil(self.exercise.target)
                wake_it = min(wake_it, self._start_iteration + min(nxt, finish))
            else:
                wake_t = self._last_tick_elapsed + self.exercise.target
        self.wake_iteration = wake_it
        self.wake_elapsed = wake_t

    def _metronome(self, event: TrainingEvent, out: list[wire.Message]) -> None:
        s = self.settings
        it = event.iteration
        last_planned = event.end is not None and it >= event.end - 1
        if self._calib_n < s.calibration_iterations:
            self._calibrate(event)
        calibrated = self._calib_n >= s.calibration_iterations or last_planned
        if not self._assignment_sent and (calibrated or (self._calib_n >= 1 and last_planned)):
            out.append(self._assignment())
        if not self._workout_started:
            assert self._announced_at is not None
            if not (calibrated and event.elapsed_s - self._announced_at >= s.announce_s):
                return
            self._workout_started = True
            self._start_iteration = it
            self._last_tick_iteration = it
            self._last_tick_elapsed = event.elapsed_s
            out.append(wire.Cue("start", self.assignment_id, 0, "start", self._now()))
            if self.exercise.unit == "reps":
                self._next_tick_iteration = it + (self.iterations_per_rep or 1)
            return
        ex = self.exercise
        if ex.unit == "iterations":
            done = it - self._start_iteration
            if done >= ex.target:
                self._finish_workout(out)
            elif done % s.tick_every == 0:
                kind: wire.CueKind = "tick_major" if done % s.major_every == 0 else "tick"
                out.append(wire.Cue(kind, self.assignment_id, done // s.tick_every, None,
                                    self._now()))
        elif ex.unit == "reps":
            spr = ex.seconds_per_rep or 1.0
            if it >= self._next_tick_iteration or event.elapsed_s - self._last_tick_elapsed >= spr:
                self._ticks += 1
                self._adapt(it - self._last_tick_iteration,
                            event.elapsed_s - self._last_tick_elapsed)
                self._last_tick_iteration = it
                self._last_tick_elapsed = event.elapsed_s
                self._next_tick_iteration = it + (self.iterations_per_rep or 1)
                if self._ticks >= ex.target:
                    self._finish_workout(out)
                else:
                    tick: wire.CueKind = ("tick_major" if self._ticks % s.major_rep_every == 0
                                          else "tick")
                    out.append(wire.Cue(tick, self.assignment_id, self._ticks, None,
                                        self._now()))
        else:  # a hold in seconds, on the training process's clock
            held = event.elapsed_s - self._last_tick_elapsed
            if held >= ex.target:
                self._finish_workout(out)

    def _finish_workout(self, out: list[wire.Message]) -> None:
        self._workout_done = True
        out.append(wire.Cue("finish", self.assignment_id, None, "finish", self._now()))

    def _assignment(self) -> wire.Assignment:
        self._assignment_sent = True
        ex = self.exercise
        est: float | None
        if ex.unit == "iterations":
            # The training's time axis, but never a token hold when iterations are very fast.
            # Never longer than the hold a host accepts (wire.HOLD_RANGE_S).
            est = min(max(ex.target * (self._spi or 0.1), self.settings.min_hold_s),
                      wire.HOLD_RANGE_S[1])
        elif ex.unit == "reps":
            est = ex.target * (ex.seconds_per_rep or 2.5)
        else:
            est = ex.target
        return wire.Assignment(
            id=self.assignment_id, exercise=ex.detector, target=float(ex.target), unit=ex.unit,
            reason="assigned", issued_at=self._now(), deadline_s=self.settings.deadline_s,
            est_duration_s=est, seconds_per_rep=ex.seconds_per_rep, run_id=self.run_id or None,
            experiment=self.experiment or None, text=f"{ex.describe()} — start",
            label=ex.name, caps=self.settings.caps,
        )

    def _rule_assignment(self, rule: Rule, reason: Literal["penalty", "reward"],
                         why: str) -> wire.Assignment:
        if rule.exercise == "same":
            base = self.exercise
        else:
            base = self.menu.pick(rule.exercise, self._rng)
        ex = base.with_target(rule.size)
        if ex.type == "duration" and ex.unit == "iterations":
            ex = Exercise(ex.name, ex.detector, "duration", rule.size, "seconds")
        text = f"{why} — {ex.describe()} — added"
        return wire.Assignment(
            id=self._new_id(), exercise=ex.detector, target=float(ex.target), unit=ex.unit,
            reason=reason, issued_at=self._now(), deadline_s=self.settings.deadline_s,
            est_duration_s=ex.target * (ex.seconds_per_rep or 1.0),
            seconds_per_rep=ex.seconds_per_rep, run_id=self.run_id or None,
            experiment=self.experiment or None, text=text, label=ex.name,
            caps=self.settings.caps,
        )

    # ------------------------------------------------------------------ history

    def _choose_metric(self, scores: tuple[Score, ...]) -> Score | None:
        s = self.settings
        candidates = [x for x in scores
                      if (s.dataset is None or x.dataset == s.dataset)
                      and (s.metric is None or x.metric == s.metric)]
        if not candidates:
            return None
        if s.dataset is None:
            held_out = [x for x in candidates if x.dataset not in _TRAIN_SET_NAMES]
            if held_out:
                last = held_out[-1].dataset  # the last evaluation set, like early stopping
                candidates = [x for x in held_out if x.dataset == last]
        return candidates[0]

    def _record(self, iteration: int, scores: tuple[Score, ...],
                out: list[wire.Message]) -> None:
        if self._metric_given_up:
            return
        if self.metric is None:
            chosen = self._choose_metric(scores)
            if chosen is None:
                if self.settings.metric or self.settings.dataset:
                    self._give_up(
                        f"metric {self.settings.metric or '*'!r} on dataset "
                        f"{self.settings.dataset or '*'!r} is not among the evaluation results ("
                        + ", ".join(f"{x.dataset}:{x.metric}" for x in scores)
                        + "); comparisons with earlier runs are off")
                return
            self.metric = (chosen.dataset, chosen.metric)
            if self.higher_is_better is None:
                self.higher_is_better = chosen.higher_is_better
        value = None
        for x in scores:
            if (x.dataset, x.metric) == self.metric:
                value = x.value
                break
        n = iteration + 1
        if value is None:
            return
        if not math.isfinite(value):
            if not self._nan_warned:
                self._nan_warned = True
                self.warnings.append(f"{self.metric[0]}:{self.metric[1]} is {value} at "
                                     f"iteration {n}; such scores are skipped")
            return
        self.scores[n] = value
        # A checkpoint is the first scored iteration at or past each multiple of
        # checkpoint_every (every iteration is scored in LightGBM; epochs are in Keras).
        if n >= self._next_checkpoint:
            every = self.settings.checkpoint_every
            self._next_checkpoint = (n // every + 1) * every
            cmp = self._compare_at(n)
            if cmp is not None:
                self.comparisons.append(cmp)
                if cmp.better or cmp.worse:
                    verdict: wire.CueKind = "better" if cmp.better else "worse"
                    out.append(wire.Cue(verdict, self.assignment_id, n, self._compare_text(cmp),
                                        self._now()))

    def check_metric_seen(self) -> None:
        """Warn (once) if no evaluation metric has appeared; done at the end of the run."""
        if self.metric is None and not self._metric_given_up:
            self._give_up("no evaluation metric has appeared (add a validation set or name "
                          "one with metric=...); comparisons with earlier runs are off")

    def _give_up(self, why: str) -> None:
        self._metric_given_up = True
        self.warnings.append(why)

    def _compare_at(self, n: int) -> Comparison | None:
        if self.previous is None or self.higher_is_better is None:
            return None
        prev = self.previous.get(n)
        cur = self.scores.get(n)
        if prev is None or cur is None or not math.isfinite(prev):
            return None
        return Comparison(n, cur, prev, self.higher_is_better)

    def _final_comparison(self) -> Comparison | None:
        if not self.scores or not self.previous:
            return None
        common = set(self.scores).intersection(self.previous)
        if not common:
            return None
        return self._compare_at(max(common))

    @staticmethod
    def _compare_text(c: Comparison) -> str:
        word = "better" if c.better else "worse"
        return (f"{word} than last time at iteration {c.iterations}: {c.current:.6g} vs "
                f"{c.previous:.6g}")
