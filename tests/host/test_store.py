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
    assert db.execute("PRAGMA user_version").fetchone() == (5,)


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


def test_the_open_set_and_the_publication_are_recorded(tmp_path: Path) -> None:
    from repfit.host.store import SavedSet

    with Store.in_dir(tmp_path) as store:
        store.add_assignment("ada", A, received_at=101.0)
        assert store.saved_set("a1") is None                      # not started
        assert store.start_set("a1", 102.0) == 102.0
        assert store.start_set("a1", 999.0) == 102.0              # the first start counts
        store.save_set(SavedSet("a1", 102.0, reps=2, rep_times=(("w", 1.0), ("w", 3.0))),
                       at=103.0)
        store.save_set(SavedSet("a1", 102.0, reps=3, rejected=1, last_reason="too small",
                                rep_times=(("w", 1.0), ("w", 3.0), ("t", 5.0))), at=104.0)
    with Store.in_dir(tmp_path) as store:
        assert store.saved_set("a1") == SavedSet(
            "a1", 102.0, reps=3, rejected=1, last_reason="too small",
            rep_times=(("w", 1.0), ("w", 3.0), ("t", 5.0)))
        store.add_result("ada", R)
        assert store.unpublished_results("ada") == [R]
        store.mark_published("a1", 170.0)
        assert store.unpublished_results("ada") == []


def test_a_result_brings_its_assignment_when_that_could_not_be_stored(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        store.add_result("ada", R, 170.0, assignment=A)
        assert store.results("ada") == [R] and store.open_assignments("ada") == []


def test_a_damaged_file_is_set_aside_with_its_journal(tmp_path: Path) -> None:
    from repfit.host.store import StoreDamaged

    path = tmp_path / "repfit.sqlite3"
    path.write_bytes(b"\x00garbage" * 1000)
    (tmp_path / "repfit.sqlite3-wal").write_bytes(b"wal")
    with pytest.raises(StoreDamaged):
        Store(path)
    with Store.recovering(tmp_path) as store:
        assert store.results("ada") == []
    (kept,) = tmp_path.glob("repfit.sqlite3.damaged-*[0-9]")
    assert kept.read_bytes() == b"\x00garbage" * 1000
    assert (tmp_path / f"{kept.name}-wal").read_bytes() == b"wal"


def test_read_only_creates_nothing(tmp_path: Path) -> None:
    from repfit.host.store import StoreMissing

    with pytest.raises(StoreMissing):
        Store.read_only_in(tmp_path / "none")
    assert not (tmp_path / "none").exists()
