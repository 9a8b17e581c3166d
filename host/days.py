"""The user's day: which time zone it is counted in, and where it begins and ends.

Daily caps, stats and streaks all count days from local midnight in the user's zone, so "today"
means the same thing everywhere. Pure apart from `machine_zone`, which reads this machine's
zone file. Day bounds come from `zoneinfo`, so a day across a DST change is 23 or 25 hours
long, as the user lives it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from repfit.config import ConfigError

__all__ = ["day_bounds", "local_day", "machine_zone", "resolve_zone"]


def machine_zone() -> ZoneInfo:
    """This machine's zone (``/etc/localtime``), else UTC."""
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key=_machine_zone_key())
    except (OSError, ValueError):
        return ZoneInfo("UTC")


def _machine_zone_key() -> str:
    """The IANA name of this machine's zone when /etc/localtime links to one."""
    target = os.path.realpath("/etc/localtime")
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "localtime"


def resolve_zone(name: str | None, key: str, env: Mapping[str, str] | None = None,
                 source: str = "") -> ZoneInfo:
    """The zone called ``name`` (from the setting ``key``), else ``TZ``, else this machine's.

    Raises
    ------
    ConfigError
        Naming ``key`` (or ``TZ``) when the name is not an IANA time zone.
    """
    env = os.environ if env is None else env
    chosen, where = (name, key) if name else (env.get("TZ"), "TZ")
    if not chosen:
        return machine_zone()
    try:
        return ZoneInfo(chosen.lstrip(":"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(where, chosen, "an IANA time zone such as Europe/Paris",
                          source if where == key else "") from None


def local_day(t: float, tz: ZoneInfo) -> date:
    """The user's calendar date at epoch time ``t``."""
    return datetime.fromtimestamp(t, tz).date()


def day_bounds(t: float, tz: ZoneInfo) -> tuple[float, float]:
    """Epoch seconds of the local midnight that began the day of ``t`` and of the next one.

    Examples
    --------
    >>> paris = ZoneInfo("Europe/Paris")
    >>> start, end = day_bounds(datetime(2026, 3, 29, 12, tzinfo=paris).timestamp(), paris)
    >>> (end - start) / 3600      # the clocks go forward that night
    23.0
    """
    day = local_day(t, tz)
    start = datetime.combine(day, time(), tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(), tz).timestamp()
    return start, end
