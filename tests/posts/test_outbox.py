"""The durable outbox: queued with the result in one transaction, sent by the worker through
the real clients (HTTP intercepted), every failure path, and no second post after a crash
between sending and marking."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import responses
import respx
from posts_keys import KEYS, SECRETS

from repfit import wire
from repfit.host.posts.bluesky_poster import BlueskyPoster, record_key
from repfit.host.posts.length import LengthRule
from repfit.host.posts.mastodon_poster import MastodonPoster
from repfit.host.posts.poster import InDoubt, Post, Poster, Receipt
from repfit.host.posts.webhook_poster import WebhookPoster
from repfit.host.posts.worker import OutboxWorker, backoff_s
from repfit.host.posts.x_poster import XPoster
from repfit.host.store import OutboxItem, QueuedPost, Store

X_URL = "https://api.twitter.com/2/tweets"
M_BASE = "https://mastodon.example"
PDS = "https://pds.example"
NOW = 1_765_000_000.0
A = wire.Assignment(id="a1", exercise="pushup", target=20, issued_at=NOW - 100)
R = wire.Result(assignment_id="a1", exercise="pushup", completed=False, outcome="deadline",
                reps=8, target=20, started_at=NOW - 90, finished_at=NOW - 10)
DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.",
             "title": "Forbidden", "status": 403, "type": "about:blank"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Crash(BaseException):
    """The process dying right after the service accepted the post."""


class CrashAfterSend:
    """The real poster, then a crash before the worker can mark the item sent."""

    def __init__(self, inner: Poster) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.rule: LengthRule = inner.rule
        self.in_doubt: InDoubt = inner.in_doubt
        self.picture_limit: int = inner.picture_limit

    def send(self, post: Post) -> Receipt:
        self.inner.send(post)
        raise Crash

    def find(self, post: Post) -> Receipt | None:
        return self.inner.find(post)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.in_dir(tmp_path) as s:
        s.add_assignment("ada", A, received_at=NOW - 99)
        yield s


def queue(store: Store, service: str, text: str = "missed: push-ups 8/20 reps [verified]",
          ) -> OutboxItem:
    store.add_result("ada", R, posts=[QueuedPost(f"{service}:ada:set:a1", service, "ada", "set",
                                                 text, NOW, "a1")], now=NOW)
    (item,) = store.outbox(item_id=None)
    return item


def worker(store: Store, poster: Poster, clock: Clock, told: list[str]) -> OutboxWorker:
    return OutboxWorker(store, {poster.name: poster}, tell=told.append, clock=clock,
                        rng=random.Random(1))


def x_poster() -> XPoster:
    return XPoster(KEYS["api_key"], KEYS["api_secret"], KEYS["access_token"],
                   KEYS["access_token_secret"])


def only(store: Store) -> OutboxItem:
    (item,) = store.outbox()
    return item


# ---------------------------------------------------------------------- the store side

def test_post_is_queued_in_the_same_transaction_as_the_result(store: Store) -> None:
    item = queue(store, "x")
    assert store.has_result("a1")
    assert (item.state, item.key, item.assignment_id, item.attempts) == (
        "pending", "x:ada:set:a1", "a1", 0)
    # a second storing of the result (a re-delivery) queues nothing new
    store.add_result("ada", R, posts=[QueuedPost("x:ada:set:a1", "x", "ada", "set", "t", NOW)])
    assert len(store.outbox()) == 1


def test_a_post_that_cannot_be_queued_leaves_the_result_unstored(store: Store) -> None:
    broken = QueuedPost("x:ada:set:a1", "x", "ada", "set", None, NOW)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_result("ada", R, posts=[broken], now=NOW)
    assert not store.has_result("a1") and store.outbox() == []
    queue(store, "x")  # and the store is usable afterwards
    assert store.has_result("a1")


def test_outbox_survives_reopening(tmp_path: Path, store: Store) -> None:
    queue(store, "mastodon")
    store.close()
    with Store.in_dir(tmp_path) as again:
        assert [i.service for i in again.outbox(("pending",))] == ["mastodon"]


# ---------------------------------------------------------------------- sending

@responses.activate
def test_sent_once_and_marked(store: Store) -> None:
    responses.post(X_URL, status=201, json={"data": {"id": "42", "text": "t"}})
    item = queue(store, "x")
    told: list[str] = []
    assert worker(store, x_poster(), Clock(), told).run_once() == 1
    done = only(store)
    assert (done.state, done.receipt, done.attempts) == ("sent", "https://x.com/i/status/42", 1)
    assert json.loads(responses.calls[0].request.body) == {"text": item.text}
    assert worker(store, x_poster(), Clock(), told).run_once() == 0 and told == []


@responses.activate
def test_429_waits_for_the_reset_the_service_gave(store: Store) -> None:
    reset = int(NOW) + 600
    responses.post(X_URL, status=429, headers={"x-rate-limit-reset": str(reset)},
                   json={"detail": "Too Many Requests"})
    responses.post(X_URL, status=201, json={"data": {"id": "43", "text": "t"}})
    queue(store, "x")
    clock = Clock()
    w = worker(store, x_poster(), clock, [])
    w.run_once()
    waiting = only(store)
    assert waiting.state == "pending" and waiting.not_before == reset
    assert "429" in (waiting.error or "")
    clock.now = reset - 1
    assert w.run_once() == 0 and len(responses.calls) == 1   # not before the reset
    clock.now = reset
    w.run_once()
    assert only(store).state == "sent" and len(responses.calls) == 2


@responses.activate
def test_5xx_then_success_retries_with_backoff(store: Store) -> None:
    responses.post(X_URL, status=500, json={"detail": "Internal error"})
    responses.post(X_URL, status=201, json={"data": {"id": "44", "text": "t"}})
    queue(store, "x")
    clock = Clock()
    w = worker(store, x_poster(), clock, [])
    w.run_once()
    waiting = only(store)   # a 5xx may hide a post that went through: in doubt
    assert waiting.state == "sending" and 15 <= waiting.not_before - NOW <= 30
    clock.now = waiting.not_before
    w.run_once()
    sent = only(store)
    assert (sent.state, sent.attempts) == ("sent", 2)
    bodies = {c.request.body for c in responses.calls}
    assert len(bodies) == 1   # the same text each time


@responses.activate
def test_a_5xx_that_hid_a_post_is_not_posted_again(store: Store) -> None:
    responses.post(X_URL, status=503, json={"detail": "Service Unavailable"})  # yet posted
    responses.post(X_URL, status=403, json=DUPLICATE)
    queue(store, "x")
    clock = Clock()
    w = worker(store, x_poster(), clock, [])
    w.run_once()
    clock.now = only(store).not_before
    w.run_once()
    settled = only(store)
    assert (settled.state, settled.receipt) == ("sent", "already posted")


@pytest.mark.parametrize(("error", "state"), [
    (httpx.ConnectError("refused"), "pending"),         # never left: retried
    (httpx.ReadTimeout("no answer"), "failed"),         # may have arrived: held for the user
])
def test_a_webhook_timeout_is_held_a_refusal_retried(store: Store, error: Exception,
                                                     state: str) -> None:
    queue(store, "webhook")
    told: list[str] = []
    with respx.mock as router:
        router.post(KEYS["webhook"].reveal()).mock(side_effect=error)
        worker(store, WebhookPoster(KEYS["webhook"], "discord"), Clock(), told).run_once()
    item = only(store)
    assert item.state == state
    if state == "failed":
        assert "may have been delivered" in (item.error or "") and len(told) == 1


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    draws = [backoff_s(n, base_s=30, cap_s=3600, rng=rng) for n in range(1, 12)]
    for n, d in enumerate(draws, start=1):
        ceiling = min(3600, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len(set(draws)) == len(draws)


@responses.activate
def test_network_error_keeps_the_item_and_retries(store: Store) -> None:
    responses.post(X_URL, body=requests.ConnectionError("Name or service not known"))
    queue(store, "x")
    clock = Clock()
    w = worker(store, x_poster(), clock, [])
    for _ in range(5):  # a service down for a long time: the item waits, nothing is lost
        w.run_once()
        clock.now = only(store).not_before
    item = only(store)
    assert item.state == "sending" and item.attempts == 5 and "network error" in item.error


@pytest.mark.parametrize(("status", "body", "reason"), [
    (401, {"title": "Unauthorized", "detail": "Unauthorized"}, "401 Unauthorized"),
    (403, DUPLICATE, "duplicate content"),
    (403, {"title": "Client Forbidden", "reason": "client-not-enrolled",
           "detail": "You currently have access to a subset of X API V2 endpoints"},
     "subset of X API"),
])
@responses.activate
def test_refusals_fail_once_with_the_reason_and_tell_the_user_once(
        store: Store, status: int, body: dict[str, str], reason: str) -> None:
    responses.post(X_URL, status=status, json=body)
    queue(store, "x")
    told: list[str] = []
    w = worker(store, x_poster(), Clock(), told)
    w.run_once()
    w.run_once()
    failed = only(store)
    assert failed.state == "failed" and reason in (failed.error or "")
    assert len(told) == 1 and reason in told[0] and f"--retry {failed.id}" in told[0]
    assert len(responses.calls) == 1
    # the user retries: sent again, and told again if it fails again
    store.outbox_update(failed.id, "pending", NOW, not_before=NOW, told=False)
    w.run_once()
    assert len(told) == 2 and len(responses.calls) == 2


def test_items_of_a_service_that_is_off_wait(store: Store) -> None:
    queue(store, "bluesky")
    assert worker(store, x_poster(), Clock(), []).run_once() == 0
    assert only(store).state == "pending"


# ---------------------------------------------------------------------- crash between
# sending and marking: never a second post

@responses.activate
def test_crash_x_resend_is_refused_as_a_duplicate_so_one_post(tmp_path: Path,
                                                               store: Store) -> None:
    responses.post(X_URL, status=201, json={"data": {"id": "45", "text": "t"}})
    responses.post(X_URL, status=403, json=DUPLICATE)   # X's answer to the same text again
    queue(store, "x")
    with pytest.raises(Crash):
        worker(store, CrashAfterSend(x_poster()), Clock(), []).run_once()
    assert only(store).state == "sending"
    store.close()
    with Store.in_dir(tmp_path) as restarted:
        worker(restarted, x_poster(), Clock(), []).run_once()
        settled = only(restarted)
    assert (settled.state, settled.receipt) == ("sent", "already posted")
    assert len(responses.calls) == 2 and responses.calls[1].response.status_code == 403


@responses.activate
def test_crash_mastodon_asks_first_and_does_not_post_again(tmp_path: Path,
                                                            store: Store) -> None:
    text = "missed: push-ups 8/20 reps [verified]"
    responses.post(f"{M_BASE}/api/v1/statuses", json={
        "id": "9", "url": f"{M_BASE}/@ada/9", "content": f"<p>{text}</p>",
        "created_at": "2026-12-04T10:00:00.000Z"})
    responses.get(f"{M_BASE}/api/v1/accounts/verify_credentials",
                  json={"id": "77", "username": "ada", "acct": "ada"})
    responses.get(f"{M_BASE}/api/v1/accounts/77/statuses", json=[{
        "id": "9", "url": f"{M_BASE}/@ada/9", "content": f"<p>{text}</p>",
        "created_at": "2026-12-04T10:00:00.000Z"}])
    queue(store, "mastodon", text)
    poster = MastodonPoster(M_BASE, KEYS["mastodon"])
    with pytest.raises(Crash):
        worker(store, CrashAfterSend(poster), Clock(), []).run_once()
    store.close()
    with Store.in_dir(tmp_path) as restarted:
        worker(restarted, MastodonPoster(M_BASE, KEYS["mastodon"]), Clock(), []).run_once()
        settled = only(restarted)
    assert settled.state == "sent" and settled.receipt == f"{M_BASE}/@ada/9"
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1


def test_crash_bluesky_finds_its_record_and_does_not_post_again(tmp_path: Path,
                                                                 store: Store) -> None:
    from test_posters import session_route

    item = queue(store, "bluesky")
    key = record_key(Post(item.text, item.key, item.created_at))
    uri = f"at://did:plc:ada/app.bsky.feed.post/{key}"
    cid = "bafyreigq4zsipbk5w3uqkbmh2w2633c4tcwudryvoqkqn5lq6scdbgnplm"
    with respx.mock as router:
        session_route(router)
        create = router.post(f"{PDS}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={"uri": uri, "cid": cid}))
        router.get(f"{PDS}/xrpc/com.atproto.repo.getRecord").mock(
            return_value=httpx.Response(200, json={"uri": uri, "cid": cid, "value": {
                "$type": "app.bsky.feed.post", "text": item.text,
                "createdAt": "2025-12-06T05:46:40.000Z"}}))
        with pytest.raises(Crash):
            worker(store, CrashAfterSend(BlueskyPoster("ada.example", KEYS["bluesky"],
                                                       service=PDS)), Clock(), []).run_once()
        store.close()
        with Store.in_dir(tmp_path) as restarted:
            worker(restarted, BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS),
                   Clock(), []).run_once()
            settled = only(restarted)
    assert settled.state == "sent" and key in (settled.receipt or "")
    assert create.call_count == 1


def test_crash_webhook_is_held_not_resent(tmp_path: Path, store: Store) -> None:
    queue(store, "webhook")
    told: list[str] = []
    with respx.mock as router:
        hook = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        with pytest.raises(Crash):
            worker(store, CrashAfterSend(WebhookPoster(KEYS["webhook"], "discord")), Clock(),
                   told).run_once()
        store.close()
        with Store.in_dir(tmp_path) as restarted:
            w = worker(restarted, WebhookPoster(KEYS["webhook"], "discord"), Clock(), told)
            w.run_once()
            w.run_once()
            held = only(restarted)
    assert hook.call_count == 1
    assert held.state == "failed" and "--retry" in (held.error or "") and len(told) == 1


# ---------------------------------------------------------------------- the host's side

def test_the_worker_thread_never_holds_up_the_store(store: Store) -> None:
    release = threading.Event()
    entered = threading.Event()

    class Slow:
        name, in_doubt = "slow", "hold"
        rule = LengthRule("graphemes", 100)

        def send(self, post: Post) -> Receipt:
            entered.set()
            release.wait(30)
            return Receipt("slow", "1")

        def find(self, post: Post) -> Receipt | None:
            return None

    queue(store, "slow")
    with OutboxWorker(store, {"slow": Slow()}, poll_s=0.05):
        assert entered.wait(30)
        # the service is hanging; the host still stores results and reads the outbox
        store.add_assignment("ada", wire.Assignment(id="a2", exercise="squat", target=5), NOW)
        store.add_result("ada", wire.Result(assignment_id="a2", exercise="squat",
                                            completed=True, outcome="target_reached", reps=5,
                                            target=5))
        assert store.has_result("a2") and only(store).state == "sending"
        assert not release.is_set()
        release.set()
    assert only(store).state == "sent"


@responses.activate
def test_keys_never_reach_logs_exceptions_or_the_store(tmp_path: Path, store: Store,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.post(X_URL, status=401, json={"detail": "Unauthorized"})
    responses.post(f"{M_BASE}/api/v1/statuses", status=500, body="oops")
    store.add_result("ada", R, posts=[
        QueuedPost("x:ada:set:a1", "x", "ada", "set", "t1", NOW, "a1"),
        QueuedPost("m:ada:set:a1", "mastodon", "ada", "set", "t2", NOW, "a1"),
        QueuedPost("w:ada:set:a1", "webhook", "ada", "set", "t3", NOW, "a1")], now=NOW)
    told: list[str] = []
    with respx.mock as router:
        router.post(KEYS["webhook"].reveal()).mock(side_effect=httpx.ConnectError("refused"))
        posters: dict[str, Poster] = {"x": x_poster(),
                                      "mastodon": MastodonPoster(M_BASE, KEYS["mastodon"]),
                                      "webhook": WebhookPoster(KEYS["webhook"], "slack")}
        OutboxWorker(store, posters, tell=told.append, clock=Clock()).run_once()
    store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    everything = caplog.text + "\n".join(told) + repr(posters)
    assert len(caplog.records) > 0 and told
    for secret in SECRETS:
        assert secret not in everything and secret.encode() not in stored


class WatchedStore(Store):
    """The real store, saying when the worker has looked at the outbox."""

    looked = threading.Event()

    def outbox(self, *args: object, **kwargs: object) -> list[OutboxItem]:
        items = super().outbox(*args, **kwargs)  # type: ignore[arg-type]
        self.looked.set()
        return items


def test_a_queued_post_wakes_the_worker_without_waiting_for_its_poll(tmp_path: Path) -> None:
    """The poll is an hour here: only the wake of the queueing can get the post out."""
    store = WatchedStore(tmp_path / "watched.sqlite3")
    store.add_assignment("ada", A, received_at=NOW - 99)
    received: list[httpx.Request] = []
    delivered = threading.Event()

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(request)
        delivered.set()
        return httpx.Response(204)

    poster = WebhookPoster(KEYS["webhook"], "slack", transport=httpx.MockTransport(hook))
    with store, OutboxWorker(store, {"webhook": poster}, poll_s=3600.0):
        assert store.looked.wait(30)     # its first look found nothing; now it waits
        queue(store, "webhook")
        assert delivered.wait(30), "the worker slept through the queued post"
    (request,) = received
    assert json.loads(request.content) == {"text": "missed: push-ups 8/20 reps [verified]"}
    with Store(tmp_path / "watched.sqlite3") as reopened:
        assert only(reopened).state == "sent"


def test_a_stopped_worker_is_no_longer_woken(store: Store) -> None:
    worker = OutboxWorker(store, {}, poll_s=3600.0).start()
    worker.stop()
    queue(store, "webhook")          # nothing listens any more: queueing just stores
    assert only(store).state == "pending"
