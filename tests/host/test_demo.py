"""`repfit demo`, run exactly as a new user runs it (a subprocess, embedded defaults)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repfit.host.store import Store


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "repfit", "demo", "--speed", "8", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def test_demo_exits_zero_with_a_verified_result(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--seed", "7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "embedded MQTT broker on mqtt://127.0.0.1:" in out
    assert "assignment " in out and "training 200 iterations" in out
    assert "completed - 10/10 reps" in out
    (db,) = (tmp_path / "data").rglob("repfit.sqlite3")
    with Store(db) as store:
        (result,) = store.results("demo")
        # The broker's acknowledgement is on record before the demo's broker goes away, so
        # the next run has nothing to resend.
        assert store.unpublished_results("demo") == []
    assert result.completed and result.reps == 10


@pytest.mark.slow
def test_demo_with_a_lazy_athlete_is_not_verified(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--exercise", "situp", "--reps", "6", "--effort", "0.5", "--seed", "2",
                 "--data-dir", str(tmp_path / "store"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "sit-ups: NOT completed" in proc.stdout  # the menu's name for it
    history = subprocess.run(
        [sys.executable, "-m", "repfit", "history", "--user", "demo", "--data-dir",
         str(tmp_path / "store")], capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert history.returncode == 0
    (line,) = history.stdout.splitlines()
    assert line.startswith("sit-ups: NOT completed - ") and "/6 reps" in line


@pytest.mark.slow
def test_a_demo_hold_lasts_as_many_iterations_as_the_training(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--exercise", "plank", "--rounds", "60", "--seed", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "60 iterations — plank — start" in proc.stdout
    assert "training 60 iterations" in proc.stdout
    assert "plank: completed - " in proc.stdout


@pytest.mark.slow
def test_a_demo_after_an_interrupted_one_verifies_its_own_workout(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "100", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "repfit", "demo", "--speed", "1", "--exercise", "squat",
         "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path)
    try:
        assert first.stdout is not None
        for line in first.stdout:            # the athlete starts once the training is done
            if line.startswith("training "):
                break
        time.sleep(3.0)                      # a few squats in, Ctrl+C
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 130, out + err
    assert "Traceback" not in err and "demo interrupted" in err
    (db,) = (tmp_path / "data").rglob("repfit.sqlite3")
    with Store(db) as store:
        (left,) = store.open_assignments("demo")

    proc = _demo(tmp_path, "--exercise", "pushup", "--seed", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "closed 1 unfinished workout(s) of an interrupted demo" in proc.stdout
    assert "push-ups: completed - 10/10 reps" in proc.stdout
    with Store(db) as store:
        old, new = store.results("demo")
        assert store.open_assignments("demo") == []
    assert (old.assignment_id, old.outcome, old.completed) == (left.id, "cancelled", False)
    assert (new.exercise, new.completed, new.reps) == ("pushup", True, 10)
