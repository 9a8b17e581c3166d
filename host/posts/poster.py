"""The one interface every service sits behind: a `Poster` sends a `Post` and returns a
`Receipt`, or raises one of four classified errors the outbox worker knows how to handle.

Error messages are built here and in each poster from the service's status and its own
reason text, never from a library's exception text (which may quote a URL or a header that
holds a key); each is raised ``from None`` so no chained exception carries one either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from repfit.host.posts.length import LengthRule

__all__ = ["DuplicatePost", "InDoubt", "PermanentFailure", "Picture", "PictureRefused", "Post",
           "PostError", "Poster", "RateLimited", "Receipt", "TransientFailure"]


@dataclass(frozen=True, repr=False)
class Picture:
    """An image attached to a post: PNG bytes and the alt text that describes them."""

    png: bytes
    alt: str

    def __repr__(self) -> str:
        return f"Picture({len(self.png)} bytes PNG)"

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) from the PNG header, None when it is not a PNG."""
        if self.png[:8] != b"\x89PNG\r\n\x1a\n" or self.png[12:16] != b"IHDR":
            return None
        return (int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big"))


@dataclass(frozen=True)
class Post:
    """What is sent: the text, and the outbox's idempotency key and queueing time (the same
    on every retry); ``picture`` when the post shows the set (uploaded again on a retry: a
    media uploaded but never attached to a post is harmless)."""

    text: str
    key: str
    created_at: float = 0.0
    picture: Picture | None = None


@dataclass(frozen=True)
class Receipt:
    """What the service answered: its id for the post and, when it has one, a link."""

    service: str
    post_id: str
    url: str | None = None

    def __str__(self) -> str:
        return self.url or self.post_id


class PostError(Exception):
    """A post was not made; the subclass says whether and when to try again."""

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"{service}: {reason}")


class RateLimited(PostError):
    """HTTP 429: try again at ``reset_at`` (epoch seconds) as the service said, or None when
    it did not say (then the worker backs off)."""

    def __init__(self, service: str, reason: str, reset_at: float | None) -> None:
        super().__init__(service, reason)
        self.reset_at = reset_at


class TransientFailure(PostError):
    """5xx, a timeout or a network error: retry with backoff. ``maybe_delivered``: the
    request may have reached the service (a timeout waiting for its answer), so the post is
    in doubt like an interrupted send."""

    def __init__(self, service: str, reason: str, maybe_delivered: bool = False) -> None:
        super().__init__(service, reason)
        self.maybe_delivered = maybe_delivered


class PermanentFailure(PostError):
    """401/403, a tier that cannot post, a bad request: retrying will not help."""


class DuplicatePost(PermanentFailure):
    """The service refused the text as a duplicate of a post it already has."""


class PictureRefused(PermanentFailure):
    """The service refused the picture itself (its type, its size, an account that cannot
    upload media), not the account or the post: the post can go without it."""


#: What the worker does with a post whose sending was interrupted (a crash between the call
#: and the mark): ``"ask"`` the service whether it has the post (`Poster.find`); ``"resend"``
#: because the service itself refuses a second copy (then a `DuplicatePost` means it was
#: posted); ``"hold"``: it cannot tell, so the item waits for the user (at most once).
InDoubt = Literal["ask", "resend", "hold"]


@runtime_checkable
class Poster(Protocol):
    """A service that accepts short text posts. Calls block: the outbox worker makes them
    from its own thread."""

    name: str
    rule: LengthRule
    in_doubt: InDoubt
    #: The largest picture (bytes) the service takes with a post; 0: it takes none (the
    #: post goes without its picture).
    picture_limit: int

    def send(self, post: Post) -> Receipt: ...

    def find(self, post: Post) -> Receipt | None:
        """The service's receipt for ``post`` when it already has it, else None (only called
        when ``in_doubt == "ask"``)."""
        ...
