"""Sets closed on arrival (a daily cap, a deadline that passed while no host ran) queue their
posts in the transaction that stores them, like any other result: the skipped ones show.
A real SQLite store, the real planner, and a real broker for the host."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from functools import partial
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings, load
from repfit.host.admission import admit
from repfit.host.bus import Bus
from repfit.host.caps import CapRules, Limits
from repfit.host.days import day_bounds
from repfit.host.posts.length import X
from repfit.host.posts.planner import PostPlanner
from repfit.host.posts.settings import load_settings
from repfit.host.service import WorkoutHost
from repfit.host.store import QueuedPost, Store

CONFIG = """
[posts]
timezone = "UTC"
[posts.x]
when = ["verified"]
template = "$outcome: $exercise $done $caps"
[posts.skipped]
service = "webhook"
format = "json"
when = ["missed"]
template = "$outcome: $exercise $done"
"""
ENV = {"REPFIT_X_API_KEY": "k", "REPFIT_X_API_SECRET": "s", "REPFIT_X_ACCESS_TOKEN": "t",
       "REPFIT_X_ACCESS_TOKEN_SECRET": "ts",
       "REPFIT_WEBHOOK_URL": "https://hooks.example.net/services/T/B/W"}
RULES = CapRules(Limits(assignments_per_day=1))


def planner_for(store: Store, tmp_path: Path) -> PostPlanner:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return PostPlanner(load_settings(load(path, env=ENV), env=ENV), store, {"x": X})


def admitted(store: Store, planner: PostPlanner, a: wire.Assignment, now: float) -> str:
    admission = store.admit("ada", a, now, day_bounds(now, RULES.timezone),
                            partial(admit, RULES, a, now),
                            lambda r: planner.plan("ada", r))
    assert admission is not None
    return admission.state


def texts(store: Store) -> dict[tuple[str, str | None], str]:
    return {(i.service, i.assignment_id): i.text for i in store.outbox()}


def test_a_capped_set_is_posted_by_every_set_not_by_missed(tmp_path: Path) -> None:
    now = time.time()
    first = wire.Assignment(id="c1", exercise="squat", target=5, issued_at=now)
    second = wire.Assignment(id="c2", exercise="squat", target=5, issued_at=now)
    with Store.in_dir(tmp_path) as store:
        planner = planner_for(store, tmp_path)
        assert admitted(store, planner, first, now) == "announced"
        assert store.outbox() == []
        assert admitted(store, planner, second, now + 1) == "capped"
        assert store.has_result("c2")
        assert texts(store) == {("x", "c2"): "capped: squats 0/5 reps cap reached: 1/1 "
                                             "assignments today [verified]"}
        # a re-delivery of the capped assignment queues nothing more
        assert store.admit("ada", second, now + 2, day_bounds(now, RULES.timezone),
                           partial(admit, RULES, second, now + 2),
                           lambda r: planner.plan("ada", r)) is None
        assert len(store.outbox()) == 1


def test_a_set_missed_while_no_host_ran_shows_with_the_missed_ones(tmp_path: Path) -> None:
    now = time.time()
    late = wire.Assignment(id="m1", exercise="pushup", target=10, issued_at=now - 7200,
                           deadline_s=600)
    with Store.in_dir(tmp_path) as store:
        planner = planner_for(store, tmp_path)
        assert admitted(store, planner, late, now) == "missed"
        assert texts(store) == {("x", "m1"): "missed: push-ups 0/10 reps [verified]",
                                ("skipped", "m1"): "missed: push-ups 0/10 reps [verified]"}
        (result,) = store.results("ada")
        assert result.outcome == "missed"


def test_the_host_queues_posts_for_sets_closed_on_arrival(mosquitto: MqttSettings,
                                                          tmp_path: Path, user: str) -> None:
    now = time.time()
    late = wire.Assignment(id=f"{user}-late", exercise="pushup", target=10,
                           issued_at=now - 7200, deadline_s=600)
    first = wire.Assignment(id=f"{user}-1", exercise="squat", target=5, issued_at=now)
    capped = wire.Assignment(id=f"{user}-2", exercise="squat", target=5, issued_at=now)

    async def scenario() -> list[wire.Result]:
        with Store.in_dir(tmp_path) as store:
            planner = planner_for(store, tmp_path)
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, caps=RULES, posts=planner.plan)
                for a in (late, first, capped):
                    await host.handle(a)
                return host.results

    results = asyncio.run(scenario())
    assert [(r.assignment_id, r.outcome) for r in results] == [
        (late.id, "missed"), (capped.id, "capped")]
    with Store.in_dir(tmp_path) as store:
        queued = {(i.service, i.assignment_id) for i in store.outbox()}
    assert queued == {("x", late.id), ("skipped", late.id), ("x", capped.id)}


def test_a_standby_host_queues_no_posts_for_what_it_closes(mosquitto: MqttSettings,
                                                           tmp_path: Path, user: str) -> None:
    now = time.time()
    late = wire.Assignment(id=f"{user}-late", exercise="pushup", target=10,
                           issued_at=now - 7200, deadline_s=600)

    async def scenario() -> None:
        with Store.in_dir(tmp_path) as store:
            planner = planner_for(store, tmp_path)
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, caps=RULES, posts=planner.plan)
                # another host announced itself earlier: it verifies, this one stands by
                host.leadership.seen("host-before", wire.Status(
                    role="host", online=True, client_id="host-before", at=now - 3600))
                assert not host.verifying
                await host.handle(late)

    asyncio.run(scenario())
    with Store.in_dir(tmp_path) as store:
        assert store.has_result(late.id) and store.outbox() == []


def test_a_closed_set_is_never_stored_without_its_posts(tmp_path: Path) -> None:
    """One transaction: when its posts cannot be written, neither is the assignment nor its
    result, and the next delivery of the assignment finds nothing half-done."""
    now = time.time()
    late = wire.Assignment(id="m2", exercise="pushup", target=10, issued_at=now - 7200,
                           deadline_s=600)

    def full_disk(result: wire.Result) -> list[QueuedPost]:
        raise sqlite3.OperationalError("database or disk is full")

    with Store.in_dir(tmp_path) as store:
        with pytest.raises(sqlite3.OperationalError):
            store.admit("ada", late, now, day_bounds(now, RULES.timezone),
                        partial(admit, RULES, late, now), full_disk)
        assert not store.has_result("m2") and store.records("ada") == []
        planner = planner_for(store, tmp_path)
        assert admitted(store, planner, late, now) == "missed"
        assert len(store.outbox()) == 2
