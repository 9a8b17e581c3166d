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

import numpy as np
import pytest
from decoder_inputs import (
    CSV_SEED,
    PHONE_DOCS,
    TOPICS,
    WIRE_DOCS,
    WIRE_SEEDS,
    mutated,
    mutated_csv,
    spliced_bytes,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from repfit import wire
from repfit.host.recordings import RecordingError, read_csv
from repfit.host.sources import PacketError
from repfit.host.sources._phone import decode_sensor_logger

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- wire



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
@given(raw=mutated_csv())
def test_csv_mutated_cell_by_cell(csv_path: Path, raw: bytes) -> None:
    _read_or_refuse(csv_path, raw)


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


@pytest.mark.parametrize(("raw", "reason"), [
    (b"[" * 100_000, "nested deeper than 8"),
    (b'{"messageId": 1' + b"0" * 400 + b', "payload": []}', "integer of 401 digits"),
    (b'{"messageId": ' + b"7" * 5000 + b', "payload": []}', "integer of 5000 digits"),
    (b'{"messageId": 1, "payload": [{"name": "gravity", "time": 1e400, '
     b'"values": {"x": 1, "y": 0, "z": 0}}]}', "time is not epoch nanoseconds"),
    (b'{"messageId": 1, "payload": [{"name": "gravity", "time": "12", '
     b'"values": {"x": 1, "y": 0, "z": 0}}]}', "lacks numeric"),
    (b'{"messageId": 1, "sessionId": {"a": [1]}, "payload": []}', "sessionId must be a string"),
    (b'{"messageId": 1e300, "payload": []}', "messageId must be an integer"),
])
def test_sensor_logger_hostile_payloads_are_packet_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(PacketError, match=reason):
        decode_sensor_logger(raw)
