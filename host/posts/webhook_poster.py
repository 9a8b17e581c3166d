"""A generic webhook: one JSON POST per post, for Discord, Slack, ntfy, Home Assistant or
anything that accepts JSON.

HTTP with httpx (BSD-3-Clause, maintained by Encode): it has timeouts on by default (requests
has none, so a hung server would hold the worker forever), and the Bluesky SDK already
depends on it, so the social extra adds nothing for it; tests intercept it with respx.

The URL usually *is* the secret (a Discord or Slack webhook URL carries its token), so it is
a `Secret`, and errors name only the host it points to.

Webhooks cannot say whether they already received a post: an interrupted send is not
repeated on its own (``in_doubt="hold"``, at most once); ``repfit outbox --retry ID`` sends
it again. Each body carries the item's ``idempotency_key`` (and the ``Idempotency-Key``
header) for a receiver that can de-duplicate.

Pictures: a Discord webhook receives the post as ``multipart/form-data``, the JSON as
``payload_json`` and the PNG as ``files[0]`` with its alt text as the attachment's
description. The other kinds take no picture (``picture_limit = 0``): Slack's incoming
webhooks cannot upload files, ntfy's JSON publishing attaches only a URL, and Home
Assistant's and plain JSON receivers get the text alone.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from repfit.config import Secret
from repfit.host.posts.length import LengthRule
from repfit.host.posts.poster import (
    InDoubt,
    PermanentFailure,
    PictureRefused,
    Post,
    RateLimited,
    Receipt,
    TransientFailure,
)

__all__ = ["WEBHOOK_FORMATS", "WebhookPoster", "webhook_body"]

WebhookFormat = Literal["json", "discord", "slack", "ntfy", "homeassistant"]
WEBHOOK_FORMATS: tuple[str, ...] = ("json", "discord", "slack", "ntfy", "homeassistant")
#: Discord's message limit; the others take more (each service's ``max_chars`` can say so).
_DEFAULT_LIMITS = {"discord": 2000, "slack": 4000, "ntfy": 4096, "homeassistant": 4000,
                   "json": 4000}
#: Discord's upload limit per message without a boost; the others take no picture.
_PICTURE_LIMITS = {"discord": 10 * 1024 * 1024}
#: Discord's limit for an attachment's description (its alt text).
_DISCORD_ALT_CHARS = 1024


def webhook_body(fmt: str, post: Post, topic: str = "") -> dict[str, Any]:
    """The JSON each kind of receiver expects."""
    if fmt == "discord":  # Discord and Slack refuse fields they do not know
        return {"content": post.text}
    if fmt == "slack":
        return {"text": post.text}
    if fmt == "ntfy":  # ntfy's JSON publishing: POST to the server root with the topic
        return {"topic": topic, "message": post.text, "title": "repfit"}
    if fmt == "homeassistant":  # a webhook trigger; the automation reads trigger.json
        return {"message": post.text, "title": "repfit", "idempotency_key": post.key}
    return {"text": post.text, "idempotency_key": post.key}


class WebhookPoster:
    """POSTs JSON to one URL.

    Parameters
    ----------
    url : Secret
        The webhook URL (it often holds the token).
    fmt : str
        One of `WEBHOOK_FORMATS`.
    topic : str
        ntfy's topic (ntfy only).
    """

    in_doubt: InDoubt = "hold"

    def __init__(self, url: Secret, fmt: str = "json", *, topic: str = "",
                 max_chars: int | None = None, name: str = "webhook",
                 timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        if fmt not in WEBHOOK_FORMATS:
            raise ValueError(f"unknown webhook format {fmt!r} (one of "
                             f"{', '.join(WEBHOOK_FORMATS)})")
        self.name = name
        self.fmt = fmt
        self.topic = topic
        self.rule = LengthRule("graphemes", max_chars or _DEFAULT_LIMITS[fmt])
        self.picture_limit = _PICTURE_LIMITS.get(fmt, 0)
        self._url = url
        self._where = urlsplit(url.reveal()).hostname or "?"
        self._http = httpx.Client(timeout=timeout_s, transport=transport)

    def __repr__(self) -> str:
        return f"WebhookPoster(name={self.name!r}, host={self._where!r})"

    def send(self, post: Post) -> Receipt:
        body = webhook_body(self.fmt, post, self.topic)
        headers = {"Idempotency-Key": post.key}
        try:
            if post.picture is not None and self.picture_limit:
                body["attachments"] = [{"id": 0, "filename": "set.png", "description":
                                        post.picture.alt[:_DISCORD_ALT_CHARS]}]
                response = self._http.post(
                    self._url.reveal(), data={"payload_json": json.dumps(body)},
                    files={"files[0]": ("set.png", post.picture.png, "image/png")},
                    headers=headers)
            else:
                response = self._http.post(self._url.reveal(), json=body, headers=headers)
        except httpx.HTTPError as exc:
            # Refused or unreachable: surely not delivered; a timeout or a broken answer
            # after the request went out: perhaps delivered.
            unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout,
                                      httpx.UnsupportedProtocol))
            raise TransientFailure(self.name, f"network error reaching {self._where} "
                                              f"({type(exc).__name__})",
                                   maybe_delivered=not unsent) from None
        status = response.status_code
        if status == 429:
            raise RateLimited(self.name, "429 rate limited", _reset(response.headers))
        if status >= 500:
            raise TransientFailure(self.name, f"{status} from {self._where}")
        if status >= 400:
            words = " ".join(response.text.split())[:200]
            reason = f"{status} from {self._where}: {words}".rstrip(": ")
            if status == 413 and post.picture is not None and self.picture_limit:
                raise PictureRefused(self.name, f"picture refused: {reason}")
            raise PermanentFailure(self.name, reason)
        return Receipt(self.name, f"{status}")

    def find(self, post: Post) -> Receipt | None:
        raise NotImplementedError("a webhook cannot tell what it received")


def _reset(headers: httpx.Headers) -> float | None:
    """When to try again: ``Retry-After`` (seconds or an HTTP date), or Discord's
    ``X-RateLimit-Reset`` (epoch seconds)."""
    after = headers.get("retry-after")
    if after:
        try:
            return time.time() + float(after)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(after)
            if parsed is not None:
                return parsed.timestamp()
    reset = headers.get("x-ratelimit-reset")
    try:
        return float(reset) if reset else None
    except ValueError:
        return None
