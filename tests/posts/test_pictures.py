"""The optional picture of a set: kept with the post in the store, drawn by the worker, and
uploaded through each real client (HTTP intercepted at the transport): the exact media
requests, the post referring to the uploaded media, the upload's failures, and no upload
at all when the picture is off (the default)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import requests
import responses
import respx
from posts_keys import KEYS
from test_outbox import DUPLICATE, Crash, CrashAfterSend

from repfit import wire
from repfit.config import MqttSettings, load
from repfit.host import charts
from repfit.host.athlete import Athlete, recording_for
from repfit.host.bus import Bus
from repfit.host.cli import main
from repfit.host.posts.bluesky_poster import BlueskyPoster, record_key
from repfit.host.posts.length import X
from repfit.host.posts.mastodon_poster import MastodonPoster
from repfit.host.posts.planner import PostPlanner
from repfit.host.posts.poster import (
    PermanentFailure,
    Picture,
    PictureRefused,
    Post,
    PostError,
    RateLimited,
    TransientFailure,
)
from repfit.host.posts.posting import picture_problem
from repfit.host.posts.settings import load_settings
from repfit.host.posts.webhook_poster import WebhookPoster
from repfit.host.posts.worker import OutboxWorker
from repfit.host.posts.x_poster import XPoster
from repfit.host.service import WorkoutHost
from repfit.host.setsamples import SetRecorder, SetSamples, SetSamplesError
from repfit.host.store import PostPicture, QueuedPost, Store

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
X_URL = "https://api.twitter.com/2/tweets"
X_UPLOAD = "https://upload.twitter.com/1.1/media/upload.json"
X_ALT = "https://upload.twitter.com/1.1/media/metadata/create.json"
M_BASE = "https://mastodon.example"
PDS = "https://pds.example"
NOW = 1_765_000_000.0
A = wire.Assignment(id="p1", exercise="squat", target=6, issued_at=NOW - 100,
                    label="flexions de jambes")
R = wire.Result(assignment_id="p1", exercise="squat", completed=False, outcome="deadline",
                reps=4, target=6, started_at=NOW - 90, finished_at=NOW - 10,
                label="flexions de jambes")
ALT = "Plot of a set of flexions de jambes: 4/6 reps (verified)."
MEDIA_ID = "1790000000000000001"


@pytest.fixture(scope="module")
def samples() -> SetSamples:
    rec = recording_for(A, Athlete(effort=0.7, seed=3), seed=3)
    return SetSamples("p1", "squat", "flexions de jambes", rec.t, rec.acc, (1.5, 3.0, 4.5, 6.0))


@pytest.fixture(scope="module")
def picture(samples: SetSamples) -> Picture:
    return Picture(charts.set_png(samples.t, samples.acc, samples.exercise, samples.title,
                                  rep_times=list(samples.rep_times)), ALT)


def with_picture(picture: Picture) -> Post:
    return Post("missed: flexions de jambes 4/6 reps [verified]", "x:ada:set:p1", NOW,
                picture)


def x_poster() -> XPoster:
    return XPoster(KEYS["api_key"], KEYS["api_secret"], KEYS["access_token"],
                   KEYS["access_token_secret"])


def multipart_file(body: bytes, field: str) -> bytes:
    """The bytes of the part named ``field`` in a multipart body (its first line is the
    boundary)."""
    boundary = body.split(b"\r\n", 1)[0]
    for part in body.split(b"\r\n" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if f'name="{field}"'.encode() in head:
            return content
    raise AssertionError(f"no part {field!r}")


# ---------------------------------------------------------------------- the set's samples

def test_a_sets_samples_survive_the_store_bytes(samples: SetSamples) -> None:
    data = samples.to_bytes()
    back = SetSamples.from_bytes(data)
    assert (back.assignment_id, back.exercise, back.title, back.rep_times) == (
        "p1", "squat", "flexions de jambes", (1.5, 3.0, 4.5, 6.0))
    assert np.array_equal(back.t, samples.t)
    assert np.allclose(back.acc, samples.acc, atol=1e-6)
    assert len(data) < samples.t.nbytes + samples.acc.nbytes   # compact
    with pytest.raises(SetSamplesError):
        SetSamples.from_bytes(b"not a set" * 10)


def test_the_recorder_keeps_the_open_sets_samples_only(samples: SetSamples) -> None:
    recorder = SetRecorder()
    batch = wire.SampleBatch(device="band", t=samples.t[:200], acc=samples.acc[:200])
    recorder.samples(batch)                                  # no set open: not kept
    progress = wire.Progress(assignment_id="p1", exercise="squat", reps=0, target=6)
    recorder.progress(progress)
    recorder.samples(batch)
    recorder.samples(wire.SampleBatch(device="band", t=samples.t[150:300],
                                      acc=samples.acc[150:300]))  # overlaps after a gap
    recorder.samples(wire.SampleBatch(device="phone", t=samples.t[:10], acc=samples.acc[:10]))
    recorder.progress(progress, [1.5])
    assert recorder.result(dataclasses.replace(R, assignment_id="other")) is None
    kept = recorder.result(R)
    assert kept is not None and recorder.done is kept
    assert np.array_equal(kept.t, samples.t[:300]) and kept.rep_times == (1.5,)
    assert (kept.exercise, kept.title) == ("squat", "flexions de jambes")
    assert recorder.result(R) is None                        # settled once


def test_picture_reads_its_size_from_the_png(picture: Picture) -> None:
    assert picture.png.startswith(PNG_SIGNATURE)
    assert picture.size == (960, 480)
    assert Picture(b"GIF89a", "").size is None
    assert "bytes PNG" in repr(picture) and ALT not in repr(picture)


# ---------------------------------------------------------------------- X (tweepy)

@responses.activate
def test_x_uploads_the_picture_then_tweets_with_its_media_id(picture: Picture) -> None:
    responses.post(X_UPLOAD, json={"media_id": int(MEDIA_ID), "media_id_string": MEDIA_ID,
                                   "size": len(picture.png), "image": {"image_type": "image/png",
                                                                      "w": 960, "h": 480}})
    responses.post(X_ALT, status=200, body="")
    responses.post(X_URL, status=201, json={"data": {"id": "1791", "text": "t"}})
    receipt = x_poster().send(with_picture(picture))
    assert receipt.post_id == "1791"
    upload, alt, tweet = responses.calls
    assert upload.request.method == "POST" and upload.request.url == X_UPLOAD
    assert upload.request.headers["Authorization"].startswith("OAuth ")
    assert upload.request.headers["Content-Type"].startswith("multipart/form-data")
    sent = multipart_file(upload.request.body, "media")
    assert sent.startswith(PNG_SIGNATURE) and sent == picture.png
    assert json.loads(alt.request.body) == {"media_id": MEDIA_ID, "alt_text": {"text": ALT}}
    assert alt.request.headers["Authorization"].startswith("OAuth ")
    assert json.loads(tweet.request.body) == {
        "text": "missed: flexions de jambes 4/6 reps [verified]",
        "media": {"media_ids": [MEDIA_ID]}}


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (429, {"x-rate-limit-reset": str(int(NOW) + 900)}, RateLimited),
    (503, {}, TransientFailure),
    (401, {}, PermanentFailure),
    (400, {}, PictureRefused),
])
@responses.activate
def test_x_upload_failures_are_classified_and_nothing_is_tweeted(
        picture: Picture, status: int, headers: dict[str, str], expected: type) -> None:
    responses.post(X_UPLOAD, status=status, headers=headers,
                   json={"errors": [{"code": 324, "message": "media refused"}]})
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1"}})
    with pytest.raises(PostError) as info:
        x_poster().send(with_picture(picture))
    assert type(info.value) is expected
    assert info.value.__cause__ is None
    if expected is RateLimited:
        assert info.value.reset_at == NOW + 900  # type: ignore[attr-defined]
    if expected is PermanentFailure:
        assert info.value.reason.startswith("401")
    assert tweet.call_count == 0


@responses.activate
def test_x_upload_network_error_is_transient(picture: Picture) -> None:
    responses.post(X_UPLOAD, body=requests.ConnectionError("connection reset by peer"))
    with pytest.raises(TransientFailure):
        x_poster().send(with_picture(picture))


# ---------------------------------------------------------------------- Mastodon

def mastodon_instance() -> None:
    responses.get(f"{M_BASE}/api/v1/instance/", json={"uri": "mastodon.example",
                                                      "version": "4.3.0"})
    responses.get(f"{M_BASE}/api/v2/instance/", json={"domain": "mastodon.example",
                                                      "version": "4.3.0",
                                                      "api_versions": {"mastodon": 2}})


@responses.activate
def test_mastodon_uploads_the_picture_with_its_description(picture: Picture) -> None:
    mastodon_instance()
    media = responses.post(f"{M_BASE}/api/v2/media", json={
        "id": "m77", "type": "image", "url": f"{M_BASE}/media/m77.png", "description": ALT})
    status = responses.post(f"{M_BASE}/api/v1/statuses", json={
        "id": "1102", "url": f"{M_BASE}/@ada/1102", "content": "<p>t</p>",
        "created_at": "2026-12-04T10:00:00.000Z", "visibility": "public"})
    receipt = MastodonPoster(M_BASE, KEYS["mastodon"]).send(with_picture(picture))
    assert receipt.post_id == "1102"
    (upload,) = media.calls
    assert upload.request.headers["Authorization"] == f"Bearer {KEYS['mastodon'].reveal()}"
    sent = multipart_file(upload.request.body, "file")
    assert sent.startswith(PNG_SIGNATURE) and sent == picture.png
    assert multipart_file(upload.request.body, "description").decode() == ALT
    assert upload.request.url == f"{M_BASE}/api/v2/media"
    (post,) = status.calls
    body = post.request.body.decode() if isinstance(post.request.body, bytes) \
        else post.request.body
    assert "media_ids%5B%5D=m77" in body or "media_ids[]=m77" in body
    assert post.request.headers["Idempotency-Key"] == "x:ada:set:p1"


@pytest.mark.parametrize(("status", "expected"), [
    (429, RateLimited), (502, TransientFailure), (401, PermanentFailure),
    (422, PictureRefused)])
@responses.activate
def test_mastodon_upload_failures_are_classified_and_nothing_is_posted(
        picture: Picture, status: int, expected: type) -> None:
    mastodon_instance()
    responses.post(f"{M_BASE}/api/v2/media", status=status,
                   headers={"X-RateLimit-Reset": "2026-12-05T10:00:00.000Z"},
                   json={"error": "Validation failed: File content type is invalid"})
    posted = responses.post(f"{M_BASE}/api/v1/statuses", json={"id": "1"})
    with pytest.raises(PostError) as info:
        MastodonPoster(M_BASE, KEYS["mastodon"]).send(with_picture(picture))
    assert type(info.value) is expected
    assert posted.call_count == 0


@responses.activate
def test_mastodon_media_still_processing_is_retried_later(picture: Picture) -> None:
    mastodon_instance()
    responses.post(f"{M_BASE}/api/v2/media", status=202, json={"id": "m79", "type": "image",
                                                               "url": None})
    responses.post(f"{M_BASE}/api/v1/statuses", status=422, json={
        "error": "Cannot attach files that have not finished processing. Try again in a "
                 "moment!"})
    with pytest.raises(TransientFailure):
        MastodonPoster(M_BASE, KEYS["mastodon"]).send(with_picture(picture))


# ---------------------------------------------------------------------- Bluesky

def bluesky_session(router: respx.MockRouter) -> None:
    from test_posters import session_route

    session_route(router)


BLOB = {"$type": "blob",
        "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
        "mimeType": "image/png", "size": 1000}


def test_bluesky_uploads_a_blob_and_embeds_it_with_alt_text(picture: Picture) -> None:
    post = with_picture(picture)
    with respx.mock(assert_all_called=True) as router:
        bluesky_session(router)
        upload = router.post(f"{PDS}/xrpc/com.atproto.repo.uploadBlob").mock(
            return_value=httpx.Response(200, json={"blob": BLOB}))
        create = router.post(f"{PDS}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={
                "uri": f"at://did:plc:ada/app.bsky.feed.post/{record_key(post)}",
                "cid": "bafyreid"}))
        BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS).send(post)
    sent = upload.calls.last.request
    assert sent.content == picture.png and sent.content.startswith(PNG_SIGNATURE)
    assert sent.headers["Authorization"].startswith("Bearer ")
    record = json.loads(create.calls.last.request.content)
    assert record["rkey"] == record_key(post)
    embed = record["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    (image,) = embed["images"]
    assert image["alt"] == ALT
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (960, 480)
    assert image["image"]["ref"] == BLOB["ref"] and image["image"]["mimeType"] == "image/png"


@pytest.mark.parametrize(("response", "expected"), [
    (httpx.Response(429, headers={"ratelimit-reset": str(int(NOW) + 60)},
                    json={"error": "RateLimitExceeded", "message": "slow down"}), RateLimited),
    (httpx.Response(500, json={"error": "InternalServerError", "message": "oops"}),
     TransientFailure),
    (httpx.Response(401, json={"error": "AuthenticationRequired", "message": "bad token"}),
     PermanentFailure),
    (httpx.Response(400, json={"error": "BlobTooLarge", "message": "too large"}),
     PictureRefused),
])
def test_bluesky_upload_failures_are_classified_and_nothing_is_posted(
        picture: Picture, response: httpx.Response, expected: type) -> None:
    with respx.mock as router:
        bluesky_session(router)
        router.post(f"{PDS}/xrpc/com.atproto.repo.uploadBlob").mock(return_value=response)
        create = router.post(f"{PDS}/xrpc/com.atproto.repo.createRecord")
        with pytest.raises(PostError) as info:
            BlueskyPoster("ada.example", KEYS["bluesky"], service=PDS).send(
                with_picture(picture))
    assert type(info.value) is expected and create.call_count == 0


# ---------------------------------------------------------------------- webhooks

def test_a_discord_webhook_gets_the_picture_as_a_multipart_file(picture: Picture) -> None:
    with respx.mock as router:
        hook = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        WebhookPoster(KEYS["webhook"], "discord").send(with_picture(picture))
    request = hook.calls.last.request
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.content
    sent = multipart_file(body, "files[0]")
    assert sent == picture.png and sent.startswith(PNG_SIGNATURE)
    payload = json.loads(multipart_file(body, "payload_json"))
    assert payload == {"content": "missed: flexions de jambes 4/6 reps [verified]",
                       "attachments": [{"id": 0, "filename": "set.png", "description": ALT}]}


@pytest.mark.parametrize("fmt", ["slack", "ntfy", "homeassistant", "json"])
def test_other_webhooks_take_no_picture(fmt: str) -> None:
    assert WebhookPoster(KEYS["webhook"], fmt).picture_limit == 0


# ---------------------------------------------------------------------- planning and store

CONFIG = """
[posts]
timezone = "UTC"
[posts.x]
when = ["verified"]
picture = true
[posts.mastodon]
instance = "https://mastodon.example"
when = ["verified"]
"""
ENV = {"REPFIT_X_API_KEY": "k", "REPFIT_X_API_SECRET": "s", "REPFIT_X_ACCESS_TOKEN": "t",
       "REPFIT_X_ACCESS_TOKEN_SECRET": "ts", "REPFIT_MASTODON_ACCESS_TOKEN": "m"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.in_dir(tmp_path) as s:
        s.add_assignment("ada", A, received_at=NOW - 99)
        yield s


def planner_for(store: Store, tmp_path: Path, text: str = CONFIG) -> PostPlanner:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return PostPlanner(load_settings(load(path, env=ENV), env=ENV), store, {"x": X},
                       clock=lambda: NOW)


def test_the_picture_is_off_by_default_and_stored_once_with_the_posts(
        store: Store, tmp_path: Path, samples: SetSamples) -> None:
    planner = planner_for(store, tmp_path)
    posts = {p.service: p for p in planner.plan("ada", R, samples)}
    assert posts["mastodon"].picture is None          # no `picture = true`: none
    stored = posts["x"].picture
    assert stored is not None and SetSamples.from_bytes(stored.samples).rep_times == \
        samples.rep_times
    assert stored.alt.startswith("Plot of a set of flexions de jambes: 4/6 reps (verified).")
    store.add_result("ada", R, posts=list(posts.values()), now=NOW)
    items = {i.service: i for i in store.outbox()}
    assert items["x"].picture and not items["mastodon"].picture
    assert store.post_picture("p1") == stored
    # sent: the samples are kept no longer
    store.outbox_update(items["x"].id, "sent", NOW)
    assert store.prune_pictures() == 1 and store.post_picture("p1") is None


def test_a_bad_picture_setting_keeps_that_service_off(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace("picture = true", 'picture = "yes"'))
    settings = load_settings(load(path, env=ENV), env=ENV)
    assert [s.name for s in settings.services] == ["mastodon"]
    assert settings.problems == ("posts.x.picture: expected true or false, got 'yes'; "
                                 "posting to x is off",)


def test_without_matplotlib_one_line_says_posts_go_without_a_picture(
        store: Store, tmp_path: Path, samples: SetSamples,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = planner_for(store, tmp_path).settings
    assert picture_problem(settings) is None
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert picture_problem(settings) == (
        "posts: picture = true for x, but matplotlib is not installed (pip install "
        "'repfit[plot]'); posts go without a picture")
    # then the host plans no picture: nothing of the set is stored for one
    without = PostPlanner(settings, store, {"x": X}, clock=lambda: NOW, pictures=False)
    assert [p.picture for p in without.plan("ada", R, samples)] == [None, None]


def test_an_outbox_written_before_pictures_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    with Store.in_dir(tmp_path) as s:
        s.add_assignment("ada", A, received_at=NOW - 99)
        s.add_result("ada", R, posts=[QueuedPost("x:ada:set:p1", "x", "ada", "set", "t", NOW,
                                                 "p1")], now=NOW)
    db = sqlite3.connect(tmp_path / "repfit.sqlite3")
    db.executescript("DROP TABLE post_pictures; ALTER TABLE post_outbox DROP COLUMN picture; "
                     "PRAGMA user_version=4;")
    db.close()
    with Store.in_dir(tmp_path, read_only=True) as old:
        (item,) = old.outbox()
        assert not item.picture and old.post_picture("p1") is None
    with Store.in_dir(tmp_path) as s:
        (item,) = s.outbox()
        assert item.text == "t" and not item.picture


# ---------------------------------------------------------------------- the worker

def queued_with_picture(store: Store, samples: SetSamples, service: str = "x") -> None:
    store.add_result("ada", R, posts=[QueuedPost(
        f"{service}:ada:set:p1", service, "ada", "set",
        "missed: flexions de jambes 4/6 reps [verified]", NOW, "p1",
        PostPicture(samples.to_bytes(), ALT))], now=NOW)


@responses.activate
def test_the_worker_draws_the_set_and_posts_it_once(store: Store,
                                                    samples: SetSamples) -> None:
    queued_with_picture(store, samples)
    upload = responses.post(X_UPLOAD, json={"media_id": int(MEDIA_ID),
                                            "media_id_string": MEDIA_ID})
    responses.post(X_ALT, status=200, body="")
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1792"}})
    OutboxWorker(store, {"x": x_poster()}, clock=lambda: NOW).run_once()
    (item,) = store.outbox()
    assert item.state == "sent" and item.receipt == "https://x.com/i/status/1792"
    sent = multipart_file(upload.calls[0].request.body, "media")
    assert sent.startswith(PNG_SIGNATURE) and Picture(sent, "").size == (960, 480)
    assert json.loads(tweet.calls[0].request.body)["media"] == {"media_ids": [MEDIA_ID]}
    assert store.post_picture("p1") is None       # sent: the samples are let go


@responses.activate
def test_picture_off_means_no_upload_request(store: Store) -> None:
    store.add_result("ada", R, posts=[QueuedPost("x:ada:set:p1", "x", "ada", "set", "t", NOW,
                                                 "p1")], now=NOW)
    upload = responses.post(X_UPLOAD, json={"media_id_string": MEDIA_ID})
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1793"}})
    OutboxWorker(store, {"x": x_poster()}, clock=lambda: NOW).run_once()
    assert upload.call_count == 0 and tweet.call_count == 1
    assert json.loads(tweet.calls[0].request.body) == {"text": "t"}


@responses.activate
def test_an_upload_failure_keeps_the_item_and_retries(store: Store,
                                                      samples: SetSamples) -> None:
    queued_with_picture(store, samples)
    responses.post(X_UPLOAD, status=503, json={"detail": "Service Unavailable"})
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1794"}})
    clock = [NOW]
    worker = OutboxWorker(store, {"x": x_poster()}, clock=lambda: clock[0],
                          rng=random.Random(1))
    worker.run_once()
    (item,) = store.outbox()
    assert item.state in ("pending", "sending") and item.not_before > NOW
    assert tweet.call_count == 0 and store.post_picture("p1") is not None
    responses.replace(responses.POST, X_UPLOAD, json={"media_id_string": MEDIA_ID})
    responses.post(X_ALT, status=200, body="")
    clock[0] = item.not_before
    worker.run_once()
    assert store.outbox()[0].state == "sent" and tweet.call_count == 1


@responses.activate
def test_a_refused_picture_is_left_out_and_the_user_told(store: Store,
                                                         samples: SetSamples) -> None:
    queued_with_picture(store, samples)
    responses.post(X_UPLOAD, status=403, json={"errors": [
        {"code": 453, "message": "You currently have access to a subset of X API V2 "
                                 "endpoints"}]})
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1795"}})
    told: list[str] = []
    OutboxWorker(store, {"x": x_poster()}, tell=told.append, clock=lambda: NOW).run_once()
    assert store.outbox()[0].state == "sent"
    assert json.loads(tweet.calls[0].request.body) == {
        "text": "missed: flexions de jambes 4/6 reps [verified]"}
    (line,) = told
    assert "picture refused: 403" in line and "without the picture" in line


@responses.activate
def test_an_unauthorized_upload_fails_the_item_once(store: Store,
                                                    samples: SetSamples) -> None:
    queued_with_picture(store, samples)
    responses.post(X_UPLOAD, status=401, json={"errors": [{"code": 32, "message":
                                                           "Could not authenticate you."}]})
    tweet = responses.post(X_URL, status=201, json={"data": {"id": "1"}})
    told: list[str] = []
    OutboxWorker(store, {"x": x_poster()}, tell=told.append, clock=lambda: NOW).run_once()
    (item,) = store.outbox()
    assert item.state == "failed" and (item.error or "").startswith("401")
    assert tweet.call_count == 0 and len(told) == 1


@responses.activate
def test_crash_after_an_x_post_with_picture_reuploads_and_posts_once(
        tmp_path: Path, samples: SetSamples) -> None:
    """Sent with its picture, crash before the mark: the restart uploads the picture again
    (harmless), X refuses the text as a duplicate, and the item is marked sent."""
    with Store.in_dir(tmp_path) as store:
        store.add_assignment("ada", A, received_at=NOW - 99)
        queued_with_picture(store, samples)
        upload = responses.post(X_UPLOAD, json={"media_id_string": MEDIA_ID})
        responses.post(X_ALT, status=200, body="")
        tweet = responses.post(X_URL, status=201, json={"data": {"id": "1796"}})
        with pytest.raises(Crash):
            OutboxWorker(store, {"x": CrashAfterSend(x_poster())},
                         clock=lambda: NOW).run_once()
    with Store.in_dir(tmp_path) as store:
        assert store.outbox()[0].state == "sending"
        responses.replace(responses.POST, X_URL, status=403, json=DUPLICATE)
        OutboxWorker(store, {"x": x_poster()}, clock=lambda: NOW).run_once()
        (item,) = store.outbox()
        assert item.state == "sent"
    assert upload.call_count == 2 and tweet.call_count == 1   # then refused as a duplicate
    assert [c.response.status_code for c in responses.calls
            if c.request.url == X_URL] == [201, 403]


@responses.activate
def test_crash_after_a_mastodon_post_with_picture_finds_it_and_uploads_nothing_more(
        tmp_path: Path, samples: SetSamples) -> None:
    text = "missed: flexions de jambes 4/6 reps [verified]"
    with Store.in_dir(tmp_path) as store:
        store.add_assignment("ada", A, received_at=NOW - 99)
        queued_with_picture(store, samples, "mastodon")
        mastodon_instance()
        media = responses.post(f"{M_BASE}/api/v2/media", json={"id": "m78", "type": "image"})
        posted = responses.post(f"{M_BASE}/api/v1/statuses", json={
            "id": "1103", "url": f"{M_BASE}/@ada/1103", "content": f"<p>{text}</p>"})
        with pytest.raises(Crash):
            OutboxWorker(store, {"mastodon": CrashAfterSend(MastodonPoster(
                M_BASE, KEYS["mastodon"]))}, clock=lambda: NOW).run_once()
    responses.get(f"{M_BASE}/api/v1/accounts/verify_credentials", json={"id": "9"})
    responses.get(f"{M_BASE}/api/v1/accounts/9/statuses", json=[
        {"id": "1103", "url": f"{M_BASE}/@ada/1103", "content": f"<p>{text}</p>"}])
    with Store.in_dir(tmp_path) as store:
        OutboxWorker(store, {"mastodon": MastodonPoster(M_BASE, KEYS["mastodon"])},
                     clock=lambda: NOW).run_once()
        (item,) = store.outbox()
        assert item.state == "sent" and item.receipt == f"{M_BASE}/@ada/1103"
    assert media.call_count == 1 and posted.call_count == 1


def test_without_matplotlib_the_post_goes_without_its_picture(
        store: Store, samples: SetSamples, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    queued_with_picture(store, samples, "webhook")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "repfit.host.charts")
    with respx.mock as router:
        hook = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        OutboxWorker(store, {"webhook": WebhookPoster(KEYS["webhook"], "discord")},
                     clock=lambda: NOW).run_once()
    assert store.outbox()[0].state == "sent"
    assert json.loads(hook.calls.last.request.content) == {
        "content": "missed: flexions de jambes 4/6 reps [verified]"}
    assert "matplotlib is not installed" in caplog.text


# ---------------------------------------------------------------------- the host

def test_the_host_keeps_the_sets_samples_with_its_post(mosquitto: MqttSettings,
                                                       tmp_path: Path, user: str) -> None:
    a = wire.Assignment(id=f"{user}-pic", exercise="squat", target=3, issued_at=time.time(),
                        label="flexions de jambes")
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)

    async def scenario() -> list[wire.Result]:
        with Store.in_dir(tmp_path) as store:
            planner = planner_for(store, tmp_path)
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, posts=planner.plan, recorder=SetRecorder())
                await host.handle(a)
                for start in range(0, len(rec.t), 100):   # one-second batches
                    await host.handle(wire.SampleBatch(device="sim", t=rec.t[start:start + 100],
                                                       acc=rec.acc[start:start + 100]))
                return host.results

    (result,) = asyncio.run(scenario())
    with Store.in_dir(tmp_path) as store:
        items = {i.service: i for i in store.outbox()}
        stored = store.post_picture(a.id)
    assert items["x"].picture and not items["mastodon"].picture
    assert stored is not None
    kept = SetSamples.from_bytes(stored.samples)
    assert kept.assignment_id == a.id and kept.title == "flexions de jambes"
    assert result.completed and len(kept.rep_times) == result.reps
    # every sample up to the batch that completed the set, in order
    assert len(kept.t) % 100 == 0 or len(kept.t) == len(rec.t)
    assert np.array_equal(kept.t, rec.t[:len(kept.t)])
    assert np.allclose(kept.acc, rec.acc[:len(kept.t)], atol=1e-6)
    assert kept.rep_times[-1] <= kept.t[-1]
    assert stored.alt.startswith(f"Plot of a set of flexions de jambes: {result.reps}/3 reps "
                                 "(verified).")


# ---------------------------------------------------------------------- repfit post --dry-run

def test_dry_run_says_whether_each_post_would_carry_the_picture(
        tmp_path: Path, samples: SetSamples, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + '[posts.slack]\nservice = "webhook"\nformat = "slack"\n'
                               'picture = true\n')
    with Store.in_dir(tmp_path) as store:
        store.add_assignment("ada", A, received_at=NOW - 99)
        queued_with_picture(store, samples)
    for k, v in {**ENV, "REPFIT_WEBHOOK_URL": KEYS["webhook"].reveal()}.items():
        monkeypatch.setenv(k, v)
    argv = ["--config", str(config), "post", "--dry-run", "--user", "ada", "--data-dir",
            str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    x, mastodon, slack = out.split("\n- ")[1:]
    assert x.startswith("x (") and "picture: the set's plot, PNG 960x480, " in x
    assert "KiB; alt text: Plot of a set of flexions de jambes: 4/6 reps (verified)." in x
    assert "picture: off (picture = true in its table attaches the set's plot)" in mastodon
    assert "picture: none: a slack webhook takes no picture" in slack
    assert main(["--config", str(config), "outbox", "--data-dir", str(tmp_path)]) == 0
    assert " x          pending  set+picture " in capsys.readouterr().out
    with Store.in_dir(tmp_path) as store:
        store.outbox_update(store.outbox()[0].id, "sent", NOW)
        store.prune_pictures()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "picture: on, but none for this set: the host keeps a set's samples only while " \
           "a post with its picture waits" in out


def test_samples_that_cannot_be_drawn_leave_the_post_without_its_picture(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.add_result("ada", R, posts=[QueuedPost(
        "webhook:ada:set:p1", "webhook", "ada", "set", "t", NOW, "p1",
        PostPicture(b"damaged samples", ALT))], now=NOW)
    with respx.mock as router:
        hook = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        OutboxWorker(store, {"webhook": WebhookPoster(KEYS["webhook"], "discord")},
                     clock=lambda: NOW).run_once()
    assert store.outbox()[0].state == "sent"
    assert json.loads(hook.calls.last.request.content) == {"content": "t"}
    assert "the picture of p1 cannot be drawn (not a set's samples" in caplog.text
