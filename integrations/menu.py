"""The exercise menu: friendly names mapped onto what the rep detector knows.

A menu entry is either a *count* exercise (a number of reps at a rhythm in seconds per rep)
or a *duration* exercise (a hold measured in training iterations, "on the same time axis as
the model", or in seconds for people who prefer that). The built-in default menu is used when
the config has no ``[training.menu.*]`` tables::

    [training.menu.push-ups]
    detector = "pushup"        # an exercise of the vocabulary (repfit.exercises), any spelling
    type = "count"
    reps = 20
    seconds_per_rep = 2.5

    [training.menu.plank]
    detector = "plank"
    type = "duration"
    iterations = 500           # or: seconds = 60
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from repfit import exercises
from repfit.config import ConfigError

__all__ = [
    "DEFAULT_MENU",
    "DETECTOR_EXERCISES",
    "Exercise",
    "Menu",
    "menu_from_tables",
]

#: Exercise names the host's rep detector understands (the vocabulary's canonical names).
DETECTOR_EXERCISES: Final = exercises.EXERCISES

ExerciseType = Literal["count", "duration"]


@dataclass(frozen=True)
class Exercise:
    """One menu entry.

    Attributes
    ----------
    name : str
        What the user calls it ("push-ups"); used in announcements and config.
    detector : str
        The detector's exercise name (one of `DETECTOR_EXERCISES`).
    type : {"count", "duration"}
        Count reps, or hold for a duration.
    target : float
        Reps (count), iterations or seconds (duration, see ``unit``).
    unit : {"reps", "iterations", "seconds"}
        Unit of ``target``.
    seconds_per_rep : float or None
        Rhythm of a count exercise; the metronome ticks at this pace.
    """

    name: str
    detector: str
    type: ExerciseType
    target: float
    unit: Literal["reps", "iterations", "seconds"]
    seconds_per_rep: float | None = None

    def __post_init__(self) -> None:
        if self.detector not in DETECTOR_EXERCISES:
            raise ValueError(f"exercise {self.name!r}: detector must be one of "
                             f"{', '.join(DETECTOR_EXERCISES)}, got {self.detector!r}")
        if self.type == "count" and self.unit != "reps":
            raise ValueError(f"exercise {self.name!r}: a count exercise is in reps")
        if self.type == "duration" and self.unit not in ("iterations", "seconds"):
            raise ValueError(f"exercise {self.name!r}: a hold is in iterations or seconds")
        if not self.target > 0:
            raise ValueError(f"exercise {self.name!r}: target must be positive, "
                             f"got {self.target!r}")

    def with_target(self, target: float) -> Exercise:
        """The same exercise with another size (penalties, rewards, user overrides)."""
        return Exercise(self.name, self.detector, self.type, target, self.unit,
                        self.seconds_per_rep)

    def renamed(self, name: str) -> Exercise:
        """The same exercise under the user's own name for it."""
        return dataclasses.replace(self, name=name)

    def in_seconds(self, seconds_per_iteration: float | None) -> Exercise:
        """A hold converted to seconds (when iterations can no longer be counted)."""
        if self.unit != "iterations":
            return self
        spi = seconds_per_iteration if seconds_per_iteration else 0.1
        return Exercise(self.name, self.detector, self.type, max(1.0, round(self.target * spi)),
                        "seconds", None)

    def describe(self) -> str:
        """Human words for announcements, e.g. ``"push-ups — 20 times"``."""
        n = int(self.target) if float(self.target).is_integer() else self.target
        if self.unit == "reps":
            return f"{self.name} — {n} times"
        return f"{n} {self.unit} — {self.name}"


@dataclass(frozen=True)
class Menu:
    """An ordered set of exercises, looked up by friendly or detector name."""

    exercises: tuple[Exercise, ...]

    def __post_init__(self) -> None:
        if not self.exercises:
            raise ValueError("the exercise menu is empty")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.exercises)

    def get(self, name: str) -> Exercise:
        """The entry called ``name``: its menu name first, then any name of the same exercise
        in the vocabulary ("pompes" finds the push-ups entry, and keeps the word "pompes" as
        its name, so the user reads their own word in every line).

        Raises
        ------
        KeyError
            Naming the unknown exercise and listing the menu.
        """
        wanted = name.strip().lower()
        for e in self.exercises:
            if e.name.lower() == wanted:
                return e
        detector = exercises.canonical(name)
        for e in self.exercises:
            if detector is not None and e.detector == detector:
                own = name.strip()
                return e if own.lower() == e.detector else e.renamed(own)
        raise KeyError(f"unknown exercise {name!r}; the menu has: {', '.join(self.names)}")

    def pick(self, name: str, rng: random.Random) -> Exercise:
        """``name`` from the menu, or a random entry for ``"random"``."""
        if name.strip().lower() == "random":
            return rng.choice(self.exercises)
        return self.get(name)


#: Paces people keep: a jumping jack a second (at 1.5 s the jumps go soft and the arm swing
#: splits in two; simulated sets at the wrist then counted 7-14 of 10, at 1.0 s 9-11).
DEFAULT_MENU: Final = Menu((
    Exercise("push-ups", "pushup", "count", 20, "reps", 2.5),
    Exercise("squats", "squat", "count", 25, "reps", 2.5),
    Exercise("sit-ups", "situp", "count", 20, "reps", 3.0),
    Exercise("jumping jacks", "jumping_jack", "count", 30, "reps", 1.0),
    Exercise("plank", "plank", "duration", 500, "iterations", None),
))


def menu_from_tables(tables: Mapping[str, Any], source: str = "") -> Menu:
    """Build the menu from ``[training.menu.<name>]`` tables, or return the default menu.

    Raises
    ------
    ConfigError
        Naming the dotted key (``training.menu.<name>.<field>``) and what was expected.
    """
    training = tables.get("training", {})
    if not isinstance(training, Mapping):
        raise ConfigError("training", training, "a table [training]", source)
    raw = training.get("menu")
    if raw is None:
        return DEFAULT_MENU
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("training.menu", raw, "tables [training.menu.<name>]", source)
    return Menu(tuple(_exercise(name, entry, source) for name, entry in raw.items()))


def _exercise(name: str, entry: Any, source: str) -> Exercise:
    key = f"training.menu.{name}"
    if not isinstance(entry, Mapping):
        raise ConfigError(key, entry, "a table with detector, type and a size", source)
    known = {"detector", "type", "reps", "seconds_per_rep", "iterations", "seconds"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", entry[unknown[0]],
                          "one of the keys " + ", ".join(sorted(known)), source)
    detector = exercises.canonical(entry.get("detector", name))
    if detector is None:
        raise ConfigError(f"{key}.detector", entry.get("detector", name),
                          "an exercise: one of " + ", ".join(DETECTOR_EXERCISES)
                          + " or another name for one (e.g. push-ups, pompes)", source)
    kind = entry.get("type", "duration" if exercises.is_hold(detector) else "count")
    if kind == "count":
        reps = _positive(entry.get("reps", 20), f"{key}.reps", source)
        spr = _positive(entry.get("seconds_per_rep", 2.5), f"{key}.seconds_per_rep", source)
        return Exercise(name, detector, "count", reps, "reps", spr)
    if kind == "duration":
        if "iterations" in entry and "seconds" in entry:
            raise ConfigError(f"{key}.seconds", entry["seconds"],
                              "either iterations or seconds, not both", source)
        if "seconds" in entry:
            return Exercise(name, detector, "duration",
                            _positive(entry["seconds"], f"{key}.seconds", source), "seconds")
        return Exercise(name, detector, "duration",
                        _positive(entry.get("iterations", 500), f"{key}.iterations", source),
                        "iterations")
    raise ConfigError(f"{key}.type", kind, '"count" or "duration"', source)


def _positive(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(key, value, "a positive number", source)
    return float(value)
