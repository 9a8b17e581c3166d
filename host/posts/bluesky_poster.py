"""Bluesky through the atproto SDK: ``com.atproto.repo.createRecord`` of an
``app.bsky.feed.post``, logged in with an app password.

atproto (MIT) has the XRPC models, the session handling (login, token refresh) and the
error classes (its rate-limit error carries the ``ratelimit-reset`` header).

Exactly once: the record key is a TID made from the outbox item (its queueing time and its
key), so the same item always has the same record URI. An interrupted send is settled by
asking for that record (`find`, ``com.atproto.repo.getRecord``) before sending again.

A picture is uploaded first (``com.atproto.repo.uploadBlob``) and embedded as
``app.bsky.embed.images`` with its alt text and aspect ratio. A resend uploads it again: a
blob no record refers to is removed by the server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from atproto import Client, exceptions, models

from repfit.config import Secret
from repfit.host.posts.length import BLUESKY, LengthRule
from repfit.host.posts.poster import (
    InDoubt,
    PermanentFailure,
    Picture,
    PictureRefused,
    Post,
    PostError,
    RateLimited,
    Receipt,
    TransientFailure,
)

__all__ = ["BlueskyPoster", "record_key"]

T = TypeVar("T")

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def record_key(post: Post) -> str:
    """The post's record key: a TID (13 base32-sortable characters) whose timestamp is the
    queueing time in microseconds and whose clock id comes from the idempotency key."""
    micros = int(post.created_at * 1_000_000) & ((1 << 53) - 1)
    clock = int.from_bytes(hashlib.sha256(post.key.encode()).digest()[:2], "big") & 0x3FF
    value = (micros << 10) | clock
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


class BlueskyPoster:
    """Posts to one Bluesky account.

    Parameters
    ----------
    handle : str
        The account, ``name.bsky.social``.
    app_password : Secret
        An app password (Settings > App passwords), never the account password.
    service : str
        The account's server (its PDS); ``https://bsky.social`` for most.
    """

    rule: LengthRule = BLUESKY
    in_doubt: InDoubt = "ask"
    picture_limit: int = 1_000_000           # app.bsky.embed.images: an image's blob

    def __init__(self, handle: str, app_password: Secret, *,
                 service: str = "https://bsky.social", name: str = "bluesky") -> None:
        self.name = name
        self.handle = handle
        self._password = app_password
        self._client = Client(base_url=service.rstrip("/") + "/xrpc")
        self._logged_in = False

    def __repr__(self) -> str:
        return f"BlueskyPoster(name={self.name!r}, handle={self.handle!r})"

    def _login(self) -> None:
        if not self._logged_in:
            self._guard(lambda: self._client.login(self.handle, self._password.reveal(),
                                                   fetch_bsky_profile=False))
            self._logged_in = True

    def send(self, post: Post) -> Receipt:
        self._login()
        created = datetime.fromtimestamp(post.created_at, timezone.utc)
        embed = self._embed(post.picture) if post.picture is not None else None
        record = models.AppBskyFeedPost.Record(
            text=post.text, created_at=created.isoformat().replace("+00:00", "Z"), embed=embed)
        made = self._guard(lambda: self._client.app.bsky.feed.post.create(
            self.handle, record, rkey=record_key(post)))
        return self._receipt(made.uri)

    def _embed(self, picture: Picture) -> models.AppBskyEmbedImages.Main:
        uploaded = self._guard(lambda: self._client.upload_blob(picture.png), picture=True)
        size = picture.size
        ratio = models.AppBskyEmbedDefs.AspectRatio(width=size[0], height=size[1]) \
            if size else None
        return models.AppBskyEmbedImages.Main(images=[models.AppBskyEmbedImages.Image(
            alt=picture.alt, image=uploaded.blob, aspect_ratio=ratio)])

    def find(self, post: Post) -> Receipt | None:
        self._login()
        try:
            found = self._guard(lambda: self._client.app.bsky.feed.post.get(
                self.handle, record_key(post)))
        except PermanentFailure as exc:
            if "RecordNotFound" in exc.reason or "Could not locate record" in exc.reason:
                return None
            raise
        return self._receipt(found.uri)

    def _receipt(self, uri: str) -> Receipt:
        rkey = uri.rsplit("/", 1)[-1]
        return Receipt(self.name, uri, f"https://bsky.app/profile/{self.handle}/post/{rkey}")

    def _guard(self, call: Callable[[], T], picture: bool = False) -> T:
        """Run one XRPC call; its failures as the classified errors. ``picture``: a refused
        request (not the login) is a refused picture (`PictureRefused`)."""
        try:
            return call()
        except exceptions.RateLimitExceededError as exc:
            reset = exc.reset_at.timestamp() if exc.reset_at is not None else None
            raise RateLimited(self.name, "429 rate limited", reset) from None
        except exceptions.UnauthorizedError as exc:
            self._logged_in = False
            raise PermanentFailure(self.name, _reason(exc)) from None
        except exceptions.BadRequestError as exc:
            if picture:
                raise PictureRefused(self.name, f"picture refused: {_reason(exc)}") from None
            raise PermanentFailure(self.name, _reason(exc)) from None
        except exceptions.NetworkError as exc:
            raise TransientFailure(self.name, _reason(exc) if exc.response is not None
                                   else "network error") from None
        except exceptions.RequestException as exc:
            if exc.response is not None and exc.response.status_code >= 500:
                raise TransientFailure(self.name, _reason(exc)) from None
            if picture:   # 413: the body was too large
                raise PictureRefused(self.name, f"picture refused: {_reason(exc)}") from None
            raise PermanentFailure(self.name, _reason(exc)) from None
        except exceptions.AtProtocolError as exc:
            raise PostError(self.name, f"unexpected answer ({type(exc).__name__})") from None


def _reason(exc: exceptions.RequestErrorBase) -> str:
    """The status and the server's error name and message (never the request)."""
    response = exc.response
    if response is None:
        return type(exc).__name__
    content = response.content
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    words = ": ".join(str(w) for w in (error, message) if w)
    return f"{response.status_code} {words}".strip()
