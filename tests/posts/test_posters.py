"""The real tweepy, Mastodon.py, atproto and httpx clients against HTTP intercepted at the
transport: the exact request each sends, and every failure classified as the worker needs."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import requests
import responses
import respx
from posts_keys import KEYS, SECRETS

from repfit.host.posts.bluesky_poster import BlueskyPoster, record_key
from repfit.host.posts.mastodon_poster import MastodonPoster
from repfit.host.posts.poster import (
    DuplicatePost,
    PermanentFailure,
    Post,
    Poster,
    PostError,
    RateLimited,
    TransientFailure,
)
from repfit.host.posts.webhook_poster import WebhookPoster
from repfit.host.posts.x_poster import XPoster

X_URL = "https://api.twitter.com/2/tweets"
M_BASE = "https://mastodon.example"
PDS = "https://pds.example"
POST = Post("missed: push-ups 8/20 reps [verified] 💪", "x:ada:set:a1", 1_765_000_000.25)


def x_poster() -> XPoster:
    return XPoster(KEYS["api_key"], KEYS["api_secret"], KEYS["access_token"],
                   KEYS["access_token_secret"])


def mastodon_poster() -> MastodonPoster:
    return MastodonPoster(M_BASE, KEYS["mastodon"])


def jwt(exp: float) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256'})}.{part({'exp': int(exp), 'sub': 'did:plc:ada'})}.c2ln"


def session_route(router: respx.MockRouter) -> respx.Route:
    return router.post(f"{PDS}/xrpc/com.atproto.server.createSession").mock(
        return_value=httpx.Response(200, json={
            "accessJwt": jwt(time.time() + 3600), "refreshJwt": jwt(time.time() + 86400),
            "handle": "ada.example", "did": "did:plc:ada"}))


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"a key leaked into {text!r}"


def classified(poster: Poster, post: Post = POST) -> PostError:
    with pytest.raises(PostError) as info:
        poster.send(post)
    exc = info.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert_no_secret(str(exc), repr(exc), repr(poster))
    return exc


def test_every_poster_is_a_poster() -> None:
    with respx.mock:
        posters = [x_poster(), mastodon_poster(), BlueskyPoster("ada.example", KEYS["bluesky"],
                                                                service=PDS),
                   WebhookPoster(KEYS["webhook"], "discord")]
    assert all(isinstance(p, Poster) for p in posters)
    assert_no_secret(*map(repr, posters))


# ---------------------------------------------------------------------- X (tweepy)

@responses.activate
def test_x_sends_one_tweet_signed_with_oauth1() -> None:
    responses.post(X_URL, status=201, json={"data": {"id": "1790", "text": POST.text}})
    receipt = x_poster().send(POST)
    assert receipt.post_id == "1790" and receipt.url == "https://x.com/i/status/1790"
    (call,) = responses.calls
    assert call.request.method == "POST" and call.request.url == X_URL
    auth = call.request.headers["Authorization"]
    assert auth.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in auth
    assert f'oauth_consumer_key="{KEYS["api_key"].reveal()}"' in auth
    assert json.loads(call.request.body) == {"text": POST.text}


@responses.activate
def test_x_failures_are_classified() -> None:
    reset = int(time.time()) + 900
    responses.post(X_URL, status=429, headers={"x-rate-limit-reset": str(reset)},
                   json={"title": "Too Many Requests", "detail": "Too Many Requests"})
    exc = classified(x_poster())
    assert isinstance(exc, RateLimited) and exc.reset_at == reset

    responses.replace(responses.POST, X_URL, status=503, json={"detail": "Service Unavailable"})
    assert isinstance(classified(x_poster()), TransientFailure)

    responses.replace(responses.POST, X_URL, status=401,
                      json={"title": "Unauthorized", "detail": "Unauthorized", "status": 401})
    exc = classified(x_poster())
    assert type(exc) is PermanentFailure and exc.reason.startswith("401")

    responses.replace(responses.POST, X_URL, status=403, json={
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank", "title": "Forbidden", "status": 403})
    exc = classified(x_poster())
    assert isinstance(exc, DuplicatePost) and "duplicate content" in exc.reason

    responses.replace(responses.POST, X_URL, status=403, json={
        "title": "Client Forbidden", "reason": "client-not-enrolled",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
                  "keys and tokens from a Twitter developer App that is attached to a Project."})
    exc = classified(x_poster())
    assert type(exc) is PermanentFailure and "attached to a Project" in exc.reason

    responses.replace(responses.POST, X_URL,
                      body=requests.ConnectionError("connection reset by peer"))
    assert isinstance(classified(x_poster()), TransientFailure)


# ---------------------------------------------------------------------- Mastodon

def status(text: str, status_id: str = "1101") -> dict[str, Any]:
    return {"id": status_id, "url": f"{M_BASE}/@ada/{status_id}", "content": f"<p>{text}</p>",
            "created_at": "2026-12-04T10:00:00.000Z", "visibility": "public"}


@responses.activate
def test_mastodon_posts_a_status_with_an_idempotency_key() -> None:
    responses.post(f"{M_BASE}/api/v1/statuses", json=status(POST.text))
    receipt = mastodon_poster().send(POST)
    assert receipt.post_id == "1101" and receipt.url == f"{M_BASE}/@ada/1101"
    (call,) = responses.calls
    assert call.request.method == "POST"
    assert call.request.url == f"{M_BASE}/api/v1/statuses"
    assert call.request.headers["Authorization"] == f"Bearer {KEYS['mastodon'].reveal()}"
    assert call.request.headers["Idempotency-Key"] == POST.key
    body = call.request.body
    sent = json.loads(body) if call.request.headers.get("Content-Type", "").startswith(
        "application/json") else {k: v[0] for k, v in parse_qs(body).items()}
    assert sent["status"] == POST.text and sent["visibility"] == "public"


@responses.activate
def test_mastodon_failures_are_classified() -> None:
    url = f"{M_BASE}/api/v1/statuses"
    reset = "2030-01-01T00:00:00.000Z"
    responses.post(url, status=429, json={"error": "Too many requests"},
                   headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": reset})
    exc = classified(mastodon_poster())
    assert isinstance(exc, RateLimited) and exc.reset_at == pytest.approx(1893456000, abs=60)
    responses.replace(responses.POST, url, status=502, body="Bad Gateway")
    assert isinstance(classified(mastodon_poster()), TransientFailure)
    responses.replace(responses.POST, url, status=401,
                      json={"error": "The access token is invalid"})
    exc = classified(mastodon_poster())
    assert type(exc) is PermanentFailure and "access token is invalid" in exc.reason
    responses.replace(responses.POST, url, status=422, json={"error": "Validation failed: "
                                                                      "Text is too long"})
    assert "too long" in classified(mastodon_poster()).reason
    responses.replace(responses.POST, url, body=requests.ConnectionError("refused"))
    assert isinstance(classified(mastodon_poster()), TransientFailure)


@responses.activate
def test_mastodon_finds_a_status_it_already_posted() -> None:
    responses.get(f"{M_BASE}/api/v1/accounts/verify_credentials",
                  json={"id": "77", "username": "ada", "acct": "ada"})
    responses.get(f"{M_BASE}/api/v1/accounts/77/statuses",
                  json=[status("other", "1"), status(POST.text.replace("&", "&amp;"), "2")])
    found = mastodon_poster().find(POST)
    assert found is not None and found.post_id == "2"
    assert mastodon_poster().find(Post("never posted", "k")) is None


# ---------------------------------------------------------------------- Bluesky (atproto)

def test_record_key_is_a_stable_tid() -> None:
    key = record_key(POST)
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    assert key == record_key(Post("other text", POST.key, POST.created_at))
    assert key != record_key(Post(POST.text, "x:ada:set:a2", POST.created_at))
    later = record_key(Post(POST.text, POST.key, POST.created_at + 1))
    assert later > key  # TIDs sort by time


def test_bluesky_logs_in_once_and_creates_the_record_with_its_key() -> None:
    with respx.mock(assert_all_called=True) as router:
        login = session_route(router)
        create = router.post(f"{PDS}/xrpc/com.atproto.repo.createRecord").mock(
            side_effect=lambda request: httpx.Response(200, json={
                "uri": "at://did:plc:ada/app.bsky.feed.post/"
                       + json.loads(request.content)["rkey"],
                "cid": "bafyreigq4zsipbk5w3uqkbmh2w2633c4tcwudryvoqkqn5lq6scdbgnplm"}))
        poster = BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS)
        receipt = poster.send(POST)
        poster.send(Post("second", "k2", POST.created_at + 5))
    assert login.call_count == 1 and create.call_count == 2
    assert json.loads(login.calls[0].request.content) == {
        "identifier": "ada.example", "password": KEYS["bluesky"].reveal()}
    request = create.calls[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"].startswith("Bearer ")
    body = json.loads(request.content)
    assert body["repo"] == "ada.example" and body["collection"] == "app.bsky.feed.post"
    assert body["rkey"] == record_key(POST)
    assert body["record"]["text"] == POST.text
    assert body["record"]["$type"] == "app.bsky.feed.post"
    assert body["record"]["createdAt"].startswith("2025-12-06T05:46:40.25")
    assert receipt.url == f"https://bsky.app/profile/ada.example/post/{record_key(POST)}"


def test_bluesky_failures_are_classified() -> None:
    url = f"{PDS}/xrpc/com.atproto.repo.createRecord"
    reset = int(time.time()) + 300
    cases: list[tuple[httpx.Response | Exception, type[PostError]]] = [
        (httpx.Response(429, json={"error": "RateLimitExceeded", "message": "slow down"},
                        headers={"ratelimit-reset": str(reset)}), RateLimited),
        (httpx.Response(500, json={"error": "InternalServerError"}), TransientFailure),
        (httpx.Response(401, json={"error": "AuthMissing"}), PermanentFailure),
        (httpx.Response(400, json={"error": "InvalidRequest",
                                   "message": "Invalid app.bsky.feed.post record"}),
         PermanentFailure),
        (httpx.ConnectError("connection refused"), TransientFailure),
    ]
    for answer, expected in cases:
        with respx.mock as router:
            session_route(router)
            route = router.post(url)
            if isinstance(answer, Exception):
                route.mock(side_effect=answer)
            else:
                route.mock(return_value=answer)
            exc = classified(BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS))
        assert type(exc) is expected, (answer, exc)
        if isinstance(exc, RateLimited):
            assert exc.reset_at == reset


def test_bluesky_wrong_app_password_is_permanent() -> None:
    with respx.mock as router:
        router.post(f"{PDS}/xrpc/com.atproto.server.createSession").mock(
            return_value=httpx.Response(401, json={"error": "AuthenticationRequired",
                                                   "message": "Invalid identifier or password"}))
        exc = classified(BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS))
    assert type(exc) is PermanentFailure and "Invalid identifier or password" in exc.reason


def test_bluesky_finds_its_record_by_key() -> None:
    with respx.mock as router:
        session_route(router)
        get = router.get(f"{PDS}/xrpc/com.atproto.repo.getRecord")
        get.mock(return_value=httpx.Response(200, json={
            "uri": f"at://did:plc:ada/app.bsky.feed.post/{record_key(POST)}",
            "cid": "bafyreigq4zsipbk5w3uqkbmh2w2633c4tcwudryvoqkqn5lq6scdbgnplm",
            "value": {"$type": "app.bsky.feed.post", "text": POST.text,
                      "createdAt": "2025-12-06T05:46:40.250Z"}}))
        poster = BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS)
        assert poster.find(POST) is not None
        assert get.calls[0].request.url.params["rkey"] == record_key(POST)
        get.mock(return_value=httpx.Response(400, json={
            "error": "RecordNotFound", "message": "Could not locate record"}))
        assert poster.find(POST) is None


# ---------------------------------------------------------------------- webhook (httpx)

@pytest.mark.parametrize(("fmt", "expected"), [
    ("discord", {"content": POST.text}),
    ("slack", {"text": POST.text}),
    ("ntfy", {"topic": "gym", "message": POST.text, "title": "repfit"}),
    ("homeassistant", {"message": POST.text, "title": "repfit", "idempotency_key": POST.key}),
    ("json", {"text": POST.text, "idempotency_key": POST.key}),
])
def test_webhook_posts_the_json_its_receiver_expects(fmt: str, expected: dict[str, str]) -> None:
    with respx.mock as router:
        route = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        WebhookPoster(KEYS["webhook"], fmt, topic="gym").send(POST)
    request = route.calls[0].request
    assert request.method == "POST" and json.loads(request.content) == expected
    assert request.headers["Idempotency-Key"] == POST.key
    assert request.headers["Content-Type"] == "application/json"


def test_webhook_failures_are_classified_without_the_url() -> None:
    cases: list[tuple[httpx.Response | Exception, type[PostError]]] = [
        (httpx.Response(429, headers={"Retry-After": "12"}), RateLimited),
        (httpx.Response(503), TransientFailure),
        (httpx.Response(401, text="invalid token"), PermanentFailure),
        (httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015}),
         PermanentFailure),
        (httpx.ConnectTimeout("timed out"), TransientFailure),
    ]
    for answer, expected in cases:
        with respx.mock as router:
            route = router.post(KEYS["webhook"].reveal())
            if isinstance(answer, Exception):
                route.mock(side_effect=answer)
            else:
                route.mock(return_value=answer)
            before = time.time()
            exc = classified(WebhookPoster(KEYS["webhook"], "discord"))
        assert type(exc) is expected
        assert "hooks.example.net" in exc.reason or expected is RateLimited
        if isinstance(exc, RateLimited):
            assert exc.reset_at is not None and before + 12 <= exc.reset_at <= time.time() + 12
