"""Signatures: valid only for the same key, topic and values."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from repfit import wire
from repfit.signing import SIGNATURE_FIELD, Signature, check, sign

KEY = b"k" * 32
TOPIC = "repfit/ada/assignment"


def _assignment() -> bytes:
    return wire.encode(wire.Assignment(id="a1", exercise="squat", target=25, issued_at=1e9))


def test_signed_payload_verifies_and_still_decodes() -> None:
    signed = sign(TOPIC, _assignment(), KEY)
    assert check(TOPIC, json.loads(signed), KEY) is Signature.VALID
    _, message = wire.decode(TOPIC, signed)
    assert isinstance(message, wire.Assignment) and message.target == 25


def test_unsigned_wrong_key_other_topic_are_refused() -> None:
    signed = json.loads(sign(TOPIC, _assignment(), KEY))
    assert check(TOPIC, json.loads(_assignment()), KEY) is Signature.MISSING
    assert check(TOPIC, signed, b"x" * 32) is Signature.INVALID
    assert check("repfit/bob/assignment", signed, KEY) is Signature.INVALID
    assert check(TOPIC, {**signed, SIGNATURE_FIELD: 7}, KEY) is Signature.INVALID


@given(field=st.sampled_from(["id", "exercise", "target", "deadline_s", "reason"]),
       value=st.one_of(st.integers(), st.text(max_size=20), st.floats(allow_nan=False)))
def test_any_changed_value_breaks_the_signature(field: str, value: object) -> None:
    signed = json.loads(sign(TOPIC, _assignment(), KEY))
    if signed.get(field) == value:
        return
    assert check(TOPIC, {**signed, field: value}, KEY) is Signature.INVALID


def test_reencoding_keeps_the_signature() -> None:
    signed = json.loads(sign(TOPIC, _assignment(), KEY))
    reordered = dict(reversed(list(signed.items())))
    assert check(TOPIC, json.loads(json.dumps(reordered, indent=2)), KEY) is Signature.VALID
