"""The training side's only link to the outside: one background thread and a bounded queue.

Training code calls `Publisher.publish` (a lock, an append and a notify — no socket, no disk)
and keeps going. A daemon worker thread encodes messages with `repfit.wire`, hands them to a
paho-mqtt client running its own network loop, keeps assignments in a durable `Outbox` until
the broker acknowledges them, and runs the small disk jobs (run history) submitted with
`Publisher.submit`. Broker trouble — down, unreachable, refusing our credentials — is logged
once as a warning; training never sees an exception from here.

Assignments are at-least-once: they are written to the outbox before the first send attempt
and kept there until the host acknowledges them (a `repfit.wire.Ack`, sent once the host has
stored the assignment). Unacknowledged ones are re-sent after every (re)connect and whenever
a host comes online, also by a later process using the same data directory and broker.
Receivers de-duplicate by assignment id. Cues are live-only: one
made while the broker is unreachable is dropped (and counted), since a metronome tick is
useless later.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import paho.mqtt.client as mqtt

from repfit import wire
from repfit.config import MqttSettings, Secret
from repfit.mqtt_link import LinkError, MqttLink, refusal_text
from repfit.signing import Signer

__all__ = ["Outbox", "PendingMessage", "Publisher"]

log = logging.getLogger(__name__)

#: An assignment no host has acknowledged this long after it was issued is forgotten.
PENDING_MAX_AGE_S = 7 * 86400

#: Connect attempts back off between these bounds (seconds).
_RECONNECT_MIN_S = 1
_RECONNECT_MAX_S = 8


@dataclasses.dataclass(frozen=True)
class PendingMessage:
    """An assignment kept in the outbox until the broker acknowledges it."""

    message_id: str
    topic: str
    payload: bytes


class Outbox(Protocol):
    """Durable storage for assignments that must survive a broker outage or a process exit.

    Implementations must be callable from any thread (each call may open its own
    connection); `repfit.integrations.history.HistoryStore` is the SQLite one.
    """

    def put(self, broker: str, message: PendingMessage) -> None:
        """Keep ``message`` until `delivered` is called for its id (idempotent)."""

    def pending(self, broker: str, topic_prefix: str) -> list[PendingMessage]:
        """Messages for this broker and topic prefix not yet acknowledged, oldest first."""

    def delivered(self, message_id: str) -> None:
        """Forget a message the host has acknowledged."""


@dataclasses.dataclass
class _Item:
    message: wire.Message | None = None
    job: Callable[[], object] | None = None
    stored: bool = False


class Publisher:
    """Non-blocking publisher of `repfit.wire` messages for one user.

    Parameters
    ----------
    mqtt_settings : MqttSettings
        Broker address and credentials (``password.reveal()`` is called only to log in).
    user : str
        Topic namespace (``repfit/<user>/...``).
    outbox : Outbox, optional
        Where assignments wait for their acknowledgement. Without one they are kept in
        memory only (lost if the process exits while the broker is down).
    max_queue : int
        Bound of the in-memory queue. When full, the oldest queued cue (or, if there is
        none, the oldest item) is dropped and counted; training never waits.
    client_id : str, optional
        MQTT client id; a random ``repfit-trainer-<hex>`` by default.
    offline_reason : str, optional
        Why this publisher must not connect at all (e.g. the configured user or broker is
        unusable, and sending under a fallback would reach the wrong person). It then logs
        the reason once, sends nothing and only runs the submitted jobs.
    listener : callable, optional
        Receives the user's host statuses and results (decoded; on the network thread).
    on_acked : callable, optional
        Called with an assignment's id once the broker has acknowledged it.

    Notes
    -----
    Nothing starts until the first `publish`/`submit`, so building a `Publisher` is cheap and
    creates no thread or socket. `close` (also registered with `atexit`) flushes for a bounded
    time.
    """

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        user: str,
        *,
        outbox: Outbox | None = None,
        max_queue: int = 1000,
        client_id: str | None = None,
        offline_reason: str | None = None,
        listener: Callable[[wire.Message], object] | None = None,
        on_acked: Callable[[str], object] | None = None,
        signing_key: Secret | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue!r}")
        wire.topic_for(user, "assignment")  # validates the user name now, not in the thread
        self.settings = mqtt_settings
        self.user = user
        self.outbox = outbox
        self.max_queue = max_queue
        self.client_id = client_id or f"repfit-trainer-{uuid.uuid4().hex[:12]}"
        self.offline_reason = offline_reason
        #: With a key, every assignment is signed as it is sent (the outbox keeps it unsigned).
        self.signer = Signer(signing_key) if signing_key is not None else None
        self.dropped = 0
        self._items: collections.deque[_Item] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._resend = False
        # mid -> (message id, event to set); only touched under self._cond
        self._inflight: dict[int, str] = {}
        self._inflight_ids: set[str] = set()
        self._waiters: dict[str, list[threading.Event]] = {}
        self._attempted = threading.Event()
        self._memory_pending: dict[str, PendingMessage] = {}
        self._acks: collections.deque[int] = collections.deque()
        self._host_acks: collections.deque[str] = collections.deque()
        self._link: MqttLink | None = None
        self._warned: set[str] = set()
        self.listener = listener
        self.on_acked = on_acked

    # ------------------------------------------------------------------ public API

    @property
    def closed(self) -> bool:
        """Whether `close` has been called (a closed publisher drops what it is given)."""
        return self._closed

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted our connection right now."""
        return self._connected.is_set()

    @property
    def unreachable(self) -> bool:
        """Whether a connect attempt has ended without a connection (broker down, refused)."""
        return self._attempted.is_set() and not self._connected.is_set()

    def start(self) -> None:
        """Start the background thread now (it connects to the broker) rather than at the
        first message: a callback built before training then costs its first iteration
        nothing. Idempotent."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._start()

    def publish(self, message: wire.Message) -> None:
        """Queue ``message`` for sending; returns at once, never raises for network trouble."""
        self._enqueue(_Item(message=message))

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` on the background thread (disk writes the trainer must not wait for).

        Exceptions from the job are logged, once per exception type, and otherwise ignored.
        """
        self._enqueue(_Item(job=job))

    def deliver(self, assignments: Sequence[wire.Assignment], timeout: float,
                on_stored: Callable[[], object] | None = None) -> bool:
        """Store ``assignments`` durably now, then wait up to ``timeout`` s for the broker's
        acks of all of them.

        The synchronous path, for assignments decided while an exception unwinds: when this
        returns they are all in the outbox whatever the broker does (every one is on disk
        before any wait begins). A `KeyboardInterrupt` arriving during the wait propagates
        at once. ``on_stored`` is called once they are on disk (to tell the user). They are
        sent in the order given.

        Returns
        -------
        bool
            Whether the broker acknowledged all of them within ``timeout``.
        """
        for assignment in assignments:
            topic = wire.topic_for(self.user, assignment)
            self._store(PendingMessage(assignment.id, topic, wire.encode(assignment)))
        if on_stored is not None:
            on_stored()
        events = []
        for assignment in assignments:
            acked = threading.Event()
            with self._cond:
                self._waiters.setdefault(assignment.id, []).append(acked)
            self._enqueue(_Item(message=assignment, stored=True))
            events.append(acked)
        deadline = time.monotonic() + max(0.0, timeout)
        return all(e.wait(max(0.0, deadline - time.monotonic())) for e in events)

    def close(self, timeout: float = 5.0) -> None:
        """Flush queued messages and jobs for at most ``timeout`` seconds, then disconnect.

        Unsent assignments stay in the outbox. Safe to call more than once.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._closing = True
            self._flush_deadline = time.monotonic() + max(0.0, timeout)
            self._cond.notify_all()
            thread = self._thread
        atexit.unregister(self._close_at_exit)
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout) + 0.5)

    # ------------------------------------------------------------------ queue

    def _enqueue(self, item: _Item) -> None:
        with self._cond:
            if self._closed:
                self._warn_once("closed", "repfit publisher is closed; a message was dropped")
                return
            if self._thread is None:
                self._start()
            if len(self._items) >= self.max_queue:
                self._drop_one()
            self._items.append(item)
            self._cond.notify()

    def _drop_one(self) -> None:
        for i, queued in enumerate(self._items):
            if isinstance(queued.message, wire.Cue):
                del self._items[i]
                break
        else:
            self._items.popleft()
        self.dropped += 1
        self._warn_once("overflow", "repfit publisher queue is full (%d); dropping the oldest "
                        "messages (the count is in Publisher.dropped)", self.max_queue)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="repfit-publisher", daemon=True)
        self._thread.start()
        atexit.register(self._close_at_exit)

    def _close_at_exit(self) -> None:
        self.close(timeout=2.0)

    # ------------------------------------------------------------------ worker thread

    def _run(self) -> None:
        try:
            if self.offline_reason is None:
                self._connect()
            else:
                log.warning("repfit: not sending to any broker: %s; training continues",
                            self.offline_reason)
                with self._cond:
                    self._attempted.set()
            self._loop()
        except Exception:  # the trainer boundary: log once, never propagate
            log.exception("repfit publisher stopped unexpectedly; training continues")
        finally:
            self._disconnect()

    def _connect(self) -> None:
        try:
            link = MqttLink(self.settings, client_id=self.client_id,
                            reconnect_s=(_RECONNECT_MIN_S, _RECONNECT_MAX_S),
                            on_connect_fail=self._on_connect_fail)
        except LinkError as exc:
            self._warn_once("link", "repfit cannot connect (%s); training continues, "
                            "assignments are kept", exc)
            with self._cond:
                self._attempted.set()
            return
        client = link.client
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._link = link
        self._client = client
        try:
            link.start()
        except LinkError as exc:
            self._client = None
            self._warn_once("link", "repfit cannot connect (%s); training continues, "
                            "assignments are kept", exc)
            with self._cond:
                self._attempted.set()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._work_ready():
                    if self._closing and self._flush_done():
                        return
                    wait = None
                    if self._closing:
                        wait = self._flush_deadline - time.monotonic()
                        if wait <= 0:
                            return
                    self._cond.wait(wait)
                item = self._items.popleft() if self._items else None
                acks = list(self._acks)
                self._acks.clear()
                host_acks = list(self._host_acks)
                self._host_acks.clear()
                resend = self._resend and self._connected.is_set()
                if resend:
                    self._resend = False
            for mid in acks:
                self._acknowledged(mid)
            for message_id in host_acks:
                self._stored_by_host(message_id)
            if resend:
                self._send_pending()
            if item is not None:
                self._handle(item)

    def _work_ready(self) -> bool:
        return bool(self._items or self._acks or self._host_acks
                    or (self._resend and self._connected.is_set()))

    def _flush_done(self) -> bool:
        # Nothing queued. Wait for the first connect attempt's outcome, then for acks, but
        # only while connected: unacknowledged assignments stay in the outbox anyway.
        if not self._attempted.is_set():
            return False
        return not self._connected.is_set() or not (self._inflight or self._resend)

    def _handle(self, item: _Item) -> None:
        if item.job is not None:
            try:
                item.job()
            except Exception as exc:  # a disk job failing must not stop the publisher
                self._warn_once(f"job:{type(exc).__name__}",
                                "repfit background write failed (%s: %s); training continues",
                                type(exc).__name__, exc)
            return
        message = item.message
        assert message is not None
        kind = wire.topic_for(self.user, message).rsplit("/", 1)[-1]
        try:
            payload = wire.encode(message)
        except ValueError as exc:
            self._warn_once(f"encode:{kind}", "repfit could not encode a %s (%s); dropped",
                            kind, exc)
            return
        topic = wire.topic_for(self.user, message)
        if isinstance(message, wire.Assignment):
            pending = PendingMessage(message.id, topic, payload)
            if not item.stored:
                self._store(pending)
            with self._cond:
                sending = message.id in self._inflight_ids  # a reconnect already re-sent it
            if self._connected.is_set() and not sending and self._client is not None:
                self._send_assignment(pending)
            return
        if not self._connected.is_set() or self._client is None:
            self.dropped += 1
            return
        qos, retain = wire.qos_retain(kind)
        assert self._client is not None
        self._client.publish(topic, payload, qos=qos, retain=retain)

    # ------------------------------------------------------------------ assignments

    def _store(self, pending: PendingMessage) -> None:
        if self.outbox is None:
            with self._cond:
                self._memory_pending[pending.message_id] = pending
            return
        try:
            self.outbox.put(self.settings.url, pending)
        except Exception as exc:  # disk full, read-only dir...: keep it in memory instead
            self._warn_once("outbox", "repfit could not store an assignment durably (%s: %s); "
                            "keeping it in memory", type(exc).__name__, exc)
            with self._cond:
                self._memory_pending[pending.message_id] = pending

    def _pending(self) -> list[PendingMessage]:
        stored: list[PendingMessage] = []
        if self.outbox is not None:
            try:
                stored = self.outbox.pending(self.settings.url, f"repfit/{self.user}/")
            except Exception as exc:
                self._warn_once("outbox-read", "repfit could not read the outbox (%s: %s)",
                                type(exc).__name__, exc)
        with self._cond:
            memory = list(self._memory_pending.values())
        seen = {p.message_id for p in stored}
        return stored + [p for p in memory if p.message_id not in seen]

    def _send_pending(self) -> None:
        oldest = time.time() - PENDING_MAX_AGE_S
        for pending in self._pending():
            with self._cond:
                if pending.message_id in self._inflight_ids:
                    continue
            issued = _issued_at(pending)
            if issued and issued < oldest:
                # No host has taken it for a week: nobody is going to do it any more.
                self._warn_once("expired", "repfit: forgetting assignments that no host "
                                "acknowledged within %d days", PENDING_MAX_AGE_S // 86400)
                self._stored_by_host(pending.message_id)
                continue
            self._send_assignment(_refreshed(pending))

    def _send_assignment(self, pending: PendingMessage) -> None:
        # Called on the worker thread only; acks are applied on this thread too (after this
        # returns), so recording the mid after publish() cannot miss its ack.
        assert self._client is not None
        qos, retain = wire.qos_retain("assignment")
        payload = pending.payload if self.signer is None else \
            self.signer.outgoing(pending.topic, "assignment", pending.payload)
        info = self._client.publish(pending.topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.debug("publish of %s returned %s", pending.message_id, info.rc)
        with self._cond:
            self._inflight[info.mid] = pending.message_id
            self._inflight_ids.add(pending.message_id)

    def _acknowledged(self, mid: int) -> None:
        """The broker has the message; it stays pending until the host says it stored it."""
        with self._cond:
            message_id = self._inflight.pop(mid, None)
            if message_id is None:
                return
            self._inflight_ids.discard(message_id)
            waiters = self._waiters.pop(message_id, [])
        for acked in waiters:
            acked.set()
        if self.on_acked is not None:
            try:
                self.on_acked(message_id)
            except Exception as exc:
                self._warn_once("on-acked", "repfit: acknowledgement hook failed (%s: %s)",
                                type(exc).__name__, exc)

    def _stored_by_host(self, message_id: str) -> None:
        """Forget an assignment: the host has stored it (or it expired unclaimed)."""
        with self._cond:
            self._memory_pending.pop(message_id, None)
        if self.outbox is not None:
            try:
                self.outbox.delivered(message_id)
            except Exception as exc:
                self._warn_once("outbox-ack", "repfit could not mark %s delivered (%s: %s)",
                                message_id, type(exc).__name__, exc)

    # ------------------------------------------------------------------ paho callbacks
    # They run on paho's network thread and only set flags / queue acks for the worker.

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            self._warn_once("refused", "MQTT broker %s refused the connection (%s); training "
                            "continues, assignments are kept and sent once it accepts us",
                            self.settings.url, refusal_text(reason_code))
            with self._cond:
                self._attempted.set()
                self._cond.notify_all()
            return
        log.debug("connected to %s", self.settings.url)
        # Before any publish on this connection, so the retained statuses arrive before the
        # broker acknowledges the first assignment. The host's acknowledgements, and its
        # coming online (a cue to re-send what it has not acknowledged: it may never have had
        # a session on this broker before); results for the listener.
        topics = [(wire.subscription(self.user, "ack"), 1),
                  (wire.subscription(self.user, "status"), 1)]
        if self.listener is not None:
            topics.append((wire.subscription(self.user, "result"), 1))
        client.subscribe(topics)
        with self._cond:
            # paho re-sends its own in-flight QoS 1 messages; we re-send the rest. The
            # attempt counts as done only together with the connected state, so a closing
            # worker never sees "attempted but not connected" for a connect that succeeded.
            self._resend = True
            self._connected.set()
            self._attempted.set()
            self._cond.notify_all()

    def _on_connect_fail(self) -> None:
        why = self._link.last_error if self._link is not None else None
        self._warn_once("unreachable", "MQTT broker %s is unreachable (%s); training continues, "
                        "assignments are kept and sent when it is back", self.settings.url,
                        why or "no answer")
        with self._cond:
            self._attempted.set()
            self._cond.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason_code: mqtt.ReasonCode, properties: object) -> None:
        with self._cond:
            was = self._connected.is_set()
            self._connected.clear()
            self._cond.notify_all()
        if was and not self._closing:
            self._warn_once("lost", "lost the MQTT broker %s (%s); reconnecting in the "
                            "background", self.settings.url, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        try:
            _, message = wire.decode(msg.topic, msg.payload)
        except wire.WireError as exc:  # a bad payload from someone else must not stop us
            self._warn_once(f"incoming:{exc.field}", "repfit ignored a message on %s (%s)",
                            msg.topic, exc.reason)
            return
        if isinstance(message, wire.Ack):
            with self._cond:
                self._host_acks.append(message.assignment_id)
                self._cond.notify_all()
            return
        if isinstance(message, wire.Status) and message.role == "host" and message.online \
                and not msg.retain:
            with self._cond:
                self._resend = True
                self._cond.notify_all()
        if self.listener is not None:
            try:
                self.listener(message)
            except Exception as exc:
                self._warn_once(f"listener:{type(exc).__name__}", "repfit: message hook "
                                "failed (%s: %s)", type(exc).__name__, exc)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        with self._cond:
            self._acks.append(mid)
            self._cond.notify_all()

    # ------------------------------------------------------------------ shutdown

    def _disconnect(self) -> None:
        client = self._client
        was_connected = self._connected.is_set()
        self._connected.clear()
        if client is None:
            return
        client.disconnect()
        if was_connected:
            # Joins paho's network thread, which sends the DISCONNECT and ends.
            client.loop_stop()
        # Otherwise paho's (daemon) thread may be sleeping between connect attempts; it sees
        # the disconnect request when it wakes up and ends by itself — no need to wait here.

    def _warn_once(self, key: str, msg: str, *args: object) -> None:
        if key in self._warned:
            log.debug(msg, *args)
            return
        self._warned.add(key)
        log.warning(msg, *args)


def _issued_at(pending: PendingMessage) -> float | None:
    try:
        _, message = wire.decode(pending.topic, pending.payload)
    except wire.WireError:
        return None
    return message.issued_at if isinstance(message, wire.Assignment) else None


def _refreshed(pending: PendingMessage) -> PendingMessage:
    """An assignment sent late gets its deadline moved so the user still has the full window.

    ``issued_at`` stays the true issue time; ``deadline_s`` grows by the delay, up to
    `wire.MAX_DEADLINE_S`.
    """
    try:
        _, message = wire.decode(pending.topic, pending.payload)
    except wire.WireError:
        return pending
    if not isinstance(message, wire.Assignment) or not message.issued_at:
        return pending
    late_s = time.time() - message.issued_at
    if not math.isfinite(late_s) or late_s <= 0:
        return pending
    # Within the range a receiver accepts: an assignment held back longer arrives expired.
    moved = dataclasses.replace(message, deadline_s=min(message.deadline_s + late_s,
                                                        wire.MAX_DEADLINE_S))
    return PendingMessage(pending.message_id, pending.topic, wire.encode(moved))
