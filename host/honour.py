"""Honour mode: a user without a wearable reports their sets themselves (``repfit done``).

Opt-in per user, because it changes what a result means: a reported set is stored and shown,
marked *reported, not verified*, and never counts as verified anywhere (stats, streaks,
penalties done; later, posts). Config::

    honour = true                   # for the user of this config file
    honour = ["alice", "bob"]       # or for these users only
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from repfit.config import ConfigError

__all__ = ["honour_mode"]


def honour_mode(tables: Mapping[str, Any], user: str, source: str = "") -> bool:
    """Whether ``user`` may report sets without a wearable (the config's ``honour``).

    Raises
    ------
    ConfigError
        When ``honour`` is neither true/false nor a list of user names.
    """
    value = tables.get("honour", False)
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(u, str) for u in value):
        return user in value
    raise ConfigError("honour", value, 'true, false or a list of user names ["alice"]', source)
