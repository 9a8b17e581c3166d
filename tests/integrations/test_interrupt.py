"""Ctrl+C: a penalty stored and published before the KeyboardInterrupt goes on."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import lightgbm as lgb
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.broker import free_port
from repfit.integrations.coach import Rule
from repfit.integrations.history import HistoryStore
from repfit.integrations.interrupt import interrupt_penalty
from repfit.integrations.lightgbm import workout
from repfit.integrations.publisher import Publisher

PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 4,
          "min_data_in_leaf": 5}


def _ctrl_c_at(iteration):
    def cb(env):
        if env.iteration == iteration:
            raise KeyboardInterrupt
    cb.order = 40
    return cb


def test_ctrl_c_in_training_publishes_the_penalty_before_reraising(
        mosquitto, user, listen, binary_data, tmp_path, caplog):
    listener = listen(user)
    xt, yt, _, _ = binary_data
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="push-ups",
                 interrupt=Rule(True, "squats", 30))
    with pytest.raises(KeyboardInterrupt), interrupt_penalty(cb):
        lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, _ctrl_c_at(5)])
    store = HistoryStore.in_dir(tmp_path)
    # Stored, and acknowledged by the broker before the interrupt was re-raised (else the
    # "will be delivered when the broker is reachable" line). It stays in the outbox until a
    # host acknowledges it; none runs here.
    stored = {wire.decode(m.topic, m.payload)[1].reason: at for m, at in store.outbox()}
    assert "penalty" in stored
    assert "will be delivered when" not in caplog.text
    assert "penalty stored; sending" in caplog.text
    [run] = store.runs()
    assert run.status == "interrupted"
    first = listener.assignment("assigned")
    penalty = listener.assignment("penalty")
    assert (penalty.exercise, penalty.target, penalty.unit) == ("squat", 30.0, "reps")
    assert penalty.run_id == first.run_id and penalty.experiment == first.experiment
    assert penalty.text == "keyboard interrupt — squats — 30 times — added"
    assert listener.cue("penalty").assignment_id == penalty.id


def test_the_workout_context_manager_also_penalises_ctrl_c(mosquitto, user, listen,
                                                           binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data
    with pytest.raises(KeyboardInterrupt), workout(user=user, broker=mosquitto.url,
                                                   data_dir=tmp_path) as cb:
        lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, _ctrl_c_at(2)])
    penalty = listener.assignment("penalty")
    assert (penalty.exercise, penalty.target, penalty.unit) == ("plank", 100.0, "seconds")


def test_decorator_without_callbacks_makes_a_standalone_penalty(mosquitto, user, listen,
                                                               tmp_path):
    listener = listen(user)

    @interrupt_penalty(user=user, broker=mosquitto.url, data_dir=tmp_path,
                       interrupt=Rule(True, "jumping jacks", 40))
    def train() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train()
    penalty = listener.assignment("penalty")
    assert (penalty.exercise, penalty.target) == ("jumping_jack", 40.0)


def test_a_disabled_interrupt_penalty_sends_nothing_and_still_reraises(
        mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="plank",
                 interrupt=Rule(False))
    with pytest.raises(KeyboardInterrupt), interrupt_penalty(cb):
        lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, _ctrl_c_at(2)])
    cb.close()
    listener.assignment("assigned")
    assert not any(isinstance(m, wire.Assignment) and m.reason == "penalty"
                   for m in listener.drain())


@pytest.mark.slow
def test_ctrl_c_before_calibration_stores_the_hold_and_the_penalty_before_any_wait(
        binary_data, tmp_path):
    # Broker down, a long wait for it: both assignments must be on disk at once, not the
    # penalty only after the run's own hold has waited out its delivery.
    xt, yt, _, _ = binary_data
    cb = workout(user="early", broker=f"mqtt://127.0.0.1:{free_port()}", data_dir=tmp_path,
                 exercise="plank", interrupt_wait_s=8.0)
    outcome: list[BaseException] = []

    def train() -> None:
        try:
            with interrupt_penalty(cb):
                lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, _ctrl_c_at(2)])
        except BaseException as exc:  # the thread reports what ended it
            outcome.append(exc)

    worker = threading.Thread(target=train)
    worker.start()
    store = HistoryStore.in_dir(tmp_path)
    deadline = time.monotonic() + 4.0
    reasons: set[str] = set()
    while time.monotonic() < deadline and reasons != {"assigned", "penalty"}:
        reasons = {wire.decode(m.topic, m.payload)[1].reason for m, _ in store.outbox()}
        time.sleep(0.05)
    worker.join(30)
    assert reasons == {"assigned", "penalty"}
    assert len(outcome) == 1 and isinstance(outcome[0], KeyboardInterrupt)


def test_interrupt_penalty_only_takes_repfit_callbacks():
    with pytest.raises(TypeError, match="takes repfit callbacks"):
        interrupt_penalty(print)


# A training process that says TRAINING once it is under way, then trains (almost) forever.
_PACED = """
import logging, sys, time
import lightgbm as lgb
import numpy as np
from repfit.integrations.interrupt import interrupt_penalty
from repfit.integrations.lightgbm import workout

def pace(env):
    if env.iteration == 3:
        print("TRAINING", flush=True)
    time.sleep(0.01)
pace.order = 5

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4))
y = (x[:, 0] > 0).astype(int)
PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1}
"""

CHILD = _PACED + textwrap.dedent("""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    port, data_dir = sys.argv[1], sys.argv[2]
    cb = workout(user="ctrlc", broker=f"mqtt://127.0.0.1:{port}", data_dir=data_dir,
                 interrupt_wait_s=3600)
    with interrupt_penalty(cb):
        lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=10**6, callbacks=[cb, pace])
""")



def _lines(stream, sink):
    for raw in iter(stream.readline, b""):
        sink.put(raw.decode(errors="replace"))


def _start(script: str, *args: object) -> tuple[subprocess.Popen, queue.Queue, queue.Queue]:
    """The script in a child Python, its stdout and stderr lines read into two queues."""
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_q: queue.Queue = queue.Queue()
    err_q: queue.Queue = queue.Queue()
    for stream, q in ((proc.stdout, out_q), (proc.stderr, err_q)):
        threading.Thread(target=_lines, args=(stream, q), daemon=True).start()
    return proc, out_q, err_q


def _wait_line(lines: queue.Queue, needle: str, log: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError(f"never saw {needle!r}; got {''.join(log)}") from None
        log.append(line)
        if needle in line:
            return


@pytest.mark.slow
def test_second_ctrl_c_exits_promptly_and_the_stored_penalty_is_delivered_later(
        tmp_path, private_broker, listen):
    port = free_port()  # nobody listens: the penalty can only be stored
    proc, out_q, err_q = _start(CHILD, port, tmp_path)
    err: list[str] = []
    try:
        _wait_line(out_q, "TRAINING", [])
        proc.send_signal(signal.SIGINT)
        _wait_line(err_q, "penalty stored", err)
        # It would now wait up to an hour for the broker; a second Ctrl+C ends that.
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    while not err_q.empty():
        err.append(err_q.get())
    assert returncode != 0
    assert "KeyboardInterrupt" in "".join(err)

    store = HistoryStore.in_dir(tmp_path)
    settings = MqttSettings(port=port)
    [pending] = [m for m in store.pending(settings.url, "repfit/ctrlc/")
                 if wire.decode(m.topic, m.payload)[1].reason == "penalty"]

    private_broker(port, "allow_anonymous true")
    listener = listen("ctrlc", settings)
    later = Publisher(settings, "ctrlc", outbox=store)
    later.publish(wire.Cue("tick"))
    penalty = listener.assignment("penalty")
    later.close(timeout=10.0)
    assert penalty.id == pending.message_id
    assert penalty.text == "keyboard interrupt — 100 seconds — plank — added"


# --------------------------------------------------------------------------- plain list form
# ``callbacks=[workout()]`` with no ``with``: the callback chains a SIGINT handler while the
# run trains. The interrupts below are real signals (raised in this process's main thread, or
# sent to a training subprocess), not exceptions thrown by a callback.


def _sigint_at(iteration):
    def cb(env):
        if env.iteration == iteration:
            signal.raise_signal(signal.SIGINT)
    cb.order = 40
    return cb


def _outbox_reasons(data_dir) -> list[str]:
    return sorted(wire.decode(m.topic, m.payload)[1].reason
                  for m, _ in HistoryStore.in_dir(data_dir).outbox())


def test_ctrl_c_in_the_plain_callback_list_gives_the_penalty_once(
        mosquitto, user, listen, binary_data, tmp_path):
    listener = listen(user)
    xt, yt, _, _ = binary_data
    before = signal.getsignal(signal.SIGINT)
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path,
                 interrupt=Rule(True, "squats", 30))
    # interrupt_penalty around it as well: the penalty given by the signal is not doubled.
    with pytest.raises(KeyboardInterrupt), interrupt_penalty(cb):
        lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, _sigint_at(5)])
    assert signal.getsignal(signal.SIGINT) is before
    cb.close()
    penalty = listener.assignment("penalty")
    assert (penalty.exercise, penalty.target) == ("squat", 30.0)
    assert _outbox_reasons(tmp_path) == ["assigned", "penalty"]
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"


def test_ctrl_c_after_training_stopped_early_gives_no_penalty(
        mosquitto, user, binary_data, tmp_path):
    # LightGBM never tells the callback that early stopping ended the training: the run is
    # still open, but the interrupted stack no longer holds the training.
    xt, yt, _, _ = binary_data

    def stop_early(env):
        if env.iteration == 3:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)
    stop_early.order = 30

    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats")
    lgb.train(PARAMS, lgb.Dataset(xt, yt), 50, callbacks=[cb, stop_early])
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    cb.close()
    assert _outbox_reasons(tmp_path) == ["assigned"]
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "finished"


PLAIN_CHILD = _PACED + textwrap.dedent("""
    port, data_dir, user = sys.argv[1], sys.argv[2], sys.argv[3]
    lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=10**6,
              callbacks=[workout(user=user, broker=f"mqtt://127.0.0.1:{port}",
                                 data_dir=data_dir, exercise="squats"), pace])
""")


@pytest.mark.slow
def test_sigint_to_a_training_process_in_the_plain_form_delivers_the_penalty(
        mosquitto, user, listen, tmp_path):
    listener = listen(user)
    proc, out_q, err_q = _start(PLAIN_CHILD, mosquitto.port, tmp_path, user)
    err: list[str] = []
    try:
        _wait_line(out_q, "TRAINING", [])
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    while not err_q.empty():
        err.append(err_q.get())
    assert returncode != 0
    assert "KeyboardInterrupt" in "".join(err)
    penalty = listener.assignment("penalty")
    assert penalty.text == "keyboard interrupt — 100 seconds — plank — added"
    # Stored in the outbox (kept there until a host acknowledges it; none runs here), and
    # acknowledged by the broker before the process went on to exit: the "assigned" line is
    # written on the broker's acknowledgement.
    assert [m.message_id for m, _ in HistoryStore.in_dir(tmp_path).outbox()
            if wire.decode(m.topic, m.payload)[1].reason == "penalty"] == [penalty.id]
    assert "repfit: assigned 100 s of plank" in "".join(err)
