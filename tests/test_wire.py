"""The message contract: every type round-trips; every kind of bad payload is named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from repfit import bounded_json, wire

MESSAGES: list[wire.Message] = [
    wire.Assignment(id="a1", exercise="squat", target=12, issued_at=1.7e9, deadline_s=300,
                    seconds_per_rep=2.5, run_id="r1", experiment="exp", text="go"),
    wire.Assignment(id="a2", exercise="plank", target=500, unit="iterations", reason="penalty",
                    est_duration_s=60.0),
    wire.Cue(kind="tick_major", assignment_id="a1", index=10, at=1.7e9),
    wire.Cue(kind="better", text="better than last run"),
    wire.SampleBatch("wrist", np.arange(5) / 50.0, np.tile([0.01, -0.02, 0.98], (5, 1)), seq=7,
                     lost_before=3),
    wire.Progress(assignment_id="a1", exercise="squat", reps=3, target=12, rejected=1,
                  last_reason="cadence out of range", at=1.7e9),
    wire.Progress(assignment_id="a2", exercise="plank", reps=0, target=60, unit="seconds",
                  hold_seconds=12.5),
    wire.Result(assignment_id="a1", exercise="squat", completed=True, outcome="target_reached",
                reps=12, target=12, started_at=1.7e9, finished_at=1.7e9 + 40),
    wire.Status(role="host", online=False, client_id="repfit-host-1", at=1.0),
    wire.Assignment(id="a3", exercise="squat", target=25, run_id="r1",
                    caps={"reps_per_day": {"default": 50, "squat": 30}, "quiet_hours":
                          "22:00-07:00", "assignments_per_day": 4}),
    wire.Result(assignment_id="a3", exercise="squat", completed=False, outcome="capped",
                reps=0, target=25, detail="cap reached: 30/30 squats today"),
    wire.Result(assignment_id="a4", exercise="squat", completed=True, outcome="reported",
                reps=25, target=25, verified=False),
    wire.StateChange(assignment_id="a3", state="capped", at=1.7e9, exercise="squat",
                     label="flexions", reason="penalty", experiment="exp", run_id="r1",
                     detail="cap reached: 30/30 squats today"),
    wire.Report(assignment_id="a4", reps=20, at=1.7e9),
    wire.Report(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: wire.Message) -> None:
    device = "repfit-host-1" if isinstance(message, wire.Status) else None
    topic = wire.topic_for("ada", message, device)
    parsed, decoded = wire.decode(topic, wire.encode(message))
    assert decoded == message
    assert parsed.user == "ada"
    assert json.loads(wire.encode(message))["v"] == wire.PROTOCOL_VERSION


def test_topics_and_qos() -> None:
    assert wire.topic_for("ada", MESSAGES[0]) == "repfit/ada/assignment"
    assert wire.topic_for("ada", MESSAGES[4]) == "repfit/ada/samples/wrist"
    assert wire.subscription("ada", "samples") == "repfit/ada/samples/+"
    assert wire.qos_retain("assignment") == (1, True)
    assert wire.qos_retain("samples") == (0, False)
    with pytest.raises(ValueError, match="user"):
        wire.topic_for("a/b", MESSAGES[0])


def test_results_of_earlier_senders_are_verified() -> None:
    body = json.loads(wire.encode(MESSAGES[7]))
    del body["verified"], body["detail"]
    _, decoded = wire.decode("repfit/ada/result", json.dumps(body))
    assert isinstance(decoded, wire.Result) and decoded.verified and decoded.detail is None
    assert wire.qos_retain("state") == (1, False) and wire.qos_retain("report") == (1, False)


def _payload(**over: object) -> bytes:
    body = json.loads(wire.encode(MESSAGES[0]))
    body.update(over)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "field", "reason"),
    [
        ("repfit/ada/assignment", b"{not json", "payload", "invalid JSON"),
        ("repfit/ada/assignment", b"\xff\xfe", "payload", "not UTF-8"),
        ("repfit/ada/assignment", b"[1, 2]", "payload", "expected a JSON object"),
        ("repfit/ada/assignment", _payload(v=2), "v", "unsupported protocol version 2"),
        ("repfit/ada/assignment", _payload(v=None), "v", "unsupported protocol version"),
        ("repfit/ada/assignment", _payload(type="cue"), "type", "on a 'assignment' topic"),
        ("repfit/ada/assignment", _payload(target="ten"), "target", "expected a number"),
        ("repfit/ada/assignment", _payload(target=-1), "target", "outside 1..1000"),
        ("repfit/ada/assignment", _payload(unit="laps"), "unit", "not one of"),
        ("repfit/ada/assignment", _payload(id=None), "id", "expected a string"),
        ("repfit/ada/assignment", b'{"v":1,"type":"assignment"}', "id", "missing"),
        ("repfit/ada/assignment", b"x" * (wire.MAX_PAYLOAD_BYTES + 1), "payload", "exceeds"),
        ("repfit/ada/assignment", _payload(caps=[1]), "caps", "an object"),
        ("repfit/ada/assignment", _payload(caps={"reps_per_day": -5}), "caps", ">= 0"),
        ("repfit/ada/assignment", _payload(caps={"reps_per_day": {"squat": "x"}}), "caps",
         "'squat': expected a number"),
        ("repfit/ada/assignment", _payload(caps={"quiet_hours": "x" * 65}), "caps",
         "expected a number"),
        ("repfit/ada/result", b'{"v":1,"type":"result","assignment_id":"a","exercise":"s",'
         b'"completed":true,"outcome":"skipped","reps":1,"target":1}', "outcome", "not one of"),
        ("repfit/ada/state", b'{"v":1,"type":"state","assignment_id":"a","state":"lost",'
         b'"at":1}', "state", "not one of"),
        ("repfit/ada/report", b'{"v":1,"type":"report","reps":-1}', "reps", "below the minimum"),
        ("repfit/ada/weather", b"{}", "topic", "not a repfit topic"),
        ("repfit/ada/samples", b"{}", "topic", "need"),
    ],
)
def test_malformed_payloads_are_named(topic: str, payload: bytes, field: str,
                                      reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason) as info:
        wire.decode(topic, payload)
    assert info.value.field == field
    assert info.value.topic == topic


def _samples(**over: object) -> bytes:
    body = {"v": 1, "type": "samples", "device": "w", "seq": 0, "t": [0.0, 0.02],
            "acc": [[0, 0, 1], [0, 0, 1]]}
    body.update(over)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("over", "field", "reason"),
    [
        ({"device": "other"}, "device", "does not match"),
        ({"t": "0,1"}, "t", "list of timestamps"),
        ({"acc": [[0, 0], [0, 0]]}, "acc", "exactly 3 numbers"),
        ({"acc": [[0, 0, 1]]}, "acc", "1 rows for 2 timestamps"),
        ({"t": [0.0, "x"]}, "t", "must be numbers"),
        ({"t": [0.02, 0.0]}, "t", "strictly increasing"),
        ({"acc": [[0, 0, 1], [0, 0, 1e400]]}, "payload", "Infinity is not a finite number"),
        ({"seq": -1}, "seq", "below the minimum"),
        ({"t": [0.0] * 5000, "acc": [[0, 0, 1]] * 5000}, "t", "exceeds the limit"),
    ],
)
def test_malformed_sample_batches(over: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason) as info:
        wire.decode("repfit/ada/samples/w", _samples(**over))
    assert info.value.field == field


def test_empty_batch_is_valid() -> None:
    _, batch = wire.decode("repfit/ada/samples/w", _samples(t=[], acc=[]))
    assert isinstance(batch, wire.SampleBatch) and len(batch) == 0


def test_nan_fields_encode_as_null_not_invalid_json() -> None:
    p = wire.Progress(assignment_id="a", exercise="plank", reps=0, target=1,
                      hold_seconds=float("nan"))
    _, back = wire.decode(wire.topic_for("ada", p), wire.encode(p))
    assert isinstance(back, wire.Progress) and back.hold_seconds is None


# --------------------------------------------------------------------------- hostile payloads

ALL_TOPICS = ["repfit/ada/assignment", "repfit/ada/cue", "repfit/ada/samples/w",
              "repfit/ada/progress", "repfit/ada/result", "repfit/ada/status/w",
              "repfit/ada/ack", "repfit/ada/state", "repfit/ada/report"]


@pytest.mark.parametrize("topic", ALL_TOPICS)
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[" * 100_000, "nested deeper than 16"),
        (b'{"v":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
        (b'{"v":1,"type":"assignment","target":1' + b"0" * 400 + b"}", "integer of 401 digits"),
        (b'{"v":1,"seq":' + b"7" * 5000 + b"}", "integer of 5000 digits"),
        (b'{"v":1,"target":NaN}', "NaN is not a finite number"),
        (b'{"v":1,"target":-Infinity}', "-Infinity is not a finite number"),
        (b'"' + b"\\" * 50_000 + b'"', "expected a JSON object"),
        (b'{"a":"' + b'\\"[' * 30_000 + b'"}', "missing|unsupported"),
    ],
    ids=["deep-array", "deep-field", "1e400-as-int", "5000-digits", "nan", "-inf",
         "backslashes", "escaped-quotes-and-brackets"],
)
def test_hostile_payloads_raise_wire_error(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason):
        wire.decode(topic, payload)


def test_depth_bound_counts_only_structure() -> None:
    assert bounded_json.depth_bound(b'{"a":[[1],[2]]}') == 3
    assert bounded_json.depth_bound(b'{"a":[[1],[2]]}', cheap_up_to=16) == 4  # count, no scan
    many = b'{"s":"' + b"[" * 100 + b'","t":[' + b"[1]," * 50 + b"[1]]}"
    assert bounded_json.depth_bound(many) == 3          # brackets in a string do not count
    escaped = b'{"s":"\\"' + b"[" * 100 + b'"}'
    assert bounded_json.depth_bound(escaped) == 1       # nor after an escaped quote
    assert bounded_json.depth_bound(b"[" * 1000) == 1000


def test_text_fields_with_lone_surrogates_are_refused() -> None:
    with pytest.raises(wire.WireError, match="lone surrogate") as info:
        wire.decode("repfit/ada/assignment", _payload(text="\ud800"))
    assert info.value.field == "text"


def test_wire_error_shows_a_hostile_topic_as_text() -> None:
    with pytest.raises(wire.WireError) as info:
        wire.decode("repfit/ada/samples/\x1b]0;owned\x07\nFAKE line", b"{}")
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    assert "\\x1b]0;owned\\x07\\nFAKE line" in str(info.value)


# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("over", "field", "reason"),
    [
        ({"target": 0}, "target", "0 reps is outside 1..1000"),
        ({"target": 1e12}, "target", "outside 1..1000"),
        ({"target": 3601, "unit": "seconds"}, "target", "outside 1..3600"),
        ({"target": 2e7, "unit": "iterations", "est_duration_s": 60}, "target", "outside"),
        ({"target": 500, "unit": "iterations", "est_duration_s": 1e5}, "est_duration_s",
         "above the maximum"),
        ({"target": 5000, "unit": "iterations", "est_duration_s": None}, "est_duration_s",
         "hold of 5000 s is outside 1..3600"),
        ({"deadline_s": 1e300}, "deadline_s", "above the maximum 86400"),
        ({"deadline_s": 0}, "deadline_s", "below the minimum 1"),
        ({"issued_at": 1e300}, "issued_at", "above the maximum"),
        ({"seconds_per_rep": 1e9}, "seconds_per_rep", "above the maximum 60"),
        ({"id": "a\nb"}, "id", "expected 1-128 of A-Z a-z 0-9 _ . : -"),
        ({"id": "x" * 129}, "id", "longer than 128"),
        ({"id": ""}, "id", "expected 1-128"),
        ({"exercise": "[link=http://evil]squat"}, "exercise", "expected 1-64 of letters"),
        ({"exercise": "squat\nforged"}, "exercise", "expected 1-64"),
        ({"label": "x" * 65}, "label", "longer than 64"),
        ({"run_id": "r\x1b[2J"}, "run_id", "expected 1-128"),
        ({"text": "x" * 1025}, "text", "longer than 1024"),
        ({"experiment": "e" * 257}, "experiment", "longer than 256"),
    ],
)
def test_assignment_bounds(over: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason) as info:
        wire.decode("repfit/ada/assignment", _payload(**over))
    assert info.value.field == field


@pytest.mark.parametrize(
    "over",
    [{"target": 1}, {"target": 1000}, {"target": 3600, "unit": "seconds"},
     {"target": 10_000_000, "unit": "iterations", "est_duration_s": 3600},
     {"target": 60, "unit": "iterations", "est_duration_s": None},
     {"deadline_s": 86400}, {"exercise": "Push-ups"}, {"exercise": "saut en étoile"},
     {"label": "pompes \x1b[2J"}, {"id": "3f2c9a:run.1_x-y"},
     {"text": "squats — 10 times — start"}],
)
def test_assignment_bounds_keep_sensible_values(over: dict[str, object]) -> None:
    _, a = wire.decode("repfit/ada/assignment", _payload(**over))
    assert isinstance(a, wire.Assignment)


@pytest.mark.parametrize(("option", "value"), [("deadline_s", 1e300), ("deadline_s", 0.5),
                                               ("reps", 5000), ("seconds", 7200)])
def test_coach_settings_stay_inside_what_a_host_accepts(option: str, value: float) -> None:
    from repfit.integrations.coach import CoachSettings

    with pytest.raises(ValueError, match=option):
        CoachSettings(**{option: value})
