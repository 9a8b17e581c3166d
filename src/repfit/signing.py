"""Optional HMAC-SHA256 signatures on assignments and results.

The broker's password file and ACL decide who may publish on a user's topics. A user who
shares a broker with people they do not fully trust (or whose ACL cannot be changed) can also
give the trainer and the host a shared key: the trainer signs its assignments, the host
refuses assignments that are unsigned or badly signed, and signs the results it publishes.

The signature covers the topic and the payload's JSON object without its ``sig`` member, in
a canonical form (sorted keys, compact separators), so it survives re-encoding but not any
change of value, and a message signed for one user's topic does not verify on another's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any, Final

from repfit.config import Secret

__all__ = ["SIGNATURE_FIELD", "SIGNED_KINDS", "Signature", "Signer", "check", "sign"]

SIGNATURE_FIELD: Final = "sig"
#: The message kinds signed when a key is configured: what the trainer asks, what the host
#: verified, and a set the user reports in honour mode (it ends an assignment). Streams
#: (samples, progress, cues) and the host's lifecycle steps stay unsigned.
SIGNED_KINDS: Final = frozenset({"assignment", "result", "report"})


class Signature(Enum):
    """What a payload's signature says about it."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"


def _mac(topic: str, obj: Mapping[str, Any], key: bytes) -> str:
    body = {k: v for k, v in obj.items() if k != SIGNATURE_FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           allow_nan=False)
    return hmac.new(key, topic.encode() + b"\n" + canonical.encode(), hashlib.sha256).hexdigest()


def sign(topic: str, payload: bytes, key: bytes) -> bytes:
    """The payload with a ``sig`` member added (an encoded repfit message: a JSON object)."""
    obj = json.loads(payload)
    if not isinstance(obj, dict):
        raise ValueError("only a JSON object can be signed")
    obj[SIGNATURE_FIELD] = _mac(topic, obj, key)
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def check(topic: str, obj: Mapping[str, Any], key: bytes) -> Signature:
    """Check the signature of an already parsed payload (constant-time comparison)."""
    given = obj.get(SIGNATURE_FIELD)
    if given is None:
        return Signature.MISSING
    if not isinstance(given, str):
        return Signature.INVALID
    try:
        expected = _mac(topic, obj, key)
    except (TypeError, ValueError):  # a value JSON cannot hold canonically
        return Signature.INVALID
    return Signature.VALID if hmac.compare_digest(given, expected) else Signature.INVALID


class Signer:
    """One user's key applied to the signed kinds; what a connection needs to sign and check."""

    def __init__(self, key: Secret) -> None:
        self._key = key.reveal().encode()

    def __repr__(self) -> str:
        return "Signer(<key>)"

    def outgoing(self, topic: str, kind: str, payload: bytes) -> bytes:
        """The payload to publish: signed when ``kind`` is one of `SIGNED_KINDS`."""
        return sign(topic, payload, self._key) if kind in SIGNED_KINDS else payload

    def incoming(self, topic: str, kind: str, payload: bytes | bytearray) -> Signature:
        """The verdict on a received payload that already decoded as a repfit message.

        Kinds that are not signed are `Signature.VALID` by definition.
        """
        if kind not in SIGNED_KINDS:
            return Signature.VALID
        try:
            obj = json.loads(payload)
        except ValueError:
            return Signature.INVALID
        return check(topic, obj, self._key) if isinstance(obj, dict) else Signature.INVALID
