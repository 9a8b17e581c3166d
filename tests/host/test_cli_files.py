"""What `repfit` does with files it cannot use: one clear line, a way out, nothing created
by commands that only read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.store import Store


def run(tmp_path: Path, *argv: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    if home is not None:
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_DATA_HOME=str(home / ".local"))
        env.pop("MPLCONFIGDIR", None)
    return subprocess.run([sys.executable, "-m", "repfit", *argv], capture_output=True,
                          text=True, timeout=120, env=env)


def test_an_unusable_data_dir_is_one_line(tmp_path: Path, mosquitto: MqttSettings) -> None:
    (tmp_path / "a-file").write_text("a file where a folder should be")
    proc = run(tmp_path, "host", "--broker", mosquitto.url, "--user", "ada", "--data-dir",
               str(tmp_path / "a-file" / "repfit"), "--no-sound")
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"cannot use {tmp_path / 'a-file' / 'repfit'} as the data directory" in line
    assert "--data-dir" in line and "Traceback" not in proc.stderr


def test_the_host_keeps_a_damaged_file_aside_and_starts_afresh(
        tmp_path: Path, mosquitto: MqttSettings, user: str) -> None:
    db = tmp_path / "repfit.sqlite3"
    with Store(db) as store:
        store.add_assignment(user, wire.Assignment(id="old", exercise="squat", target=5), 1.0)
    damaged = bytearray(db.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)           # the schema page, overwritten
    db.write_bytes(bytes(damaged))
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    host = subprocess.Popen(
        [sys.executable, "-m", "repfit", "host", "--broker", mosquitto.url, "--user", user,
         "--data-dir", str(tmp_path), "--no-sound"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert host.stdout is not None
        first = host.stdout.readline()               # the banner: it got past the store
    finally:
        host.terminate()
        _, err = host.communicate(timeout=30)
    assert "repfit host for" in first, err
    (kept,) = tmp_path.glob("repfit.sqlite3.damaged-*[0-9]")
    assert kept.read_bytes()[:4096] == bytes(damaged[:4096])
    assert "is not a usable repfit database" in err and f"kept it as {kept.name}" in err
    assert "Traceback" not in err
    with Store(db) as store:                             # the fresh one works
        assert store.open_assignments(user) == []


def test_history_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "nowhere" / "repfit"
    proc = run(tmp_path, "history", "--user", "ada", "--data-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert "no results for ada: nothing stored yet" in proc.stdout
    assert not (tmp_path / "nowhere").exists()


def test_history_reads_without_writing(tmp_path: Path) -> None:
    r = wire.Result(assignment_id="a", exercise="squat", completed=True,
                    outcome="target_reached", reps=5, target=5, started_at=1.0,
                    finished_at=2.0e9)
    with Store.in_dir(tmp_path) as store:
        store.add_assignment("ada", wire.Assignment(id="a", exercise="squat", target=5), 1.0)
        store.add_result("ada", r, published_at=2.0e9)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    proc = run(tmp_path, "history", "--user", "ada", "--data-dir", str(tmp_path),
               "--days", "100000")
    assert proc.returncode == 0 and ": completed - 5/5 reps" in proc.stdout, proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()
            if p.name != "cfg"} == before


@pytest.mark.slow
def test_count_plot_creates_no_folder(tmp_path: Path) -> None:
    t = np.arange(0, 20, 0.02)
    csv = tmp_path / "rec.csv"
    csv.write_text("t,ax,ay,az\n" + "".join(f"{x:.2f},0,{np.sin(x):.3f},1\n" for x in t))
    home = tmp_path / "home"
    home.mkdir()
    missing = run(tmp_path, "count", "--exercise", "squat", str(csv), "--plot",
                  str(tmp_path / "typo" / "out.png"), home=home)
    assert missing.returncode == 2 and "the folder" in missing.stderr
    assert not (tmp_path / "typo").exists()
    proc = run(tmp_path, "count", "--exercise", "squat", str(csv), "--plot",
               str(tmp_path / "out.png"), home=home)
    if "needs matplotlib" in proc.stderr:
        return
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.png").is_file()
    assert list(home.iterdir()) == []


def test_a_read_only_data_dir_is_one_line(tmp_path: Path, mosquitto: MqttSettings) -> None:
    data, view = tmp_path / "data", tmp_path / "read-only"
    data.mkdir()
    view.mkdir()
    Store.in_dir(data).close()
    mounted = subprocess.run(["mount", "--bind", str(data), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot make a read-only bind mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        proc = run(tmp_path, "host", "--broker", mosquitto.url, "--user", "ada", "--data-dir",
                   str(view), "--no-sound")
    finally:
        subprocess.run(["umount", str(view)], check=False)
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"cannot use {view / 'repfit.sqlite3'}" in line
    assert "the data directory must be writable" in line and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["history", "stats", "export"])
def test_a_file_as_data_dir_of_a_reading_command_is_one_line(tmp_path: Path,
                                                             command: str) -> None:
    (tmp_path / "a-file").write_text("a file where a folder should be")
    proc = run(tmp_path, command, "--data-dir", str(tmp_path / "a-file"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("repfit: configuration error: --data-dir: expected a directory")
    assert proc.stdout == "" and (tmp_path / "a-file").read_text().startswith("a file")


@pytest.mark.parametrize("command", ["demo", "history", "stats", "done"])
def test_a_user_name_that_cannot_be_a_topic_is_one_line(tmp_path: Path, command: str) -> None:
    proc = run(tmp_path, command, "--user", "bad name")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == ("repfit: configuration error: --user: expected 1-64 letters, digits, "
                    "'_' or '-', got 'bad name'")


def test_a_broker_url_that_cannot_work_is_reported_before_the_wearable_is_looked_for(
        tmp_path: Path) -> None:
    proc = run(tmp_path, "host", "--broker", "foo://x", "--device", "X", "--data-dir",
               str(tmp_path / "store"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("repfit: configuration error: --broker: expected a URL like mqtt://")
    assert "scanning" not in proc.stdout + proc.stderr and not (tmp_path / "store").exists()


def test_an_unknown_position_stops_the_host_with_one_line(tmp_path: Path,
                                                          mosquitto: MqttSettings) -> None:
    proc = run(tmp_path, "host", "--broker", f"mqtt://127.0.0.1:{mosquitto.port}",
               "--data-dir", str(tmp_path / "data"), "--position", "ankle")
    assert proc.returncode == 2
    assert "--position: expected where the sensor is worn: wrist, upper_arm, chest, thigh" \
        in proc.stderr
    assert not (tmp_path / "data").exists()
