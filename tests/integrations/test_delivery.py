"""The publisher and its outbox against real brokers that are down, refuse us, or stall."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading

import lightgbm as lgb
import pytest

from repfit import wire
from repfit.config import MqttSettings, Secret
from repfit.host.broker import free_port
from repfit.integrations.history import HistoryStore
from repfit.integrations.lightgbm import workout
from repfit.integrations.publisher import PendingMessage, Publisher

PARAMS = {"objective": "binary", "metric": "auc", "verbose": -1, "num_threads": 1,
          "num_leaves": 4, "min_data_in_leaf": 5}


def _train(cb, data, rounds=30):
    xt, yt, xv, yv = data
    train = lgb.Dataset(xt, yt)
    return lgb.train(PARAMS, train, num_boost_round=rounds,
                     valid_sets=[lgb.Dataset(xv, yv, reference=train)], callbacks=[cb])


def _warnings(caplog, logger="repfit"):
    """This test's warnings (no other test's publisher outlives it: `tests/conftest.py`)."""
    return [r for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith(logger)]


def _eventually(condition, limit_s=30.0) -> bool:
    """Poll ``condition`` until it holds; the limit is only reached when something is broken."""
    import time

    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _assignment(n=0) -> wire.Assignment:
    import time

    # Issued now: an assignment no host took for a week is forgotten, not re-sent.
    return wire.Assignment(id=f"a{n}", exercise="squat", target=5, issued_at=time.time(),
                           deadline_s=600)


def test_broker_down_training_continues_and_the_assignment_waits_in_the_outbox(
        binary_data, tmp_path, caplog, private_broker, listen):
    port = free_port()
    caplog.set_level(logging.WARNING)
    cb = workout(user="downuser", broker=f"mqtt://127.0.0.1:{port}", exercise="squats",
                 data_dir=tmp_path)
    booster = _train(cb, binary_data)
    cb.close(timeout=1.0)
    assert booster.current_iteration() == 30
    warned = _warnings(caplog)
    assert len(warned) == 1 and "unreachable" in warned[0].getMessage()
    store = HistoryStore.in_dir(tmp_path)
    [(pending, delivered_at)] = store.outbox()
    assert delivered_at is None

    # The broker comes back: the next publisher on this data dir delivers it.
    private_broker(port, "allow_anonymous true")
    listener = listen("downuser", MqttSettings(port=port))
    later = Publisher(MqttSettings(port=port), "downuser", outbox=store)
    later.publish(wire.Cue("tick"))  # any activity starts it
    got = listener.assignment()
    _, original = wire.decode(pending.topic, pending.payload)
    assert got.id == original.id and got.exercise == "squat"
    assert got.issued_at == original.issued_at
    assert got.deadline_s > original.deadline_s  # the late delivery keeps the full window
    # Reaching the broker is not enough: it stays in the outbox until a host has stored it.
    url = MqttSettings(port=port).url
    assert [p.message_id for p in store.pending(url, "repfit/downuser/")] == [got.id]
    listener.client.publish("repfit/downuser/ack", wire.encode(wire.Ack(got.id)), qos=1)
    assert _eventually(lambda: store.pending(url, "repfit/downuser/") == [])
    later.close(timeout=10.0)


@pytest.mark.slow
def test_a_broker_that_comes_back_during_the_run_gets_the_assignment(
        tmp_path, caplog, private_broker, listen):
    port = free_port()
    caplog.set_level(logging.WARNING)
    settings = MqttSettings(port=port)
    pub = Publisher(settings, "backuser", outbox=HistoryStore.in_dir(tmp_path))
    pub.publish(_assignment(1))
    pub.publish(wire.Cue("tick"))  # cues are live-only: dropped while unreachable
    # The broker comes back only once the publisher has found it away (a loaded machine
    # may otherwise start the broker before the first attempt).
    assert _eventually(lambda: any("unreachable" in r.getMessage() for r in _warnings(caplog)))
    private_broker(port, "allow_anonymous true")
    listener = listen("backuser", settings)
    assert listener.assignment().id == "a1"
    pub.close(timeout=10.0)
    assert sum("unreachable" in r.getMessage() for r in _warnings(caplog)) == 1


def test_a_refusing_broker_gives_one_warning_without_the_password(
        binary_data, tmp_path, caplog, private_broker, listen):
    port = free_port()
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "alice", "right-pw"],
                   check=True, capture_output=True)
    pwfile.chmod(0o644)
    private_broker(port, "allow_anonymous false", f"password_file {pwfile}")
    caplog.set_level(logging.WARNING)
    cb = workout(user="pwuser", broker=f"mqtt://alice:wrong-pw@127.0.0.1:{port}",
                 data_dir=tmp_path)
    booster = _train(cb, binary_data)
    cb.close(timeout=5.0)
    assert booster.current_iteration() == 30
    warned = _warnings(caplog)
    assert len(warned) == 1, [r.getMessage() for r in warned]
    assert "refused" in warned[0].getMessage()
    assert "wrong-pw" not in caplog.text
    assert [d for _, d in HistoryStore.in_dir(tmp_path).outbox()] == [None]

    # With the right password the same kind of run is delivered.
    good = MqttSettings(port=port, username="alice", password=Secret("right-pw"))
    listener = listen("pwuser", good)
    cb2 = workout(user="pwuser", broker=f"mqtt://alice:right-pw@127.0.0.1:{port}",
                  data_dir=tmp_path / "ok")
    with cb2:
        _train(cb2, binary_data, rounds=3)
    assert listener.assignment().reason == "assigned"


def test_a_full_queue_drops_cues_first_and_keeps_assignments(mosquitto, user, listen,
                                                              tmp_path):
    listener = listen(user)
    pub = Publisher(mosquitto, user, outbox=HistoryStore.in_dir(tmp_path), max_queue=5)
    holding, gate = threading.Event(), threading.Event()
    pub.submit(lambda: (holding.set(), gate.wait()))  # holds the worker: the queue fills up
    holding.wait()
    pub.publish(_assignment(7))
    for i in range(10):
        pub.publish(wire.Cue("tick", index=i))
    assert pub.dropped == 6
    gate.set()
    assert listener.assignment().id == "a7"
    pub.close(timeout=10.0)


def test_close_is_bounded_when_the_broker_never_answers(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts TCP in the backlog, never speaks MQTT
    try:
        settings = MqttSettings(port=silent.getsockname()[1])
        store = HistoryStore.in_dir(tmp_path)
        pub = Publisher(settings, "silentuser", outbox=store)
        pub.publish(_assignment(3))
        pub.close(timeout=0.5)
        assert [m.message_id for m in store.pending(settings.url, "repfit/silentuser/")] == ["a3"]
    finally:
        silent.close()


def test_publisher_rejects_a_bad_user_at_once():
    with pytest.raises(ValueError, match="user must match"):
        Publisher(MqttSettings(), "no spaces")


def test_a_corrupt_history_file_is_kept_aside_with_one_warning_and_a_new_one_started(
        mosquitto, user, listen, binary_data, tmp_path, caplog):
    damaged = b"this is not a database" * 100
    (tmp_path / "history.sqlite3").write_bytes(damaged)
    caplog.set_level(logging.WARNING)
    listener = listen(user)
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path) as cb:
        booster = _train(cb, binary_data)
    assert booster.current_iteration() == 30
    assert listener.assignment().reason == "assigned"
    warned = _warnings(caplog)
    assert len(warned) == 1 and "run history" in warned[0].getMessage()
    [kept] = tmp_path.glob("history.sqlite3.damaged-*")
    assert kept.read_bytes() == damaged and kept.name in warned[0].getMessage()
    [run] = HistoryStore.in_dir(tmp_path).runs()           # this run is in the new file
    assert run.status == "finished"


def test_an_assignment_no_host_took_for_a_week_is_forgotten(mosquitto, user, listen,
                                                            tmp_path, caplog):
    import time

    store = HistoryStore.in_dir(tmp_path)
    week_old = wire.Assignment(id="stale", exercise="squat", target=5,
                               issued_at=time.time() - 8 * 86400)
    store.put(mosquitto.url, PendingMessage("stale", wire.topic_for(user, week_old),
                                            wire.encode(week_old)))
    listener = listen(user)
    pub = Publisher(mosquitto, user, outbox=store)
    fresh = wire.Assignment(id="fresh", exercise="squat", target=5, issued_at=time.time())
    assert pub.deliver([fresh], timeout=30.0)
    pub.close(timeout=5.0)
    assert listener.assignment().id == "fresh"       # the stale one was not re-sent first
    assert [p.message_id for p in store.pending(mosquitto.url, f"repfit/{user}/")] == ["fresh"]
    assert "no host acknowledged within 7 days" in caplog.text
