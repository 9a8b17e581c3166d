"""The ``[posts]`` config tables: which services post, when, with which template and keys.

Read once at start. A service with a problem (an unknown template field, a missing or
malformed key, a library not installed) is left off with one line that names the key; the
others, and the host, run on. Keys come from the environment (``REPFIT_X_API_KEY`` ...) or,
only when the config file is private (mode 0600), from the file; they stay `Secret`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from repfit.config import Config, Secret, is_private
from repfit.host.posts.length import BLUESKY, MASTODON, LengthRule, X
from repfit.host.posts.poster import Poster
from repfit.host.posts.rules import MILESTONES, TRIGGERS, PostingRule, QuietHours
from repfit.host.posts.template import DEFAULT_TEMPLATES, PostTemplate, TemplateError

__all__ = ["SERVICES", "PostSettings", "ServiceSettings", "build_poster", "load_settings"]

#: Service kinds, their secret keys and the environment variables that may hold them.
SERVICES: Mapping[str, Mapping[str, str]] = {
    "x": {"api_key": "REPFIT_X_API_KEY", "api_secret": "REPFIT_X_API_SECRET",
          "access_token": "REPFIT_X_ACCESS_TOKEN",
          "access_token_secret": "REPFIT_X_ACCESS_TOKEN_SECRET"},
    "mastodon": {"access_token": "REPFIT_MASTODON_ACCESS_TOKEN"},
    "bluesky": {"app_password": "REPFIT_BLUESKY_APP_PASSWORD"},
    "webhook": {"url": "REPFIT_WEBHOOK_URL"},
}
_RULES: Mapping[str, LengthRule] = {"x": X, "mastodon": MASTODON, "bluesky": BLUESKY}
_WEB_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class _Problem(ValueError):
    """One reason a service stays off."""


@dataclass(frozen=True)
class ServiceSettings:
    """One configured service (``[posts.NAME]``)."""

    name: str
    rule: PostingRule
    templates: Mapping[str, PostTemplate]
    secrets: Mapping[str, Secret] = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostSettings:
    """All of ``[posts]``: the usable services, and one line per service left off."""

    tz: ZoneInfo
    services: tuple[ServiceSettings, ...] = ()
    problems: tuple[str, ...] = ()


def _clock(key: str, value: object) -> time:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise _Problem(f"{key}: expected a local time HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _rule(key: str, table: Mapping[str, Any], quiet_default: object) -> PostingRule:
    when = table.get("when", ["verified"])
    if isinstance(when, str):
        when = [when]
    if not isinstance(when, list) or not all(w in TRIGGERS for w in when):
        raise _Problem(f"{key}.when: expected a list of {', '.join(TRIGGERS)}, got {when!r}")
    daily_at = _clock(f"{key}.daily_at", table["daily_at"]) if "daily_at" in table else None
    if "daily" in when and daily_at is None:
        raise _Problem(f"{key}.daily_at: 'daily' in when needs a time, e.g. \"21:00\"")
    quiet_raw = table.get("quiet_hours", quiet_default)
    quiet = None
    if quiet_raw:
        parts = quiet_raw.split("-") if isinstance(quiet_raw, str) else []
        if len(parts) != 2:
            raise _Problem(f"{key}.quiet_hours: expected \"HH:MM-HH:MM\", got {quiet_raw!r}")
        quiet = QuietHours(_clock(f"{key}.quiet_hours", parts[0].strip()),
                           _clock(f"{key}.quiet_hours", parts[1].strip()))
    milestones = table.get("milestones", list(MILESTONES))
    if not isinstance(milestones, list) or not all(isinstance(m, int) and m > 0
                                                   for m in milestones):
        raise _Problem(f"{key}.milestones: expected a list of day counts, got {milestones!r}")
    honour = table.get("honour_mode", False)
    if not isinstance(honour, bool):
        raise _Problem(f"{key}.honour_mode: expected true or false, got {honour!r}")
    return PostingRule(frozenset(when), daily_at, quiet, tuple(milestones), honour)


def _templates(key: str, table: Mapping[str, Any]) -> dict[str, PostTemplate]:
    out = {}
    for kind, default in DEFAULT_TEMPLATES.items():
        name = "template" if kind == "set" else f"{kind}_template"
        source = table.get(name, default)
        if not isinstance(source, str):
            raise _Problem(f"{key}.{name}: expected a string, got {type(source).__name__}")
        try:
            out[kind] = PostTemplate(source, f"{key}.{name}")
        except TemplateError as exc:
            raise _Problem(str(exc)) from None
    return out


def _secrets(kind: str, key: str, table: Mapping[str, Any], env: Mapping[str, str],
             file: Path | None) -> dict[str, Secret]:
    out = {}
    for name, variable in SERVICES[kind].items():
        value: object = env.get(variable)
        if not value and name in table:
            if file is None or not is_private(file):
                raise _Problem(f"{key}.{name}: a key in the config file needs the file to be "
                               f"private (chmod 600 {file}); or set {variable} instead")
            value = table[name]
        if not value:
            raise _Problem(f"{key}.{name}: missing (set {variable}, or {name} in a private "
                           "config file)")
        if not isinstance(value, str) or value != value.strip() or any(
                c.isspace() for c in value):
            raise _Problem(f"{key}.{name}: malformed (expected one word without spaces)")
        if name == "url" and not _WEB_URL.match(value):
            raise _Problem(f"{key}.{name}: malformed (expected an http:// or https:// URL)")
        out[name] = Secret(value)
    return out


def _service(name: str, table: object, quiet_default: object, env: Mapping[str, str],
             file: Path | None) -> ServiceSettings | None:
    key = f"posts.{name}"
    if not isinstance(table, dict):
        raise _Problem(f"{key}: expected a table [{key}]")
    if table.get("enabled", True) is False:
        return None
    kind = table.get("service", name)
    if kind not in SERVICES:
        raise _Problem(f"{key}.service: expected one of {', '.join(SERVICES)}, got {kind!r}")
    options = {k: v for k, v in table.items() if k not in SERVICES[kind]}
    if kind == "mastodon" and not (isinstance(options.get("instance"), str)
                                   and _WEB_URL.match(options["instance"])):
        raise _Problem(f"{key}.instance: expected the server's URL, e.g. "
                       "\"https://mastodon.social\"")
    if kind == "bluesky" and not isinstance(options.get("handle"), str):
        raise _Problem(f"{key}.handle: expected the account, e.g. \"name.bsky.social\"")
    if kind == "webhook":
        from repfit.host.posts.webhook_poster import WEBHOOK_FORMATS

        if options.get("format", "json") not in WEBHOOK_FORMATS:
            raise _Problem(f"{key}.format: expected one of {', '.join(WEBHOOK_FORMATS)}, "
                           f"got {options.get('format')!r}")
    if not isinstance(options.get("picture", False), bool):
        raise _Problem(f"{key}.picture: expected true or false, got {options['picture']!r}")
    rule = _rule(key, table, quiet_default)
    templates = _templates(key, table)
    secrets = _secrets(kind, key, table, env, file)
    return ServiceSettings(name, rule, templates, secrets, {**options, "service": kind})


def load_settings(cfg: Config, env: Mapping[str, str] | None = None,
                  default_tz: ZoneInfo | None = None) -> PostSettings:
    """The ``[posts]`` settings of ``cfg``; never raises for one bad service."""
    env = os.environ if env is None else env
    raw = cfg.tables.get("posts", {})
    tz = default_tz or ZoneInfo("UTC")
    if not isinstance(raw, dict):
        return PostSettings(tz, problems=("posts: expected a table [posts]; posting is off",))
    problems: list[str] = []
    if "timezone" in raw:
        try:
            tz = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"posts.timezone: expected an IANA zone such as Europe/Paris, got "
                            f"{raw['timezone']!r}; using {tz.key}")
    services = []
    for name, table in raw.items():
        if name in ("timezone", "quiet_hours"):
            continue
        try:
            service = _service(name, table, raw.get("quiet_hours"), env, cfg.source_path)
        except _Problem as exc:
            problems.append(f"{exc}; posting to {name} is off")
            continue
        if service is not None:
            services.append(service)
    return PostSettings(tz, tuple(services), tuple(problems))


def build_poster(service: ServiceSettings) -> Poster:
    """The poster for ``service``. Raises ImportError (naming the extra to install) when its
    library is missing."""
    kind, o, s = service.options["service"], service.options, service.secrets
    try:
        if kind == "x":
            from repfit.host.posts.x_poster import XPoster

            return XPoster(s["api_key"], s["api_secret"], s["access_token"],
                           s["access_token_secret"], name=service.name)
        if kind == "mastodon":
            from repfit.host.posts.mastodon_poster import MastodonPoster

            return MastodonPoster(o["instance"], s["access_token"], name=service.name,
                                  visibility=str(o.get("visibility", "public")),
                                  max_chars=int(o.get("max_chars", MASTODON.limit)))
        if kind == "bluesky":
            from repfit.host.posts.bluesky_poster import BlueskyPoster

            return BlueskyPoster(o["handle"], s["app_password"], name=service.name,
                                 service=str(o.get("pds", "https://bsky.social")))
        from repfit.host.posts.webhook_poster import WebhookPoster

        return WebhookPoster(s["url"], str(o.get("format", "json")), name=service.name,
                             topic=str(o.get("topic", "")),
                             max_chars=int(o["max_chars"]) if "max_chars" in o else None)
    except ImportError as exc:
        raise ImportError(f"posts.{service.name}: the {kind} library is not installed "
                          f"({exc.name}); pip install 'repfit[social]'") from None
