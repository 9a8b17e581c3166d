"""X (Twitter) through tweepy: API v2 ``POST /2/tweets`` in OAuth 1.0a user context.

tweepy (MIT) signs the OAuth 1.0a request (with requests-oauthlib) and maps each status code
to an exception with the API's own messages, which is the part worth not writing ourselves.

X refuses a tweet whose text repeats a recent one of the same account (403, "duplicate
content"). That check is what makes an interrupted send safe to repeat: the post either
goes out once, or is refused as the duplicate of the one that did (``in_doubt="resend"``).

A picture is uploaded first with the v1.1 media endpoint (``API.simple_upload``, the one
tweepy offers; same OAuth 1.0a keys), its alt text set with ``media/metadata/create``, then
referenced by ``media_ids``. A resend uploads it again: an unattached upload expires.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

import requests
import tweepy

from repfit.config import Secret
from repfit.host.posts.length import LengthRule, X
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

__all__ = ["XPoster"]

T = TypeVar("T")

#: X's alt text limit (characters).
_ALT_CHARS = 1000


class XPoster:
    """Posts to one X account.

    Parameters
    ----------
    api_key, api_secret : Secret
        The app's consumer key and secret.
    access_token, access_token_secret : Secret
        The account's OAuth 1.0a access token (with read and write permission).
    """

    rule: LengthRule = X
    in_doubt: InDoubt = "resend"
    picture_limit: int = 5 * 1024 * 1024     # X's limit for an image

    def __init__(self, api_key: Secret, api_secret: Secret, access_token: Secret,
                 access_token_secret: Secret, name: str = "x") -> None:
        self.name = name
        self._client = tweepy.Client(
            consumer_key=api_key.reveal(), consumer_secret=api_secret.reveal(),
            access_token=access_token.reveal(), access_token_secret=access_token_secret.reveal(),
            wait_on_rate_limit=False)
        self._api = tweepy.API(tweepy.OAuth1UserHandler(
            api_key.reveal(), api_secret.reveal(), access_token.reveal(),
            access_token_secret.reveal()), wait_on_rate_limit=False, timeout=60)

    def __repr__(self) -> str:
        return f"XPoster(name={self.name!r})"

    def send(self, post: Post) -> Receipt:
        media_ids = None
        if post.picture is not None:
            png, alt = post.picture.png, post.picture.alt[:_ALT_CHARS]
            media = self._guard(lambda: self._api.simple_upload(
                "set.png", file=io.BytesIO(png), media_category="tweet_image"), picture=True)
            media_id = str(media.media_id_string)
            if alt:
                self._guard(lambda: self._api.create_media_metadata(media_id, alt),
                            picture=True)
            media_ids = [media_id]
        response = self._guard(lambda: self._client.create_tweet(
            text=post.text, media_ids=media_ids, user_auth=True))
        data = response.data or {}
        tweet_id = str(data.get("id", ""))
        return Receipt(self.name, tweet_id, f"https://x.com/i/status/{tweet_id}")

    def find(self, post: Post) -> Receipt | None:
        raise NotImplementedError("X: resend and rely on its duplicate check")

    def _guard(self, call: Callable[[], T], picture: bool = False) -> T:
        """One API call; its failures as the classified errors. ``picture``: a refusal
        other than of the keys is of the picture (`PictureRefused`)."""
        try:
            return call()
        except tweepy.TooManyRequests as exc:
            reset = float(exc.reset_time) if exc.reset_time is not None else None
            raise RateLimited(self.name, "429 rate limited", reset) from None
        except tweepy.TwitterServerError as exc:
            raise TransientFailure(self.name, _reason(exc)) from None
        except tweepy.Unauthorized as exc:
            raise PermanentFailure(self.name, _reason(exc)) from None
        except tweepy.HTTPException as exc:  # 400, 403, 404 and other refusals
            if picture:
                raise PictureRefused(self.name, f"picture refused: {_reason(exc)}") from None
            if isinstance(exc, tweepy.Forbidden) and any("duplicate" in m.lower()
                                                         for m in exc.api_messages):
                raise DuplicatePost(self.name, _reason(exc)) from None
            raise PermanentFailure(self.name, _reason(exc)) from None
        except (requests.RequestException, tweepy.TweepyException) as exc:
            # tweepy's v1.1 API wraps a network error in a TweepyException
            raise TransientFailure(self.name, f"network error ({type(exc).__name__})") from None


def _reason(exc: tweepy.HTTPException) -> str:
    """The status and the API's own words (never a header or a URL)."""
    words = "; ".join(str(m) for m in exc.api_messages) or exc.response.reason or ""
    return f"{exc.response.status_code} {words}".strip()
