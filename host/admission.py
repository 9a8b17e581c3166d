"""Whether an arriving assignment is announced, refused by a daily cap, or already missed.

Pure: `admit` is called by the store inside the transaction that records the assignment, with
what the user's day already holds, so the decision and the slot it takes are one write. An
assignment refused here is never shown to the user: it is stored and answered at once with a
closing result (outcome ``capped`` or ``missed``) that says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from repfit import wire
from repfit.config import ConfigError
from repfit.host.caps import Allowed, CapRules, Usage, decide

__all__ = ["Admission", "admit", "closing_result", "deadline_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    """The fate of an arriving assignment: ``announced``, or closed as ``capped`` or
    ``missed`` by ``result`` (``detail`` says why in words)."""

    state: Literal["announced", "capped", "missed"]
    result: wire.Result | None = None
    detail: str | None = None


def deadline_of(a: wire.Assignment) -> float | None:
    """When the assignment is due (epoch seconds), if it says when it was issued."""
    return a.issued_at + a.deadline_s if a.issued_at else None


def closing_result(a: wire.Assignment, outcome: wire.Outcome, at: float,
                   detail: str) -> wire.Result:
    """The result of an assignment closed before anything was done of it."""
    return wire.Result(
        assignment_id=a.id, exercise=a.exercise, completed=False, outcome=outcome, reps=0,
        target=a.target, unit=a.unit, reason=a.reason, started_at=at, finished_at=at,
        label=a.label, detail=detail)


def admit(rules: CapRules, a: wire.Assignment, now: float,
          day: Iterable[tuple[wire.Assignment, wire.Result | None]]) -> Admission:
    """Decide the fate of ``a`` arriving at ``now``, given the assignments already received
    on the same day of the user (with their results, None while open).

    An assignment already past its deadline (it waited on the broker while no host ran) is
    missed; otherwise the daily caps decide, with the run's own caps (``a.caps``) on top.
    """
    due = deadline_of(a)
    if due is not None and now >= due:
        when = datetime.fromtimestamp(due, rules.timezone).strftime("%Y-%m-%d %H:%M")
        detail = f"missed: it was due by {when}, while no host was running"
        return Admission("missed", closing_result(a, "missed", now, detail), detail)
    try:
        effective = rules.tightened(a.caps)
    except ConfigError as exc:
        log.warning("assignment %s: its run's caps are not usable (%s); the user's caps apply",
                    a.id, exc)
        effective = rules
    decision = decide(effective, Usage.of_day(effective, day), a, now)
    if isinstance(decision, Allowed):
        return Admission("announced")
    return Admission("capped", closing_result(a, "capped", now, decision.text), decision.text)
