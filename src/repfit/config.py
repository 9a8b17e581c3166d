"""Configuration: one TOML file plus ``REPFIT_*`` environment overrides, validated at start.

The file is ``<user config dir>/repfit/config.toml`` unless a path is given. Secrets (broker
password, API keys) come from the environment, or from the file only when it is readable by
its owner alone (mode 0600); they are kept in `Secret` so they never print.

Loading fails safe: a bad value is recorded in `Config.problems` (naming the environment
variable, or the file and key) and only that value falls back; every other setting is kept.
Commands that need the broker call `Config.check` to turn a broker problem into an error;
commands that do not (history, demo, count) only warn.

Environment overrides: ``REPFIT_USER``, ``REPFIT_MQTT_URL``, ``REPFIT_MQTT_USERNAME``,
``REPFIT_MQTT_PASSWORD``, ``REPFIT_MQTT_CA_FILE``, ``REPFIT_MQTT_CERT_FILE``,
``REPFIT_MQTT_KEY_FILE``, ``REPFIT_DATA_DIR``, ``REPFIT_SIGNING_KEY``.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

import platformdirs

__all__ = [
    "FILE_KEY",
    "USER_NAME_RULE",
    "Config",
    "ConfigError",
    "MqttSettings",
    "Secret",
    "broker_settings",
    "default_config_path",
    "is_private",
    "is_user_name",
    "load",
    "parse_broker_url",
    "redact_url",
]

_USER_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: What a user name may be (it is a segment of every MQTT topic), as messages say it.
USER_NAME_RULE = "1-64 letters, digits, '_' or '-'"
_SECRET_KEYS = ("password", "token", "secret", "key")


#: The key of a problem with the config file as a whole (missing, not TOML, unreadable).
FILE_KEY = "(file)"


class ConfigError(ValueError):
    """A configuration value that cannot be used; names where it came from and what was expected.

    Attributes
    ----------
    key : str
        The dotted config key (``mqtt.url``), also for a value read from the environment.
    source : str
        The file the value came from, or the environment variable (``REPFIT_MQTT_URL``).
    fallback : str
        What is used instead, for the warning of a command that carries on.
    """

    def __init__(self, key: str, value: object, expected: str, source: str = "",
                 *, fallback: str = "") -> None:
        self.key = key
        self.expected = expected
        self.source = source
        self.fallback = fallback
        shown = "<secret>" if _is_secret_key(key) else _printable(value)
        head = f"{key} (in {source})" if source else key
        if _is_env_name(source):
            head = source
        if key == FILE_KEY:  # the whole file: its path is the value, and says it all
            super().__init__(f"config file {shown}: expected {expected}")
            return
        super().__init__(f"{head}: expected {expected}, got {shown}")


def _is_secret_key(key: str) -> bool:
    """``mqtt.password``, ``x.api_key``, ``--token``: yes; ``mqtt.key_file``: no (a path)."""
    last = key.split(".")[-1].lstrip("-").lower().replace("-", "_")
    return last == "key" or any(last == s or last.endswith("_" + s) for s in _SECRET_KEYS)


def _is_env_name(source: str) -> bool:
    return source.startswith("REPFIT_")


def _printable(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


class Secret:
    """A value that never shows itself: not in ``str``, ``repr``, f-strings or tracebacks.

    Deliberately not a ``str`` subclass, so no string operation can copy the value out by
    accident; `reveal` is the one way to read it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else str(value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def reveal(self) -> str:
        """The actual value, for the one call that needs it (e.g. the MQTT login)."""
        return self._value


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is, how to log in, and how to check who it is (TLS)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    tls: bool = False
    websocket: bool = False
    #: Websocket path (``/mqtt`` unless the URL names another).
    ws_path: str = "/mqtt"
    #: CA certificate(s) that sign the broker's certificate; the system's when None.
    ca_file: Path | None = None
    #: Client certificate (PEM) for brokers that require one, and its private key.
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def url(self) -> str:
        """The broker URL without credentials (safe to log)."""
        if self.websocket:
            scheme = "wss" if self.tls else "ws"
        else:
            scheme = "mqtts" if self.tls else "mqtt"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.ws_path if self.websocket and self.ws_path != "/mqtt" else ""
        return f"{scheme}://{host}:{self.port}{path}"

    def secrets(self) -> tuple[str, ...]:
        """The secret strings these settings hold, for redacting text from other libraries."""
        return (self.password.reveal(),) if self.password else ()


@dataclass(frozen=True)
class Config:
    """Settings shared by the host and the training side."""

    user: str = "me"
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("repfit")))
    source_path: Path | None = None
    #: The raw TOML tables, for sections owned by other modules (menu, sources, ...).
    tables: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Values that could not be used (each fell back on its own); see `check`.
    problems: tuple[ConfigError, ...] = ()
    #: The user's key for signed assignments and results (`repfit.signing`); None: unsigned.
    signing_key: Secret | None = field(default=None, repr=False)

    def problems_with(self, *keys: str) -> list[ConfigError]:
        """The problems whose key is one of ``keys`` or below one (``"mqtt"`` -> ``mqtt.url``)."""
        return [p for p in self.problems
                if any(p.key == k or p.key.startswith(k + ".") for k in keys)]

    def check(self, *keys: str) -> None:
        """Raise the first problem under ``keys``: for commands that cannot do without them.

        Raises
        ------
        ConfigError
            The recorded problem, naming the variable or the file and key.
        """
        found = self.problems_with(*keys)
        if found:
            raise found[0]


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("repfit")) / "config.toml"


_SCHEMES = {"mqtt": (1883, False, False), "tcp": (1883, False, False),
            "mqtts": (8883, True, False), "ssl": (8883, True, False),
            "ws": (9001, False, True), "wss": (443, True, True)}


def parse_broker_url(url: str, *, key: str = "mqtt.url", source: str = "") -> MqttSettings:
    """Parse ``mqtt://[user[:password]@]host[:port]`` (also mqtts, ws, wss; ws may add a path).

    The password may hold any character, ``/ @ :`` included, raw or percent-encoded: the
    credentials end at the last ``@``. Errors never show it.

    Raises
    ------
    ConfigError
        When the scheme is unknown, the host is missing or the port is not 1-65535.
    """
    if not isinstance(url, str):
        raise ConfigError(key, type(url).__name__, "a URL string", source)
    url = url.strip()
    shown = redact_url(url)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SCHEMES:
        raise ConfigError(key, shown, "a URL like mqtt://HOST:PORT (schemes: "
                          + ", ".join(_SCHEMES) + ")", source)
    userinfo, at, address = rest.rpartition("@")
    netloc, slash, path = address.partition("/")
    default_port, tls, websocket = _SCHEMES[scheme]
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host = parts.hostname
        port = parts.port if parts.port is not None else default_port
    except ValueError:
        raise ConfigError(key, shown, "HOST[:PORT] with a port between 1 and 65535",
                          source) from None
    if not host:
        raise ConfigError(key, shown, "a host name, e.g. mqtt://127.0.0.1:1883", source)
    if not 1 <= port <= 65535:
        raise ConfigError(key, shown, "a port between 1 and 65535", source)
    username = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        username = unquote(name) or None
        password = Secret(unquote(secret)) if colon and secret else None
    return MqttSettings(host=host, port=port, username=username, password=password, tls=tls,
                        websocket=websocket, ws_path=f"/{path}" if slash and path else "/mqtt")


def broker_settings(url: str, base: MqttSettings, *, key: str,
                    source: str = "") -> MqttSettings:
    """Settings for a broker named by a URL on the command line (``--broker``, ``--phone``)
    or in code: the URL's address and credentials, the rest (user name, password, TLS
    files) from ``base``, the configured settings.

    Raises
    ------
    ConfigError
        As `parse_broker_url`.
    """
    given = parse_broker_url(url, key=key, source=source)
    if given.tls:
        given = replace(given, ca_file=base.ca_file, cert_file=base.cert_file,
                        key_file=base.key_file)
    if given.username is not None:  # the URL names its own login: take it whole
        return given
    return replace(given, username=base.username, password=base.password)


def redact_url(url: str) -> str:
    """``url`` with everything between the user name and the last ``@`` replaced by ``***``.

    Conservative on purpose: whatever the password holds (``/``, ``@``, ``:``), nothing of
    it survives, even in a URL too broken to parse.
    """
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        scheme, userinfo = "", head
    user = userinfo.partition(":")[0] if ":" in userinfo else ""
    prefix = f"{scheme}://" if sep else ""
    return f"{prefix}{user}:***@{tail}" if user else f"{prefix}***@{tail}"


def _owner_only(path: Path) -> bool:
    mode = path.stat().st_mode
    return not (mode & (stat.S_IRWXG | stat.S_IRWXO))


def is_private(path: Path) -> bool:
    """Whether only its owner may read ``path`` (mode 0600 or stricter): the condition for
    keeping a secret in a config file."""
    return _owner_only(path)


class _Reader:
    """Reads values in priority order (environment, file, default) and records problems."""

    def __init__(self, env: Mapping[str, str], raw: Mapping[str, Any], file: Path,
                 src: str) -> None:
        self.env = env
        self.raw = raw
        self.file = file
        self.src = src
        self.problems: list[ConfigError] = []

    def problem(self, key: str, value: object, expected: str, source: str,
                fallback: str) -> None:
        self.problems.append(ConfigError(key, value, expected, source, fallback=fallback))

    def env_value(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value else None


def load(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file (if any) and apply environment overrides, failing safe.

    Parameters
    ----------
    path : path, optional
        The TOML file. ``None`` means the default path, which may be absent. An explicit
        path that does not exist is a problem (and the environment and defaults apply).
    env : mapping, optional
        Environment variables (``os.environ`` when omitted; tests pass their own).

    Returns
    -------
    Config
        Every usable value; each unusable one is in ``problems`` with its fallback in place.
    """
    env = os.environ if env is None else env
    file = Path(path) if path is not None else default_config_path()
    problems: list[ConfigError] = []
    raw: dict[str, Any] = {}
    try:
        with file.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        if path is not None:
            problems.append(ConfigError(FILE_KEY, str(file), "an existing config file",
                                        fallback="the environment and defaults"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(ConfigError(FILE_KEY, str(file), f"valid TOML ({exc})",
                                    fallback="the environment and defaults"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigError(FILE_KEY, str(file), f"a readable file ({exc})",
                                    fallback="the environment and defaults"))
    src = str(file) if raw else ""
    r = _Reader(env, raw, file, src)
    r.problems = problems

    user = _user(r)
    mqtt = _mqtt(r)
    data_dir = _data_dir(r)
    signing_key = _signing_key(r)
    return Config(user=user, mqtt=mqtt, data_dir=data_dir, source_path=file if raw else None,
                  tables=raw, problems=tuple(r.problems), signing_key=signing_key)


def is_user_name(value: str) -> bool:
    """Whether ``value`` can name a user (``--user`` is checked before any topic is built)."""
    return bool(_USER_RE.match(value))


def _user(r: _Reader) -> str:
    candidates = [("REPFIT_USER", r.env_value("REPFIT_USER"))]
    if "user" in r.raw:
        candidates.append((r.src, r.raw["user"]))
    for i, (source, value) in enumerate(candidates):
        if value is None:
            continue
        if isinstance(value, str) and _USER_RE.match(value):
            return value
        later = next((v for _, v in candidates[i + 1:]
                      if isinstance(v, str) and _USER_RE.match(v)), "me")
        r.problem("user", value, USER_NAME_RULE, source,
                  fallback=f"user {later!r}")
    return "me"


def _mqtt(r: _Reader) -> MqttSettings:
    mqtt_raw = r.raw.get("mqtt", {})
    if not isinstance(mqtt_raw, dict):
        r.problem("mqtt", mqtt_raw, "a table [mqtt]", r.src, fallback="the default broker")
        mqtt_raw = {}
    private = bool(r.raw) and _owner_only(r.file)

    settings: MqttSettings | None = None
    env_url = r.env_value("REPFIT_MQTT_URL")
    if env_url is not None:
        try:
            settings = parse_broker_url(env_url, source="REPFIT_MQTT_URL")
        except ConfigError as exc:
            exc.fallback = "the config file's broker" if "url" in mqtt_raw else \
                "the default broker"
            r.problems.append(exc)
    if settings is None and "url" in mqtt_raw:
        try:
            settings = parse_broker_url(mqtt_raw["url"], source=r.src)
        except ConfigError as exc:
            exc.fallback = "the default broker mqtt://127.0.0.1:1883"
            r.problems.append(exc)
        else:
            if settings.password is not None and not private:
                r.problem("mqtt.password", None, _private_file(r.file), r.src,
                          fallback="no password")
                settings = replace(settings, password=None)
    if settings is None:
        settings = MqttSettings()

    username: str | None = settings.username
    for source, value in (("REPFIT_MQTT_USERNAME", r.env_value("REPFIT_MQTT_USERNAME")),
                          (r.src, mqtt_raw.get("username"))):
        if value is None:
            continue
        if isinstance(value, str) and value:
            username = value
            break
        r.problem("mqtt.username", value, "a non-empty string", source,
                  fallback="the next source's user name")

    password: Secret | None = settings.password
    env_password = r.env.get("REPFIT_MQTT_PASSWORD")
    if env_password is not None:
        password = Secret(env_password)
    elif "password" in mqtt_raw:
        value = mqtt_raw["password"]
        if not private:
            r.problem("mqtt.password", None, _private_file(r.file), r.src,
                      fallback="no password")
        elif not isinstance(value, str):
            r.problem("mqtt.password", None, "a string", r.src, fallback="no password")
        else:
            password = Secret(value)

    files: dict[str, Path | None] = {}
    for name in ("ca_file", "cert_file", "key_file"):
        files[name] = None
        var = f"REPFIT_MQTT_{name.upper()}"
        for source, value in ((var, r.env_value(var)), (r.src, mqtt_raw.get(name))):
            if value is None:
                continue
            if not isinstance(value, str) or not Path(value).expanduser().is_file():
                r.problem(f"mqtt.{name}", value, "an existing file", source,
                          fallback=("the system's certificate authorities" if name == "ca_file"
                                    else "no client certificate"))
                continue
            files[name] = Path(value).expanduser()
            break
    if files["key_file"] is not None and files["cert_file"] is None:
        r.problem("mqtt.key_file", str(files["key_file"]), "cert_file to be set as well",
                  r.src, fallback="no client certificate")
        files["key_file"] = None
    if not settings.tls and any(files.values()):
        name = next(k for k, v in files.items() if v is not None)
        r.problem(f"mqtt.{name}", str(files[name]), "a TLS broker URL (mqtts:// or wss://)",
                  r.src, fallback="a connection without TLS, as the URL says")
        files = dict.fromkeys(files)
    unknown = sorted(set(mqtt_raw) - {"url", "username", "password", "ca_file", "cert_file",
                                      "key_file"})
    for key in unknown:
        r.problem(f"mqtt.{key}", mqtt_raw[key], "one of url, username, password, ca_file, "
                  "cert_file, key_file", r.src, fallback="ignored")
    return replace(settings, username=username, password=password, ca_file=files["ca_file"],
                   cert_file=files["cert_file"], key_file=files["key_file"])


#: Shortest signing key accepted: a guessable key would sign for anyone.
MIN_SIGNING_KEY_CHARS = 16


def _signing_key(r: _Reader) -> Secret | None:
    """``REPFIT_SIGNING_KEY``, else ``signing_key`` of a private config file."""
    env_key = r.env.get("REPFIT_SIGNING_KEY")
    candidates = [("REPFIT_SIGNING_KEY", env_key)] if env_key is not None else []
    if "signing_key" in r.raw:
        if not _owner_only(r.file):
            r.problem("signing_key", None, _private_file(r.file, "a signing key",
                                                         "REPFIT_SIGNING_KEY"),
                      r.src, fallback="no signing key")
        else:
            candidates.append((r.src, r.raw["signing_key"]))
    for source, value in candidates:
        if isinstance(value, str) and len(value) >= MIN_SIGNING_KEY_CHARS:
            return Secret(value)
        r.problem("signing_key", None, f"a string of at least {MIN_SIGNING_KEY_CHARS} "
                  "characters", source, fallback="no signing key")
    return None


def _private_file(file: Path, what: str = "a password",
                  variable: str = "REPFIT_MQTT_PASSWORD") -> str:
    return (f"the file to be private (chmod 600 {file}) when it holds {what}; or set "
            f"{variable} instead")


def _data_dir(r: _Reader) -> Path:
    default = Path(platformdirs.user_data_dir("repfit"))
    for source, value in (("REPFIT_DATA_DIR", r.env_value("REPFIT_DATA_DIR")),
                          (r.src, r.raw.get("data_dir"))):
        if value is None:
            continue
        if isinstance(value, str) and value.strip():
            return Path(value).expanduser()
        r.problem("data_dir", value, "a directory path", source, fallback=str(default))
    return default
