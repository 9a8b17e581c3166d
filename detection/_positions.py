"""Where the sensor is worn, and which exercises the physics cannot count from there.

The counter is orientation-free and never needs the position to count. But an exercise is
counted from the movement it makes at the sensor, and some exercises hardly move some body
segments: sit-ups leave the thighs on the floor, and a jumping jack is counted from the
arms' swing overhead, which the trunk and thighs do not make (they only hop, which steps
and running in place do too). A counter told the position refuses those pairs up front
with a reason a person can act on, instead of counting a silent 0.
"""

from __future__ import annotations

from repfit.exercises import display_name

__all__ = ["POSITIONS", "countable_positions", "position_refusal", "sensor_position",
           "where_countable"]

POSITIONS: tuple[str, ...] = ("wrist", "upper_arm", "chest", "thigh")
"""Body positions of the sensor: a watch or band, an armband, a chest strap or a phone in a
shirt pocket, a phone in a trouser pocket."""

POSITION_ALIASES: dict[str, str] = {
    "upper-arm": "upper_arm", "arm": "upper_arm", "armband": "upper_arm",
    "pocket": "thigh", "trouser-pocket": "thigh", "hip": "thigh", "leg": "thigh",
    "torso": "chest", "trunk": "chest", "watch": "wrist",
}
"""Other names people give the positions."""

_WHERE = {"wrist": "the wrist", "upper_arm": "the upper arm", "chest": "the chest",
          "thigh": "a trouser pocket"}

_CANNOT: dict[tuple[str, str], str] = {
    ("situp", "thigh"): "the thighs stay on the floor while the trunk curls up",
    ("jumping_jack", "chest"): ("they are counted from the arms' swing overhead, and the "
                                "trunk only hops, as in running on the spot"),
    ("jumping_jack", "thigh"): ("they are counted from the arms' swing overhead, and the "
                                "thighs only hop, as in running on the spot"),
}
"""Exercise and position pairs that cannot be counted, and why (simulated sets: nothing
or a third of the reps counted at these positions, every rep at the others)."""


def sensor_position(name: str) -> str:
    """The position for a name as people write it (case, spaces and hyphens ignored);
    `ValueError` naming the known ones otherwise."""
    key = "-".join(str(name).strip().lower().replace("_", "-").split())
    p = POSITION_ALIASES.get(key, key.replace("-", "_"))
    if p not in POSITIONS:
        raise ValueError(f"unknown sensor position {name!r}; known: {', '.join(POSITIONS)} "
                         f"(also: {', '.join(POSITION_ALIASES)})")
    return p


def countable_positions(exercise: str) -> tuple[str, ...]:
    """The positions an exercise (profile name) can be counted from."""
    return tuple(p for p in POSITIONS if (exercise, p) not in _CANNOT)


def position_refusal(exercise: str, position: str) -> str | None:
    """Why ``exercise`` (a profile name) cannot be counted with the sensor at ``position``
    (any name `sensor_position` knows), or None when it can."""
    pos = sensor_position(position)
    why = _CANNOT.get((exercise, pos))
    if why is None:
        return None
    spoken = display_name(exercise)
    return (f"sensor position: {spoken} can't be counted from {_WHERE[pos]}: {why}; wear "
            f"the sensor on {where_countable(exercise)}")


def where_countable(exercise: str) -> str:
    """The positions an exercise can be counted from, in words ("the wrist or the chest")."""
    places = [_WHERE[p] for p in countable_positions(exercise)]
    return ", ".join(places[:-1]) + " or " + places[-1] if len(places) > 1 else places[0]
