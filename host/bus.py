"""The host's MQTT connection: paho-mqtt 2.x wrapped once, used with ``async with``.

paho runs its network loop in its own thread and reconnects by itself. Its callbacks here do
one thing — hand raw messages to the asyncio loop through a bounded queue. Decoding happens
on the loop, through `repfit.wire`, so raw bytes never travel past this module and a
malformed payload is logged with its reason and dropped without stopping anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt

from repfit import wire
from repfit.config import MqttSettings, Secret
from repfit.display_text import plain
from repfit.host.log_limit import RateLimitedLog
from repfit.mqtt_link import LinkError, MqttLink, Will, stable_client_id
from repfit.signing import Signature, Signer

__all__ = ["Bus", "BusError", "Incoming"]

log = logging.getLogger(__name__)

class BusError(ConnectionError):
    """The broker could not be reached or refused us; the message says which and why."""


@dataclass(frozen=True)
class Incoming:
    """A decoded message and the topic it came on."""

    topic: wire.Topic
    message: wire.Message
    retained: bool = False


class Bus:
    """An MQTT session for the host (or any asyncio participant).

    Parameters
    ----------
    settings : MqttSettings
        Broker address and credentials.
    user : str
        The repfit user whose topics this participant serves.
    role : str
        ``"host"`` or ``"wearable"``; used for the client id and the Last Will status topic.
    persistent : bool
        Keep this participant's session on the broker while it is away (a stable client id
        per user and machine, clean session off): assignments published meanwhile are queued
        by the broker and delivered at the next start. The host uses it.
    queue_size : int
        Incoming messages buffered before the oldest is dropped (with a counted warning).

    Examples
    --------
    >>> async with Bus(settings, user="ada") as bus:          # doctest: +SKIP
    ...     await bus.subscribe("assignment", "samples")
    ...     async for incoming in bus.messages():
    ...         handle(incoming.message)
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        user: str,
        role: str = "host",
        client_id: str | None = None,
        persistent: bool = False,
        queue_size: int = 10_000,
        connect_timeout_s: float = 10.0,
        signing_key: Secret | None = None,
    ) -> None:
        self.settings = settings
        #: With a key, assignments must carry a valid signature and results are signed.
        self.signer = Signer(signing_key) if signing_key is not None else None
        self.user = user
        self.role = role
        self.persistent = persistent
        self.client_id = client_id or (stable_client_id(role, user) if persistent
                                       else f"repfit-{role}-{uuid.uuid4().hex[:8]}")
        self.connect_timeout_s = connect_timeout_s
        self._queue_size = queue_size
        self._queue: asyncio.Queue[mqtt.MQTTMessage] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._link: MqttLink | None = None
        self._answered = False  # the broker has sent a CONNACK (paho's thread sets it)
        self._connected: asyncio.Event | None = None
        self._connect_error: BaseException | None = None
        self._said_retrying = False   # the first failed attempt was told (paho's thread)
        self._filters: dict[str, int] = {}
        self._watched: dict[str, Callable[[bytes], None]] = {}
        self._suback: dict[int, asyncio.Future[None]] = {}
        self._unacked: list[mqtt.MQTTMessageInfo] = []
        self._dropped = 0
        self._limiter = RateLimitedLog(log)
        self.rejected = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def status_topic(self) -> str:
        """This participant's retained status topic (its Last Will)."""
        return wire.topic_for(self.user, "status", self.client_id)

    def _status_topic(self) -> str:
        return self.status_topic

    def _status(self, online: bool) -> bytes:
        role = self.role if self.role in ("host", "trainer", "wearable") else "host"
        return wire.encode(wire.Status(role=role, online=online, client_id=self.client_id,  # type: ignore[arg-type]
                                       at=time.time()))

    async def __aenter__(self) -> Bus:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self._queue_size)
        self._connected = asyncio.Event()
        link = MqttLink(self.settings, client_id=self.client_id, persistent=self.persistent,
                        will=Will(self._status_topic(), self._status(False)),
                        on_connect_fail=self._on_connect_fail)
        client = link.client
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._link = link
        self._client = client
        try:
            link.start()
        except LinkError as exc:
            raise BusError(str(exc)) from None
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
        except asyncio.TimeoutError:
            client.loop_stop()
            self._client = None
            raise BusError(str(link.unreachable(self.connect_timeout_s))) from None
        if self._connect_error is not None:
            client.loop_stop()
            self._client = None
            raise BusError(str(self._connect_error))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client = self._client
        if client is None:
            return
        self._client = None
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self._unacked.append(
                client.publish(self._status_topic(), self._status(False), qos=1, retain=True))
        # Results and statuses still in flight get a bounded moment to reach the broker.
        await asyncio.get_running_loop().run_in_executor(None, self._flush, 2.0)
        client.disconnect()
        await asyncio.get_running_loop().run_in_executor(None, client.loop_stop)

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait (at most ``timeout_s``) until every QoS 1 publish so far reached the broker."""
        await asyncio.get_running_loop().run_in_executor(None, self._flush, timeout_s)

    def _flush(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self._unacked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                info.wait_for_publish(remaining)
        self._unacked.clear()

    # ------------------------------------------------------------ paho callbacks (its thread)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._subscribed, mid)

    def _subscribed(self, mid: int) -> None:
        future = self._suback.get(mid)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        assert self._loop is not None and self._connected is not None
        self._answered = True
        if reason.is_failure:
            assert self._link is not None
            self._connect_error = BusError(str(self._link.refused(reason)))
            # A refusal (bad password) will not fix itself: stop paho's retry loop.
            self._loop.call_soon_threadsafe(self._connected.set)
            client.disconnect()
            return
        if self._filters:
            client.subscribe([(f, q) for f, q in self._filters.items()])
        self._loop.call_soon_threadsafe(self._connected.set)
        log.info("connected to %s as %s", self.settings.url, self.client_id)

    def _on_connect_fail(self) -> None:
        link, loop, connected = self._link, self._loop, self._connected
        if link is None or loop is None or connected is None or connected.is_set():
            return
        if link.hopeless:  # e.g. an untrusted certificate: retrying cannot help
            self._connect_error = BusError(str(link.unreachable()))
            link.client.disconnect()
            loop.call_soon_threadsafe(connected.set)
        elif not self._said_retrying:
            # The wait is not silent: a broker still starting gets its time, a wrong port
            # is seen at once.
            self._said_retrying = True
            log.warning("the MQTT broker at %s is not answering (%s); retrying for up to %g s",
                        self.settings.url, link.last_error or "no answer",
                        self.connect_timeout_s)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if not self._answered and self._link is not None:
            self._link.closed_before_answer()
            self._on_connect_fail()
            return
        if self._client is not None and self._connect_error is None and self._loop is not None:
            # The limiter belongs to the event loop's thread; paho calls us from its own.
            self._loop.call_soon_threadsafe(
                self._limiter.warning, "disconnect",
                "lost the MQTT broker at %s (%s); reconnecting", self.settings.url, str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        assert self._loop is not None
        for pattern, callback in list(self._watched.items()):
            if mqtt.topic_matches_sub(pattern, message.topic):
                self._loop.call_soon_threadsafe(callback, bytes(message.payload))
                return
        self._loop.call_soon_threadsafe(self._enqueue, message)

    def _enqueue(self, message: mqtt.MQTTMessage) -> None:
        assert self._queue is not None
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
            self._limiter.warning("overflow", "incoming queue full: dropped the oldest message "
                               "(%d so far)", self._dropped)
        self._queue.put_nowait(message)

    # ------------------------------------------------------------------ public API

    async def subscribe(self, *kinds: str) -> None:
        """Subscribe to message kinds (``"assignment"``, ``"samples"``, ...) for this user."""
        if self._client is None:
            raise BusError("subscribe() outside 'async with Bus(...)'")
        await self._subscribe({wire.subscription(self.user, k): wire.qos_retain(k)[0]
                               for k in kinds})

    async def watch(self, topic_filter: str, callback: Callable[[bytes], None]) -> None:
        """Subscribe to a topic outside repfit's contract (e.g. Home Assistant's
        ``homeassistant/status``); ``callback`` gets each raw payload on the event loop."""
        if self._client is None:
            raise BusError("watch() outside 'async with Bus(...)'")
        self._watched[topic_filter] = callback
        await self._subscribe({topic_filter: 1})

    async def _subscribe(self, new: dict[str, int]) -> None:
        assert self._client is not None
        self._filters.update(new)
        result, mid = self._client.subscribe(list(new.items()))
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise BusError(f"could not subscribe on {self.settings.url} ({result})")
        # Registered before the loop can run the acknowledgement handed over by paho's thread.
        acked = asyncio.get_running_loop().create_future()
        self._suback[mid] = acked
        try:
            await asyncio.wait_for(acked, self.connect_timeout_s)
        except asyncio.TimeoutError:
            raise BusError(f"the MQTT broker at {self.settings.url} did not acknowledge the "
                           f"subscription within {self.connect_timeout_s:g} s") from None
        finally:
            self._suback.pop(mid, None)

    def announce(self) -> None:
        """Publish this participant's retained ``online`` status.

        Call it once subscribed: the broker handles one connection's packets in order, so
        whoever sees us online can rely on our subscriptions being in place.
        """
        if self._client is None:
            raise BusError("announce() outside 'async with Bus(...)'")
        self._client.publish(self._status_topic(), self._status(True), qos=1, retain=True)

    def publish_raw(self, topic: str, payload: bytes, *, qos: int = 1,
                    retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Queue bytes for a topic outside repfit's contract (Home Assistant discovery)."""
        if self._client is None:
            raise BusError("publish_raw() outside 'async with Bus(...)'")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            self._unacked = [i for i in self._unacked if not i.is_published()]
            self._unacked.append(info)
        return info

    def publish(self, message: wire.Message, *,
                device: str | None = None) -> mqtt.MQTTMessageInfo:
        """Queue a message for sending; paho delivers it (QoS 1 survives reconnects).

        Returns paho's handle: ``is_published()`` says when the broker acknowledged it."""
        if self._client is None:
            raise BusError("publish() outside 'async with Bus(...)'")
        topic = wire.topic_for(self.user, message, device)
        kind = wire.parse_topic(topic).kind
        qos, retain = wire.qos_retain(kind)
        payload = wire.encode(message)
        if self.signer is not None:
            payload = self.signer.outgoing(topic, kind, payload)
        return self.publish_raw(topic, payload, qos=qos, retain=retain)

    async def messages(self) -> AsyncIterator[Incoming]:
        """Decoded incoming messages, forever. Malformed ones are logged and skipped."""
        if self._queue is None:
            raise BusError("messages() outside 'async with Bus(...)'")
        while True:
            raw = await self._queue.get()
            if not raw.payload and raw.retain:
                continue  # a cleared retained message, not a message
            try:
                topic, message = wire.decode(raw.topic, raw.payload)
            except wire.WireError as exc:
                self.rejected += 1
                # One line per distinct problem per topic; a flood of the same is summarised.
                key = f"{raw.topic}|{exc.field}|{re.sub(r'[0-9]+', '#', exc.reason)}"
                self._limiter.warning(key, "dropped a message on %s: %s (%s)",
                                   plain(raw.topic), exc.reason, f"field {exc.field!r}")
                continue
            if topic.user != self.user:
                continue
            if self.signer is not None:
                verdict = self.signer.incoming(raw.topic, topic.kind, raw.payload)
                if verdict is not Signature.VALID:
                    self.rejected += 1
                    self._limiter.warning(f"signature|{raw.topic}|{verdict.value}",
                                          "refused a %s on %s: signature %s (a signing key "
                                          "is configured)", topic.kind, raw.topic,
                                          verdict.value)
                    continue
            yield Incoming(topic, message, bool(raw.retain))
