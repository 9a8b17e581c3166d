"""How long a post is, as each service counts it, and cutting a post to fit.

- X counts *weighted* characters (twitter-text configuration v3): code points in the ranges
  U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and U+2032-U+2037 weigh 1, every other code
  point 2 (so CJK text weighs 2 a character), an emoji sequence 2 however many code points it
  is made of, a URL 23 whatever its length; text is NFC-normalised first; at most 280.
- Mastodon counts user-perceived characters (grapheme clusters), a URL as 23; 500 by default
  (an instance may allow more).
- Bluesky counts grapheme clusters, URLs as written; at most 300, and 3000 bytes of UTF-8.

Grapheme clusters and emoji come from the ``regex`` module (``\\X`` and the Unicode property
``Extended_Pictographic``), which tracks the Unicode release; the standard ``re`` has neither.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

import regex

__all__ = ["BLUESKY", "MASTODON", "LengthRule", "X", "find_urls", "x_weighted_length"]

# A URL as the services recognise one: a scheme, or "www.", or a bare domain with a common
# top-level domain; trailing punctuation is the sentence's, not the URL's.
_URL = regex.compile(
    r"(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,:;!?')\]]"
    r"|(?<![\w@.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|org|net|io|dev|app|social|me|co|uk|de|fr|jp|cn|eu|info|xyz|ly|gg|tv|ai)"
    r"(?:/[^\s<>\"]*[^\s<>\".,:;!?')\]])?(?![\w.-]*\w)",
    regex.IGNORECASE)
_SCHEME_URL = regex.compile(r"https?://[^\s<>\"]+[^\s<>\".,:;!?')\]]", regex.IGNORECASE)
# An emoji as X counts one: a grapheme cluster that holds a pictograph, a keycap or a flag.
_EMOJI_CLUSTER = regex.compile(r"\p{Extended_Pictographic}|\u20e3|\p{Regional_Indicator}")
_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_X_URL_LENGTH = 23


def find_urls(text: str, scheme_only: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each URL in ``text``."""
    pattern = _SCHEME_URL if scheme_only else _URL
    return [m.span() for m in pattern.finditer(text)]


def _weight(char: str) -> int:
    code = ord(char)
    return 1 if any(lo <= code <= hi for lo, hi in _LIGHT) else 2


def x_weighted_length(text: str) -> int:
    """The length X counts for ``text`` (see the module docstring).

    >>> x_weighted_length("hello"), x_weighted_length("日本語"), x_weighted_length("👍🏽")
    (5, 6, 2)
    >>> x_weighted_length("see https://example.com/a/very/long/path/that/goes/on")
    27
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end in [*find_urls(text), (len(text), len(text))]:
        for cluster in regex.findall(r"\X", text[position:start]):
            if _EMOJI_CLUSTER.search(cluster):
                total += 2
            else:
                total += sum(_weight(c) for c in cluster)
        if end > start:
            total += _X_URL_LENGTH
        position = end
    return total


def _graphemes(text: str) -> list[str]:
    return list(regex.findall(r"\X", text))


@dataclass(frozen=True)
class LengthRule:
    """A service's limit and how it counts.

    Attributes
    ----------
    counting : {"x", "graphemes"}
        X's weighted count, or grapheme clusters.
    limit : int
        The most the service accepts, in its own count.
    url_length : int or None
        What one URL counts as (None: as written). Only for ``"graphemes"``.
    max_bytes : int or None
        A cap on the UTF-8 size as well (Bluesky).
    """

    counting: Literal["x", "graphemes"]
    limit: int
    url_length: int | None = None
    max_bytes: int | None = None

    def length(self, text: str) -> int:
        if self.counting == "x":
            return x_weighted_length(text)
        if self.url_length is None:
            return len(_graphemes(text))
        spans = find_urls(text, scheme_only=True)
        total, position = 0, 0
        for start, end in spans:
            total += len(_graphemes(text[position:start])) + self.url_length
            position = end
        return total + len(_graphemes(text[position:]))

    def fits(self, text: str) -> bool:
        if self.max_bytes is not None and len(text.encode()) > self.max_bytes:
            return False
        return self.length(text) <= self.limit

    def fit(self, text: str, suffix: str = "") -> str:
        """``text + suffix`` when it fits, else ``text`` cut at a grapheme boundary (never
        inside a URL) with "…" before the ``suffix``, which is always kept whole."""
        if self.fits(text + suffix):
            return text + suffix
        clusters = _graphemes(text)
        urls = find_urls(text)
        lo, hi = 0, len(clusters)
        while lo < hi:  # the longest prefix that still fits
            mid = (lo + hi + 1) // 2
            if self.fits("".join(clusters[:mid]).rstrip() + "…" + suffix):
                lo = mid
            else:
                hi = mid - 1
        cut = "".join(clusters[:lo])
        for start, end in urls:
            if start < len(cut) < end:
                cut = cut[:start]
        return cut.rstrip() + "…" + suffix


#: X: 280 weighted characters.
X = LengthRule("x", 280)
#: Mastodon's default; an instance's own limit goes in the config (``max_chars``).
MASTODON = LengthRule("graphemes", 500, url_length=23)
#: Bluesky: 300 grapheme clusters and 3000 bytes.
BLUESKY = LengthRule("graphemes", 300, max_bytes=3000)
