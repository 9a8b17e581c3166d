"""The outbox worker: sends queued posts from its own thread, so no service (slow, down, rate
limited) ever holds up the host's message handling.

Per item: ``pending`` -> ``sending`` (committed before the service is called) -> ``sent``.
A 429 waits until the reset the service gave; a 5xx or a network error is retried with
exponential backoff and full jitter, for as long as it takes (a service down for a day
loses nothing); a refusal (401/403, a duplicate, a tier that cannot post) marks the item
``failed`` with the service's reason and tells the user once. An item in ``sending`` (the
process stopped between the call and the mark, or a timeout or a 5xx that may hide a post
that went through) is settled by its poster's ``in_doubt`` policy before it is sent again.

The worker wakes as soon as the store says a post was queued (`Store.when_queued`); its
poll (``poll_s``) is only the fallback, and the clock for retries and daily summaries.

A post with a picture: the set's stored samples are drawn here (`repfit.host.charts.set_png`,
in this thread) and uploaded with every try; a service that refuses the picture itself gets
the post without it (the user is told). Without matplotlib, or samples that cannot be read,
the post goes without its picture.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from repfit.host.posts.poster import (
    DuplicatePost,
    PermanentFailure,
    Picture,
    PictureRefused,
    Post,
    Poster,
    PostError,
    RateLimited,
    Receipt,
    TransientFailure,
)
from repfit.host.setsamples import SetSamples, SetSamplesError
from repfit.host.store import OutboxItem, PostPicture, Store

__all__ = ["OutboxWorker", "backoff_s", "draw_picture", "quiet_libraries"]

log = logging.getLogger(__name__)

#: Loggers of the HTTP and OAuth libraries: their debug output can show a key or a token,
#: so they stay at WARNING whatever the host's verbosity.
_CHATTY = ("oauthlib", "requests_oauthlib", "tweepy", "mastodon", "httpx", "httpcore",
           "atproto", "atproto_client", "urllib3")


def quiet_libraries() -> None:
    """Keep the HTTP and OAuth libraries' loggers at WARNING (see ``_CHATTY``)."""
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


def backoff_s(attempts: int, base_s: float = 30.0, cap_s: float = 3600.0,
              rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempts`` (1, 2, ...): exponential up to ``cap_s``,
    with full jitter (a uniform draw below it) so many clients never retry in step."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def draw_picture(stored: PostPicture) -> Picture:
    """The set's plot from its stored samples. Raises ImportError without matplotlib,
    `SetSamplesError` for bytes that are not a set's samples."""
    from repfit.host import charts

    samples = SetSamples.from_bytes(stored.samples)
    png = charts.set_png(samples.t, samples.acc, samples.exercise, samples.title,
                         rep_times=list(samples.rep_times))
    return Picture(png, stored.alt)


class OutboxWorker:
    """Sends due outbox items through ``posters`` (by service name) until `stop`.

    Parameters
    ----------
    store : Store
        The host's store (its outbox table).
    posters : mapping of str to Poster
        The usable services; items of other services wait (nothing is dropped).
    tell : callable
        Shows the user one line (a failure, once per item).
    clock, sleep_s : injectable for tests.
    """

    def __init__(self, store: Store, posters: Mapping[str, Poster], *,
                 tell: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, poll_s: float = 5.0,
                 rng: random.Random | None = None,
                 periodic: Callable[[], None] | None = None) -> None:
        self.store = store
        self.posters = dict(posters)
        self.tell = tell or (lambda line: log.warning("%s", line))
        self.clock = clock
        self.poll_s = poll_s
        self.rng = rng or random.Random()
        self.periodic = periodic
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        #: The last picture drawn (assignment id, picture): one set, several services.
        self._drawn: tuple[str, Picture | None] | None = None
        quiet_libraries()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> OutboxWorker:
        self._unsubscribe = self.store.when_queued(self.wake)
        self._thread = threading.Thread(target=self._run, name="repfit-outbox", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (something was queued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> OutboxWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: a post queued during it wakes the next one at once.
            self._wake.clear()
            try:
                if self.periodic is not None:
                    self.periodic()
                self.run_once()
            except Exception as exc:  # a bug must not end posting for the session
                # Where, not what: a library's message may quote a URL that holds a key.
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                log.error("outbox worker: unexpected %s at %s:%s; the item stays queued",
                          type(exc).__name__, frame.filename, frame.lineno)
            self._wake.wait(self.poll_s)

    # ------------------------------------------------------------------ one pass

    def run_once(self) -> int:
        """Handle every item due now; how many were handled."""
        handled = 0
        for item in self.store.outbox(("sending", "pending")):
            if self._stop.is_set():
                break
            if item.not_before > self.clock() or item.service not in self.posters:
                continue
            self.handle(item)
            handled += 1
        return handled

    def handle(self, item: OutboxItem) -> None:
        poster = self.posters[item.service]
        post = Post(item.text, item.key, item.created_at)
        in_doubt = item.state == "sending"
        if in_doubt:
            if poster.in_doubt == "hold":
                self._fail(item, "sending was interrupted and this service cannot tell "
                                 "whether the post arrived; `repfit outbox --retry "
                                 f"{item.id}` sends it again")
                return
            if poster.in_doubt == "ask":
                try:
                    found = poster.find(post)
                except PostError as exc:
                    self._settle_error(item, exc, "sending")
                    return
                if found is not None:
                    self._sent(item, found)
                    return
        post = replace(post, picture=self._picture(item, poster))
        self.store.outbox_update(item.id, "sending", self.clock(), attempt=True)
        try:
            receipt = self._send(item, poster, post)
        except DuplicatePost as exc:
            if in_doubt:  # the interrupted send got through: this is its duplicate
                self._sent(item, Receipt(item.service, "already posted"))
            else:
                self._fail(item, exc.reason)
            return
        except PostError as exc:
            self._after_failed_send(item, poster, exc)
            return
        self._sent(item, receipt)

    def _send(self, item: OutboxItem, poster: Poster, post: Post) -> Receipt:
        """Send; a picture the service refuses is left out and the post sent without it."""
        try:
            return poster.send(post)
        except PictureRefused as exc:
            if post.picture is None:
                raise
            self.tell(f"post {item.id} to {item.service}: {exc.reason}; posting it without "
                      "the picture")
            return poster.send(replace(post, picture=None))

    def _picture(self, item: OutboxItem, poster: Poster) -> Picture | None:
        """The set's picture for ``item``, drawn from its stored samples (None when the
        item has none, the service takes none, or it cannot be drawn: said in the log)."""
        if not item.picture or item.assignment_id is None or poster.picture_limit <= 0:
            return None
        if self._drawn is None or self._drawn[0] != item.assignment_id:
            self._drawn = (item.assignment_id, self._draw(item.assignment_id))
        picture = self._drawn[1]
        if picture is not None and len(picture.png) > poster.picture_limit:
            log.warning("outbox item %d: the picture (%d bytes) is larger than %s takes "
                        "(%d); posting without it", item.id, len(picture.png), item.service,
                        poster.picture_limit)
            return None
        return picture

    def _draw(self, assignment_id: str) -> Picture | None:
        stored = self.store.post_picture(assignment_id)
        if stored is None:
            log.warning("the samples of %s are no longer kept; posting without its picture",
                        assignment_id)
            return None
        try:
            return draw_picture(stored)
        except ImportError:
            log.warning("matplotlib is not installed (pip install 'repfit[plot]'); posting "
                        "without the picture of %s", assignment_id)
            return None
        except SetSamplesError as exc:
            log.warning("the picture of %s cannot be drawn (%s); posting without it",
                        assignment_id, exc)
            return None
        except Exception as exc:  # a drawing bug must not hold the post back for ever
            log.error("the picture of %s cannot be drawn (unexpected %s); posting without it",
                      assignment_id, type(exc).__name__)
            return None

    def _after_failed_send(self, item: OutboxItem, poster: Poster, exc: PostError) -> None:
        """A transient failure may hide a post that went through (a 5xx or a timeout after
        the service accepted it): where the service can settle that, the item stays in
        doubt and is settled before the next try; a webhook's timeout holds the item."""
        if isinstance(exc, TransientFailure) and poster.in_doubt in ("resend", "ask"):
            self._settle_error(item, exc, "sending")
        elif isinstance(exc, TransientFailure) and exc.maybe_delivered:
            self._fail(item, f"{exc.reason}; the post may have been delivered: `repfit "
                             f"outbox --retry {item.id}` sends it again")
        else:
            self._settle_error(item, exc, "pending")

    # ------------------------------------------------------------------ outcomes

    def _sent(self, item: OutboxItem, receipt: Receipt) -> None:
        self.store.outbox_update(item.id, "sent", self.clock(), receipt=str(receipt))
        log.info("posted outbox item %d to %s: %s", item.id, item.service, receipt)
        if item.picture:
            self.store.prune_pictures()

    def _fail(self, item: OutboxItem, reason: str) -> None:
        self.store.outbox_update(item.id, "failed", self.clock(), error=reason, told=True)
        if not item.told:
            self.tell(f"post {item.id} to {item.service} failed: {reason} "
                      f"(repfit outbox --retry {item.id} / --drop {item.id})")

    def _settle_error(self, item: OutboxItem, exc: PostError, state: str) -> None:
        """A failed call: wait and retry, or fail. ``state`` is what the item stays in while
        it waits ("sending" keeps an in-doubt item in doubt)."""
        now = self.clock()
        if isinstance(exc, PermanentFailure):
            self._fail(item, exc.reason)
            return
        attempts = item.attempts + 1
        if isinstance(exc, RateLimited) and exc.reset_at is not None:
            retry_at = max(exc.reset_at, now)
            note = f"{exc.reason}; the service resets at " \
                   f"{datetime.fromtimestamp(retry_at):%H:%M:%S}"
        else:
            retry_at = now + backoff_s(attempts, rng=self.rng)
            note = f"{exc.reason}; retry {attempts} in {retry_at - now:.0f} s"
        self.store.outbox_update(item.id, state, now, not_before=retry_at, error=note)
        log.info("outbox item %d to %s: %s", item.id, item.service, note)
