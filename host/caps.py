"""Daily caps: how much a user can be assigned in one day, and when nothing is assigned.

Training runs assign work without knowing what other runs assigned today; without a limit the
daily load grows until the user starts skipping. The host therefore checks every assignment
against the user's caps before announcing it. An assignment over a cap is not announced: it
ends as ``capped`` with the cap that applied.

Pure: `rules_from_tables` reads the ``[caps]`` table of the config file, `decide` takes the
rules, what today's allowed assignments have already taken (`Usage`) and the assignment, and
says `Allowed` or `Capped`. The store takes the slot in the same transaction as it counts the
day's usage, so two hosts on one store never both take the last one.

Example (every key optional; no key, no cap)::

    [caps]
    timezone = "Europe/Paris"       # the day starts at local midnight here (default: TZ,
                                    # else this machine's zone)
    assignments_per_day = 12
    reps_per_day = 100              # for each exercise; or per exercise:
                                    # reps_per_day = { default = 100, pushup = 50 }
    hold_seconds_per_day = 600      # all holds (plank) together
    quiet_hours = "22:00-07:00"     # nothing is assigned from 22:00 to 07:00
    penalties = "count"             # penalties count toward the caps above (the default),
                                    # or have caps of their own:
                                    # penalties = { assignments_per_day = 3, reps_per_day = 50 }

    [caps.users.alice]              # another user on this host's config: her own values
    reps_per_day = 60

A training run may tighten the caps for its own assignments (``workout(caps={...})``, sent in
the assignment's ``caps``), never loosen them: the caps protect the user from the runs.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from repfit import wire
from repfit.config import ConfigError
from repfit.exercises import canonical, display_name, is_hold
from repfit.host.days import resolve_zone

__all__ = ["LIMIT_KEYS", "Allowed", "CapRules", "Capped", "Decision", "Limits", "Pool",
           "QuietHours", "Take", "Usage", "amount_of", "decide", "limits_from_mapping",
           "rules_from_tables", "run_caps", "take_of"]

#: Which caps an assignment is counted against: the common ones, or the penalties' own.
Pool = Literal["main", "penalty"]

#: The keys of one set of limits (in ``[caps]``, ``penalties = {...}`` and a run's caps).
LIMIT_KEYS = ("assignments_per_day", "reps_per_day", "hold_seconds_per_day")
_RULE_KEYS = (*LIMIT_KEYS, "quiet_hours")
_CLOCK_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Limits:
    """The most one pool may take in a day; None is no cap.

    ``reps_per_exercise`` (canonical names) overrides ``reps_per_day`` for those exercises.
    """

    assignments_per_day: int | None = None
    reps_per_day: float | None = None
    reps_per_exercise: Mapping[str, float] = field(default_factory=dict)
    hold_seconds_per_day: float | None = None

    def reps_cap(self, exercise: str) -> float | None:
        return self.reps_per_exercise.get(exercise, self.reps_per_day)

    def tightened(self, other: Limits) -> Limits:
        """The stricter of the two, cap by cap."""
        names = set(self.reps_per_exercise) | set(other.reps_per_exercise)
        return Limits(
            _least(self.assignments_per_day, other.assignments_per_day),
            _least(self.reps_per_day, other.reps_per_day),
            {n: v for n in sorted(names)
             if (v := _least(self.reps_cap(n), other.reps_cap(n))) is not None},
            _least(self.hold_seconds_per_day, other.hold_seconds_per_day),
        )


def _least(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class QuietHours:
    """Local clock times between which nothing is assigned; ``end`` before ``start`` spans
    midnight ("22:00-07:00")."""

    start: time
    end: time

    def __contains__(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class CapRules:
    """One user's caps.

    Attributes
    ----------
    limits : Limits
        The caps of every assignment (penalties included unless they have their own).
    penalty_limits : Limits or None
        The penalties' own caps; None when penalties count toward ``limits``.
    quiet_hours : tuple of QuietHours
        When nothing at all is assigned (several when a run adds its own).
    timezone : ZoneInfo
        Where the user's day starts at midnight.
    """

    limits: Limits = field(default_factory=Limits)
    penalty_limits: Limits | None = None
    quiet_hours: tuple[QuietHours, ...] = ()
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def pool(self, reason: wire.Reason) -> Pool:
        return "penalty" if reason == "penalty" and self.penalty_limits is not None else "main"

    def limits_for(self, pool: Pool) -> Limits:
        return self.penalty_limits if pool == "penalty" and self.penalty_limits is not None \
            else self.limits

    def describe(self) -> str:
        """The caps in one line, for the host's start: "12 assignments, 100 reps of each
        exercise, 600 s of holds a day (Europe/Paris); quiet 22:00-07:00; penalties ..."."""
        def limits(lim: Limits) -> str:
            parts = []
            if lim.assignments_per_day is not None:
                parts.append(f"{lim.assignments_per_day} assignments")
            if lim.reps_per_day is not None:
                parts.append(f"{lim.reps_per_day:g} reps of each exercise")
            parts += [f"{v:g} {display_name(k)}" for k, v in lim.reps_per_exercise.items()]
            if lim.hold_seconds_per_day is not None:
                parts.append(f"{lim.hold_seconds_per_day:g} s of holds")
            return ", ".join(parts) + " a day" if parts else "no caps"

        text = f"{limits(self.limits)} ({self.timezone.key})"
        text += "".join(f"; quiet {q}" for q in self.quiet_hours)
        if self.penalty_limits is not None:
            text += f"; penalties apart: {limits(self.penalty_limits)}"
        return text

    def tightened(self, run: Mapping[str, Any] | None, source: str = "the assignment") \
            -> CapRules:
        """These rules with a training run's own caps on top (only stricter ones count).

        Raises
        ------
        ConfigError
            When the run's caps are malformed (naming the key).
        """
        if not run:
            return self
        unknown = set(run) - set(_RULE_KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"caps.{key}", run[key], "one of the keys " + ", ".join(_RULE_KEYS),
                              source)
        extra = limits_from_mapping(run, "caps", source)
        quiet = self.quiet_hours
        if "quiet_hours" in run:
            q = _quiet_hours(run["quiet_hours"], "caps.quiet_hours", source)
            quiet = quiet + ((q,) if q is not None else ())
        penalty = self.penalty_limits.tightened(extra) if self.penalty_limits else None
        return dataclasses.replace(self, limits=self.limits.tightened(extra),
                                   penalty_limits=penalty, quiet_hours=quiet)


@dataclass(frozen=True)
class Take:
    """What an allowed assignment takes from the day's caps (``assignments``: 1, or 0 for
    one that a newer assignment of its run replaced)."""

    pool: Pool
    exercise: str
    reps: float = 0.0
    hold_seconds: float = 0.0
    assignments: int = 1


def take_of(rules: CapRules, a: wire.Assignment, r: wire.Result | None) -> Take | None:
    """What an assignment takes from its day's caps, given how it ended (None: still open).

    Allowed assignments take their whole target, whether done or not: the caps bound what the
    user is asked to do. Those never announced take nothing: ``capped`` ones and ``missed``
    ones (closed at start, their deadline passed while no host ran). A ``superseded`` one
    takes what was done of it, and no assignment: its newer replacement counts instead.
    """
    if r is not None and r.outcome in ("capped", "missed"):
        return None
    pool = rules.pool(a.reason)
    exercise = canonical(a.exercise) or a.exercise
    if r is not None and r.outcome == "superseded":
        hold = is_hold(a.exercise) or a.unit != "reps"
        return Take(pool, exercise, 0.0 if hold else float(r.reps),
                    (r.hold_seconds or 0.0) if hold else 0.0, assignments=0)
    reps, hold_s = amount_of(a)
    return Take(pool, exercise, reps, hold_s)


@dataclass(frozen=True)
class Usage:
    """What the day's allowed assignments have taken so far, per pool."""

    takes: tuple[Take, ...] = ()

    @classmethod
    def of(cls, takes: Iterable[Take]) -> Usage:
        return cls(tuple(takes))

    @classmethod
    def of_day(cls, rules: CapRules,
               day: Iterable[tuple[wire.Assignment, wire.Result | None]]) -> Usage:
        """What the assignments received in one day took (see `take_of`)."""
        return cls(tuple(t for a, r in day if (t := take_of(rules, a, r)) is not None))

    def assignments(self, pool: Pool) -> int:
        return sum(t.assignments for t in self.takes if t.pool == pool)

    def reps(self, pool: Pool, exercise: str) -> float:
        return sum(t.reps for t in self.takes if t.pool == pool and t.exercise == exercise)

    def hold_seconds(self, pool: Pool) -> float:
        return sum(t.hold_seconds for t in self.takes if t.pool == pool)


@dataclass(frozen=True)
class Allowed:
    """The assignment fits: it takes ``take`` from today's caps."""

    take: Take


@dataclass(frozen=True)
class Capped:
    """The assignment does not fit.

    ``cap`` names the rule (a key of ``[caps]``); ``text`` says it for the user, e.g.
    "cap reached: 100/100 squats today".
    """

    cap: str
    used: float
    limit: float
    text: str


Decision = Allowed | Capped


def amount_of(a: wire.Assignment) -> tuple[float, float]:
    """(reps, hold seconds) an assignment asks for. Holds set in iterations count the
    trainer's estimate of their seconds (one second per iteration when it sent none), as the
    host verifies them."""
    if a.unit == "reps" and not is_hold(a.exercise):
        return float(a.target), 0.0
    if a.unit == "iterations":
        return 0.0, float(a.est_duration_s if a.est_duration_s else a.target)
    return 0.0, float(a.target)


def decide(rules: CapRules, usage: Usage, a: wire.Assignment, now: float) -> Decision:
    """Whether ``a`` fits into today's caps at ``now`` (epoch seconds), given ``usage``.

    Exactly reaching a cap is allowed; going one over is not. Quiet hours come first, then
    the number of assignments, then the amount (reps of that exercise, or hold seconds).
    """
    pool = rules.pool(a.reason)
    limits = rules.limits_for(pool)
    exercise = canonical(a.exercise) or a.exercise
    name = display_name(a.exercise, a.label)
    penalties = " for penalties" if pool == "penalty" else ""
    clock = datetime.fromtimestamp(now, rules.timezone).time()
    for quiet in rules.quiet_hours:
        if clock in quiet:
            return Capped("quiet_hours", 0, 0, f"quiet hours ({quiet}): nothing is assigned "
                                               "now")
    cap = limits.assignments_per_day
    used: float = usage.assignments(pool)
    if cap is not None and used + 1 > cap:
        return Capped("assignments_per_day", used, cap,
                      f"cap reached: {used:g}/{cap:g} assignments{penalties} today")
    reps, hold = amount_of(a)
    if reps:
        cap_f = limits.reps_cap(exercise)
        used = usage.reps(pool, exercise)
        if cap_f is not None and used + reps > cap_f:
            return Capped("reps_per_day", used, cap_f,
                          _over(f"{used:g}/{cap_f:g} {name}{penalties} today", used, cap_f,
                                f"{reps:g} more"))
    if hold:
        cap_f = limits.hold_seconds_per_day
        used = usage.hold_seconds(pool)
        if cap_f is not None and used + hold > cap_f:
            return Capped("hold_seconds_per_day", used, cap_f,
                          _over(f"{used:g}/{cap_f:g} s of holds{penalties} today", used, cap_f,
                                f"{hold:g} s more"))
    return Allowed(Take(pool, exercise, reps, hold))


def _over(text: str, used: float, cap: float, asked: str) -> str:
    return f"cap reached: {text}" + ("" if used >= cap else f" ({asked} asked)")


# --------------------------------------------------------------------------- config


def rules_from_tables(tables: Mapping[str, Any], user: str, source: str = "",
                      env: Mapping[str, str] | None = None) -> CapRules:
    """The caps of ``user`` from the config file's ``[caps]`` table (and its
    ``[caps.users.<user>]`` overrides).

    Raises
    ------
    ConfigError
        Naming the dotted key, the value and what was expected.
    """
    raw = tables.get("caps", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("caps", raw, "a table [caps]", source)
    users = raw.get("users", {})
    if not isinstance(users, Mapping) or not all(isinstance(v, Mapping)
                                                  for v in users.values()):
        raise ConfigError("caps.users", users, "tables [caps.users.<name>]", source)
    own = users.get(user, {})
    prefix = f"caps.users.{user}" if user in users else "caps"
    merged = {k: v for k, v in raw.items() if k != "users"} | dict(own)
    known = (*_RULE_KEYS, "timezone", "penalties")
    for key, value in merged.items():
        if key not in known:
            where = prefix if key in own else "caps"
            raise ConfigError(f"{where}.{key}", value, "one of the keys " + ", ".join(known),
                              source)
    zone_name = merged.get("timezone")
    if zone_name is not None and not isinstance(zone_name, str):
        raise ConfigError(_where("timezone", own, prefix) + ".timezone", zone_name,
                          "an IANA time zone such as Europe/Paris", source)
    tz = resolve_zone(zone_name, _where("timezone", own, prefix) + ".timezone", env, source)
    limits = limits_from_mapping({k: v for k, v in merged.items() if k in LIMIT_KEYS},
                                 prefix if any(k in own for k in LIMIT_KEYS) else "caps", source)
    penalties = merged.get("penalties", "count")
    penalty_limits: Limits | None = None
    if isinstance(penalties, Mapping):
        key = _where("penalties", own, prefix) + ".penalties"
        unknown = set(penalties) - set(LIMIT_KEYS)
        if unknown:
            bad = sorted(unknown)[0]
            raise ConfigError(f"{key}.{bad}", penalties[bad],
                              "one of the keys " + ", ".join(LIMIT_KEYS), source)
        penalty_limits = limits_from_mapping(penalties, key, source)
    elif penalties != "count":
        raise ConfigError(_where("penalties", own, prefix) + ".penalties", penalties,
                          '"count" or a table of their own caps '
                          "{ assignments_per_day = ..., reps_per_day = ... }", source)
    quiet = _quiet_hours(merged.get("quiet_hours"), _where("quiet_hours", own, prefix) +
                         ".quiet_hours", source)
    return CapRules(limits, penalty_limits, (quiet,) if quiet else (), tz)


def run_caps(raw: Any, key: str = "caps", source: str = "", *,
             fallback: str = "") -> dict[str, Any]:
    """A training run's own caps (``workout(caps=...)``, ``[training.caps]``), checked the
    way the host will read them; returned as plain data for the assignment's ``caps``.

    Raises
    ------
    ConfigError
        Naming the key, when they are not a table of the keys ``assignments_per_day``,
        ``reps_per_day``, ``hold_seconds_per_day``, ``quiet_hours``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(key, raw, "a table of caps, e.g. { reps_per_day = 50 }", source,
                          fallback=fallback)
    try:
        CapRules().tightened(raw, source)
    except ConfigError as exc:
        sub = exc.key.removeprefix("caps.")
        raise ConfigError(f"{key}.{sub}", raw.get(sub.split(".")[0]), exc.expected,
                          source, fallback=fallback) from None
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


def _where(key: str, own: Mapping[str, Any], prefix: str) -> str:
    """The table a merged key came from (for messages): the user's own, else ``caps``."""
    return prefix if key in own else "caps"


def limits_from_mapping(raw: Mapping[str, Any], table: str, source: str = "") -> Limits:
    """`Limits` from the keys of `LIMIT_KEYS` in ``raw`` (other keys are ignored here).

    Raises
    ------
    ConfigError
        When a value is not a positive number (``assignments_per_day``: an integer), or
        ``reps_per_day`` names an unknown exercise.
    """
    values: dict[str, Any] = {}
    n = raw.get("assignments_per_day")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{table}.assignments_per_day", n, "a whole number >= 0", source)
        values["assignments_per_day"] = n
    hold = raw.get("hold_seconds_per_day")
    if hold is not None:
        values["hold_seconds_per_day"] = _amount(hold, f"{table}.hold_seconds_per_day", source)
    reps = raw.get("reps_per_day")
    if isinstance(reps, Mapping):
        per: dict[str, float] = {}
        for name, value in reps.items():
            key = f"{table}.reps_per_day.{name}"
            if name == "default":
                values["reps_per_day"] = _amount(value, key, source)
                continue
            found = canonical(name)
            if found is None:
                raise ConfigError(key, value, "an exercise of the vocabulary (or 'default')",
                                  source)
            per[found] = _amount(value, key, source)
        values["reps_per_exercise"] = per
    elif reps is not None:
        values["reps_per_day"] = _amount(reps, f"{table}.reps_per_day", source)
    return Limits(**values)


def _amount(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise ConfigError(key, value, "a number >= 0", source)
    return float(value)


def _quiet_hours(value: Any, key: str, source: str) -> QuietHours | None:
    if value is None or value is False or value == "":
        return None
    m = _CLOCK_RE.match(value) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(key, value, 'local clock times "HH:MM-HH:MM", e.g. "22:00-07:00"',
                          source)
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(key, value, "hours 00-23 and minutes 00-59", source)
    if (h1, m1) == (h2, m2):
        raise ConfigError(key, value, "a start and an end that differ", source)
    return QuietHours(time(h1, m1), time(h2, m2))
