"""JSON from strangers, parsed with bounds: no input can make the parser recurse, overflow or
hit Python's integer-string limit.

`loads` checks the nesting depth with a linear scan *before* parsing (``json`` recurses once
per level, so 100,000 ``[`` end in `RecursionError`), refuses integer literals longer than a
limit (a 5,000-digit integer raises `ValueError` in ``int()``; ``1`` and 400 zeros parse but
overflow ``float()``), and refuses ``NaN``/``Infinity``. Every refusal is a `JsonRefused`
naming the reason; callers turn it into their own documented error.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import numpy as np

__all__ = ["JsonRefused", "depth_bound", "loads"]


class JsonRefused(ValueError):
    """Bytes that are not JSON within the bounds; ``str()`` is a reason safe to log."""


_STEP: Final = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_ESCAPED_PAIR: Final = re.compile(rb"\\.", re.DOTALL)


def depth_bound(data: bytes, cheap_up_to: int = 0) -> int:
    """An upper bound of the nesting depth at which a JSON parser reading ``data`` recurses.

    Linear time, no recursion. When ``data`` has at most ``cheap_up_to`` brackets their
    count is returned (a bound without a scan). Otherwise brackets inside strings are not
    counted; escaped pairs (``\\"``) are blanked first, the way a parser reads them, so the
    bound holds for the whole prefix a parser accepts before it meets an error.
    """
    opens = data.count(b"[") + data.count(b"{")
    if opens <= cheap_up_to:
        return opens
    raw = np.frombuffer(_ESCAPED_PAIR.sub(b"__", data), dtype=np.uint8)
    outside = np.cumsum(raw == ord('"')) % 2 == 0
    step = np.where(outside, _STEP[raw], 0).astype(np.int64)
    return int(np.cumsum(step).max(initial=0))


def loads(data: bytes, *, max_depth: int, max_int_digits: int) -> Any:
    """Parse UTF-8 JSON ``data`` within the bounds.

    Raises
    ------
    JsonRefused
        Not UTF-8, not JSON, nested deeper than ``max_depth``, an integer literal longer
        than ``max_int_digits`` digits, or ``NaN``/``Infinity``/``-Infinity``. Floats too
        large for a double (``1e400``) parse as infinity: check finiteness where it matters.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRefused("not UTF-8") from None
    if depth_bound(data, cheap_up_to=max_depth) > max_depth:
        raise JsonRefused(f"nested deeper than {max_depth} levels")

    def parse_int(literal: str) -> int:
        digits = len(literal) - literal.startswith("-")
        if digits > max_int_digits:
            raise JsonRefused(f"an integer of {digits} digits (at most {max_int_digits})")
        return int(literal)

    def parse_constant(literal: str) -> float:
        raise JsonRefused(f"{literal} is not a finite number")

    try:
        return json.loads(text, parse_int=parse_int, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"invalid JSON ({exc.msg} at char {exc.pos})") from None
