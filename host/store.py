"""The host's durable record: assignments received and their verified results (SQLite).

One file per user data directory. Writes are single transactions, so a crash never leaves a
half-written result; the schema version lives in ``PRAGMA user_version`` and each migration
is applied once, in order. Daily caps and history queries read from here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType

from repfit import wire

__all__ = ["Store", "StoreError"]

_MIGRATIONS: Sequence[str] = (
    # 1: assignments and results
    """
    CREATE TABLE assignments (
        id          TEXT PRIMARY KEY,
        user        TEXT NOT NULL,
        exercise    TEXT NOT NULL,
        target      REAL NOT NULL,
        unit        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        issued_at   REAL NOT NULL,
        deadline_s  REAL NOT NULL,
        received_at REAL NOT NULL,
        payload     TEXT NOT NULL
    );
    CREATE TABLE results (
        assignment_id TEXT PRIMARY KEY REFERENCES assignments(id),
        user          TEXT NOT NULL,
        exercise      TEXT NOT NULL,
        completed     INTEGER NOT NULL,
        outcome       TEXT NOT NULL,
        reps          INTEGER NOT NULL,
        target        REAL NOT NULL,
        unit          TEXT NOT NULL,
        hold_seconds  REAL,
        rejected      INTEGER NOT NULL,
        reason        TEXT NOT NULL,
        started_at    REAL NOT NULL,
        finished_at   REAL NOT NULL
    );
    CREATE INDEX results_by_user_time ON results(user, finished_at);
    """,
)


class StoreError(RuntimeError):
    """The database file cannot be opened or is not a repfit store."""


class Store:
    """SQLite-backed history; safe to call from worker threads (one lock, one connection).

    Parameters
    ----------
    path : path
        The database file; parent directories are created.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable repfit database: {exc}") from exc

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> Store:
        return cls(Path(data_dir) / "repfit.sqlite3")

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(_MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {version}, newer than this repfit "
                             f"({len(_MIGRATIONS)}); upgrade repfit")
        for number in range(version, len(_MIGRATIONS)):
            self._db.executescript(
                "BEGIN;" + _MIGRATIONS[number] + f"PRAGMA user_version={number + 1}; COMMIT;"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def add_assignment(self, user: str, a: wire.Assignment, received_at: float) -> bool:
        """Record an assignment; False when it was already known (e.g. a retained re-delivery)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO assignments VALUES (?,?,?,?,?,?,?,?,?,?)",
                (a.id, user, a.exercise, a.target, a.unit, a.reason, a.issued_at, a.deadline_s,
                 received_at, json.dumps(asdict(a))),
            )
            return cur.rowcount == 1

    def add_result(self, user: str, r: wire.Result) -> None:
        """Record a verified result (once per assignment; a second write is ignored)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (r.assignment_id, user, r.exercise, int(r.completed), r.outcome, r.reps,
                 r.target, r.unit, r.hold_seconds, r.rejected, r.reason, r.started_at,
                 r.finished_at),
            )

    # ------------------------------------------------------------------ reads

    def has_result(self, assignment_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM results WHERE assignment_id=?",
                                   (assignment_id,)).fetchone()
        return row is not None

    def open_assignments(self, user: str) -> list[wire.Assignment]:
        """Assignments without a result, oldest first (to resume after a restart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM assignments a WHERE user=? AND NOT EXISTS "
                "(SELECT 1 FROM results r WHERE r.assignment_id=a.id) ORDER BY received_at",
                (user,),
            ).fetchall()
        return [wire.Assignment(**json.loads(p)) for (p,) in rows]

    def results(self, user: str, since: float = 0.0) -> list[wire.Result]:
        """Results for ``user`` finished at or after ``since`` (epoch seconds), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT assignment_id, exercise, completed, outcome, reps, target, unit, "
                "hold_seconds, rejected, reason, started_at, finished_at FROM results "
                "WHERE user=? AND finished_at>=? ORDER BY finished_at",
                (user, since),
            ).fetchall()
        return [
            wire.Result(assignment_id=r[0], exercise=r[1], completed=bool(r[2]), outcome=r[3],
                        reps=r[4], target=r[5], unit=r[6], hold_seconds=r[7], rejected=r[8],
                        reason=r[9], started_at=r[10], finished_at=r[11])
            for r in rows
        ]

    # ------------------------------------------------------------------ bookkeeping reads

    def users_with_results(self) -> list[tuple[str, int]]:
        """Every user with stored results and how many, most results first (to say whose
        history there is when the asked-for user has none)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user, COUNT(*) FROM results GROUP BY user ORDER BY COUNT(*) DESC, user"
            ).fetchall()
        return [(str(u), int(n)) for u, n in rows]

    def records(self, user: str | None = None, since: float = 0.0,
                ) -> list[tuple[str, float, wire.Assignment, wire.Result | None]]:
        """Every assignment with its result (None while open) as ``(user, received_at,
        assignment, result)``, oldest first: for history, stats and export.

        ``user`` None: all users. ``since`` (epoch seconds): only assignments received, or
        results finished, at or after it. The result carries the assignment's ``label``.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT a.user, a.received_at, a.payload, r.completed, r.outcome, r.reps, "
                "r.target, r.unit, r.hold_seconds, r.rejected, r.reason, r.started_at, "
                "r.finished_at FROM assignments a LEFT JOIN results r ON r.assignment_id=a.id "
                "WHERE (? IS NULL OR a.user=?) AND (a.received_at>=? OR r.finished_at>=?) "
                "ORDER BY COALESCE(r.finished_at, a.received_at), a.received_at",
                (user, user, since, since),
            ).fetchall()
        known = set(wire.Assignment.__dataclass_fields__)
        out: list[tuple[str, float, wire.Assignment, wire.Result | None]] = []
        for row in rows:
            payload = json.loads(row[2])
            a = wire.Assignment(**{k: v for k, v in payload.items() if k in known})
            r = None if row[3] is None else wire.Result(
                assignment_id=a.id, exercise=a.exercise, completed=bool(row[3]),
                outcome=row[4], reps=row[5], target=row[6], unit=row[7], hold_seconds=row[8],
                rejected=row[9], reason=row[10], started_at=row[11], finished_at=row[12],
                label=a.label)
            out.append((str(row[0]), float(row[1]), a, r))
        return out
