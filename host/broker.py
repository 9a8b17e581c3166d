"""The embedded MQTT broker (amqtt) for zero-setup use: one person, one machine.

A lab or team points repfit at Mosquitto (or any MQTT 3.1.1/5 broker) by URL instead; the
rest of the code does not know the difference.

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
