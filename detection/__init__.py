"""Streaming rep detection: arrays in, rep events out (pure; no I/O, no clock).

- `RepCounter` -- count reps (or hold seconds) of one exercise from accelerometer batches;
  `GRID_HZ` is the uniform rate it resamples every stream to, `movement_band` the filter
  its movement signal passes, and a turn of that signal is certain once the signal has
  come back `HYSTERESIS` / 2 of the swing.
- `RepEvent`, `Rejection`, `CounterUpdate` -- what a batch produced.
- `POSITIONS`, `sensor_position`, `position_refusal`, `countable_positions` -- where the
  sensor is worn, and the exercises the physics cannot count from there.
- `EXERCISES`, `HOLD_EXERCISES` -- the exercise profiles; `PROFILES` holds their parameters;
  `profile_name` finds the profile for a name as people write it ("Push-ups", "sit-up").
- `repfit.detection.simulate` -- synthetic recordings of exercises and everyday motion.
- `repfit.detection.reference` -- the plain offline peak counter used as a baseline.
"""

from typing import TYPE_CHECKING, Any

from ._events import CounterUpdate, Rejection, RepEvent
from ._positions import POSITIONS, countable_positions, position_refusal, sensor_position
from ._profiles import EXERCISES, HOLD_EXERCISES, PROFILES, ExerciseProfile, profile_name

__all__ = [
    "EXERCISES",
    "GRID_HZ",
    "HOLD_EXERCISES",
    "HYSTERESIS",
    "POSITIONS",
    "PROFILES",
    "CounterUpdate",
    "ExerciseProfile",
    "Rejection",
    "RepCounter",
    "RepEvent",
    "countable_positions",
    "movement_band",
    "position_refusal",
    "profile_name",
    "sensor_position",
]

if TYPE_CHECKING:
    from ._counter import FS_HZ as GRID_HZ
    from ._counter import HYSTERESIS, RepCounter, movement_band

_COUNTER_NAMES = {"GRID_HZ": "FS_HZ", "HYSTERESIS": "HYSTERESIS", "RepCounter": "RepCounter",
                  "movement_band": "movement_band"}


def __getattr__(name: str) -> Any:
    """The counter loads on first use: it brings scipy.signal (most of a second to import),
    which a command that only names the exercises (``repfit --help``) does not need."""
    if name in _COUNTER_NAMES:
        from . import _counter

        return getattr(_counter, _COUNTER_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
