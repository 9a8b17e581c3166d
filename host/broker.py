"""The embedded MQTT broker (amqtt) for zero-setup use: one person, one machine.

A lab or team points repfit at Mosquitto (or any MQTT 3.1.1/5 broker) by URL instead; the
rest of the code does not know the difference.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["EmbeddedBroker", "free_port"]

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
    """

    port: int = 0
    ws_port: int | None = None
    host: str = "127.0.0.1"

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
        return {
            "listeners": listeners,
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    async def __aenter__(self) -> EmbeddedBroker:
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
        # Imported here: amqtt is only needed when the embedded broker is used.
        from amqtt.broker import Broker

        if self.port == 0:
            self.port = free_port(self.host)
        if self.ws_port == 0:
            self.ws_port = free_port(self.host)
        self._broker = Broker(self._config(), loop=asyncio.get_running_loop())
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
