"""The phone route: Sensor Logger's MQTT push, translated into `SampleBatch` objects.

Sensor Logger (iOS/Android, by Kelvin Choi) publishes a JSON message every batch period to
a topic (default ``sensor-logger``) over MQTT-over-websockets, QoS 0. Schema (awesome-
sensor-logger, ``PUSHING.md``)::

    {"messageId": 12, "sessionId": "...", "deviceId": "...",
     "payload": [{"name": "accelerometer", "time": 1698501144401773000,
                  "values": {"x": 0.06, "y": -0.001, "z": -0.10}}, ...]}

``time`` is UTC epoch nanoseconds; ``messageId`` increments per message. Units
(``UNITS.md``): ``accelerometer`` is m/s^2 *without* gravity, ``gravity`` and (Android)
``totalacceleration`` are m/s^2 (g = 9.80665). The counter needs acceleration including
gravity, so this module takes ``totalacceleration`` when present, else ``accelerometer``
plus ``gravity`` interpolated onto the accelerometer's times, and converts to g. Set-up
for users: ``docs/phone.md``.

Pure parts (`decode_sensor_logger`, `PhoneAssembler`) are separate from the imperative
`SensorLoggerSource`, whose paho callbacks only enqueue raw payloads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from paho.mqtt.client import topic_matches_sub

from repfit import bounded_json
from repfit.config import MqttSettings, broker_settings
from repfit.display_text import plain
from repfit.host.log_limit import RateLimitedLog
from repfit.mqtt_link import MqttLink
from repfit.wire import SampleBatch

from ._errors import PacketError
from ._units import STANDARD_GRAVITY, UnitGuard

__all__ = ["PhoneAssembler", "SensorLoggerMessage", "SensorLoggerSource",
           "decode_sensor_logger"]

log = logging.getLogger(__name__)

PROFILE = "sensor-logger"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Sensor Logger batches are a few kB to a few hundred kB; larger is not a phone."""
_VECTOR_SENSORS = ("accelerometer", "totalacceleration", "gravity")


@dataclass(frozen=True, eq=False)
class SensorLoggerMessage:
    """One decoded push: the three-axis readings we use, by sensor name (lower case).

    ``readings[name] = (t_ns, xyz)`` with ``t_ns`` int64 shape ``(n,)`` sorted, ``xyz`` float
    shape ``(n, 3)`` in the sensor's own unit (m/s^2).
    """

    message_id: int
    session_id: str
    device_id: str
    readings: dict[str, tuple[np.ndarray, np.ndarray]]


MAX_DEPTH = 8
"""Deepest JSON nesting accepted (a push needs 3: message, payload list, reading, values)."""
MAX_INT_DIGITS = 19
"""Longest integer literal: epoch nanoseconds have 19 digits."""
MAX_TIME_NS = 2**62
"""Latest reading time accepted (year 2116): keeps every difference inside int64."""
MAX_ID_CHARS = 256
"""Longest ``sessionId``/``deviceId``."""


def _fail(raw: bytes, reason: str) -> PacketError:
    return PacketError(PROFILE, len(raw), reason)


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float  # JSON numbers only, not true/false


def _text(raw: bytes, doc: dict[str, Any], key: str) -> str:
    v = doc.get(key, "")
    if v is None:
        return ""
    if not isinstance(v, str) or len(v) > MAX_ID_CHARS:
        raise _fail(raw, f"{key} must be a string of at most {MAX_ID_CHARS} characters")
    return v


def _reading(raw: bytes, i: int, name: str, entry: dict[str, Any]
             ) -> tuple[int, float, float, float]:
    """``(t_ns, x, y, z)`` of one vector reading; `PacketError` unless all are sane numbers."""
    values = entry.get("values", entry)
    t: Any = entry.get("time")
    if not isinstance(values, dict) or not all(_is_number(values.get(k)) for k in "xyz") \
            or not _is_number(t):
        raise _fail(raw, f"payload[{i}] ({name}) lacks numeric time/x/y/z")
    x, y, z = (float(values[k]) for k in "xyz")
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise _fail(raw, f"payload[{i}] ({name}) has a non-finite value")
    if not (isinstance(t, int) or math.isfinite(t)) or not 0 <= t < MAX_TIME_NS:
        raise _fail(raw, f"payload[{i}] ({name}) time is not epoch nanoseconds")
    return int(t), x, y, z


def decode_sensor_logger(raw: bytes) -> SensorLoggerMessage:
    """Decode one Sensor Logger push message.

    Raises
    ------
    PacketError
        For anything else than a valid push, whatever the bytes: oversized, not UTF-8 JSON,
        nested deeper than `MAX_DEPTH`, an integer longer than `MAX_INT_DIGITS` digits,
        NaN/Infinity, not an object, ``messageId``/``payload``/``sessionId``/``deviceId``
        missing or of the wrong type or size, or a reading of a vector sensor without numeric
        ``x, y, z`` and a ``time`` in epoch nanoseconds.
    """
    raw = bytes(raw)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _fail(raw, f"larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        doc = bounded_json.loads(raw, max_depth=MAX_DEPTH, max_int_digits=MAX_INT_DIGITS)
    except bounded_json.JsonRefused as err:
        raise _fail(raw, f"not JSON within bounds: {err}") from None
    if not isinstance(doc, dict):
        raise _fail(raw, "top level is not a JSON object")
    mid = doc.get("messageId")
    payload = doc.get("payload")
    if type(mid) is not int or not 0 <= mid < 2**53:
        raise _fail(raw, f"messageId must be an integer 0..2^53, got {plain(repr(mid), 40)}")
    if not isinstance(payload, list):
        raise _fail(raw, "payload must be a list of readings")
    session_id, device_id = _text(raw, doc, "sessionId"), _text(raw, doc, "deviceId")
    rows: dict[str, list[tuple[int, float, float, float]]] = {}
    for i, entry in enumerate(payload):
        if not isinstance(entry, dict):
            raise _fail(raw, f"payload[{i}] is not an object")
        name = entry.get("name", "")
        name = name.lower() if isinstance(name, str) else ""
        if name not in _VECTOR_SENSORS:
            continue
        rows.setdefault(name, []).append(_reading(raw, i, name, entry))
    readings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, r in rows.items():
        a = np.array([row[1:] for row in r], dtype=np.float64).reshape(-1, 3)
        t_ns = np.array([row[0] for row in r], dtype=np.int64)
        order = np.argsort(t_ns, kind="stable")
        readings[name] = (t_ns[order], a[order])
    return SensorLoggerMessage(mid, session_id, device_id, readings)


def acceleration_with_gravity(msg: SensorLoggerMessage) -> tuple[np.ndarray, np.ndarray] | None:
    """``(t_ns, acc)`` in m/s^2 including gravity, or None if the message has no motion."""
    if "totalacceleration" in msg.readings:
        return msg.readings["totalacceleration"]
    if "accelerometer" not in msg.readings:
        return None
    t, user = msg.readings["accelerometer"]
    if "gravity" not in msg.readings:
        return t, user
    tg, g = msg.readings["gravity"]
    grav = np.column_stack([np.interp(t, tg, g[:, k]) for k in range(3)])
    return t, user + grav


class PhoneAssembler:
    """Sensor Logger messages of one phone -> `SampleBatch` objects on the phone's clock (pure).

    The phone stamps every reading with its own clock in nanoseconds: measured times, not a
    nominal rate, so the batches keep them exactly, shifted once per recording onto the host
    clock (the first message's arrival) and never bent after that. Mapping them onto arrival
    times instead (`ClockMapper`, which BLE devices need because their sample times are
    counted at a nominal rate) would slew the time axis by up to half a percent whenever the
    network delay changes, and a rep counter's verdicts shift with the time axis: the live
    count would differ from ``repfit count`` on the same recording.

    Duplicate and overlapping readings are dropped by timestamp; a jump in ``messageId``
    becomes ``lost_before`` (missing messages times the median readings per message); a new
    ``sessionId`` (a new recording) is shifted anew, after everything sent before.
    """

    def __init__(self, device: str, *, limiter: RateLimitedLog | None = None) -> None:
        self.device = device
        self.limiter = limiter or RateLimitedLog(log)
        self.units = UnitGuard(device, None, self.limiter)
        self.session: str | None = None
        #: Host time of the recording's first reading (None until its first message).
        self.anchor: float | None = None
        self._last_out: float | None = None
        self._last_id: int | None = None
        self._last_t_ns: int | None = None
        self._origin_ns = 0
        self._per_message: list[int] = []
        self._seq = 0
        self.lost = 0
        self.messages = 0

    def push(self, msg: SensorLoggerMessage, arrival: float) -> list[SampleBatch]:
        """Feed one message that arrived at host time ``arrival``."""
        if msg.session_id != self.session:
            if self.session is not None:
                log.info("%s: new Sensor Logger session %s", self.device, plain(msg.session_id))
            self.session = msg.session_id
            self.anchor = None
            self._last_id = self._last_t_ns = None
        motion = acceleration_with_gravity(msg)
        if motion is None:
            self.limiter.warning("nomotion", "%s: message %d carries no accelerometer; enable "
                                 "Accelerometer + Gravity (or TotalAcceleration) in Sensor "
                                 "Logger", self.device, msg.message_id)
            return []
        if "totalacceleration" not in msg.readings and "gravity" not in msg.readings:
            self.limiter.warning("nogravity", "%s: no Gravity/TotalAcceleration sensor enabled; "
                                 "counting on acceleration without gravity", self.device)
        t_ns, acc = motion
        if self._last_t_ns is not None:
            keep = t_ns > self._last_t_ns
            t_ns, acc = t_ns[keep], acc[keep]
        if t_ns.size == 0:
            return []
        self.messages += 1
        lost = 0
        if self._last_id is not None and msg.message_id > self._last_id + 1:
            per = int(np.median(self._per_message)) if self._per_message else 0
            lost = (msg.message_id - self._last_id - 1) * per
            self.limiter.warning("gap", "%s: %d messages missing (~%d samples)", self.device,
                                 msg.message_id - self._last_id - 1, lost)
        if self._last_t_ns is None:
            self._origin_ns = int(t_ns[0])
        self._last_id = max(msg.message_id, self._last_id or 0)
        self._last_t_ns = int(t_ns[-1])
        self._per_message = [*self._per_message, int(t_ns.size)][-20:]
        t_dev = (t_ns - self._origin_ns) * 1e-9
        if self.anchor is None:
            # The last reading was taken before it arrived: the host time of the first one
            # follows, and a new recording starts after everything sent before it.
            self.anchor = arrival - float(t_dev[-1])
            if self._last_out is not None:
                self.anchor = max(self.anchor, self._last_out + 1e-3 - float(t_dev[0]))
        t = self.anchor + t_dev
        self._last_out = float(t[-1])
        g = self.units.apply(acc / STANDARD_GRAVITY)
        self.lost += lost
        batch = SampleBatch(self.device, t, g, seq=self._seq, lost_before=lost)
        self._seq += 1
        return [batch]


class SensorLoggerSource:
    """`WearableSource` for a phone running Sensor Logger with MQTT publishing enabled.

    Parameters
    ----------
    broker_url : str
        The broker the phone publishes to (``mqtt://host:1883`` for the host's own TCP
        connection; the phone itself uses the broker's websocket listener).
    topic : str
        Sensor Logger's topic setting (default ``sensor-logger``).
    device_id : str or None
        Only accept messages from this ``deviceId`` (several phones on one broker).
    name : str
        Device name on the batches.
    silence_s : float
        Log (rate-limited) when no message came for this long; the source keeps waiting.
    credentials : MqttSettings, optional
        The configured broker settings: their user name, password and TLS files are used
        unless ``broker_url`` carries its own login.
    """

    def __init__(self, broker_url: str, *, topic: str = "sensor-logger",
                 device_id: str | None = None, name: str = "phone", silence_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, queue_size: int = 256,
                 credentials: MqttSettings | None = None,
                 connect_timeout_s: float = 10.0) -> None:
        self.settings = broker_settings(broker_url, credentials or MqttSettings(),
                                        key="--phone")
        self.host, self.port = self.settings.host, self.settings.port
        self.transport = "websockets" if self.settings.websocket else "tcp"
        self.topic = topic
        self.device_id = device_id
        self.name = name
        self.silence_s = silence_s
        self.connect_timeout_s = connect_timeout_s
        self._clock = clock
        self._limiter = RateLimitedLog(log, clock=clock)
        self.assembler = PhoneAssembler(name, limiter=self._limiter)
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=queue_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link: MqttLink | None = None
        self._subscribed = asyncio.Event()
        self._refusal: BaseException | None = None
        self.bad_messages = 0

    async def __aenter__(self) -> SensorLoggerSource:
        """Connect with the configured login and TLS and subscribe to the phone's topic.

        Raises
        ------
        ConnectionError
            The broker cannot be reached or refused the login; the message says which.
        """
        self._loop = asyncio.get_running_loop()
        link = MqttLink(self.settings, client_id=f"repfit-phone-{uuid.uuid4().hex[:8]}",
                        on_connect_fail=self._on_connect_fail)
        link.client.on_connect = self._on_connect
        link.client.on_subscribe = self._on_subscribe
        link.client.on_message = self._on_message
        self._link = link
        link.start()
        try:
            await asyncio.wait_for(self._subscribed.wait(), self.connect_timeout_s)
        except asyncio.TimeoutError:
            await self._loop.run_in_executor(None, link.stop)
            self._link = None
            raise link.unreachable(self.connect_timeout_s) from None
        if self._refusal is not None:
            await self._loop.run_in_executor(None, link.stop)
            self._link = None
            raise self._refusal
        log.info("listening for Sensor Logger on %s topic %r", self.settings.url, self.topic)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            await asyncio.get_running_loop().run_in_executor(None, link.stop)

    def _on_connect_fail(self) -> None:
        # Only while starting: a broker that is not there is said at once, as for BLE.
        if self._link is not None and self._loop is not None and not self._subscribed.is_set():
            self._refusal = self._link.unreachable()
            self._link.client.disconnect()
            self._loop.call_soon_threadsafe(self._subscribed.set)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any = None) -> None:
        assert self._loop is not None and self._link is not None
        if reason.is_failure:
            # A refused login does not fix itself: say so instead of retrying in silence.
            self._refusal = self._link.refused(reason)
            client.disconnect()
            self._loop.call_soon_threadsafe(self._subscribed.set)
            return
        client.subscribe(self.topic, qos=0)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reasons: Any,
                      properties: Any = None) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._subscribed.set)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        assert self._loop is not None
        # A broker may hand us messages we never subscribed to (amqtt sends retained ones
        # matching other clients' filters): those are not the phone's.
        if not topic_matches_sub(self.topic, message.topic):
            return
        self._loop.call_soon_threadsafe(self._enqueue, bytes(message.payload))

    def _enqueue(self, payload: bytes) -> None:
        try:
            self._queue.put_nowait((self._clock(), payload))
        except asyncio.QueueFull:
            self._limiter.warning("queue", "%s: consumer too slow; a phone message was dropped",
                                  self.name)

    async def samples(self) -> AsyncIterator[SampleBatch]:
        """Batches as the phone pushes them, until the caller stops iterating."""
        while True:
            try:
                arrival, raw = await asyncio.wait_for(self._queue.get(), self.silence_s)
            except asyncio.TimeoutError:
                self._limiter.warning("silence", "%s: no Sensor Logger message for %g s; is the "
                                      "recording running and MQTT publishing enabled?",
                                      self.name, self.silence_s)
                continue
            try:
                msg = decode_sensor_logger(raw)
            except PacketError as err:
                self.bad_messages += 1
                self._limiter.warning(f"bad:{err.reason[:20]}", "%s: %s", self.name, err)
                continue
            if self.device_id is not None and msg.device_id != self.device_id:
                continue
            for batch in self.assembler.push(msg, arrival):
                yield batch
