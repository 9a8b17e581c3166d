"""What every repfit SQLite file shares: numbered migrations, damage told apart from a busy
or full disk, and a damaged file moved aside rather than deleted.

Two files use it: the host's books (`repfit.host.store`) and the training side's run history
(`repfit.integrations.history`). They stay two files because they live on two sides — the
training machine and the machine the host runs on need not be the same one — but they
version, migrate and recover the same way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SchemaError", "is_damage", "migrate", "quick_check", "set_aside", "version_of"]

# SQLite's primary result codes for a damaged file and for a file that is not a database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class SchemaError(ValueError):
    """The file's schema is not one this repfit can use (newer, or another program's)."""


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Corrupt or not a database at all, as opposed to busy, locked, read-only or full."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or not isinstance(
        exc, sqlite3.OperationalError)


def version_of(con: sqlite3.Connection) -> int:
    """The schema version on record (``PRAGMA user_version``; 0 for a new file)."""
    (version,) = con.execute("PRAGMA user_version").fetchone()
    return int(version)


def quick_check(con: sqlite3.Connection) -> None:
    """Read the header and run SQLite's quick check, so damage is found when the file is
    opened rather than in the middle of a write.

    Raises
    ------
    sqlite3.DatabaseError
        The file is damaged (`is_damage` says so) or not a database.
    """
    version_of(con)
    (verdict,) = con.execute("PRAGMA quick_check(1)").fetchone()
    if verdict != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")


def migrate(con: sqlite3.Connection, migrations: Sequence[str], path: Path) -> None:
    """Apply the migrations the file has not had yet, each in one transaction with its new
    version number, so a crash leaves the file at one version or the next, never between.

    ``BEGIN IMMEDIATE`` takes
    the write lock before the version is read again: of two processes opening a new file at
    once, the second finds the first one's migration done instead of repeating it.

    Raises
    ------
    SchemaError
        The file is newer than ``migrations`` knows, or holds another program's tables.
    """
    newest = len(migrations)
    if version_of(con) == newest:
        return
    level = con.isolation_level
    con.isolation_level = None      # the transaction is this function's own, explicit one
    con.execute("BEGIN IMMEDIATE")
    try:
        version = version_of(con)
        if version > newest:
            raise SchemaError(f"{path} has schema version {version}, newer than this repfit "
                              f"({newest}); upgrade repfit")
        if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise SchemaError(f"{path} is an SQLite database of another program, not a "
                              "repfit file")
        for number in range(version, newest):
            for statement in _statements(migrations[number]):
                con.execute(statement)
            con.execute(f"PRAGMA user_version={number + 1}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.isolation_level = level


def _statements(script: str) -> list[str]:
    """A migration script split into its statements (``executescript`` would commit the
    transaction `migrate` holds)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


def set_aside(path: Path | str, now: float | None = None) -> Path:
    """Move a damaged database (and its journal files) aside under a timestamped name, so a
    fresh one can be started and nothing is deleted. Returns the new name."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(target.with_name(target.name + suffix))
    return target
