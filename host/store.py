"""The host's durable record: assignments received and their verified results (SQLite).

One file per user data directory. Writes are single transactions, so a crash never leaves a
half-written result; the schema version lives in ``PRAGMA user_version`` and each migration
is applied once, in order. Daily caps and history queries read from here.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from repfit import wire

__all__ = ["OutboxItem", "QueuedPost", "Store", "StoreError"]

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
    # 2: the outbox of accountability posts (repfit.host.posts), one row per service and
    # post; ``key`` is the idempotency key that keeps a post from being queued or sent twice.
    """
    CREATE TABLE post_outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        key           TEXT NOT NULL UNIQUE,
        service       TEXT NOT NULL,
        user          TEXT NOT NULL,
        kind          TEXT NOT NULL,
        assignment_id TEXT,
        text          TEXT NOT NULL,
        state         TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        not_before    REAL NOT NULL,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        error         TEXT,
        receipt       TEXT,
        told          INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX post_outbox_due ON post_outbox(state, not_before);
    """,
)

#: States of an outbox row. ``sending`` is written (and committed) before the service is
#: called, so a row found in it after a restart is "in doubt": it may have been posted.
OUTBOX_STATES = ("pending", "sending", "sent", "failed", "dropped")


@dataclass(frozen=True)
class QueuedPost:
    """A post to queue: ``key`` is unique across the outbox (a second queueing is ignored)."""

    key: str
    service: str
    user: str
    kind: str
    text: str
    not_before: float
    assignment_id: str | None = None


@dataclass(frozen=True)
class OutboxItem:
    """One stored outbox row."""

    id: int
    key: str
    service: str
    user: str
    kind: str
    assignment_id: str | None
    text: str
    state: str
    attempts: int
    not_before: float
    created_at: float
    updated_at: float
    error: str | None
    receipt: str | None
    told: bool


_OUTBOX_COLUMNS = ("id, key, service, user, kind, assignment_id, text, state, attempts, "
                   "not_before, created_at, updated_at, error, receipt, told")


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

    def add_result(self, user: str, r: wire.Result, posts: Sequence[QueuedPost] = (),
                   now: float | None = None) -> None:
        """Record a verified result (once per assignment; a second write is ignored) and queue
        its ``posts`` in the same transaction: a result is never stored without its posts,
        nor a post queued for a result that was not stored. ``now`` (epoch seconds, default the
        clock) stamps the posts."""
        with self._transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (r.assignment_id, user, r.exercise, int(r.completed), r.outcome, r.reps,
                 r.target, r.unit, r.hold_seconds, r.rejected, r.reason, r.started_at,
                 r.finished_at),
            )
            if cur.rowcount == 1:
                self._queue_posts(posts, now)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Hold the lock; commit everything inside at once, or nothing on an error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def queue_posts(self, posts: Sequence[QueuedPost], now: float | None = None) -> int:
        """Queue posts that belong to no single result (daily summaries, test posts); how
        many were new (a key already queued is ignored)."""
        with self._transaction():
            return self._queue_posts(posts, now)

    def _queue_posts(self, posts: Sequence[QueuedPost], now: float | None) -> int:
        now = time.time() if now is None else now
        added = 0
        for p in posts:
            cur = self._db.execute(
                "INSERT INTO post_outbox (key, service, user, kind, assignment_id, "
                "text, state, not_before, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,'pending',?,?,?) ON CONFLICT(key) DO NOTHING",
                (p.key, p.service, p.user, p.kind, p.assignment_id, p.text, p.not_before,
                 now, now))
            added += cur.rowcount
        return added

    def outbox_update(self, item_id: int, state: str, now: float, *,
                      not_before: float | None = None, error: str | None = None,
                      receipt: str | None = None, attempt: bool = False,
                      told: bool | None = None) -> None:
        """Move an outbox row to ``state`` (one committed write: see `OUTBOX_STATES`)."""
        if state not in OUTBOX_STATES:
            raise ValueError(f"unknown outbox state {state!r}")
        with self._transaction():
            self._db.execute(
                "UPDATE post_outbox SET state=?, updated_at=?, "
                "not_before=COALESCE(?, not_before), error=?, receipt=COALESCE(?, receipt), "
                "attempts=attempts+?, told=COALESCE(?, told) WHERE id=?",
                (state, now, not_before, error, receipt, int(attempt),
                 None if told is None else int(told), item_id))

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

    def outbox(self, states: Sequence[str] = OUTBOX_STATES, item_id: int | None = None,
               ) -> list[OutboxItem]:
        """Outbox rows in ``states`` (or the one ``item_id``), oldest first."""
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM post_outbox WHERE state IN ({marks}) "
                "AND (? IS NULL OR id=?) ORDER BY not_before, id",
                (*states, item_id, item_id)).fetchall()
        return [OutboxItem(id=r[0], key=r[1], service=r[2], user=r[3], kind=r[4],
                           assignment_id=r[5], text=r[6], state=r[7], attempts=r[8],
                           not_before=r[9], created_at=r[10], updated_at=r[11], error=r[12],
                           receipt=r[13], told=bool(r[14])) for r in rows]

    def outbox_keys(self, prefix: str) -> list[str]:
        """Idempotency keys that start with ``prefix`` (e.g. which daily summaries exist)."""
        with self._lock:
            rows = self._db.execute("SELECT key FROM post_outbox WHERE substr(key, 1, ?)=?",
                                    (len(prefix), prefix)).fetchall()
        return [str(k) for (k,) in rows]

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
