"""The exercise vocabulary: canonical names, the names people use for them, and their units.

One table for everyone who names an exercise: the training menu, the host's counter, the
detector's profiles and the recordings command all resolve a name here, so "Push-ups",
"press-up" and "pompes" are the same exercise everywhere. Pure data and one lookup function:
`repfit.detection` may import it.

Canonical names are what travels in the ``exercise`` field of the wire messages and what the
detector has a profile for. The user's own word for an exercise is kept apart (the wire's
``label``) and shown in every line the user reads; `display_name` picks it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from repfit.display_text import plain

__all__ = ["EXERCISES", "HOLD_EXERCISES", "VOCABULARY", "ExerciseName", "canonical",
           "display_name", "is_hold", "require_canonical"]

Measure = Literal["reps", "hold"]


@dataclass(frozen=True)
class ExerciseName:
    """One exercise of the vocabulary.

    Attributes
    ----------
    name : str
        Canonical name (``"pushup"``): the wire's ``exercise`` and the detector's profile.
    measure : {"reps", "hold"}
        Counted in repetitions, or held for a time (seconds, or training iterations).
    display : str
        How lines read when the user gave no name of their own (``"push-ups"``).
    aliases : tuple of str
        Other names, as people write them; case, accents, spaces, hyphens, underscores and
        a final plural "s" do not matter.
    """

    name: str
    measure: Measure
    display: str
    aliases: tuple[str, ...] = ()


VOCABULARY: Final[tuple[ExerciseName, ...]] = (
    # French: "pompes" are push-ups; "flexions" alone can mean arm or leg bends, so only
    # the explicit "flexions de jambes" is a squat; "abdos" (abdominaux) and "redressements
    # assis" are sit-ups; "gainage" and "planche" are the plank; "sauts en étoile" are
    # jumping jacks.
    ExerciseName("pushup", "reps", "push-ups", ("push-up", "press-up", "pompe")),
    ExerciseName("squat", "reps", "squats", ("flexions de jambes", "flexion des jambes",
                                             "accroupissement")),
    ExerciseName("situp", "reps", "sit-ups", ("sit-up", "abdo", "abdominaux",
                                              "redressement assis", "redressements assis")),
    ExerciseName("jumping_jack", "reps", "jumping jacks", ("jumping jack", "star jump",
                                                           "saut en étoile",
                                                           "sauts en étoile")),
    ExerciseName("burpee", "reps", "burpees"),
    ExerciseName("plank", "hold", "plank", ("gainage", "planche")),
    ExerciseName("generic", "reps", "reps"),
)

#: Canonical names, in vocabulary order.
EXERCISES: Final[tuple[str, ...]] = tuple(e.name for e in VOCABULARY)
#: Canonical names of the static holds.
HOLD_EXERCISES: Final[tuple[str, ...]] = tuple(e.name for e in VOCABULARY if e.measure == "hold")
_BY_NAME: Final[dict[str, ExerciseName]] = {e.name: e for e in VOCABULARY}


def _key(text: str) -> str:
    """Letters only, lower case, accents dropped: "Saut en Étoile" -> "sautenetoile"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z]", "", decomposed)


def _spellings() -> dict[str, str]:
    table: dict[str, str] = {}
    for e in VOCABULARY:
        for spelling in (e.name, e.display, *e.aliases):
            key = _key(spelling)
            if table.setdefault(key, e.name) != e.name:
                raise ValueError(f"{spelling!r} names both {table[key]} and {e.name}")
    return table


_SPELLINGS: Final[dict[str, str]] = _spellings()


def canonical(name: object) -> str | None:
    """The canonical name of an exercise as people write it, or None when it is unknown.

    Examples
    --------
    >>> canonical("Push-Ups"), canonical("pompes"), canonical("star jumps")
    ('pushup', 'pushup', 'jumping_jack')
    >>> canonical("yoga") is None
    True
    """
    if not isinstance(name, str):
        return None
    key = _key(name)
    found = _SPELLINGS.get(key)
    if found is None and key.endswith("s"):
        found = _SPELLINGS.get(key[:-1])
    return found


def require_canonical(name: object) -> str:
    """`canonical`, or `ValueError` naming the exercise and listing the known ones."""
    found = canonical(name)
    if found is None:
        raise ValueError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)} "
                         "(use 'generic' for any other rhythmic exercise)")
    return found


def is_hold(name: str) -> bool:
    """Whether the exercise (any spelling) is a static hold."""
    found = canonical(name)
    return found is not None and _BY_NAME[found].measure == "hold"


def display_name(exercise: str, label: str | None = None) -> str:
    """The words for an exercise in a line the user reads: their own ``label`` when they
    gave one, else the vocabulary's display name, else the name as it came."""
    if label and label.strip():
        return plain(label.strip())  # the user's words, as received: shown as text
    found = canonical(exercise)
    return _BY_NAME[found].display if found is not None else plain(exercise)
