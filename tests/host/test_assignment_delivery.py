"""Every assignment reaches the host, however long it was away (a real Mosquitto).

Two mechanisms, each tested here: the host's persistent session (the broker queues QoS 1
assignments for it while it is away), and the host's `Ack`, which the trainer's outbox waits
for before it forgets an assignment (it re-sends at its next connect and when a host comes
online, which also covers a host that never had a session).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.broker import free_port
from repfit.host.bus import Bus
from repfit.host.service import WorkoutHost
from repfit.host.store import Store
from repfit.integrations.history import HistoryStore
from repfit.integrations.publisher import Publisher

WAIT_S = 30.0  # only reached when something is broken


def _workout(run: str) -> list[wire.Assignment]:
    """Two training runs' worth: 25 squats, 25 squats, then a 10-squat penalty."""
    now = time.time()
    return [
        wire.Assignment(id=f"{run}-1", exercise="squat", target=25, issued_at=now,
                        deadline_s=3600),
        wire.Assignment(id=f"{run}-2", exercise="squat", target=25, issued_at=now,
                        deadline_s=3600),
        wire.Assignment(id=f"{run}-3", exercise="squat", target=10, reason="penalty",
                        issued_at=now, deadline_s=3600),
    ]


class Seen:
    """A HostObserver that records the assignments the host took on."""

    def __init__(self) -> None:
        self.assignments: list[str] = []

    def assignment(self, a: wire.Assignment) -> None:
        self.assignments.append(a.id)

    def progress(self, p: wire.Progress) -> None: ...
    def result(self, r: wire.Result) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...


async def _host_until(settings: MqttSettings, user: str, db: Path,
                      done: Callable[[Seen], bool], node: str = "box") -> Seen:
    """Run a host (persistent session, as `repfit host` does) until ``done(seen)``."""
    seen = Seen()
    with Store(db) as store:
        async with Bus(settings, user=user, role="host", persistent=True,
                       client_id=f"repfit-host-{user}-{node}") as bus:
            host = WorkoutHost(bus, store, observer=seen)
            task = asyncio.create_task(host.run())
            deadline = time.monotonic() + WAIT_S
            await asyncio.wait_for(host.ready.wait(), WAIT_S)
            while not done(seen) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return seen


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def broker(private_broker) -> MqttSettings:  # type: ignore[no-untyped-def]
    port = free_port()
    private_broker(port, "allow_anonymous true")
    return MqttSettings(port=port)


def test_assignments_made_while_the_host_is_away_all_reach_it(
        broker: MqttSettings, user: str, tmp_path: Path) -> None:
    db = tmp_path / "host.sqlite3"
    # The host has run once on this machine: the broker now keeps its session.
    asyncio.run(_host_until(broker, user, db, lambda s: True))

    # Two training runs while no host runs: three assignments, each acknowledged by the
    # broker (the trainer's part is done) but stored by no host yet.
    outbox = HistoryStore.in_dir(tmp_path / "trainer")
    for run, chunk in (("run1", _workout("run1")[:2]), ("run2", _workout("run1")[2:])):
        pub = Publisher(broker, user, outbox=outbox, client_id=f"trainer-{run}")
        assert pub.deliver(chunk, timeout=WAIT_S)
        pub.close(timeout=5.0)
    pending = [p.message_id for p in outbox.pending(broker.url, f"repfit/{user}/")]
    assert pending == ["run1-1", "run1-2", "run1-3"]  # no host has said it stored them

    # The host starts: all three arrive, in order, not only the retained last one.
    seen = asyncio.run(_host_until(broker, user, db, lambda s: len(s.assignments) >= 3))
    assert seen.assignments == ["run1-1", "run1-2", "run1-3"]
    with Store(db) as store:
        assert {a.id for a in store.open_assignments(user)} == {"run1-1", "run1-2", "run1-3"}

    # The next training run re-sends what was never acknowledged; the running host stores
    # nothing twice, acknowledges every copy, and the outbox is empty.
    async def host_and_next_trainer() -> Seen:
        pub = Publisher(broker, user, outbox=outbox, client_id="trainer-run3")
        host = asyncio.create_task(_host_until(
            broker, user, db,
            lambda s: not outbox.pending(broker.url, f"repfit/{user}/")))
        await asyncio.sleep(0)
        pub.start()
        seen = await host
        await asyncio.to_thread(pub.close, 5.0)
        return seen

    again = asyncio.run(host_and_next_trainer())
    assert outbox.pending(broker.url, f"repfit/{user}/") == []
    assert again.assignments == ["run1-1", "run1-2", "run1-3"]  # resumed open, not re-added


def test_a_host_that_never_connected_gets_them_from_the_trainer_outbox(
        broker: MqttSettings, user: str, tmp_path: Path) -> None:
    """First connect: the broker has no session to queue into and keeps only the retained
    newest assignment. The trainer, still running, re-sends the others when it sees the host
    come online."""
    outbox = HistoryStore.in_dir(tmp_path / "trainer")
    pub = Publisher(broker, user, outbox=outbox)
    try:
        assert pub.deliver(_workout("r"), timeout=WAIT_S)
        seen = asyncio.run(_host_until(broker, user, tmp_path / "host.sqlite3",
                                       lambda s: len(s.assignments) >= 3, node="fresh"))
        assert sorted(seen.assignments) == ["r-1", "r-2", "r-3"]
        assert seen.assignments[0] == "r-3"  # the retained one came first, the rest re-sent
        assert _eventually(lambda: outbox.pending(broker.url, f"repfit/{user}/") == [])
    finally:
        pub.close(timeout=5.0)
