"""From the config to queued posts: settings and keys, the facts read from the store and the
training history, the host queueing with the result, and the commands."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from posts_keys import KEYS, SECRETS

from repfit import wire
from repfit.config import MqttSettings, load
from repfit.host.athlete import Athlete, recording_for
from repfit.host.bus import Bus
from repfit.host.cli import main
from repfit.host.posts.length import X
from repfit.host.posts.planner import PostPlanner
from repfit.host.posts.posting import posters_for
from repfit.host.posts.settings import load_settings
from repfit.host.service import WorkoutHost
from repfit.host.store import Store
from repfit.integrations.history import HistoryStore

PARIS = ZoneInfo("Europe/Paris")
ENV = {"REPFIT_X_API_KEY": KEYS["api_key"].reveal(),
       "REPFIT_X_API_SECRET": KEYS["api_secret"].reveal(),
       "REPFIT_X_ACCESS_TOKEN": KEYS["access_token"].reveal(),
       "REPFIT_X_ACCESS_TOKEN_SECRET": KEYS["access_token_secret"].reveal(),
       "REPFIT_WEBHOOK_URL": KEYS["webhook"].reveal()}
CONFIG = """
[posts]
timezone = "Europe/Paris"
[posts.x]
when = ["verified", "milestones"]
template = "$outcome: $exercise $done. Streak $streak. Today: $today. $metric_change"
[posts.webhook]
format = "discord"
when = ["missed"]
"""


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


# ---------------------------------------------------------------------- settings and keys

def test_services_and_keys_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(load(write_config(tmp_path, CONFIG, 0o644), env=ENV), env=ENV)
    assert settings.problems == () and settings.tz.key == "Europe/Paris"
    assert [s.name for s in settings.services] == ["x", "webhook"]
    posters, problems = posters_for(settings)
    assert set(posters) == {"x", "webhook"} and problems == []
    assert all(secret not in repr(settings) for secret in SECRETS)


@pytest.mark.parametrize(("extra", "mode", "problem"), [
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "MTOKEN"\n', 0o644,
     "posts.mastodon.access_token: a key in the config file needs the file to be private"),
    ('[posts.mastodon]\ninstance = "https://m.example"\n', 0o600,
     "posts.mastodon.access_token: missing (set REPFIT_MASTODON_ACCESS_TOKEN"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "two words"\n', 0o600,
     "posts.mastodon.access_token: malformed"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "T"\n'
     'template = "$exercise ${strek}"\n', 0o600,
     "posts.mastodon.template: unknown field $strek"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "T"\n'
     'daily_template = "costs 5$"\n', 0o600,
     "posts.mastodon.daily_template: a '$' at line 1, column 8"),
    ('[posts.mastodon]\naccess_token = "T"\n', 0o600, "posts.mastodon.instance: expected"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "T"\nwhen = ["often"]\n',
     0o600, "posts.mastodon.when: expected a list of"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "T"\n'
     'when = ["daily"]\n', 0o600, "posts.mastodon.daily_at: 'daily' in when needs a time"),
    ('[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "T"\n'
     'quiet_hours = "22-7"\n', 0o600, "posts.mastodon.quiet_hours: expected a local time"),
    ('[posts.myspace]\nurl = "x"\n', 0o600, "posts.myspace.service: expected one of"),
])
def test_a_bad_service_is_one_line_and_stays_off(tmp_path: Path, extra: str, mode: int,
                                                 problem: str) -> None:
    settings = load_settings(load(write_config(tmp_path, CONFIG + extra, mode), env=ENV),
                             env=ENV)
    assert [s.name for s in settings.services] == ["x", "webhook"]   # the others run on
    (line,) = settings.problems
    assert line.startswith(problem) and "\n" not in line and line.endswith("is off")
    assert "MTOKEN" not in line and "two words" not in line


def test_a_key_in_a_private_file_is_used(tmp_path: Path) -> None:
    text = '[posts.mastodon]\ninstance = "https://m.example"\naccess_token = "MTOK"\n'
    settings = load_settings(load(write_config(tmp_path, text), env={}), env={})
    (service,) = settings.services
    assert service.secrets["access_token"].reveal() == "MTOK" and settings.problems == ()


# ---------------------------------------------------------------------- facts and planning

def seed_history(data_dir: Path) -> None:
    history = HistoryStore.in_dir(data_dir)
    history.start_run("r1", "exp", started_at=at("2026-12-03T10:00"))
    history.add_scores("r1", [(10, 0.80), (20, 0.81)], ("valid_0", "auc"), True)
    history.start_run("r2", "exp", started_at=at("2026-12-04T10:00"))
    history.add_scores("r2", [(10, 0.82), (20, 0.8142), (30, 0.85)], ("valid_0", "auc"), True)


def stored_day(store: Store, day: str, n: int, completed: bool = True) -> None:
    a = wire.Assignment(id=f"d{day}-{n}", exercise="pushup", target=10,
                        issued_at=at(f"{day}T09:00"), label="pompes")
    store.add_assignment("ada", a, at(f"{day}T09:00"))
    store.add_result("ada", wire.Result(
        assignment_id=a.id, exercise="pushup", completed=completed,
        outcome="target_reached" if completed else "deadline", reps=10 if completed else 3,
        target=10, started_at=at(f"{day}T09:01"), finished_at=at(f"{day}T09:02")))


def new_set(store: Store, aid: str, finished: str, reps: int = 10) -> wire.Result:
    """A push-up assignment received five minutes before ``finished`` (local time), and its
    result, not stored: what the host has in hand when it plans."""
    store.add_assignment("ada", wire.Assignment(id=aid, exercise="pushup", target=10),
                         at(finished) - 300)
    return wire.Result(assignment_id=aid, exercise="pushup", completed=reps >= 10,
                       outcome="target_reached" if reps >= 10 else "deadline", reps=reps,
                       target=10, finished_at=at(finished))


def test_the_posts_of_a_result_come_from_the_store_and_the_history(tmp_path: Path) -> None:
    seed_history(tmp_path)
    cfg = load(write_config(tmp_path, CONFIG, 0o644), env=ENV)
    settings = load_settings(cfg, env=ENV)
    with Store.in_dir(tmp_path) as store:
        stored_day(store, "2026-12-02", 1)
        stored_day(store, "2026-12-03", 1)
        stored_day(store, "2026-12-04", 1)
        a = wire.Assignment(id="now", exercise="squat", target=20, reason="penalty",
                            run_id="r2", experiment="exp", label="flexions de jambes",
                            issued_at=at("2026-12-04T18:00"))
        store.add_assignment("ada", a, at("2026-12-04T18:00"))
        r = wire.Result(assignment_id="now", exercise="squat", completed=False,
                        outcome="deadline", reps=8, target=20, reason="penalty",
                        started_at=at("2026-12-04T18:00"), finished_at=at("2026-12-04T18:10"))
        planner = PostPlanner(settings, store, {"x": X}, tmp_path,
                              clock=lambda: at("2026-12-04T18:10"))
        posts = {p.service: p for p in planner.plan("ada", r)}
    assert set(posts) == {"x", "webhook"}
    assert posts["x"].text == (
        "partial: flexions de jambes 8/20 reps. Streak 3. Today: 10 pompes, 8 flexions de "
        "jambes. valid_0 auc +0.0042 vs the previous run at iteration 20 (better) [verified]")
    assert posts["webhook"].text.startswith("partial: flexions de jambes 8/20 reps (verified)")
    assert posts["x"].key == "x:ada:set:now" and posts["x"].not_before == at("2026-12-04T18:10")


def test_a_streak_milestone_is_posted_once(tmp_path: Path) -> None:
    cfg = load(write_config(tmp_path, CONFIG, 0o644), env=ENV)
    with Store.in_dir(tmp_path) as store:
        stored_day(store, "2026-12-01", 1)
        stored_day(store, "2026-12-02", 1)
        r = new_set(store, "third", "2026-12-03T09:05")
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: at("2026-12-03T09:05"))
        kinds = sorted(p.kind for p in planner.plan("ada", r) if p.service == "x")
        assert kinds == ["milestone", "set"]
        store.add_result("ada", r, posts=planner.plan("ada", r))
        r2 = new_set(store, "fourth", "2026-12-03T10:00")
        assert [p.kind for p in planner.plan("ada", r2) if p.service == "x"] == ["set"]


def test_daily_summary_is_queued_once_a_day(tmp_path: Path) -> None:
    text = CONFIG + "[posts.slack]\nservice = \"webhook\"\nformat = \"slack\"\n" \
                    "when = [\"daily\"]\ndaily_at = \"21:00\"\n"
    cfg = load(write_config(tmp_path, text, 0o644), env=ENV)
    clock = [at("2026-12-04T20:00")]
    with Store.in_dir(tmp_path) as store:
        stored_day(store, "2026-12-04", 1)
        stored_day(store, "2026-12-04", 2, completed=False)
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {}, clock=lambda: clock[0])
        assert planner.daily("ada") == []
        clock[0] = at("2026-12-04T21:00")
        (summary,) = planner.daily("ada")
        assert summary.text == ("Today (2026-12-04): 13 pompes. Streak: 1 days. "
                                "Penalties: 0 (verified).")
        assert store.queue_posts([summary], clock[0]) == 1
        assert planner.daily("ada") == []


def test_the_host_queues_posts_with_the_result(mosquitto: MqttSettings, tmp_path: Path,
                                               user: str) -> None:
    cfg = load(write_config(tmp_path, CONFIG, 0o644), env=ENV)
    a = wire.Assignment(id="h1", exercise="squat", target=3, issued_at=time.time(),
                        label="flexions de jambes")
    rec = recording_for(a, Athlete(effort=2.0, seed=1), seed=1)

    async def scenario() -> None:
        with Store.in_dir(tmp_path) as store:
            planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X})
            async with Bus(mosquitto, user=user) as bus:
                host = WorkoutHost(bus, store, posts=planner.plan)
                await host.handle(a)
                await host.handle(wire.SampleBatch(device="sim", t=rec.t, acc=rec.acc))

    asyncio.run(scenario())
    with Store.in_dir(tmp_path) as store:
        assert store.has_result("h1")
        (item,) = store.outbox()
    assert (item.service, item.kind, item.user) == ("x", "set", user)
    assert item.text.startswith("completed: flexions de jambes ") and "/3 reps" in item.text


# ---------------------------------------------------------------------- commands

def run(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TZ", "Europe/Paris")
    return main(argv)


def test_post_dry_run_prints_what_each_service_would_receive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        ) -> None:
    config = write_config(tmp_path, CONFIG + "[posts.bad]\nservice = \"webhook\"\n"
                                             "template = \"$nope\"\n", 0o644)
    with Store.in_dir(tmp_path) as store:
        stored_day(store, "2026-12-04", 1, completed=False)
    code = run(["--config", str(config), "post", "--dry-run", "--user", "ada",
                "--data-dir", str(tmp_path)], ENV, monkeypatch)
    out, err = capsys.readouterr()
    assert code == 0
    assert "posts.bad.template: unknown field $nope" in err
    assert "- x (" in out and "/280):\npartial: pompes 3/10 reps." in out
    assert "- webhook (" in out
    with Store.in_dir(tmp_path) as store:
        assert store.outbox() == []   # nothing queued, nothing sent
    assert run(["--config", str(config), "post", "--dry-run", "nope", "--user", "ada",
                "--data-dir", str(tmp_path)], ENV, monkeypatch) == 2


def test_post_test_sends_one_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, CONFIG, 0o644)
    with respx.mock as router:
        hook = router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(204))
        code = run(["--config", str(config), "post", "--test", "webhook", "--data-dir",
                    str(tmp_path)], ENV, monkeypatch)
    assert code == 0 and hook.call_count == 1
    assert "repfit test post" in hook.calls[0].request.content.decode()
    assert "test post sent to webhook" in capsys.readouterr().out
    with respx.mock as router:
        router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(401))
        assert run(["--config", str(config), "post", "--test", "webhook", "--data-dir",
                    str(tmp_path)], ENV, monkeypatch) == 5
    assert "401 from hooks.example.net" in capsys.readouterr().err


def test_outbox_lists_retries_and_drops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from repfit.host.store import QueuedPost

    config = write_config(tmp_path, CONFIG, 0o644)
    with Store.in_dir(tmp_path) as store:
        store.queue_posts([QueuedPost("k1", "x", "ada", "set", "first post", 1.0),
                           QueuedPost("k2", "mastodon", "ada", "set", "second post", 1.0)], 1.0)
        first, second = store.outbox()
        store.outbox_update(first.id, "failed", 2.0, error="401 Unauthorized", told=True)
    args = ["--config", str(config), "outbox", "--data-dir", str(tmp_path)]
    assert run(args, ENV, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "401 Unauthorized" in out and "second post" in out
    assert run([*args, "--retry", str(first.id), "--drop", str(second.id)], ENV,
               monkeypatch) == 0
    with Store.in_dir(tmp_path) as store:
        again, dropped = store.outbox()
    assert (again.state, again.told, dropped.state) == ("pending", False, "dropped")
    assert run([*args, "--retry", "999"], ENV, monkeypatch) == 2
    assert os.environ.get("REPFIT_X_API_KEY")  # set for the run only (monkeypatch)


def test_start_posting_tells_each_problem_once_and_runs_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from repfit.host.posts.posting import start_posting

    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    config = write_config(tmp_path, CONFIG + '[posts.mastodon]\ninstance = "https://m.example"\n',
                          0o644)
    told: list[str] = []
    with Store.in_dir(tmp_path) as store:
        posting = start_posting(load(config, env=ENV), store, "ada", PARIS, tmp_path,
                                told.append)
        assert posting is not None
        try:
            assert [s.name for s in posting.settings.services] == ["x", "webhook"]
            assert set(posting.worker.posters) == {"x", "webhook"}
            (line,) = told
            assert line.startswith("posts.mastodon.access_token: missing")
        finally:
            posting.worker.stop()
        nothing = write_config(tmp_path, "user = \"ada\"\n")
        assert start_posting(load(nothing, env={}), store, "ada", PARIS, tmp_path,
                             told.append) is None


def test_repfit_starts_without_the_posting_extra(tmp_path: Path) -> None:
    code = ("import sys\n"
            "for name in ('regex', 'httpx', 'tweepy', 'mastodon', 'atproto'):\n"
            "    sys.modules[name] = None\n"
            "from repfit.host.cli import main\n"
            "assert main(['history', '--data-dir', sys.argv[1]]) == 0\n"
            "sys.exit(main(['post', '--dry-run', '--data-dir', sys.argv[1]]))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'repfit[social]'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_malformed_webhook_url_is_reported_without_its_value(tmp_path: Path) -> None:
    text = '[posts.hook]\nservice = "webhook"\nurl = "hooks.example.net/T0/SECRETVALUE"\n'
    settings = load_settings(load(write_config(tmp_path, text), env={}), env={})
    (line,) = settings.problems
    assert line.startswith("posts.hook.url: malformed (expected an http:// or https:// URL)")
    assert "SECRETVALUE" not in line and settings.services == ()


def test_a_test_post_logs_no_key_even_at_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    import logging

    config = write_config(tmp_path, CONFIG, 0o644)
    caplog.set_level(logging.DEBUG)
    with respx.mock as router:
        router.post(KEYS["webhook"].reveal()).mock(return_value=httpx.Response(500))
        assert run(["-vv", "--config", str(config), "post", "--test", "webhook",
                    "--data-dir", str(tmp_path)], ENV, monkeypatch) == 5
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_set_in_quiet_hours_is_queued_for_their_end(tmp_path: Path) -> None:
    text = CONFIG.replace('timezone = "Europe/Paris"',
                          'timezone = "Europe/Paris"\nquiet_hours = "22:00-07:30"')
    cfg = load(write_config(tmp_path, text, 0o644), env=ENV)
    with Store.in_dir(tmp_path) as store:
        r = new_set(store, "late", "2026-12-04T23:05", reps=2)
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: at("2026-12-04T23:05"))
        posts = planner.plan("ada", r)
    assert {p.service for p in posts} == {"x", "webhook"}
    assert all(p.not_before == at("2026-12-05T07:30") for p in posts)


def test_a_streak_longer_than_the_window_is_counted_whole(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from repfit.host.posts.planner import WINDOW_DAYS

    cfg = load(write_config(tmp_path, CONFIG, 0o644), env=ENV)
    first = date(2026, 12, 4) - timedelta(days=WINDOW_DAYS + 5)
    with Store.in_dir(tmp_path) as store:
        for k in range(WINDOW_DAYS + 5):
            stored_day(store, (first + timedelta(days=k)).isoformat(), 1)
        r = new_set(store, "today", "2026-12-04T09:05")
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: at("2026-12-04T09:05"))
        (post,) = [p for p in planner.plan("ada", r) if p.service == "x"]
    assert f"Streak {WINDOW_DAYS + 6}." in post.text


def test_a_reported_set_is_posted_only_with_honour_mode_and_says_so(tmp_path: Path) -> None:
    text = CONFIG.replace('when = ["missed"]', 'when = ["verified", "missed"]\nhonour_mode = true')
    cfg = load(write_config(tmp_path, text, 0o644), env=ENV)
    with Store.in_dir(tmp_path) as store:
        r = dataclasses.replace(new_set(store, "rep1", "2026-12-04T09:05"),
                                outcome="reported", verified=False)
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: at("2026-12-04T09:05"))
        posts = {p.service: p for p in planner.plan("ada", r)}
    assert set(posts) == {"webhook"}     # x posts verified sets only
    assert posts["webhook"].text.startswith("completed: push-ups 10/10 reps (honour mode)")
