"""Configuration: one TOML file plus ``REPFIT_*`` environment overrides, validated at start.

The file is ``<user config dir>/repfit/config.toml`` unless a path is given. Secrets (broker
password, API keys) come from the environment, or from the file only when it is readable by
its owner alone (mode 0600); they are kept in `Secret` so they never print.

Environment overrides: ``REPFIT_USER``, ``REPFIT_MQTT_URL``, ``REPFIT_MQTT_USERNAME``,
``REPFIT_MQTT_PASSWORD``, ``REPFIT_DATA_DIR``.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

import platformdirs

__all__ = [
    "Config",
    "ConfigError",
    "MqttSettings",
    "Secret",
    "default_config_path",
    "is_private",
    "load",
    "parse_broker_url",
]

_USER_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConfigError(ValueError):
    """A configuration value that cannot be used; names the dotted key and what was expected."""

    def __init__(self, key: str, value: object, expected: str, source: str = "") -> None:
        self.key = key
        self.expected = expected
        where = f" (in {source})" if source else ""
        shown = "<secret>" if "password" in key or "token" in key or "key" in key.split(".")[-1] \
            else repr(value)
        super().__init__(f"{key}{where}: expected {expected}, got {shown}")


class Secret(str):
    """A string that never shows its value in repr/str formatting of containers or logs."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        """The actual value, for the one call that needs it (e.g. the MQTT login)."""
        return "".join(self)


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and how to log in."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    tls: bool = False
    websocket: bool = False

    @property
    def url(self) -> str:
        """The broker URL without credentials (safe to log)."""
        if self.websocket:
            scheme = "wss" if self.tls else "ws"
        else:
            scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Config:
    """Settings shared by the host and the training side."""

    user: str = "me"
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("repfit")))
    source_path: Path | None = None
    #: The raw TOML tables, for sections owned by other modules (menu, sources, ...).
    tables: Mapping[str, Any] = field(default_factory=dict, repr=False)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("repfit")) / "config.toml"


_SCHEMES = {"mqtt": (1883, False, False), "tcp": (1883, False, False),
            "mqtts": (8883, True, False), "ssl": (8883, True, False),
            "ws": (9001, False, True), "wss": (443, True, True)}


def parse_broker_url(url: str, *, key: str = "mqtt.url") -> MqttSettings:
    """Parse ``mqtt://[user[:password]@]host[:port]`` (also mqtts, ws, wss).

    Raises
    ------
    ConfigError
        When the scheme is unknown, the host is missing or the port is not 1-65535.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise ConfigError(key, _without_password(url),
                          "a URL like mqtt://HOST:PORT (schemes: " + ", ".join(_SCHEMES) + ")")
    default_port, tls, websocket = _SCHEMES[parts.scheme]
    if not parts.hostname:
        raise ConfigError(key, _without_password(url), "a host name, e.g. mqtt://127.0.0.1:1883")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(key, _without_password(url), "a port between 1 and 65535") from None
    if not 1 <= port <= 65535:
        raise ConfigError(key, _without_password(url), "a port between 1 and 65535")
    return MqttSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=Secret(unquote(parts.password)) if parts.password else None,
        tls=tls,
        websocket=websocket,
    )


def _without_password(url: str) -> str:
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", str(path), f"valid TOML ({exc})") from None


def _owner_only(path: Path) -> bool:
    mode = path.stat().st_mode
    return not (mode & (stat.S_IRWXG | stat.S_IRWXO))


def is_private(path: Path) -> bool:
    """Whether only its owner may read ``path`` (mode 0600 or stricter): the condition for
    keeping a secret in a config file."""
    return _owner_only(path)


def load(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file (if any) and apply environment overrides.

    Parameters
    ----------
    path : path, optional
        The TOML file. ``None`` means the default path, which may be absent. An explicit
        path that does not exist is an error.
    env : mapping, optional
        Environment variables (``os.environ`` when omitted; tests pass their own).

    Raises
    ------
    ConfigError
        Naming the dotted key, the value (never a secret) and what was expected.
    """
    env = os.environ if env is None else env
    explicit = path is not None
    file = Path(path) if path is not None else default_config_path()
    raw: dict[str, Any] = {}
    if file.exists():
        raw = _read_file(file)
    elif explicit:
        raise ConfigError("(file)", str(file), "an existing config file")
    src = str(file) if raw else ""

    user = env.get("REPFIT_USER") or raw.get("user", "me")
    if not isinstance(user, str) or not _USER_RE.match(user):
        raise ConfigError("user", user, "1-64 letters, digits, '_' or '-'", src)

    mqtt_raw = raw.get("mqtt", {})
    if not isinstance(mqtt_raw, dict):
        raise ConfigError("mqtt", mqtt_raw, "a table [mqtt]", src)
    url = env.get("REPFIT_MQTT_URL") or mqtt_raw.get("url", "mqtt://127.0.0.1:1883")
    if not isinstance(url, str):
        raise ConfigError("mqtt.url", url, "a string URL", src)
    mqtt = parse_broker_url(url)
    username = env.get("REPFIT_MQTT_USERNAME") or mqtt_raw.get("username") or mqtt.username
    password: str | None = env.get("REPFIT_MQTT_PASSWORD")
    if password is None and "password" in mqtt_raw:
        if not _owner_only(file):
            raise ConfigError("mqtt.password", None,
                              f"the file to be private (chmod 600 {file}) when it holds a "
                              "password; or set REPFIT_MQTT_PASSWORD instead", src)
        password = mqtt_raw["password"]
    if password is None and mqtt.password is not None:
        password = mqtt.password
    if username is not None and not isinstance(username, str):
        raise ConfigError("mqtt.username", username, "a string", src)
    if password is not None and not isinstance(password, str):
        raise ConfigError("mqtt.password", None, "a string", src)
    mqtt = MqttSettings(
        host=mqtt.host, port=mqtt.port, username=username,
        password=Secret(password) if password is not None else None,
        tls=mqtt.tls, websocket=mqtt.websocket,
    )

    data_dir_raw = env.get("REPFIT_DATA_DIR") or raw.get("data_dir")
    if data_dir_raw is not None and not isinstance(data_dir_raw, str):
        raise ConfigError("data_dir", data_dir_raw, "a directory path", src)
    data_dir = Path(data_dir_raw).expanduser() if data_dir_raw else \
        Path(platformdirs.user_data_dir("repfit"))

    return Config(user=user, mqtt=mqtt, data_dir=data_dir,
                  source_path=file if raw else None, tables=raw)
