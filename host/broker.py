"""The embedded MQTT broker (amqtt) for zero-setup use: one person, one machine.

A lab or team points repfit at Mosquitto (or any MQTT 3.1.1/5 broker) by URL instead; the
rest of the code does not know the difference. With a password file the embedded broker
accepts only the users in it (amqtt's file format: ``name:hash`` per line, hashes argon2,
written by `add_user`); without one it accepts anyone, so it binds loopback by default.

Two amqtt behaviours differ from Mosquitto and are corrected here (reproductions in
``docs/embedded-broker.md``):

- on connect, amqtt sends a new client the retained messages matching *every* client's
  subscriptions, not only its own; the client then sees messages it never asked for;
- its websockets listener pings every 20 s, and paho-mqtt answers a ping with an unmasked
  pong, which the server must treat as a protocol error: the connection drops every 20 s and
  QoS 0 messages in flight are lost. MQTT's own keep-alive already watches the connection, so
  the listener sends no websocket pings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from repfit.config import ConfigError

__all__ = ["EmbeddedBroker", "add_user", "free_port", "read_password_file"]

#: Hash prefixes amqtt's file authentication accepts (argon2; legacy sha512-crypt).
_HASHES = ("$argon2", "$6$")

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedBroker:
    """An in-process amqtt broker on loopback, as an async context manager.

    Parameters
    ----------
    port : int
        TCP port for MQTT; 0 picks a free one (read it back from ``.port``).
    ws_port : int or None
        Optional MQTT-over-websockets listener (phones push over websockets).
    host : str
        Bind address; loopback by default so nothing is exposed to the network.
    password_file : path, optional
        Accept only the users in this file (see `add_user`); anonymous clients are refused.
    """

    port: int = 0
    ws_port: int | None = None
    host: str = "127.0.0.1"
    password_file: Path | None = None

    def __post_init__(self) -> None:
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        listeners: dict[str, Any] = {
            "default": {"type": "tcp", "bind": f"{self.host}:{self.port}"},
        }
        if self.ws_port is not None:
            listeners["ws"] = {"type": "ws", "bind": f"{self.host}:{self.ws_port}"}
        auth: dict[str, Any] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        if self.password_file is not None:
            auth = {"amqtt.plugins.authentication.FileAuthPlugin":
                    {"password_file": str(self.password_file)}}
        return {"listeners": listeners, "plugins": auth}

    async def __aenter__(self) -> EmbeddedBroker:
        if self.password_file is not None:
            read_password_file(self.password_file)  # a clear error now, not amqtt's later
        # amqtt logs every connection at INFO; keep our logs readable. Its broker also logs
        # a traceback when it cannot start, then raises: we explain that once, below.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        quiet = logging.getLogger("amqtt.broker")
        quiet.setLevel(logging.CRITICAL)
        try:
            await self._start()
        except Exception as exc:  # a taken port, an address that is not this machine's
            self._broker = None
            cause = exc.__cause__ or exc
            ports = f"{self.port}" if not self.ws_port else f"{self.port} and {self.ws_port}"
            raise ConnectionError(f"the embedded broker cannot listen on {self.host} port "
                                  f"{ports}: {getattr(cause, 'strerror', None) or cause}"
                                  ) from None
        finally:
            quiet.setLevel(logging.WARNING)
        log.info("embedded broker listening on %s", self.url)
        return self

    async def _start(self) -> None:
        if self.port == 0:
            self.port = free_port(self.host)
        if self.ws_port == 0:
            self.ws_port = free_port(self.host)
        self._broker = _corrected_broker_class()(self._config(), loop=asyncio.get_running_loop())
        await self._broker.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


def _corrected_broker_class() -> type:
    """amqtt's Broker with the two corrections of the module docstring.

    Built on first use: amqtt (and its websockets dependency) load only when the embedded
    broker runs.
    """
    from functools import partial

    import websockets
    from amqtt.broker import Broker

    class CorrectedBroker(Broker):  # type: ignore[misc]
        async def _publish_retained_messages_for_subscription(
            self, subscription: tuple[str, int], session: Any
        ) -> None:
            holders = self._subscriptions.get(subscription[0], ())
            if any(held is session for held, _qos in holders):
                await super()._publish_retained_messages_for_subscription(subscription, session)

        async def _create_server_instance(self, listener_name: str, listener_type: Any,
                                          address: str | None, port: int,
                                          ssl_context: Any) -> Any:
            if listener_type != "ws":
                return await super()._create_server_instance(
                    listener_name, listener_type, address, port, ssl_context)
            return await websockets.serve(
                partial(self.ws_connected, listener_name=listener_name), address, port,
                ssl=ssl_context, subprotocols=[websockets.Subprotocol("mqtt")],
                ping_interval=None,
            )

    return CorrectedBroker


def read_password_file(path: Path) -> dict[str, str]:
    """User names and password hashes from an embedded-broker password file.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, or has a line that is not ``name:hash`` with a
        supported hash (the line number is named; hashes are never shown).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--password-file", str(path), f"a readable password file ({exc})"
                          ) from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, hashed = line.partition(":")
        if not colon or not name or not hashed.startswith(_HASHES):
            raise ConfigError("--password-file", f"{path}, line {number}",
                              "lines NAME:HASH with an argon2 hash (repfit broker "
                              "--password-file FILE --add-user NAME writes them)")
        users[name] = hashed
    return users


def add_user(path: Path, name: str, password: str) -> None:
    """Add ``name`` (or change its password) in an embedded-broker password file.

    The file is written owner-only (0600) and replaced atomically; other lines are kept.
    """
    from pwdlib.hashers.argon2 import Argon2Hasher

    if not name or ":" in name or any(c.isspace() for c in name):
        raise ConfigError("--add-user", name, "a user name without ':' or spaces")
    path = Path(path)
    users = read_password_file(path) if path.exists() else {}
    users[name] = Argon2Hasher().hash(password)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"{user}:{hashed}\n" for user, hashed in users.items())
    os.replace(tmp, path)
