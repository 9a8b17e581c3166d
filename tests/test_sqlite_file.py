"""The SQLite file machinery both stores share: migrations, damage, setting aside."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from repfit.integrations.history import HistoryStore
from repfit.sqlite_file import SchemaError, is_damage, migrate, quick_check, set_aside, version_of

MIGRATIONS = (
    "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n",
    "ALTER TABLE a ADD COLUMN y TEXT;\n-- a comment; with a semicolon\nUPDATE a SET y = 'one';",
)


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def test_migrations_run_once_in_order_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    con = _open(path)
    migrate(con, MIGRATIONS[:1], path)
    assert version_of(con) == 1
    migrate(con, MIGRATIONS, path)
    migrate(con, MIGRATIONS, path)                 # nothing left to do
    assert version_of(con) == 2
    assert con.execute("SELECT x, y FROM a").fetchall() == [(1, "one")]


def test_a_failing_migration_leaves_the_file_at_the_version_before(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    con = _open(path)
    migrate(con, MIGRATIONS[:1], path)
    with pytest.raises(sqlite3.OperationalError):
        migrate(con, (*MIGRATIONS, "CREATE TABLE b (z);\nINSERT INTO nowhere VALUES (1);"), path)
    assert version_of(con) == 1                    # not 2: the whole run was rolled back
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] \
        == ["a"]
    assert not con.in_transaction


def test_a_newer_file_or_another_programs_file_is_refused_untouched(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    con = _open(newer)
    con.execute("PRAGMA user_version=7")
    with pytest.raises(SchemaError, match="schema version 7, newer than this repfit"):
        migrate(con, MIGRATIONS, newer)
    foreign = tmp_path / "foreign.sqlite3"
    con = _open(foreign)
    con.execute("CREATE TABLE theirs (x)")
    with pytest.raises(SchemaError, match="another program"):
        migrate(con, MIGRATIONS, foreign)
    assert version_of(con) == 0


def _migrate_in_child(path: str) -> None:
    migrate(_open(Path(path)), MIGRATIONS, Path(path))


def test_processes_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate_in_child, args=(str(path),)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    con = _open(path)
    assert version_of(con) == 2
    assert con.execute("SELECT x, y FROM a").fetchall() == [(1, "one")]  # one insert


def test_damage_is_told_apart_and_set_aside_with_its_journal(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    path.write_bytes(b"not a database at all" * 200)
    (tmp_path / "f.sqlite3-wal").write_bytes(b"wal")
    with pytest.raises(sqlite3.DatabaseError) as caught:
        quick_check(_open(path))
    assert is_damage(caught.value)
    assert not is_damage(sqlite3.OperationalError("database is locked"))
    kept = set_aside(path, now=0)
    assert not path.exists() and kept.read_bytes().startswith(b"not a database")
    assert kept.with_name(kept.name + "-wal").read_bytes() == b"wal"
    path.write_bytes(b"again")
    assert set_aside(path, now=0).name == kept.name + "-2"


def test_the_history_schema_stays_at_version_1_so_files_of_earlier_releases_open(
        tmp_path: Path) -> None:
    store = HistoryStore.in_dir(tmp_path)
    store.start_run("r1", "exp")
    store.add_scores("r1", [(100, 0.5)])
    con = _open(store.path)
    assert version_of(con) == 1                    # the version history files always had
    reopened = HistoryStore.in_dir(tmp_path)
    assert reopened.scores("r1") == {100: 0.5}
    assert [r.run_id for r in reopened.runs("exp")] == ["r1"]
