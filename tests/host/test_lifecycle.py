"""The transition table of an assignment's life on the host."""

from __future__ import annotations

import pytest

from repfit import wire
from repfit.host.lifecycle import (
    FINAL_STATES,
    STATES,
    LifecycleError,
    advance,
    allowed_next,
    final_state,
    provenance,
)


@pytest.mark.parametrize("path", [
    ["received", "announced", "in_progress", "completed"],
    ["received", "announced", "in_progress", "partial"],
    ["received", "announced", "in_progress", "missed"],
    ["received", "announced", "in_progress", "cancelled"],
    ["received", "announced", "in_progress", "superseded"],
    ["received", "announced", "superseded"],
    ["received", "announced", "completed"],     # honour mode: reported before it opened
    ["received", "capped"],
    ["received", "missed"],                     # its deadline passed while no host ran
])
def test_the_lives_an_assignment_can_have(path: list[wire.State]) -> None:
    state: wire.State | None = None
    for step in path:
        state = advance(state, step)
    assert state in FINAL_STATES


@pytest.mark.parametrize(("current", "new"), [
    (None, "announced"), ("received", "in_progress"), ("received", "completed"),
    ("announced", "capped"), ("in_progress", "announced"), ("in_progress", "capped"),
    ("completed", "missed"), ("capped", "announced"), ("missed", "in_progress"),
])
def test_transitions_the_table_does_not_allow(current: wire.State | None,
                                              new: wire.State) -> None:
    with pytest.raises(LifecycleError, match=new):
        advance(current, new)


def test_nothing_follows_a_final_state_and_every_state_is_reachable() -> None:
    assert all(not allowed_next(s) for s in FINAL_STATES)
    reachable = {"received"} | {n for s in STATES for n in allowed_next(s)}
    assert reachable == set(STATES)


def _result(outcome: wire.Outcome, reps: int, *, completed: bool = False,
            hold: float | None = None, verified: bool = True) -> wire.Result:
    return wire.Result("a1", "squat", completed, outcome, reps, 25, hold_seconds=hold,
                       verified=verified)


@pytest.mark.parametrize(("result", "state"), [
    (_result("target_reached", 25, completed=True), "completed"),
    (_result("deadline", 12), "partial"),
    (_result("deadline", 0), "missed"),
    (_result("deadline", 0, hold=3.5), "partial"),
    (_result("cancelled", 3), "cancelled"),
    (_result("superseded", 0), "superseded"),
    (_result("capped", 0), "capped"),
    (_result("missed", 0), "missed"),
    (_result("reported", 25, completed=True, verified=False), "completed"),
    (_result("reported", 10, verified=False), "partial"),
])
def test_the_state_a_result_ends_in(result: wire.Result, state: wire.State) -> None:
    assert final_state(result) == state


def test_a_reported_set_is_what_the_user_says_and_never_verified() -> None:
    from repfit.host.session import Session

    plank = Session(wire.Assignment("p1", "plank", 60, unit="seconds"), started_at=10.0)
    whole = plank.reported(wire.Report(), 100.0)
    assert (whole.completed, whole.hold_seconds, whole.verified, whole.outcome) == \
        (True, 60.0, False, "reported")
    assert final_state(plank.reported(wire.Report(hold_seconds=30.0), 100.0)) == "partial"
    squats = Session(wire.Assignment("s1", "squat", 25), started_at=10.0)
    assert (squats.reported(wire.Report(), 50.0).reps,
            squats.reported(wire.Report(reps=30), 50.0).completed) == (25, True)


@pytest.mark.parametrize(("run_id", "shown"), [
    ("0123456789abcdef0123456789abcdef", "penalty, exp/01234567, a1b2c3d4"),
    ("run-1", "penalty, exp/run-1, a1b2c3d4"),
    ("0123456789ABCDEF0123456789ABCDEF", "penalty, exp/0123456789ABCDEF0123456789ABCDEF, a1b2c3d4"),
])
def test_a_generated_run_id_is_shown_short_and_a_named_one_whole(run_id: str, shown: str) -> None:
    a = wire.Assignment("a1b2c3d4e5f6", "squat", 10, reason="penalty", run_id=run_id,
                        experiment="exp")
    assert provenance(a) == shown
