"""The MQTT message contract: topics, payloads, versions and validation.

This module is the only place that turns bytes into messages and back. Everything else in
repfit handles the typed, frozen dataclasses below. It imports nothing heavier than numpy so
the training side, the host and the phone bridge can all use it. ``docs/protocol.md`` is the
human-readable version of this file; keep the two in step.

Topic grammar (``<user>`` and ``<device>`` match ``[A-Za-z0-9_-]{1,64}``)::

    repfit/<user>/assignment        Assignment   training -> host   QoS 1, retained
    repfit/<user>/cue               Cue          training -> host   QoS 0
    repfit/<user>/samples/<device>  SampleBatch  wearable -> host   QoS 0
    repfit/<user>/progress          Progress     host -> anyone     QoS 0, retained
    repfit/<user>/result            Result       host -> anyone     QoS 1, retained
    repfit/<user>/state             StateChange  host -> anyone     QoS 1
    repfit/<user>/report            Report       user -> host       QoS 1
    repfit/<user>/status/<device>   Status       anyone (Last Will) QoS 1, retained
    repfit/<user>/ack               Ack          host -> training   QoS 1
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Final, Literal

import numpy as np

from repfit import bounded_json
from repfit.display_text import plain

__all__ = [
    "DEADLINE_RANGE_S",
    "EXERCISE_CHARS",
    "HOLD_RANGE_S",
    "ID_CHARS",
    "MAX_BATCH_SAMPLES",
    "MAX_COUNTER",
    "MAX_DEADLINE_S",
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "MAX_INT_DIGITS",
    "MAX_LABEL_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_SECONDS_PER_REP",
    "MAX_TEXT_CHARS",
    "MAX_TIMESTAMP",
    "PROTOCOL_VERSION",
    "STATES",
    "TARGET_RANGE",
    "Ack",
    "Assignment",
    "Cue",
    "Message",
    "Progress",
    "Report",
    "Result",
    "SampleBatch",
    "State",
    "StateChange",
    "Status",
    "Topic",
    "WireError",
    "decode",
    "encode",
    "parse_topic",
    "qos_retain",
    "subscription",
    "topic_for",
]

PROTOCOL_VERSION: Final = 1
#: Largest payload accepted. A sample batch of 2 s at 200 Hz is ~25 KiB of JSON.
MAX_PAYLOAD_BYTES: Final = 256 * 1024
#: Largest number of samples in one batch.
MAX_BATCH_SAMPLES: Final = 4096
#: Deepest nesting of arrays/objects accepted (a sample batch needs 3): bounds the parser's
#: recursion before it starts.
MAX_DEPTH: Final = 16
#: Longest integer literal accepted (digits): 18 digits hold any counter; longer ones are
#: refused before Python's int-from-string limit or a float conversion can fail.
MAX_INT_DIGITS: Final = 18
#: Longest free-text field (``text``, ``last_reason``), in characters.
MAX_TEXT_CHARS: Final = 1024
#: Longest id (assignment ids, ``run_id``, ``client_id``); ids use `ID_CHARS` only.
MAX_ID_CHARS: Final = 128
ID_CHARS: Final = "A-Za-z0-9_.:-"
#: Exercise names (``squat``, ``Push-ups``, ``saut en étoile``): at most 64 letters or digits
#: of any script, ``_``, ``-``, ``'`` and spaces (a regular-expression class).
EXERCISE_CHARS: Final = r"\w '-"
#: Longest ``label`` (the user's own name for an exercise): free text, shown as text.
MAX_LABEL_CHARS: Final = 64
#: Accepted assignment targets per unit (inclusive). Reasons in ``docs/protocol.md``.
TARGET_RANGE: Final[dict[str, tuple[float, float]]] = {
    "reps": (1.0, 1000.0),
    "seconds": (1.0, 3600.0),
    "iterations": (1.0, 10_000_000.0),
}
#: The hold the host verifies for an ``iterations`` assignment (``est_duration_s``), seconds.
HOLD_RANGE_S: Final = (1.0, 3600.0)
#: Accepted ``deadline_s`` of an assignment, seconds after ``issued_at``.
DEADLINE_RANGE_S: Final = (1.0, 86400.0)
MAX_DEADLINE_S: Final = DEADLINE_RANGE_S[1]
MAX_SECONDS_PER_REP: Final = 60.0
#: Latest accepted wall-clock time (2100-01-01 UTC): a far-future time is a forgery.
MAX_TIMESTAMP: Final = 4_102_444_800.0
#: Largest counter (``seq``, ``reps``, ``index``...): exact as a JSON double.
MAX_COUNTER: Final = 2**53

_NAME = r"[A-Za-z0-9_-]{1,64}"
_NAME_RE = re.compile(rf"^{_NAME}$")
_TOPIC_RE = re.compile(
    rf"^repfit/(?P<user>{_NAME})/(?P<kind>assignment|cue|progress|result|samples|status|ack"
    r"|state|report)"
    rf"(?:/(?P<device>{_NAME}))?$"
)

Unit = Literal["reps", "seconds", "iterations"]
Reason = Literal["assigned", "penalty", "reward"]
CueKind = Literal[
    "announce", "start", "tick", "tick_major", "finish", "better", "worse", "penalty", "reward"
]
#: How a result came about: verified up to its target or its deadline, stopped, replaced by a
#: newer assignment of the same run, refused by a daily cap, closed unseen because its deadline
#: passed while no host ran, or reported by the user (honour mode; never verified).
Outcome = Literal["target_reached", "deadline", "cancelled", "superseded", "capped", "missed",
                  "reported"]
#: The life of an assignment on the host (`repfit.host.lifecycle` holds the transitions).
State = Literal["received", "announced", "in_progress", "completed", "partial", "missed",
                "capped", "cancelled", "superseded"]


class WireError(ValueError):
    """A payload or topic that does not follow the contract.

    Attributes
    ----------
    topic : str
        The topic the payload arrived on.
    field : str
        The offending field (``"payload"`` for the whole body, ``"topic"`` for the topic).
    reason : str
        Human-readable explanation, safe to log.
    """

    def __init__(self, topic: str, field: str, reason: str) -> None:
        self.topic = topic
        self.field = field
        self.reason = reason
        super().__init__(f"{plain(topic)}: field {field!r}: {reason}")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Assignment:
    """An exercise to do, issued by the training side (or a penalty/reward).

    ``target`` is in ``unit``. For ``unit == "iterations"`` the host cannot see iterations;
    it verifies the hold against ``est_duration_s`` and the training side's ``finish`` cue.
    ``deadline_s`` counts from ``issued_at`` (wall clock, seconds since the epoch).
    """

    id: str
    exercise: str
    target: float
    unit: Unit = "reps"
    reason: Reason = "assigned"
    issued_at: float = 0.0
    deadline_s: float = 600.0
    est_duration_s: float | None = None
    seconds_per_rep: float | None = None
    run_id: str | None = None
    experiment: str | None = None
    text: str | None = None
    #: The user's own name for the exercise ("pompes"); ``exercise`` is the canonical one.
    label: str | None = None
    #: The run's own daily caps (keys of the ``[caps]`` table): the host applies them on top
    #: of the user's, and only where they are stricter.
    caps: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Cue:
    """A sound/voice cue decided by the coach, played by whoever is near the user."""

    kind: CueKind
    assignment_id: str | None = None
    index: int | None = None
    text: str | None = None
    at: float = 0.0


@dataclass(frozen=True, eq=False)
class SampleBatch:
    """Accelerometer samples from one wearable.

    ``t`` is seconds on a monotonic clock, shape ``(n,)``: the sender's own clock on the wire;
    BLE and phone sources map device time onto a steady host clock first. ``acc`` is in g,
    shape ``(n, 3)``. ``seq`` numbers batches per device so loss can be detected;
    ``lost_before`` is how many samples the source knows were lost just before this batch.
    """

    device: str
    t: np.ndarray
    acc: np.ndarray
    seq: int = 0
    lost_before: int = 0

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        acc = np.asarray(self.acc, dtype=np.float64)
        if acc.size == 0:
            acc = acc.reshape(0, 3)
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise ValueError(f"acc must have shape (n, 3), got {acc.shape}")
        if acc.shape[0] != t.shape[0]:
            raise ValueError(f"t has {t.shape[0]} samples but acc has {acc.shape[0]}")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "acc", acc)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SampleBatch):
            return NotImplemented
        return (
            self.device == other.device
            and self.seq == other.seq
            and self.lost_before == other.lost_before
            and np.array_equal(self.t, other.t)
            and np.array_equal(self.acc, other.acc)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Progress:
    """Live state of the open assignment, published by the host on every change."""

    assignment_id: str
    exercise: str
    reps: int
    target: float
    unit: Unit = "reps"
    hold_seconds: float | None = None
    rejected: int = 0
    last_reason: str | None = None
    at: float = 0.0
    label: str | None = None


@dataclass(frozen=True)
class Result:
    """The outcome of one assignment.

    ``verified`` is False for a set the user reported without a wearable (honour mode,
    ``outcome == "reported"``): it is kept and shown, never counted as verified. ``detail``
    says in words what ended it when the outcome alone does not ("cap reached: 100/100
    squats today").
    """

    assignment_id: str
    exercise: str
    completed: bool
    outcome: Outcome
    reps: int
    target: float
    unit: Unit = "reps"
    hold_seconds: float | None = None
    rejected: int = 0
    reason: Reason = "assigned"
    started_at: float = 0.0
    finished_at: float = 0.0
    label: str | None = None
    verified: bool = True
    detail: str | None = None


@dataclass(frozen=True)
class StateChange:
    """One step in an assignment's life on the host (received, announced, in progress, ...).

    Names the assignment (exercise, label, reason, run) so a reader needs nothing else;
    ``detail`` says why, when the state alone does not (the cap that applied).
    """

    assignment_id: str
    state: State
    at: float
    exercise: str = ""
    label: str | None = None
    reason: Reason = "assigned"
    experiment: str | None = None
    run_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Report:
    """A set the user says they did, without a wearable (honour mode): ``repfit done``.

    ``assignment_id`` None means the one the host has open; ``reps`` None means its whole
    target (for holds: ``hold_seconds``).
    """

    assignment_id: str | None = None
    reps: int | None = None
    hold_seconds: float | None = None
    at: float = 0.0


@dataclass(frozen=True)
class Status:
    """Liveness of a participant; published retained and used as the MQTT Last Will."""

    role: Literal["host", "trainer", "wearable"]
    online: bool
    client_id: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class Ack:
    """The host has stored an assignment: the training side may forget it.

    Published for every copy received (re-deliveries included), so a trainer that re-sends
    after a restart is answered too.
    """

    assignment_id: str
    client_id: str = ""
    at: float = 0.0


Message = (Assignment | Cue | SampleBatch | Progress | Result | Status | Ack | StateChange
           | Report)


@dataclass(frozen=True)
class Topic:
    """A parsed topic."""

    user: str
    kind: str
    device: str | None = None


_KIND_OF: Final[dict[type, str]] = {
    Assignment: "assignment",
    Cue: "cue",
    SampleBatch: "samples",
    Progress: "progress",
    Result: "result",
    Status: "status",
    StateChange: "state",
    Report: "report",
    Ack: "ack",
}
_TYPE_OF: Final[dict[str, type]] = {v: k for k, v in _KIND_OF.items()}
# QoS and retain flag per kind: state that a late subscriber needs is retained; streams are
# fire-and-forget; things that must not be lost are QoS 1.
_QOS_RETAIN: Final[dict[str, tuple[int, bool]]] = {
    "assignment": (1, True),
    "cue": (0, False),
    "samples": (0, False),
    "progress": (0, True),
    "result": (1, True),
    "status": (1, True),
    "state": (1, False),
    "report": (1, False),
    "ack": (1, False),
}
_UNITS: Final = ("reps", "seconds", "iterations")
_REASONS: Final = ("assigned", "penalty", "reward")
_CUES: Final = (
    "announce", "start", "tick", "tick_major", "finish", "better", "worse", "penalty", "reward"
)
_OUTCOMES: Final = ("target_reached", "deadline", "cancelled", "superseded", "capped",
                    "missed", "reported")
STATES: Final = ("received", "announced", "in_progress", "completed", "partial", "missed",
                 "capped", "cancelled", "superseded")
_ROLES: Final = ("host", "trainer", "wearable")


# --------------------------------------------------------------------------- topics


def _check_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(f"{what} must match [A-Za-z0-9_-]{{1,64}}, got {value!r}")
    return value


def topic_for(user: str, message: Message | str, device: str | None = None) -> str:
    """The topic a message (or a kind name) is published on."""
    kind = message if isinstance(message, str) else _KIND_OF[type(message)]
    if kind not in _QOS_RETAIN:
        raise ValueError(f"unknown message kind {kind!r}")
    _check_name("user", user)
    if isinstance(message, SampleBatch):
        device = message.device
    if kind in ("samples", "status"):
        if device is None:
            raise ValueError(f"a {kind} topic needs a device/client name")
        return f"repfit/{user}/{kind}/{_check_name('device', device)}"
    return f"repfit/{user}/{kind}"


def subscription(user: str, kind: str) -> str:
    """The subscription filter for every message of ``kind`` for ``user``."""
    _check_name("user", user)
    if kind in ("samples", "status"):
        return f"repfit/{user}/{kind}/+"
    return f"repfit/{user}/{kind}"


def parse_topic(topic: str) -> Topic:
    """Split a topic into user, kind and device; raises `WireError` when it is not ours."""
    m = _TOPIC_RE.match(topic)
    if m is None:
        raise WireError(topic, "topic", "not a repfit topic (repfit/<user>/<kind>[/<device>])")
    kind, device = m["kind"], m["device"]
    if (kind in ("samples", "status")) != (device is not None):
        raise WireError(topic, "topic", f"{kind} topics {'need' if device is None else 'take no'}"
                        " a device segment")
    return Topic(m["user"], kind, device)


def qos_retain(kind: str) -> tuple[int, bool]:
    """QoS level and retain flag for a message kind."""
    return _QOS_RETAIN[kind]


# --------------------------------------------------------------------------- encode


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def encode(message: Message) -> bytes:
    """Serialise a message to its JSON payload (UTF-8, compact, with version and type)."""
    kind = _KIND_OF[type(message)]
    body: dict[str, Any]
    if isinstance(message, SampleBatch):
        # Rounded to 1 µs and 0.1 mg: far below sensor noise, and it keeps payloads small.
        body = {
            "device": message.device,
            "seq": message.seq,
            "lost_before": message.lost_before,
            "t": [round(float(x), 6) for x in message.t],
            "acc": [[round(float(v), 4) for v in row] for row in message.acc],
        }
    else:
        body = asdict(message)
        for k, v in body.items():
            if isinstance(v, float):
                body[k] = _finite_or_none(v)
    payload = {"v": PROTOCOL_VERSION, "type": kind, **body}
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{kind} payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return data


# --------------------------------------------------------------------------- decode
#
# Everything below runs on bytes from anyone who can publish on the broker: size first, then
# `bounded_json` (UTF-8, depth scanned before parsing, integer length capped, NaN/Infinity
# refused), then every field checked for type, charset, length and range. Any failure is a
# `WireError`; nothing else escapes `decode`.


_CHARSET_WORDS: Final = {ID_CHARS: "A-Z a-z 0-9 _ . : -",
                         EXERCISE_CHARS: "letters, digits, _ ' - and spaces",
                         "A-Za-z0-9_-": "A-Z a-z 0-9 _ -"}


@functools.cache
def _charset_re(charset: str) -> re.Pattern[str]:
    return re.compile(f"[{charset}]*")


def _short(value: Any) -> builtins.str:
    """A field value for an error message: repr, shown as text, at most 40 characters."""
    return plain(repr(value), 40)


class _Fields:
    """Typed access to a decoded JSON object; every failure names its field."""

    def __init__(self, topic: str, obj: dict[str, Any]) -> None:
        self.topic = topic
        self.obj = obj

    def fail(self, name: str, reason: str) -> WireError:
        return WireError(self.topic, name, reason)

    def _get(self, name: builtins.str, default: Any) -> tuple[bool, Any]:
        """(present, value); ``present`` is False for an absent or null optional field."""
        if name not in self.obj or (self.obj[name] is None and default is None):
            if default is ...:
                raise self.fail(name, "missing")
            return False, default
        return True, self.obj[name]

    def str(self, name: str, *, default: Any = ..., choices: tuple[str, ...] = (),
            charset: str | None = None, min_len: int = 0,
            max_len: int = MAX_TEXT_CHARS) -> Any:
        present, v = self._get(name, default)
        if not present:
            return v
        if not isinstance(v, str):
            raise self.fail(name, f"expected a string, got {type(v).__name__}")
        if len(v) > max_len:
            raise self.fail(name, f"longer than {max_len} characters")
        if choices and v not in choices:
            raise self.fail(name, f"{_short(v)} is not one of {', '.join(choices)}")
        if len(v) < min_len or (charset is not None and not _charset_re(charset).fullmatch(v)):
            words = _CHARSET_WORDS.get(charset, charset) if charset else "characters"
            raise self.fail(name, f"{_short(v)}: expected {min_len}-{max_len} of {words}")
        if not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise self.fail(name, "holds a lone surrogate (\\ud800-\\udfff)") from None
        return v

    def num(self, name: builtins.str, *, default: Any = ..., integer: bool = False,
            minimum: float | None = None, maximum: float | None = None) -> Any:
        present, v = self._get(name, default)
        if not present:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(name, f"expected a number, got {type(v).__name__}")
        if integer and not isinstance(v, int):
            raise self.fail(name, f"expected an integer, got {_short(v)}")
        if not math.isfinite(v):  # ints are at most MAX_INT_DIGITS long: no OverflowError
            raise self.fail(name, "not a finite number")
        if minimum is not None and v < minimum:
            raise self.fail(name, f"{v!r} is below the minimum {minimum:g}")
        if maximum is not None and v > maximum:
            raise self.fail(name, f"{v!r} is above the maximum {maximum:g}")
        return int(v) if integer else float(v)

    def bool(self, name: builtins.str, *, default: Any = ...) -> builtins.bool:
        if name not in self.obj:
            if default is ...:
                raise self.fail(name, "missing")
            return default  # type: ignore[no-any-return]
        v = self.obj[name]
        if not isinstance(v, bool):
            raise self.fail(name, f"expected true/false, got {type(v).__name__}")
        return v


    def caps(self, name: builtins.str) -> dict[builtins.str, Any] | None:
        """A small object of numbers, short strings, or objects of numbers (daily caps).
        Which keys mean what is the host's business; the shape is checked here."""
        v = self.obj.get(name)
        if v is None:
            return None
        if not isinstance(v, dict) or len(v) > 16:
            raise self.fail(name, "expected an object of at most 16 caps")
        for key, value in v.items():
            inner = value if isinstance(value, dict) else {key: value}
            if isinstance(value, dict) and len(value) > 32:
                raise self.fail(name, f"{_short(key)}: at most 32 entries")
            for k, x in inner.items():
                if isinstance(x, str) and len(x) <= 64 and not isinstance(value, dict):
                    continue
                if isinstance(x, bool) or not isinstance(x, (int, float)) or \
                        not math.isfinite(x) or x < 0:
                    raise self.fail(name, f"{_short(k)}: expected a number >= 0")
        return v


_NUMBER: Final = (int, float)


def _decode_samples(f: _Fields, topic: Topic) -> SampleBatch:
    device = f.str("device", charset="A-Za-z0-9_-", min_len=1, max_len=64)
    if device != topic.device:
        raise f.fail("device", f"{device!r} does not match the topic's device {topic.device!r}")
    t_raw, acc_raw = f.obj.get("t"), f.obj.get("acc")
    if not isinstance(t_raw, list):
        raise f.fail("t", "expected a list of timestamps")
    if not isinstance(acc_raw, list):
        raise f.fail("acc", "expected a list of [x, y, z] rows")
    if len(t_raw) != len(acc_raw):
        raise f.fail("acc", f"{len(acc_raw)} rows for {len(t_raw)} timestamps")
    if len(t_raw) > MAX_BATCH_SAMPLES:
        raise f.fail("t", f"{len(t_raw)} samples exceeds the limit of {MAX_BATCH_SAMPLES}")
    # Exact types (JSON gives int, float, str, bool, None, list, dict): numpy alone would
    # take "1" and true as numbers.
    if not all(type(x) in _NUMBER for x in t_raw):
        raise f.fail("t", "timestamps must be numbers")
    if not all(type(row) is list and len(row) == 3 and all(type(v) in _NUMBER for v in row)
               for row in acc_raw):
        raise f.fail("acc", "rows must be [x, y, z]: exactly 3 numbers each")
    t = np.array(t_raw, dtype=np.float64)
    acc = np.array(acc_raw, dtype=np.float64).reshape(len(acc_raw), 3)
    if not np.all(np.isfinite(t)):
        raise f.fail("t", "non-finite value")
    if not np.all(np.isfinite(acc)):
        raise f.fail("acc", "non-finite value")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise f.fail("t", "timestamps must be strictly increasing within a batch")
    return SampleBatch(
        device=device,
        t=t,
        acc=acc,
        seq=f.num("seq", default=0, integer=True, minimum=0, maximum=MAX_COUNTER),
        lost_before=f.num("lost_before", default=0, integer=True, minimum=0,
                          maximum=MAX_COUNTER),
    )


def _decode_fields(cls: type, f: _Fields) -> Message:
    values: dict[str, Any] = {}
    for fd in fields(cls):
        spec = _FIELD_SPECS[cls].get(fd.name)
        default = ... if fd.default is MISSING else fd.default
        if spec is None:
            continue
        kind, extra = spec
        if kind == "str":
            values[fd.name] = f.str(fd.name, default=default, **extra)
        elif kind == "num":
            values[fd.name] = f.num(fd.name, default=default, **extra)
        elif kind == "caps":
            values[fd.name] = f.caps(fd.name)
        else:
            values[fd.name] = f.bool(fd.name, default=default)
    return cls(**values)


def _check_assignment(f: _Fields, a: Assignment) -> Assignment:
    """The bounds that depend on the unit (see ``docs/protocol.md``, "Bounds")."""
    low, high = TARGET_RANGE[a.unit]
    if not low <= a.target <= high:
        raise f.fail("target", f"{a.target:g} {a.unit} is outside {low:g}..{high:g}")
    if a.unit == "iterations":
        # The host verifies a hold of est_duration_s seconds (the target when there is none).
        hold = a.est_duration_s or a.target
        low, high = HOLD_RANGE_S
        if not low <= hold <= high:
            raise f.fail("est_duration_s", f"a hold of {hold:g} s is outside {low:g}..{high:g}")
    return a


_UNIT_SPEC: Final = ("str", {"choices": _UNITS})
_REASON_SPEC: Final = ("str", {"choices": _REASONS})
_ID_SPEC: Final = ("str", {"charset": ID_CHARS, "min_len": 1, "max_len": MAX_ID_CHARS})
_EXERCISE_SPEC: Final = ("str", {"charset": EXERCISE_CHARS, "min_len": 1, "max_len": 64})
_LABEL_SPEC: Final = ("str", {"max_len": MAX_LABEL_CHARS})
_TIME_SPEC: Final = ("num", {"minimum": 0.0, "maximum": MAX_TIMESTAMP})
_COUNT_SPEC: Final = ("num", {"integer": True, "minimum": 0, "maximum": MAX_COUNTER})
_AMOUNT_SPEC: Final = ("num", {"minimum": 0.0, "maximum": TARGET_RANGE["iterations"][1]})
_HOLD_SPEC: Final = ("num", {"minimum": 0.0, "maximum": MAX_DEADLINE_S})
_FIELD_SPECS: Final[dict[type, dict[str, tuple[str, dict[str, Any]]]]] = {
    Assignment: {
        "id": _ID_SPEC,
        "exercise": _EXERCISE_SPEC,
        "target": ("num", {}),  # per unit: _check_assignment
        "unit": _UNIT_SPEC,
        "reason": _REASON_SPEC,
        "issued_at": _TIME_SPEC,
        "deadline_s": ("num", {"minimum": DEADLINE_RANGE_S[0], "maximum": DEADLINE_RANGE_S[1]}),
        "est_duration_s": _HOLD_SPEC,
        "seconds_per_rep": ("num", {"minimum": 0.0, "maximum": MAX_SECONDS_PER_REP}),
        "run_id": _ID_SPEC,
        "experiment": ("str", {"max_len": 256}),
        "text": ("str", {}),
        "label": _LABEL_SPEC,
        "caps": ("caps", {}),
    },
    Cue: {
        "kind": ("str", {"choices": _CUES}),
        "assignment_id": _ID_SPEC,
        "index": _COUNT_SPEC,
        "text": ("str", {}),
        "at": _TIME_SPEC,
    },
    Progress: {
        "assignment_id": _ID_SPEC,
        "exercise": _EXERCISE_SPEC,
        "reps": _COUNT_SPEC,
        "target": _AMOUNT_SPEC,
        "unit": _UNIT_SPEC,
        "hold_seconds": _HOLD_SPEC,
        "rejected": _COUNT_SPEC,
        "last_reason": ("str", {}),
        "at": _TIME_SPEC,
        "label": _LABEL_SPEC,
    },
    Result: {
        "assignment_id": _ID_SPEC,
        "exercise": _EXERCISE_SPEC,
        "completed": ("bool", {}),
        "outcome": ("str", {"choices": _OUTCOMES}),
        "reps": _COUNT_SPEC,
        "target": _AMOUNT_SPEC,
        "unit": _UNIT_SPEC,
        "hold_seconds": _HOLD_SPEC,
        "rejected": _COUNT_SPEC,
        "reason": _REASON_SPEC,
        "started_at": _TIME_SPEC,
        "finished_at": _TIME_SPEC,
        "label": _LABEL_SPEC,
        "verified": ("bool", {}),
        "detail": ("str", {}),
    },
    StateChange: {
        "assignment_id": _ID_SPEC,
        "state": ("str", {"choices": STATES}),
        "at": _TIME_SPEC,
        "exercise": ("str", {"charset": EXERCISE_CHARS, "max_len": 64}),  # may be empty
        "label": _LABEL_SPEC,
        "reason": _REASON_SPEC,
        "experiment": ("str", {"max_len": 256}),
        "run_id": _ID_SPEC,
        "detail": ("str", {}),
    },
    Report: {
        "assignment_id": _ID_SPEC,
        "reps": _COUNT_SPEC,
        "hold_seconds": _HOLD_SPEC,
        "at": _TIME_SPEC,
    },
    Status: {
        "role": ("str", {"choices": _ROLES}),
        "online": ("bool", {}),
        "client_id": ("str", {"charset": ID_CHARS, "max_len": MAX_ID_CHARS}),  # may be empty
        "at": _TIME_SPEC,
    },
    Ack: {
        "assignment_id": _ID_SPEC,
        "client_id": ("str", {"charset": ID_CHARS, "max_len": MAX_ID_CHARS}),
        "at": _TIME_SPEC,
    },
}


def decode(topic: str, payload: bytes | bytearray | memoryview | str) -> tuple[Topic, Message]:
    """Parse and validate one MQTT message.

    Raises
    ------
    WireError
        For anything that is not a valid message, and nothing else, whatever the bytes: a
        foreign topic, an oversized payload, invalid UTF-8 or JSON, nesting deeper than
        `MAX_DEPTH`, an integer longer than `MAX_INT_DIGITS` digits, NaN or Infinity, an
        unknown protocol version, a type that does not match the topic, or any field of the
        wrong type, charset, length or range (``docs/protocol.md``). The message names the
        field; it never echoes the payload, and shows received text only as `plain` text.
    """
    parsed = parse_topic(topic)
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    data = bytes(payload)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise WireError(topic, "payload", f"{len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = bounded_json.loads(data, max_depth=MAX_DEPTH, max_int_digits=MAX_INT_DIGITS)
    except bounded_json.JsonRefused as exc:
        raise WireError(topic, "payload", str(exc)) from None
    if not isinstance(obj, dict):
        raise WireError(topic, "payload", f"expected a JSON object, got {type(obj).__name__}")
    f = _Fields(topic, obj)
    version = obj.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise f.fail("v", f"unsupported protocol version {_short(version)} (this host speaks "
                          f"{PROTOCOL_VERSION})")
    kind = f.str("type", max_len=32)
    if kind != parsed.kind:
        raise f.fail("type", f"{_short(kind)} on a {parsed.kind!r} topic")
    if kind == "samples":
        return parsed, _decode_samples(f, parsed)
    message = _decode_fields(_TYPE_OF[kind], f)
    if isinstance(message, Assignment):
        message = _check_assignment(f, message)
    return parsed, message
