"""One exercise vocabulary: every part of repfit resolves names the same way."""

from __future__ import annotations

import pytest

from repfit import exercises, wire
from repfit.detection import EXERCISES, HOLD_EXERCISES, profile_name
from repfit.host.console import describe_assignment, describe_result
from repfit.host.session import Session, counter_exercise
from repfit.integrations.menu import DEFAULT_MENU, menu_from_tables


@pytest.mark.parametrize(("written", "name"), [
    ("push-ups", "pushup"), ("Push-Ups", "pushup"), ("press-up", "pushup"),
    ("pompes", "pushup"), ("Pompe", "pushup"),
    ("squats", "squat"), ("Flexions de jambes", "squat"),
    ("sit-ups", "situp"), ("abdos", "situp"), ("redressements assis", "situp"),
    ("jumping jacks", "jumping_jack"), ("star jumps", "jumping_jack"),
    ("sauts en étoile", "jumping_jack"), ("Sauts en Etoile", "jumping_jack"),
    ("burpees", "burpee"), ("plank", "plank"), ("gainage", "plank"), ("planche", "plank"),
    ("generic", "generic"),
])
def test_names_as_people_write_them(written: str, name: str) -> None:
    assert exercises.canonical(written) == name
    assert profile_name(written) == name       # the detector's lookup is the same table
    assert counter_exercise(written) == name   # and so is the host's


@pytest.mark.parametrize("written", ["flexions", "yoga", "", "pushupsss", None, 3])
def test_unknown_or_ambiguous_names_are_not_guessed(written: object) -> None:
    # "flexions" alone may be arm or leg bends: only "flexions de jambes" is a squat.
    assert exercises.canonical(written) is None


def test_the_vocabulary_is_what_the_detector_has_profiles_for() -> None:
    assert exercises.EXERCISES == EXERCISES
    assert exercises.HOLD_EXERCISES == HOLD_EXERCISES
    with pytest.raises(ValueError, match="unknown exercise 'yoga'; known: pushup"):
        exercises.require_canonical("yoga")


def test_the_menu_keeps_the_users_own_word() -> None:
    entry = DEFAULT_MENU.get("pompes")
    assert (entry.name, entry.detector, entry.target) == ("pompes", "pushup", 20)
    assert DEFAULT_MENU.get("push-ups").name == "push-ups"
    assert DEFAULT_MENU.get("pushup").name == "push-ups"
    menu = menu_from_tables({"training": {"menu": {"gainage": {"seconds": 45},
                                                   "pompes": {"reps": 12}}}})
    assert [(e.name, e.detector, e.type) for e in menu.exercises] == [
        ("gainage", "plank", "duration"), ("pompes", "pushup", "count")]


def test_the_label_travels_on_the_wire_and_into_every_line() -> None:
    a = wire.Assignment("a1", "pushup", 3, label="pompes", issued_at=100.0)
    _, back = wire.decode("repfit/u/assignment", wire.encode(a))
    assert back == a
    session = Session(back, started_at=100.0)
    progress = session.progress(101.0)
    result = session.cancel(102.0)
    assert progress.label == result.label == "pompes"
    for message in (progress, result):
        assert wire.decode(wire.topic_for("u", message), wire.encode(message))[1] == message
    assert describe_assignment(a).startswith("pompes - 3 reps")
    assert describe_result(result).startswith("pompes: NOT completed - 0/3 reps")
    # Without a label, the vocabulary's words rather than the canonical name:
    assert describe_result(wire.Result("a2", "jumping_jack", True, "target_reached", 5, 5)) \
        .startswith("jumping jacks: completed - 5/5 reps")
