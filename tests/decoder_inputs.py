"""Inputs for the decoder property tests and ``benchmarks/fuzz_decoders.py``: valid seed
messages for every decoder, hostile JSON values and fragments, and the Hypothesis strategies
that mutate a valid message field by field (at every level) or splice bytes into it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import strategies as st

from repfit import wire

__all__ = ["CELLS", "CSV_SEED", "FRAGMENTS", "HOSTILE", "PHONE_DOCS", "TOPICS", "WIRE_DOCS",
           "WIRE_SEEDS", "mutated", "mutated_csv", "spliced_bytes"]

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


# --------------------------------------------------------------------------- seeds

TOPICS = {"assignment": "repfit/ada/assignment", "cue": "repfit/ada/cue",
          "samples": "repfit/ada/samples/w", "progress": "repfit/ada/progress",
          "result": "repfit/ada/result", "status": "repfit/ada/status/w",
          "ack": "repfit/ada/ack", "state": "repfit/ada/state", "report": "repfit/ada/report"}
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
    "ack": [wire.Ack(assignment_id="a1", client_id="repfit-host-1", at=1.7e9)],
    "state": [wire.StateChange("a1", "in_progress", 1.7e9, exercise="squat", label="squats",
                               run_id="r1", experiment="exp", detail="d")],
    "report": [wire.Report("a1", reps=12, hold_seconds=None, at=1.7e9), wire.Report()],
}
WIRE_DOCS = {k: [json.loads(wire.encode(m)) for m in ms] for k, ms in WIRE_SEEDS.items()}


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



CSV_SEED = b"t,ax,ay,az\n" + b"".join(
    f"{i / 50:.3f},{0.01 * i:.3f},-0.020,0.980\n".encode() for i in range(12))
CELLS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1" + "0" * 400, "7" * 5000, "1_000",
                     "", " ", '"', '"a,b"', "\x00", "x" * 200_000, "0x10", "١٢"]),
    st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(repr))


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    """`CSV_SEED` with one cell (header included) replaced by a hostile one."""
    lines = CSV_SEED.decode().splitlines()
    row = draw(st.integers(0, len(lines) - 1))
    cells = lines[row].split(",")
    cells[draw(st.integers(0, len(cells) - 1))] = draw(CELLS)
    lines[row] = ",".join(cells)
    return "\n".join(lines).encode("utf-8", "surrogatepass")
