"""What the counter reports: accepted reps, refused candidates, and per-batch updates."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CounterUpdate", "Rejection", "RepEvent"]


@dataclass(frozen=True)
class RepEvent:
    """One accepted rep.

    Attributes
    ----------
    t : float
        Device-clock time of the rep's turning point (the extreme of the movement signal).
    amplitude : float
        Peak-to-peak swing of the movement signal across this rep, in g.
    confidence : float
        0..1: how clearly this looks like a rep of the exercise (swing well above the
        minimum, regular cadence, little shake-like high-frequency energy).
    prominence : float
        Height of the extreme above the opposite extreme before it (g), as in `find_peaks`.
    width_s : float
        Time between the opposite extreme before this one and this one, doubled: the
        cycle length this extreme implies (s).
    period_s : float | None
        Time since the previous accepted rep (None for the first rep of a set).
    index : int
        Index of the extreme on the counter's internal uniform grid (absolute, from the
        first sample fed).
    """

    t: float
    amplitude: float
    confidence: float
    prominence: float
    width_s: float
    period_s: float | None
    index: int


@dataclass(frozen=True)
class Rejection:
    """A candidate rep the counter refused, with a reason the host can show."""

    t: float
    reason: str
    amplitude: float = 0.0


@dataclass(frozen=True)
class CounterUpdate:
    """What changed in one `RepCounter.feed` (or `finish`) call.

    ``events`` are the reps newly confirmed and accepted in this call, ``rejected`` the
    candidates newly refused, ``count`` the running accepted count, ``hold_seconds`` the
    seconds held so far for hold exercises (None otherwise).
    """

    events: tuple[RepEvent, ...]
    rejected: tuple[Rejection, ...]
    count: int
    hold_seconds: float | None
