"""X (Twitter) through tweepy: API v2 ``POST /2/tweets`` in OAuth 1.0a user context.

tweepy (MIT) signs the OAuth 1.0a request (with requests-oauthlib) and maps each status code
to an exception with the API's own messages, which is the part worth not writing ourselves.

X refuses a tweet whose text repeats a recent one of the same account (403, "duplicate
content"). That check is what makes an interrupted send safe to repeat: the post either
goes out once, or is refused as the duplicate of the one that did (``in_doubt="resend"``).
"""

from __future__ import annotations

import requests
import tweepy

from repfit.config import Secret
from repfit.host.posts.length import LengthRule, X
from repfit.host.posts.poster import (
    DuplicatePost,
    InDoubt,
    PermanentFailure,
    Post,
    RateLimited,
    Receipt,
    TransientFailure,
)

__all__ = ["XPoster"]


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

    def __init__(self, api_key: Secret, api_secret: Secret, access_token: Secret,
                 access_token_secret: Secret, name: str = "x") -> None:
        self.name = name
        self._client = tweepy.Client(
            consumer_key=api_key.reveal(), consumer_secret=api_secret.reveal(),
            access_token=access_token.reveal(), access_token_secret=access_token_secret.reveal(),
            wait_on_rate_limit=False)

    def __repr__(self) -> str:
        return f"XPoster(name={self.name!r})"

    def send(self, post: Post) -> Receipt:
        try:
            response = self._client.create_tweet(text=post.text, user_auth=True)
        except tweepy.TooManyRequests as exc:
            reset = float(exc.reset_time) if exc.reset_time is not None else None
            raise RateLimited(self.name, "429 rate limited", reset) from None
        except tweepy.TwitterServerError as exc:
            raise TransientFailure(self.name, _reason(exc)) from None
        except tweepy.Forbidden as exc:
            if any("duplicate" in m.lower() for m in exc.api_messages):
                raise DuplicatePost(self.name, _reason(exc)) from None
            raise PermanentFailure(self.name, _reason(exc)) from None
        except tweepy.HTTPException as exc:  # 400, 401, 404 and other refusals
            raise PermanentFailure(self.name, _reason(exc)) from None
        except requests.RequestException as exc:
            raise TransientFailure(self.name, f"network error ({type(exc).__name__})") from None
        data = response.data or {}
        tweet_id = str(data.get("id", ""))
        return Receipt(self.name, tweet_id, f"https://x.com/i/status/{tweet_id}")

    def find(self, post: Post) -> Receipt | None:
        raise NotImplementedError("X: resend and rely on its duplicate check")


def _reason(exc: tweepy.HTTPException) -> str:
    """The status and the API's own words (never a header or a URL)."""
    words = "; ".join(str(m) for m in exc.api_messages) or exc.response.reason or ""
    return f"{exc.response.status_code} {words}".strip()
