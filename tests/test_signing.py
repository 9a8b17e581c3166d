"""Signatures: valid only for the same key, topic and values."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from repfit import config, wire
from repfit.config import MqttSettings, Secret
from repfit.host.bus import Bus
from repfit.integrations.publisher import Publisher
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


async def _signed_round_trip(settings: MqttSettings, user: str) -> tuple[list[str], int, bytes]:
    secret = Secret(KEY.decode())
    topic = f"repfit/{user}/assignment"
    unsigned = wire.Assignment(id="unsigned", exercise="squat", target=5)
    forged = wire.Assignment(id="forged", exercise="squat", target=5)
    genuine = wire.Assignment(id="genuine", exercise="squat", target=5)
    results: list[bytes] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda c, u, m: results.append(bytes(m.payload))
    watcher.connect(settings.host, settings.port)
    watcher.subscribe(f"repfit/{user}/result", qos=1)
    watcher.loop_start()
    async with Bus(settings, user=user, signing_key=secret) as bus:
        await bus.subscribe("assignment")
        raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        raw.connect(settings.host, settings.port)
        raw.loop_start()
        for payload in (wire.encode(unsigned), sign(topic, wire.encode(forged), b"w" * 32)):
            raw.publish(topic, payload, qos=1).wait_for_publish(5)
        raw.disconnect()
        raw.loop_stop()
        trainer = Publisher(settings, user, signing_key=secret)
        trainer.start()
        trainer.publish(genuine)
        seen = []
        async for incoming in bus.messages():
            seen.append(incoming.message.id)  # type: ignore[union-attr]
            if seen[-1] == "genuine":
                break
        await asyncio.to_thread(trainer.close)
        bus.publish(wire.Result(assignment_id="genuine", exercise="squat", completed=True,
                                outcome="target_reached", reps=5, target=5))
        for _ in range(100):
            if results:
                break
            await asyncio.sleep(0.05)
        rejected = bus.rejected
    watcher.disconnect()
    watcher.loop_stop()
    return seen, rejected, results[0] if results else b""


@pytest.mark.slow
def test_with_a_key_the_host_takes_only_signed_assignments_and_signs_results(
        mosquitto: MqttSettings, user: str) -> None:
    seen, rejected, result = asyncio.run(asyncio.wait_for(_signed_round_trip(mosquitto, user),
                                                          30))
    assert seen == ["genuine"]
    assert rejected == 2
    assert check(f"repfit/{user}/result", json.loads(result), KEY) is Signature.VALID


def test_signing_key_from_environment_or_private_file_only(tmp_path: Path) -> None:
    key = "s3cret/with@odd:chars-0123456789"
    assert config.load(tmp_path / "none.toml", env={"REPFIT_SIGNING_KEY": key}).signing_key \
        == Secret(key)
    file = tmp_path / "config.toml"
    file.write_text(f'user = "ada"\nsigning_key = "{key}"\n')
    file.chmod(0o644)
    shared = config.load(file, env={})
    assert shared.signing_key is None and shared.user == "ada"
    assert [p.key for p in shared.problems] == ["signing_key"]
    assert key not in str(shared.problems[0]) and key not in repr(shared)
    file.chmod(0o600)
    assert config.load(file, env={}).signing_key == Secret(key)
    short = config.load(file, env={"REPFIT_SIGNING_KEY": "short"})
    assert short.signing_key == Secret(key)  # the file's good key, after the bad one
    assert "REPFIT_SIGNING_KEY" in str(short.problems[0]) and "short" not in str(short.problems[0])
