"""The SQLite store: durable, idempotent, migrates, refuses foreign files clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from repfit import wire
from repfit.host.store import Store, StoreError

A = wire.Assignment(id="a1", exercise="squat", target=10, issued_at=100.0)
R = wire.Result(assignment_id="a1", exercise="squat", completed=True, outcome="target_reached",
                reps=10, target=10, started_at=100.0, finished_at=160.0)


def test_assignment_then_result_survive_reopening(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        assert store.add_assignment("ada", A, received_at=101.0)
        assert not store.add_assignment("ada", A, received_at=102.0)  # re-delivery
        assert store.open_assignments("ada") == [A]
        store.add_result("ada", R)
        store.add_result("ada", R)  # idempotent
    with Store.in_dir(tmp_path) as store:
        assert store.has_result("a1")
        assert store.open_assignments("ada") == []
        assert store.results("ada") == [R]
        assert store.results("ada", since=161.0) == []
        assert store.results("bob") == []


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    Store.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "repfit.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone() == (2,)


def test_garbage_file_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "repfit.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable repfit database"):
        Store(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "repfit.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="newer than this repfit"):
        Store(path)
