"""Received text made safe to print or log: shown as text, never obeyed by the terminal.

Ids, exercise names, announcement texts and topics arrive from anyone who can publish on the
broker. Printed raw, an ``ESC ]0;...`` sequence retitles the terminal, ``ESC [2J`` clears it,
``ESC ]8;;url`` makes a link, a newline in an id forges a second log line, and rich markup
such as ``[link=...]`` is rendered by the console. `plain` turns every control and invisible
format character into a visible escape (``\\x1b``, ``\\n``, ``\\u202e``), so the text stays
readable and nothing in it acts; `markup` also escapes rich markup for strings that are
passed to rich as markup. `OneLineFormatter` applies `plain` to every log message, so a
record stays one line whatever its arguments hold.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["MAX_SHOWN_CHARS", "OneLineFormatter", "markup", "plain"]

MAX_SHOWN_CHARS: Final = 200
"""Received text longer than this is cut (with an ellipsis) where it is shown."""

# C0 and C1 controls and DEL; zero-width, direction and line/paragraph-separator format
# characters (they reorder or hide text: "Trojan source"); lone surrogates, which cannot be
# encoded for the terminal at all; and the byte-order mark.
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object, limit: int | None = MAX_SHOWN_CHARS) -> str:
    """``str(value)`` with every control/format character shown as an escape, on one line.

    ``limit`` cuts the (escaped) text to that many characters plus ``…``; None keeps it all.
    """
    text = _UNSAFE.sub(_visible, value if isinstance(value, str) else str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return text


def markup(value: object, limit: int | None = MAX_SHOWN_CHARS) -> str:
    """`plain`, with rich markup escaped: for received text inside a rich markup string."""
    from rich.markup import escape  # here, so that `repfit.wire` can use `plain` without rich

    return escape(plain(value, limit))


class OneLineFormatter(logging.Formatter):
    """A formatter whose message part is always `plain`: one line, no terminal escapes.

    Tracebacks (``exc_info``) are still appended on their own lines; they come from the
    program, not from the wire.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = plain(record.message, None)
        return super().formatMessage(record)
