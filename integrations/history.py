"""Run history and the assignment outbox, in one SQLite file (``<data_dir>/history.sqlite3``).

This replaces the article's ``curr.log`` / ``prev.log`` pair: every run of an experiment keeps
its validation score per iteration, so a new run can be compared with the previous one at
the same iteration, and assignments wait here until the broker has acknowledged them.

Every method opens its own short-lived connection, so the store can be used from the
publisher's background thread and, for the Ctrl+C penalty, from the training thread. The
object holds only a path: it pickles with the callbacks that carry it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from repfit.integrations.publisher import PendingMessage
from repfit.sqlite_file import SchemaError, is_damage, migrate, quick_check, set_aside

__all__ = ["HistoryStore", "RunRecord"]

log = logging.getLogger(__name__)

_MIGRATIONS = ("""
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL DEFAULT 'running',
    dataset TEXT,
    metric TEXT,
    higher_is_better INTEGER,
    exercise TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment, started_at);
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    iterations INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, iterations)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    message_id TEXT PRIMARY KEY,
    broker TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, broker, created_at);
""",)


@dataclass(frozen=True)
class RunRecord:
    """One stored training run."""

    run_id: str
    experiment: str
    started_at: float
    finished_at: float | None
    status: str
    dataset: str | None
    metric: str | None
    higher_is_better: bool | None
    exercise: str | None


class HistoryStore:
    """Run history and outbox in the SQLite file ``path`` (created on first use).

    Raises
    ------
    sqlite3.DatabaseError
        From any method when the file is not a usable database; callers on the training side
        catch it, warn once and carry on without history.
    """

    def __init__(self, path: Path | str, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> HistoryStore:
        return cls(Path(data_dir) / "history.sqlite3")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            with con:
                yield con
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        """A connection to a file at the current schema. The first one of this object also
        checks the file: a damaged one is moved aside (nothing is deleted; one line says
        where) and a new one started, so the next run still has a history to compare with."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        first = not getattr(self, "_checked", False)
        con = sqlite3.connect(self.path, timeout=self.timeout_s)
        try:
            # synchronous=FULL: an acknowledged write (an outbox entry) survives a power cut.
            con.execute("PRAGMA synchronous=FULL")
            if first:
                quick_check(con)
            if len(_MIGRATIONS) != con.execute("PRAGMA user_version").fetchone()[0]:
                # WAL is a property of the file: set once, readers never block the writer.
                con.execute("PRAGMA journal_mode=WAL")
                migrate(con, _MIGRATIONS, self.path)
        except SchemaError as exc:
            con.close()
            raise sqlite3.DatabaseError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            con.close()
            if not (first and is_damage(exc)):
                raise
            kept = set_aside(self.path)
            log.warning("%s is not a usable run history (%s); kept it as %s and started a new one",
                        self.path, exc, kept.name)
            return self._connect()
        self._checked = True
        return con

    def prepare(self) -> None:
        """Create the file and its schema now (before training), so the first iteration
        only reads."""
        with self._db():
            pass

    # ------------------------------------------------------------------ runs

    def start_run(self, run_id: str, experiment: str, exercise: str | None = None,
                  started_at: float | None = None) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (run_id, experiment, started_at, exercise) "
                "VALUES (?, ?, ?, ?)",
                (run_id, experiment, time.time() if started_at is None else started_at,
                 exercise))

    def add_scores(self, run_id: str, scores: Iterable[tuple[int, float]],
                   metric: tuple[str, str] | None = None,
                   higher_is_better: bool | None = None) -> None:
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scores (run_id, iterations, value) VALUES (?, ?, ?)",
                [(run_id, int(n), float(v)) for n, v in scores])
            if metric is not None:
                db.execute(
                    "UPDATE runs SET dataset = ?, metric = ?, higher_is_better = ? "
                    "WHERE run_id = ?",
                    (metric[0], metric[1],
                     None if higher_is_better is None else int(higher_is_better), run_id))

    def finish_run(self, run_id: str, status: str = "finished",
                   finished_at: float | None = None) -> None:
        with self._db() as db:
            db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                       (status, time.time() if finished_at is None else finished_at, run_id))

    def previous_scores(self, experiment: str, current_run_id: str) -> dict[int, float] | None:
        """Scores of the latest other run of ``experiment`` that recorded any; else ``None``."""
        with self._db() as db:
            row = db.execute(
                "SELECT r.run_id FROM runs r WHERE r.experiment = ? AND r.run_id != ? "
                "AND EXISTS (SELECT 1 FROM scores s WHERE s.run_id = r.run_id) "
                "ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1",
                (experiment, current_run_id)).fetchone()
            if row is None:
                return None
            return dict(db.execute(
                "SELECT iterations, value FROM scores WHERE run_id = ?", (row[0],)).fetchall())

    def runs(self, experiment: str | None = None) -> list[RunRecord]:
        """Stored runs, oldest first (all experiments when ``experiment`` is None)."""
        query = ("SELECT run_id, experiment, started_at, finished_at, status, dataset, metric, "
                 "higher_is_better, exercise FROM runs")
        args: tuple[str, ...] = ()
        if experiment is not None:
            query += " WHERE experiment = ?"
            args = (experiment,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY started_at, rowid", args).fetchall()
        return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                          None if r[7] is None else bool(r[7]), r[8]) for r in rows]

    def scores(self, run_id: str) -> dict[int, float]:
        with self._db() as db:
            return dict(db.execute(
                "SELECT iterations, value FROM scores WHERE run_id = ? ORDER BY iterations",
                (run_id,)).fetchall())

    # ------------------------------------------------------------------ outbox

    def put(self, broker: str, message: PendingMessage) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO outbox (message_id, broker, topic, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (message.message_id, broker, message.topic, message.payload, time.time()))

    def pending(self, broker: str, topic_prefix: str) -> list[PendingMessage]:
        with self._db() as db:
            rows = db.execute(
                "SELECT message_id, topic, payload FROM outbox WHERE delivered_at IS NULL "
                "AND broker = ? AND substr(topic, 1, ?) = ? ORDER BY created_at, rowid",
                (broker, len(topic_prefix), topic_prefix)).fetchall()
        return [PendingMessage(r[0], r[1], bytes(r[2])) for r in rows]

    def delivered(self, message_id: str) -> None:
        with self._db() as db:
            db.execute("UPDATE outbox SET delivered_at = ? WHERE message_id = ? "
                       "AND delivered_at IS NULL", (time.time(), message_id))

    def outbox(self) -> list[tuple[PendingMessage, float | None]]:
        """Every stored assignment with its delivery time (``None`` while pending)."""
        with self._db() as db:
            rows = db.execute("SELECT message_id, topic, payload, delivered_at FROM outbox "
                              "ORDER BY created_at, rowid").fetchall()
        return [(PendingMessage(r[0], r[1], bytes(r[2])), r[3]) for r in rows]
