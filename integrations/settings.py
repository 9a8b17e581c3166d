"""The ``[training]`` section of the repfit config file, validated into `CoachSettings`.

Example (every key optional; these are the defaults)::

    [training]
    exercise = "random"          # a menu name, a detector name, or "random"
    checkpoint_every = 100       # compare with the previous run every N iterations
    tick_every = 10              # holds in iterations: tick every N iterations ...
    major_every = 100            # ... and a distinct tick every N
    major_rep_every = 10         # count exercises: distinct tick every N reps
    calibration_iterations = 10  # iterations timed before the metronome starts
    announce_s = 3.0             # the workout starts no earlier than this after the announcement
    min_hold_s = 20.0            # a hold in iterations lasts at least this long on the host
    deadline_s = 900             # how long the host keeps an assignment open
    # metric = "auc"             # which evaluation result to compare (default: the first
    # dataset = "valid_0"        #   metric of the last validation set)
    # higher_is_better = true    # only for frameworks that do not say

    [training.penalty]           # worse than last time at the end of the run
    enabled = true
    exercise = "same"            # a menu name, "same" or "random"
    size = 10                    # reps, or seconds for holds

    [training.reward]            # better than last time
    enabled = false
    exercise = "same"
    size = 5

    [training.interrupt]         # Ctrl+C
    enabled = true
    exercise = "plank"
    size = 100

    # [training.caps]            # this run's own daily caps, on top of the user's [caps]:
    # reps_per_day = 50          # only stricter values count (see repfit.host.caps)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from repfit.config import ConfigError
from repfit.host.caps import run_caps
from repfit.integrations.coach import CoachSettings, Rule

__all__ = ["coach_settings_from_tables"]

_INT_KEYS = ("tick_every", "major_every", "major_rep_every", "calibration_iterations",
             "checkpoint_every")
_NUM_KEYS = ("announce_s", "min_hold_s", "deadline_s", "reps", "iterations", "seconds")
_STR_KEYS = ("exercise", "metric", "dataset")
_RULES = ("penalty", "reward", "interrupt")


def coach_settings_from_tables(tables: Mapping[str, Any], source: str = "",
                               problems: list[ConfigError] | None = None) -> CoachSettings:
    """Read ``[training]`` (and its ``penalty``/``reward``/``interrupt`` tables).

    Parameters
    ----------
    problems : list, optional
        Fail safe: each bad value is appended here (naming the file and key) and only that
        value keeps its default; every other value is used. Without a list the first bad
        value raises.

    Raises
    ------
    ConfigError
        Naming the dotted key, the value and what was expected (only without ``problems``).
    """
    found: list[ConfigError] = [] if problems is None else problems
    before = len(found)
    settings = _read(tables, source, found)
    if problems is None and len(found) > before:
        raise found[before]
    return settings


def _read(tables: Mapping[str, Any], source: str, problems: list[ConfigError]) -> CoachSettings:
    defaults = CoachSettings()
    raw = tables.get("training", {})
    if not isinstance(raw, Mapping):
        problems.append(ConfigError("training", raw, "a table [training]", source,
                                    fallback="the default training settings"))
        return defaults
    values: dict[str, Any] = {}
    known = {*_INT_KEYS, *_NUM_KEYS, *_STR_KEYS, *_RULES, "seed", "higher_is_better", "menu",
             "caps"}
    for key, value in raw.items():
        dotted = f"training.{key}"
        try:
            if key not in known:
                raise ConfigError(dotted, value, "one of the keys " + ", ".join(sorted(known)),
                                  source, fallback="ignored")
            if key in _RULES:
                values[key] = _rule(value, getattr(defaults, key), dotted, source, problems)
            elif key == "caps":
                values[key] = run_caps(value, dotted, source,
                                       fallback="no caps of this run's own")
            elif key != "menu":
                values[key] = _value(key, value, dotted, source, getattr(defaults, key, None))
        except ConfigError as exc:
            problems.append(exc)
    return dataclasses.replace(defaults, **values)


def _value(key: str, value: Any, dotted: str, source: str, default: Any) -> Any:
    """One checked ``[training]`` value; `ConfigError` (with the default as fallback) if bad."""
    fallback = f"the default {default!r}"
    if key in _INT_KEYS or key == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or \
                (key != "seed" and value < 1):
            raise ConfigError(dotted, value, "a positive integer" if key != "seed"
                              else "an integer", source, fallback=fallback)
        return value
    if key in _NUM_KEYS:
        zero_ok = key in ("announce_s", "min_hold_s")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 0 or (not zero_ok and value == 0):
            raise ConfigError(dotted, value, "a positive number", source, fallback=fallback)
        return float(value)
    if key in _STR_KEYS:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(dotted, value, "a non-empty string", source, fallback=fallback)
        return value
    if not isinstance(value, bool):  # higher_is_better
        raise ConfigError(dotted, value, "true or false", source, fallback=fallback)
    return value


def _rule(raw: Any, default: Rule, key: str, source: str,
          problems: list[ConfigError]) -> Rule:
    if isinstance(raw, bool):  # penalty = false
        return dataclasses.replace(default, enabled=raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(key, raw, "a table with enabled, exercise and size", source,
                          fallback="the default rule")
    values: dict[str, Any] = {}
    for k, v in raw.items():
        fallback = f"the default {getattr(default, k, None)!r}"
        if k == "enabled" and not isinstance(v, bool):
            problems.append(ConfigError(f"{key}.enabled", v, "true or false", source,
                                        fallback=fallback))
        elif k == "exercise" and (not isinstance(v, str) or not v.strip()):
            problems.append(ConfigError(f"{key}.exercise", v, 'a menu name, "same" or "random"',
                                        source, fallback=fallback))
        elif k == "size" and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not v > 0 or not math.isfinite(v)):
            problems.append(ConfigError(f"{key}.size", v, "a positive number", source,
                                        fallback=fallback))
        elif k not in ("enabled", "exercise", "size"):
            problems.append(ConfigError(f"{key}.{k}", v, "one of the keys enabled, exercise, "
                                        "size", source, fallback="ignored"))
        else:
            values[k] = float(v) if k == "size" else v
    return dataclasses.replace(default, **values)
