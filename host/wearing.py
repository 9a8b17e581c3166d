"""Where the user wears the sensor: the ``sensor_position`` setting, or ``--position``.

The counter needs no position to count, but some exercises hardly move some body segments
(sit-ups leave a trouser pocket on the floor): told the position, the host refuses those
sets at once, with the reason and where to wear the sensor instead, rather than count a
silent 0 (docs/detection.md). Config::

    sensor_position = "wrist"       # upper_arm, chest, thigh; or "watch", "armband", "pocket"
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from repfit.config import ConfigError

__all__ = ["add_position_arg", "position_setting"]


def add_position_arg(p: argparse.ArgumentParser, default: str = "") -> None:
    """``--position WHERE`` on a command that counts a user's stream."""
    p.add_argument("--position", metavar="WHERE", default=None,
                   help="where the sensor is worn: wrist, upper_arm, chest or thigh (a "
                        "trouser pocket); an exercise that cannot be counted from there is "
                        f"refused with the reason{default}")


def position_setting(tables: Mapping[str, Any], source: str = "",
                     given: str | None = None) -> str | None:
    """The sensor position: ``given`` (``--position``) when set, else the config's
    ``sensor_position``, else None (not known: nothing is refused up front).

    Raises
    ------
    ConfigError
        Naming the option or the file and key, and the positions known.
    """
    from repfit.detection import sensor_position  # not at import: the parsers need none

    key, value = ("--position", given) if given is not None else \
        ("sensor_position", tables.get("sensor_position"))
    if value is None:
        return None
    try:
        # Not a string: no name matches a repr, so the error lists the known ones.
        return sensor_position(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        known = str(exc).partition("known: ")[2]
        raise ConfigError(key, value, f"where the sensor is worn: {known}",
                          "" if given is not None else source) from None
