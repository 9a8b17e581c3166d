"""The life of one assignment on the host, as a small transition table.

Every assignment is *received*, then either *announced* to the user or closed at once
(*capped* by a daily cap, *missed* because its deadline passed while no host was running,
*superseded* by a newer one from the same run). An announced assignment goes *in progress*
when the host starts verifying it, and ends *completed*, *partial* (the deadline came with
part of the target done), *missed* (the deadline came with nothing done), *cancelled* or
*superseded*. Each transition is stored with its time and published, so the books show what
happened to every assignment, not only to the finished ones.

Pure: `advance` checks a transition against the table; `final_state` names the state a
result ends in; `name_assignment` is how every line the user reads names an assignment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from repfit import wire
from repfit.exercises import display_name
from repfit.wire import State

__all__ = ["FINAL_STATES", "STATES", "LifecycleError", "State", "advance", "allowed_next",
           "final_state", "name_assignment", "provenance"]

STATES: Final = wire.STATES
FINAL_STATES: Final[frozenset[State]] = frozenset(
    ("completed", "partial", "missed", "capped", "cancelled", "superseded"))

_NEXT: Final[Mapping[State | None, frozenset[State]]] = {
    None: frozenset(("received",)),
    "received": frozenset(("announced", "capped", "missed", "cancelled", "superseded")),
    "announced": frozenset(("in_progress", "missed", "cancelled", "superseded")),
    "in_progress": frozenset(("completed", "partial", "missed", "cancelled", "superseded")),
}
#: Honour mode: the user reports a set the host announced but did not watch.
_NEXT_HONOUR: Final[frozenset[State]] = frozenset(("completed", "partial"))


class LifecycleError(ValueError):
    """A transition the table does not allow (e.g. anything after a final state)."""


def allowed_next(current: State | None) -> frozenset[State]:
    """The states an assignment in ``current`` (None: not yet seen) may go to."""
    nxt = _NEXT.get(current, frozenset())
    return nxt | _NEXT_HONOUR if current == "announced" else nxt


def advance(current: State | None, new: State) -> State:
    """``new`` when the table allows going there from ``current``.

    Raises
    ------
    LifecycleError
        Naming both states and what ``current`` may go to instead.
    """
    nxt = allowed_next(current)
    if new not in nxt:
        if current in FINAL_STATES:
            raise LifecycleError(f"an assignment that ended {current} cannot become {new}")
        raise LifecycleError(f"{current or 'nothing'} cannot become {new} (only "
                             f"{', '.join(sorted(nxt))})")
    return new


def final_state(r: wire.Result) -> State:
    """The state a result ends its assignment in.

    A deadline with part of the target done is *partial*, with nothing done *missed*.
    """
    if r.outcome == "target_reached" or r.completed:
        return "completed"
    if r.outcome in ("capped", "cancelled", "superseded", "missed"):
        return r.outcome
    return "partial" if _done_something(r) else "missed"  # deadline, or a short report


def _done_something(r: wire.Result) -> bool:
    return r.reps > 0 or (r.hold_seconds or 0.0) > 0.0


_GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def provenance(a: wire.Assignment) -> str:
    """Why and where from, and its short id: "penalty, exp/run-1, a1b2c3d4".

    A generated run id (32 hex digits) is shown by its first 8, as the assignment's own id
    is: enough to tell runs apart, and the line still fits a terminal.
    """
    run = a.run_id[:8] if a.run_id and _GENERATED_ID.fullmatch(a.run_id) else a.run_id
    where = "/".join(x for x in (a.experiment, run) if x)
    parts: list[str] = [a.reason] if a.reason != "assigned" else []
    parts += [where] if where else []
    parts.append(a.id[:8])
    return ", ".join(parts)


def name_assignment(a: wire.Assignment) -> str:
    """Which assignment a line is about: "25 squats (penalty, exp/run-1, a1b2c3d4)"."""
    return f"{a.target:g} {display_name(a.exercise, a.label)} ({provenance(a)})"
