"""Mastodon through Mastodon.py: ``POST /api/v1/statuses`` with a bearer access token.

Mastodon.py (MIT) knows the API's endpoints, its rate-limit headers and its error bodies.
Every status is sent with an ``Idempotency-Key`` (the outbox item's key): Mastodon answers
a repeat within an hour with the status it already made. For a send interrupted longer ago
than that, the worker asks first (``in_doubt="ask"``): `find` reads the account's latest
statuses for the same text.

A picture is uploaded first (``media_post``, ``POST /api/v2/media`` with its alt text as the
description; Mastodon.py asks the server's version once to pick the endpoint), then attached
by ``media_ids``. A resend uploads it again: an unattached upload is removed by the server.
"""

from __future__ import annotations

import html
import io
import re

import mastodon

from repfit.config import Secret
from repfit.host.posts.length import MASTODON, LengthRule
from repfit.host.posts.poster import (
    DuplicatePost,
    InDoubt,
    PermanentFailure,
    PictureRefused,
    Post,
    RateLimited,
    Receipt,
    TransientFailure,
)

__all__ = ["MastodonPoster"]

_TAG = re.compile(r"<br\s*/?>|</p><p>|<[^>]+>")


class MastodonPoster:
    """Posts to one Mastodon account.

    Parameters
    ----------
    instance : str
        The server's base URL, ``https://mastodon.social``.
    access_token : Secret
        A token with the ``write:statuses`` scope (Preferences > Development).
    visibility : str
        "public", "unlisted" or "private".
    max_chars : int
        The instance's limit (500 unless it allows more).
    """

    in_doubt: InDoubt = "ask"
    picture_limit: int = 16 * 1024 * 1024    # Mastodon's default image limit

    def __init__(self, instance: str, access_token: Secret, *, visibility: str = "public",
                 max_chars: int = MASTODON.limit, name: str = "mastodon",
                 timeout_s: float = 30.0) -> None:
        self.name = name
        self.instance = instance.rstrip("/")
        self.visibility = visibility
        self.rule: LengthRule = LengthRule("graphemes", max_chars, url_length=23)
        self._api = mastodon.Mastodon(access_token=access_token.reveal(),
                                      api_base_url=self.instance, ratelimit_method="throw",
                                      request_timeout=timeout_s, version_check_mode="none")

    def __repr__(self) -> str:
        return f"MastodonPoster(name={self.name!r}, instance={self.instance!r})"

    def _call(self, what: str, *args: object, picture: bool = False,
              **kwargs: object) -> object:
        """One API call; its failures as the classified errors. ``picture``: a refusal
        other than of the token is of the picture (`PictureRefused`)."""
        try:
            return getattr(self._api, what)(*args, **kwargs)
        except mastodon.MastodonRatelimitError:
            reset = getattr(self._api, "ratelimit_reset", None)
            raise RateLimited(self.name, "429 rate limited",
                              float(reset) if reset else None) from None
        except mastodon.MastodonNetworkError:
            raise TransientFailure(self.name, "network error") from None
        except mastodon.MastodonServerError as exc:
            raise TransientFailure(self.name, _reason(exc)) from None
        except mastodon.MastodonAPIError as exc:
            reason = _reason(exc)
            if picture and not isinstance(exc, mastodon.MastodonUnauthorizedError):
                raise PictureRefused(self.name, f"picture refused: {reason}") from None
            if "not finished processing" in reason:   # the upload is still being processed
                raise TransientFailure(self.name, reason) from None
            if "duplicate" in reason.lower():
                raise DuplicatePost(self.name, reason) from None
            raise PermanentFailure(self.name, reason) from None

    def send(self, post: Post) -> Receipt:
        media_ids = None
        if post.picture is not None:
            media = self._call("media_post", io.BytesIO(post.picture.png),
                               mime_type="image/png", file_name="set.png",
                               description=post.picture.alt, picture=True)
            media_ids = [media["id"]]  # type: ignore[index]
        status = self._call("status_post", post.text, visibility=self.visibility,
                            idempotency_key=post.key, media_ids=media_ids)
        return Receipt(self.name, str(status["id"]), status.get("url"))  # type: ignore[index,attr-defined]

    def find(self, post: Post) -> Receipt | None:
        me = self._call("account_verify_credentials")
        statuses = self._call("account_statuses", me["id"], limit=40)  # type: ignore[index]
        for status in statuses:  # type: ignore[attr-defined]
            if _plain(status["content"]) == " ".join(post.text.split()):
                return Receipt(self.name, str(status["id"]), status.get("url"))
        return None


def _plain(content: str) -> str:
    """A status's HTML as the text that was posted (whitespace collapsed)."""
    return " ".join(html.unescape(_TAG.sub(" ", content)).split())


def _reason(exc: mastodon.MastodonError) -> str:
    """``Mastodon API returned error, 403, Forbidden, <the server's words>`` -> status and
    words (the arguments never hold the token)."""
    args = [str(a) for a in exc.args[1:] if a]
    return " ".join(args) or type(exc).__name__
