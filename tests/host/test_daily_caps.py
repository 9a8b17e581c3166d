"""Daily caps, the lifecycle on record and honour mode: a real SQLite file, a real Mosquitto."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from repfit import wire
from repfit.config import MqttSettings, Secret
from repfit.host import stats
from repfit.host.admission import Admission, admit
from repfit.host.bus import Bus
from repfit.host.caps import CapRules, Limits
from repfit.host.cli import main
from repfit.host.days import day_bounds
from repfit.host.service import WorkoutHost
from repfit.host.store import Store

PARIS = ZoneInfo("Europe/Paris")      # clocks back on Sunday 2026-10-25 at 03:00


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def _a(aid: str, target: float = 25, **kw: object) -> wire.Assignment:
    return wire.Assignment(aid, "squat", target, **kw)  # type: ignore[arg-type]


def _admit(store: Store, user: str, rules: CapRules, a: wire.Assignment,
           at: float) -> Admission | None:
    return store.admit(user, a, at, day_bounds(at, rules.timezone),
                       partial(admit, rules, a, at))


# --------------------------------------------------------------------------- the store


def test_exactly_the_cap_then_one_over_then_a_new_local_day(tmp_path: Path) -> None:
    rules = CapRules(Limits(reps_per_day=100), timezone=PARIS)
    with Store.in_dir(tmp_path) as store:
        for n, at in enumerate(("2026-06-10T09:00", "2026-06-10T12:00", "2026-06-10T18:00",
                                "2026-06-10T23:00")):
            admission = _admit(store, "ada", rules, _a(f"a{n}"), _t(at))
            assert admission == Admission("announced")
        # 100/100 squats at 23:59:30 in Paris (21:59:30 UTC): one more is over the cap.
        over = _admit(store, "ada", rules, _a("a4", 1), _t("2026-06-10T23:59:30"))
        assert over is not None and over.state == "capped"
        assert over.detail == "cap reached: 100/100 squats today"
        # Half a minute after local midnight it is a new day (still 10 June in UTC).
        assert _admit(store, "ada", rules, _a("a5", 100), _t("2026-06-11T00:00:30")) == \
            Admission("announced")
        # Another user's day is their own; a re-delivery is not decided twice.
        assert _admit(store, "bob", rules, _a("b1", 100), _t("2026-06-10T23:59:40")) == \
            Admission("announced")
        assert _admit(store, "ada", rules, _a("a4", 1), _t("2026-06-10T23:59:50")) is None
        assert store.transitions("a4") == [("received", _t("2026-06-10T23:59:30"), None),
                                           ("capped", _t("2026-06-10T23:59:30"),
                                            "cap reached: 100/100 squats today")]
        [capped] = [r for r in store.results("ada") if r.assignment_id == "a4"]
        assert (capped.outcome, capped.completed, capped.reps, capped.detail) == \
            ("capped", False, 0, "cap reached: 100/100 squats today")
        assert [a.id for a in store.open_assignments("ada")] == ["a0", "a1", "a2", "a3", "a5"]


def test_the_day_the_clocks_go_back_is_one_day_of_25_hours(tmp_path: Path) -> None:
    rules = CapRules(Limits(assignments_per_day=2), timezone=PARIS)
    with Store.in_dir(tmp_path) as store:
        assert _admit(store, "ada", rules, _a("a1"), _t("2026-10-25T00:30"))
        assert _admit(store, "ada", rules, _a("a2"), _t("2026-10-25T23:00"))
        third = _admit(store, "ada", rules, _a("a3"), _t("2026-10-25T23:59"))
        assert third is not None and third.detail == "cap reached: 2/2 assignments today"
        assert _admit(store, "ada", rules, _a("a4"), _t("2026-10-26T00:00")) == \
            Admission("announced")


def test_penalties_with_caps_of_their_own(tmp_path: Path) -> None:
    rules = CapRules(Limits(reps_per_day=25), penalty_limits=Limits(reps_per_day=10),
                     timezone=PARIS)
    at = _t("2026-06-10T12:00")
    with Store.in_dir(tmp_path) as store:
        assert _admit(store, "ada", rules, _a("a1"), at) == Admission("announced")
        assert _admit(store, "ada", rules, _a("p1", 10, reason="penalty"), at) == \
            Admission("announced")
        over = _admit(store, "ada", rules, _a("p2", 1, reason="penalty"), at)
        assert over is not None and over.detail == \
            "cap reached: 10/10 squats for penalties today"


def test_two_hosts_on_one_store_never_both_take_the_last_slot(tmp_path: Path) -> None:
    """Two hosts (two connections to one file, in two threads) admit two assignments at
    the same moment while one slot is left: one is announced, the other capped, every time.
    A judge that takes its time widens the window a read-then-write would lose in."""
    rules = CapRules(Limits(assignments_per_day=1), timezone=PARIS)
    at = _t("2026-06-10T12:00")
    path = tmp_path / "repfit.sqlite3"
    Store(path).close()

    def slow(judge: Callable[..., Admission], day: list[object]) -> Admission:
        time.sleep(0.02)
        return judge(day)

    for round_ in range(15):
        user = f"u{round_}"
        start = threading.Barrier(2)
        fates: dict[str, Admission | None] = {}

        def host(name: str, user: str = user, start: threading.Barrier = start,
                 fates: dict[str, Admission | None] = fates) -> None:
            with Store(path) as store:
                a = _a(f"{user}-{name}")
                start.wait()
                fates[name] = store.admit(user, a, at, day_bounds(at, PARIS),
                                          partial(slow, partial(admit, rules, a, at)))

        threads = [threading.Thread(target=host, args=(n,)) for n in ("one", "two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        states = sorted(f.state for f in fates.values() if f is not None)
        assert states == ["announced", "capped"], (round_, fates)
    with Store(path) as store:
        capped = [r for u in range(15) for r in store.results(f"u{u}")]
        assert len(capped) == 15 and {r.detail for r in capped} == \
            {"cap reached: 1/1 assignments today"}


# --------------------------------------------------------------------------- the host


class Recorder:
    def __init__(self) -> None:
        self.assignments: list[wire.Assignment] = []
        self.results: list[wire.Result] = []

    def assignment(self, a: wire.Assignment) -> None:
        self.assignments.append(a)

    def progress(self, p: wire.Progress) -> None:
        pass

    def result(self, r: wire.Result) -> None:
        self.results.append(r)

    def cue(self, c: wire.Cue) -> None:
        pass


async def _collect(bus: Bus, want: Callable[[list[wire.Message]], bool],
                   timeout_s: float = 30.0) -> list[wire.Message]:
    seen: list[wire.Message] = []

    async def gather() -> None:
        async for incoming in bus.messages():
            seen.append(incoming.message)

    # ``want`` may also wait on what the host shows (its observer), which can change after
    # the last message arrives: check it on a short tick, not only per message.
    reader = asyncio.create_task(gather())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not want(seen):
            if asyncio.get_running_loop().time() > deadline:
                raise asyncio.TimeoutError(f"not seen within {timeout_s:g} s: {seen}")
            await asyncio.sleep(0.05)
        return seen
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


def _states(seen: list[wire.Message], aid: str) -> list[str]:
    return [m.state for m in seen if isinstance(m, wire.StateChange) and m.assignment_id == aid]


def test_an_assignment_over_a_cap_is_answered_capped_and_never_announced(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    rules = CapRules(Limits(reps_per_day=10), timezone=PARIS)
    now = time.time()
    a1 = _a("a1", 8, issued_at=now, run_id="run-1", experiment="exp")
    a2 = _a("a2", 3, issued_at=now, reason="penalty", label="flexions")
    recorder = Recorder()

    async def scenario() -> list[wire.Message]:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="trainer") as trainer:
                await trainer.subscribe("result", "state")
                host = WorkoutHost(host_bus, store, observer=recorder, caps=rules)
                serving = asyncio.create_task(host.run())
                await host.ready.wait()
                trainer.publish(a1)
                trainer.publish(a2)
                try:
                    return await _collect(trainer, lambda seen: any(
                        isinstance(m, wire.Result) and m.assignment_id == "a2" for m in seen)
                        and "in_progress" in _states(seen, "a1")
                        and "capped" in _states(seen, "a2"))
                finally:
                    serving.cancel()
                    await asyncio.gather(serving, return_exceptions=True)

    seen = asyncio.run(scenario())
    [capped] = [m for m in seen if isinstance(m, wire.Result)]
    assert (capped.assignment_id, capped.outcome, capped.completed) == ("a2", "capped", False)
    assert capped.detail == "cap reached: 8/10 flexions today (3 more asked)"
    assert _states(seen, "a2") == ["received", "capped"]
    assert _states(seen, "a1") == ["received", "announced", "in_progress"]
    [change] = [m for m in seen if isinstance(m, wire.StateChange)
                and m.assignment_id == "a1" and m.state == "announced"]
    assert (change.exercise, change.experiment, change.run_id) == ("squat", "exp", "run-1")
    assert [a.id for a in recorder.assignments] == ["a1"]          # a2 never announced
    assert [r.assignment_id for r in recorder.results] == ["a2"]
    with Store.in_dir(tmp_path) as store:
        assert [s for s, _, _ in store.transitions("a2")] == ["received", "capped"]
        assert [s for s, _, _ in store.transitions("a1")] == ["received", "announced",
                                                               "in_progress"]


def test_a_restarted_host_closes_expired_assignments_as_missed_instead_of_serving_them(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    now = time.time()
    # Stored and announced by the last run of the host, due an hour ago.
    stale = _a("stale", 10, issued_at=now - 4200, deadline_s=600)
    # Retained on the broker, published while no host ran, due ten minutes ago.
    retained = _a("retained", 10, issued_at=now - 1200, deadline_s=600)
    fresh = _a("fresh", 10, issued_at=now, deadline_s=600)
    with Store.in_dir(tmp_path) as store:
        assert _admit(store, user, CapRules(), stale, now - 4100) == Admission("announced")
    recorder = Recorder()

    async def scenario() -> list[wire.Message]:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user, role="trainer") as trainer:
                await asyncio.to_thread(trainer.publish(retained).wait_for_publish, 10)
                await trainer.subscribe("result")
                async with Bus(mosquitto, user=user) as host_bus:
                    host = WorkoutHost(host_bus, store, observer=recorder)
                    serving = asyncio.create_task(host.run())
                    await host.ready.wait()
                    trainer.publish(fresh)
                    try:
                        return await _collect(trainer, lambda seen: {
                            m.assignment_id for m in seen if isinstance(m, wire.Result)
                            and m.finished_at >= now} >= {"stale", "retained"} and any(
                            a.id == "fresh" for a in recorder.assignments))
                    finally:
                        serving.cancel()
                        await asyncio.gather(serving, return_exceptions=True)

    seen = asyncio.run(scenario())
    results = {m.assignment_id: m for m in seen if isinstance(m, wire.Result)}
    for aid in ("stale", "retained"):
        assert results[aid].outcome == "missed" and results[aid].reps == 0
        assert "while no host was running" in (results[aid].detail or "")
    assert [a.id for a in recorder.assignments] == ["fresh"]   # the expired ones: not served
    with Store.in_dir(tmp_path) as store:
        assert [s for s, _, _ in store.transitions("retained")] == ["received", "missed"]
        assert [s for s, _, _ in store.transitions("stale")] == ["received", "announced",
                                                                  "missed"]
        assert [a.id for a in store.open_assignments(user)] == ["fresh"]


# --------------------------------------------------------------------------- honour mode


async def _report_while_open(settings: MqttSettings, user: str, data_dir: Path,
                             a: wire.Assignment, argv: list[str],
                             key: Secret | None = None,
                             before: Callable[[Bus], Awaitable[None]] | None = None) -> int:
    """A host in honour mode (with ``key``, signing) opens ``a``; then `repfit done` runs
    with ``argv`` (``before`` runs first, with a bus of its own that has no key)."""
    with Store.in_dir(data_dir) as store:
        async with Bus(settings, user=user, signing_key=key) as host_bus, \
                Bus(settings, user=user, role="trainer", signing_key=key) as trainer, \
                Bus(settings, user=user, role="trainer") as stranger:
            await trainer.subscribe("state")
            host = WorkoutHost(host_bus, store, honour=True)
            serving = asyncio.create_task(host.run())
            await host.ready.wait()
            trainer.publish(a)
            await _collect(trainer, lambda seen: "in_progress" in _states(seen, a.id))
            try:
                if before is not None:
                    await before(stranger)
                return await asyncio.to_thread(main, argv)
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)


def test_done_without_honour_mode_says_which_file_to_create_and_what_to_put_in_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "config.toml"
    code = main(["--config", str(missing), "done", "--user", "ada", "--broker",
                 "mqtt://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "honour mode is off for ada" in err
    assert f"{missing} (create it)" in err and '`honour = ["ada"]`' in err


@pytest.mark.parametrize("honour", [True, False])
def test_honour_mode_records_a_reported_set_apart_from_verified_ones(
        mosquitto: MqttSettings, tmp_path: Path, user: str, honour: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"honour = {'true' if honour else 'false'}\n"
                      "[caps]\nreps_per_day = 100\ntimezone = \"Europe/Paris\"\n")
    a = _a("a1b2c3d4e5", 25, issued_at=time.time(), experiment="exp")
    argv = ["--config", str(config), "done", "a1b2c3d4", "--reps", "20", "--broker",
            mosquitto.url, "--user", user, "--wait", "5"]

    code = asyncio.run(_report_while_open(mosquitto, user, tmp_path, a, argv))
    out, err = capsys.readouterr()
    if not honour:
        assert code == 2 and "honour" in err and str(config) in err
        return
    assert code == 0, err
    assert out.startswith("squats: reported, not verified, incomplete - 20/25 reps (reported")
    with Store.in_dir(tmp_path) as store:
        [r] = store.results(user)
        assert (r.outcome, r.verified, r.reps, r.completed) == ("reported", False, 20, False)
        assert [s for s, _, _ in store.transitions(a.id)] == ["received", "announced",
                                                               "in_progress", "partial"]
        records = [stats.Record(*row) for row in store.records(user)]
    rules = CapRules(Limits(reps_per_day=100), timezone=PARIS)
    s = stats.compute(records, user, time.time(), PARIS, rules)
    assert s.today_totals == () and s.streak_days == 0           # never counted as verified
    assert [(t.exercise, t.sets, t.reps) for t in s.today_unverified] == [("squat", 1, 20)]
    [cap] = s.caps
    assert (cap.exercise, cap.used, cap.limit, cap.remaining) == ("squat", 25, 100, 75)
    entry = stats.to_json(s)["today_by_exercise"][0]
    assert entry["verified"]["sets"] == 0 and entry["unverified"]["reps"] == 20
    assert entry["cap"]["remaining"] == 75


def test_a_report_without_honour_mode_on_the_host_is_ignored(
        mosquitto: MqttSettings, tmp_path: Path, user: str) -> None:
    a = _a("a1", 5, issued_at=time.time())

    async def scenario() -> list[wire.Result]:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="trainer") as trainer:
                await trainer.subscribe("state")
                host = WorkoutHost(host_bus, store)
                serving = asyncio.create_task(host.run())
                await host.ready.wait()
                trainer.publish(a)
                await _collect(trainer, lambda seen: "in_progress" in _states(seen, a.id))
                trainer.publish(wire.Report(reps=5))
                # A cancel after the report: had the report been taken, it would have ended
                # the set first.
                await asyncio.sleep(0.5)
                await host.cancel_active()
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
                return host.results

    [r] = asyncio.run(scenario())
    assert (r.outcome, r.verified) == ("cancelled", True)


def test_with_a_signing_key_only_a_signed_report_ends_the_set(
        mosquitto: MqttSettings, tmp_path: Path, user: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    key = Secret("a shared key of the user, long enough")
    monkeypatch.setenv("REPFIT_SIGNING_KEY", key.reveal())
    config = tmp_path / "config.toml"
    config.write_text("honour = true\n")
    a = _a("s1", 10, issued_at=time.time())

    async def unsigned(stranger: Bus) -> None:
        stranger.publish(wire.Report(reps=3))           # unsigned: refused
        await asyncio.sleep(0.5)

    argv = ["--config", str(config), "done", "--broker", mosquitto.url, "--user", user,
            "--wait", "5"]
    assert asyncio.run(_report_while_open(mosquitto, user, tmp_path, a, argv, key,
                                          unsigned)) == 0, capsys.readouterr().err
    with Store.in_dir(tmp_path) as store:
        [r] = store.results(user)
    assert (r.outcome, r.verified, r.reps, r.completed) == ("reported", False, 10, True)
