"""Property-based: every decoder returns a value or raises its one documented error, for any
bytes. Valid messages are mutated field by field (every level, hostile values and raw JSON
fragments such as 100,000 ``[`` or a 5,000-digit integer) and raw bytes are thrown at each.

Decoders: `repfit.wire.decode` on every topic kind (`WireError`), the Sensor Logger decoder
(`PacketError`), `read_csv` (`RecordingError`). The BLE packet decoders have their own tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from repfit import wire
from repfit.host.recordings import RecordingError, read_csv
from repfit.host.sources import PacketError
from repfit.host.sources._phone import decode_sensor_logger

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- hostile values

#: Raw JSON text that the parser itself must survive, put where a value goes.
FRAGMENTS = [
    "[" * 100_000, "[" * 17 + "]" * 17, "{" * 5000, "1" + "0" * 400, "-" + "9" * 5000,
    "7" * 4301, "1e400", "-1e400", "NaN", "Infinity", "-Infinity", '"\\ud800"',
    '"\\u0000\\u001b]0;x\\u0007"', "1e-400", "123456789012345678", "1234567890123456789",
    "0.1e99999999999", '"' + "\\\\" * 1000 + '"', "true", "null", "[]", "{}",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6),
    st.text(max_size=20), st.text(alphabet=st.characters(codec="utf-8"), max_size=3),
    st.sampled_from(["\ud800", "a\nb", "\x1b[2J", "x" * 2000, "", "reps", "squat"]),
)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
# (the value, or a raw fragment spliced in for it)
HOSTILE = st.one_of(JSON_VALUES.map(lambda v: (v, None)),
                    st.sampled_from(FRAGMENTS).map(lambda f: (None, f)))
_MARK = "\u2603hostile\u2603"


def _dumps(doc: Any, fragment: str | None) -> bytes:
    """JSON of ``doc`` (NaN allowed), with the marker string replaced by a raw fragment."""
    text = json.dumps(doc, allow_nan=True)
    if fragment is not None:
        text = text.replace(json.dumps(_MARK), fragment)
    return text.encode("utf-8", "surrogatepass")


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document where a value sits (keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):  # the first few entries of a list stand for all
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> bytes:
    """A valid document with one value replaced (or removed) anywhere in it."""
    doc = draw(st.sampled_from(seeds))
    path = draw(st.sampled_from(_paths(doc)))
    value, fragment = draw(HOSTILE)
    if draw(st.booleans()) and fragment is None and isinstance(path[-1], str):
        value = _DELETE
    return _dumps(_replace(doc, path, _MARK if fragment is not None else value), fragment)


@st.composite
def spliced_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid encoding with a few bytes inserted, deleted or overwritten."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.binary(max_size=4) | st.sampled_from([b"[" * 5000, b"9" * 5000, b'"']))
        cut = draw(st.integers(0, 4))
        data[at:at + cut] = junk
    return bytes(data)


# --------------------------------------------------------------------------- wire

USER = "ada"
TOPICS = {"assignment": "repfit/ada/assignment", "cue": "repfit/ada/cue",
          "samples": "repfit/ada/samples/w", "progress": "repfit/ada/progress",
          "result": "repfit/ada/result", "status": "repfit/ada/status/w"}
WIRE_SEEDS = {
    "assignment": [wire.Assignment(id="a1", exercise="squat", target=12, issued_at=1.7e9,
                                   deadline_s=300, seconds_per_rep=2.5, run_id="r1",
                                   experiment="exp", text="go"),
                   wire.Assignment(id="a2", exercise="plank", target=500, unit="iterations",
                                   reason="penalty", est_duration_s=60.0)],
    "cue": [wire.Cue(kind="tick_major", assignment_id="a1", index=10, at=1.7e9, text="t")],
    "samples": [wire.SampleBatch("w", np.arange(4) / 50.0, np.tile([0.01, -0.02, 0.98], (4, 1)),
                                 seq=7, lost_before=3)],
    "progress": [wire.Progress(assignment_id="a1", exercise="squat", reps=3, target=12,
                               rejected=1, last_reason="cadence", hold_seconds=1.0, at=1.7e9)],
    "result": [wire.Result(assignment_id="a1", exercise="squat", completed=True,
                           outcome="target_reached", reps=12, target=12, started_at=1.7e9,
                           finished_at=1.7e9 + 40)],
    "status": [wire.Status(role="host", online=False, client_id="repfit-host-1", at=1.0)],
}
WIRE_DOCS = {k: [json.loads(wire.encode(m)) for m in ms] for k, ms in WIRE_SEEDS.items()}


def _decode_or_refuse(kind: str, payload: bytes) -> wire.Message | None:
    try:
        topic, message = wire.decode(TOPICS[kind], payload)
    except wire.WireError as exc:
        assert exc.field and exc.reason and "\n" not in str(exc)
        return None
    assert topic.kind == kind
    _assert_within_bounds(message)
    return message


def _assert_within_bounds(m: wire.Message) -> None:
    """What an accepted message guarantees to the code that handles it."""
    if isinstance(m, wire.Assignment):
        low, high = wire.TARGET_RANGE[m.unit]
        assert low <= m.target <= high
        assert wire.DEADLINE_RANGE_S[0] <= m.deadline_s <= wire.DEADLINE_RANGE_S[1]
        assert 0 <= m.issued_at <= wire.MAX_TIMESTAMP
        assert all(c.isascii() and (c.isalnum() or c in "_.:-") for c in m.id)
    if isinstance(m, wire.SampleBatch):
        assert np.all(np.isfinite(m.t)) and np.all(np.isfinite(m.acc))
        assert m.acc.shape == (len(m), 3) and m.acc.dtype == np.float64
    for name, value in vars(m).items():
        if isinstance(value, float):
            assert math.isfinite(value), name
        if isinstance(value, str):
            value.encode("utf-8")  # no lone surrogates: printable and storable


@pytest.mark.parametrize("kind", list(TOPICS))
@SETTINGS
@given(data=st.data())
def test_wire_mutated_field_by_field(kind: str, data: st.DataObject) -> None:
    _decode_or_refuse(kind, data.draw(mutated(WIRE_DOCS[kind])))


@pytest.mark.parametrize("kind", list(TOPICS))
@SETTINGS
@given(data=st.data())
def test_wire_raw_and_spliced_bytes(kind: str, data: st.DataObject) -> None:
    seeds = [wire.encode(m) for m in WIRE_SEEDS[kind]]
    payload = data.draw(st.binary(max_size=300) | spliced_bytes(seeds))
    _decode_or_refuse(kind, payload)


@SETTINGS
@given(topic=st.text(max_size=80), payload=st.binary(max_size=64))
def test_wire_any_topic(topic: str, payload: bytes) -> None:
    try:
        wire.decode(topic, payload)
    except wire.WireError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc)


_IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,128}", fullmatch=True)


@st.composite
def valid_assignments(draw: st.DrawFn) -> wire.Assignment:
    unit = draw(st.sampled_from(["reps", "seconds", "iterations"]))
    low, high = wire.TARGET_RANGE[unit]
    est = draw(st.floats(*wire.HOLD_RANGE_S)) if unit == "iterations" else \
        draw(st.none() | st.floats(0, wire.MAX_DEADLINE_S))
    return wire.Assignment(
        id=draw(_IDS), exercise=draw(st.from_regex(r"[A-Za-z0-9_ -]{1,64}", fullmatch=True)),
        target=draw(st.floats(low, high)), unit=unit,
        reason=draw(st.sampled_from(["assigned", "penalty", "reward"])),
        issued_at=draw(st.floats(0, wire.MAX_TIMESTAMP)),
        deadline_s=draw(st.floats(*wire.DEADLINE_RANGE_S)), est_duration_s=est,
        seconds_per_rep=draw(st.none() | st.floats(0, wire.MAX_SECONDS_PER_REP)),
        run_id=draw(st.none() | _IDS), experiment=draw(st.none() | st.text(max_size=256)),
        text=draw(st.none() | st.text(max_size=300)),
    )


@SETTINGS
@given(a=valid_assignments())
def test_assignments_inside_the_bounds_are_accepted(a: wire.Assignment) -> None:
    assume(all(s is None or not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
               for s in (a.experiment, a.text)))
    assert wire.decode(TOPICS["assignment"], wire.encode(a))[1] == a


# --------------------------------------------------------------------------- Sensor Logger

def _reading(name: str, t: int, x: float) -> dict[str, Any]:
    return {"name": name, "time": t, "values": {"x": x, "y": -0.5, "z": 9.7}}


PHONE_DOCS = [
    {"messageId": 12, "sessionId": "s-1", "deviceId": "pixel",
     "payload": [_reading("accelerometer", 1698501144401773000 + i * 10_000_000, 0.1 * i)
                 for i in range(3)]
     + [_reading("gravity", 1698501144401773000, 0.0),
        {"name": "battery", "time": 1, "values": {"batteryLevel": 0.5}}]},
    {"messageId": 0, "payload": [_reading("totalacceleration", 5, 1.0)]},
]


def _phone_decode_or_refuse(raw: bytes) -> None:
    try:
        msg = decode_sensor_logger(raw)
    except PacketError as exc:
        assert exc.profile == "sensor-logger" and "\n" not in str(exc)
        return
    for t_ns, xyz in msg.readings.values():
        assert t_ns.dtype == np.int64 and np.all(np.diff(t_ns) >= 0)
        assert xyz.shape == (len(t_ns), 3) and np.all(np.isfinite(xyz))


@SETTINGS
@given(data=st.data())
def test_sensor_logger_mutated_field_by_field(data: st.DataObject) -> None:
    _phone_decode_or_refuse(data.draw(mutated(PHONE_DOCS)))


@SETTINGS
@given(data=st.data())
def test_sensor_logger_raw_and_spliced_bytes(data: st.DataObject) -> None:
    seeds = [json.dumps(d).encode() for d in PHONE_DOCS]
    _phone_decode_or_refuse(data.draw(st.binary(max_size=300) | spliced_bytes(seeds)))


# --------------------------------------------------------------------------- CSV

CSV_SEED = b"t,ax,ay,az\n" + b"".join(
    f"{i / 50:.3f},{0.01 * i:.3f},-0.020,0.980\n".encode() for i in range(12))
CELLS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1" + "0" * 400, "7" * 5000, "1_000",
                     "", " ", '"', '"a,b"', "\x00", "x" * 200_000, "0x10", "١٢"]),
    st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(repr))


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("csv") / "recording.csv"


def _read_or_refuse(path: Path, data: bytes, units: str = "g") -> None:
    path.write_bytes(data)
    try:
        t, acc = read_csv(path, units)
    except RecordingError as exc:
        assert str(path) in str(exc)
        return
    assert t.shape == (len(acc),) and acc.shape[1:] == (3,)
    assert np.all(np.isfinite(t)) and np.all(np.isfinite(acc))


@SETTINGS
@given(row=st.integers(0, 12), col=st.integers(0, 4), cell=CELLS)
def test_csv_mutated_cell_by_cell(csv_path: Path, row: int, col: int, cell: str) -> None:
    lines = CSV_SEED.decode().splitlines()
    cells = lines[row].split(",")
    cells[min(col, len(cells) - 1)] = cell
    lines[row] = ",".join(cells)
    _read_or_refuse(csv_path, "\n".join(lines).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(data=st.data())
def test_csv_raw_and_spliced_bytes(csv_path: Path, data: st.DataObject) -> None:
    raw = data.draw(st.binary(max_size=300) | spliced_bytes([CSV_SEED]))
    _read_or_refuse(csv_path, raw, data.draw(st.sampled_from(["g", "ms2", "mg"])))


def test_csv_refuses_oversized_and_special_files(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read"):
        read_csv(tmp_path)  # a directory
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(RecordingError, match="larger than"):
        read_csv(big)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"t,ax,ay,az\n0,0,0,1\x00\n")
    with pytest.raises(RecordingError, match=r"nul\.csv"):
        read_csv(nul)
    huge = tmp_path / "field.csv"
    huge.write_bytes(b"t,ax,ay,az\n" + b'"' + b"1" * 200_000 + b'",0,0,1\n')
    with pytest.raises(RecordingError, match="not a CSV line"):
        read_csv(huge)
