"""The host's durable record: assignments received, the open set's progress, and verified
results with when they were published (SQLite).

One file per user data directory. Writes are single transactions, so a crash never leaves a
half-written result; the schema version lives in ``PRAGMA user_version`` and each migration
is applied once, in order. Daily caps and history queries read from here.

A file that SQLite cannot read is `StoreDamaged`: the host moves it aside
(`Store.set_aside`) and starts a fresh one; read-only commands open the store with
`Store.read_only`, which never creates a directory or a file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from repfit import wire
from repfit.host.admission import Admission
from repfit.host.lifecycle import allowed_next, final_state
from repfit.sqlite_file import (
    SchemaError,
    is_damage,
    migrate,
    quick_check,
    set_aside,
    version_of,
)

__all__ = ["FILE_NAME", "OUTBOX_STATES", "Judge", "OutboxItem", "PostPicture", "QueuedPost",
           "SavedSet", "Store", "StoreDamaged", "StoreError", "StoreMissing"]

#: Decides the fate of an arriving assignment from the records of its day (`Store.admit`).
Judge = Callable[[list[tuple[wire.Assignment, wire.Result | None]]], Admission]

log = logging.getLogger(__name__)

#: The database's name inside a data directory.
FILE_NAME = "repfit.sqlite3"

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
    # 2: the open set's progress as it happens (it survives kill -9), and when each result
    # reached the broker (a result stored while the broker was away is published at the next
    # start). Results stored by earlier versions were published when they were stored.
    """
    ALTER TABLE assignments ADD COLUMN started_at REAL;
    CREATE TABLE set_progress (
        assignment_id TEXT PRIMARY KEY REFERENCES assignments(id),
        reps          INTEGER NOT NULL,
        hold_seconds  REAL,
        rejected      INTEGER NOT NULL,
        last_reason   TEXT,
        updated_at    REAL NOT NULL
    );
    CREATE TABLE set_reps (
        assignment_id TEXT NOT NULL REFERENCES assignments(id),
        number        INTEGER NOT NULL,
        device        TEXT NOT NULL,
        t             REAL NOT NULL,
        counted_at    REAL NOT NULL,
        PRIMARY KEY (assignment_id, number)
    );
    ALTER TABLE results ADD COLUMN published_at REAL;
    UPDATE results SET published_at = finished_at;
    """,
    # 3: every assignment's life (received, announced, in progress, ... with its time), the
    # results users reported without a wearable (verified = 0), and why a result ended when
    # its outcome alone does not say (the daily cap that applied). Results stored by earlier
    # versions were all verified by the host.
    """
    CREATE TABLE transitions (
        assignment_id TEXT NOT NULL REFERENCES assignments(id),
        state         TEXT NOT NULL,
        at            REAL NOT NULL,
        detail        TEXT,
        PRIMARY KEY (assignment_id, state)
    );
    ALTER TABLE results ADD COLUMN verified INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE results ADD COLUMN detail TEXT;
    CREATE INDEX assignments_by_user_time ON assignments(user, received_at);
    """,
    # 4: the outbox of accountability posts (repfit.host.posts), one row per service and
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
    # 5: pictures of sets for posts that carry one: the set's samples (compressed, see
    # repfit.host.setsamples), stored with the result and its posts and drawn when a post is
    # sent; kept while a post that shows it is not yet sent or dropped.
    """
    CREATE TABLE post_pictures (
        assignment_id TEXT PRIMARY KEY REFERENCES assignments(id),
        samples       BLOB NOT NULL,
        alt           TEXT NOT NULL,
        created_at    REAL NOT NULL
    );
    ALTER TABLE post_outbox ADD COLUMN picture INTEGER NOT NULL DEFAULT 0;
    """,
)


@dataclass(frozen=True, repr=False)
class PostPicture:
    """What a post's picture is drawn from: the set's samples (`SetSamples.to_bytes`) and
    the alt text that describes it."""

    samples: bytes
    alt: str

    def __repr__(self) -> str:
        return f"PostPicture({len(self.samples)} bytes, alt={self.alt!r})"


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
    #: The set's picture, stored once per assignment with the first post that carries it.
    picture: PostPicture | None = None


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
    #: Sent with the set's picture (`Store.post_picture`).
    picture: bool = False


_OUTBOX_COLUMNS = ("id, key, service, user, kind, assignment_id, text, state, attempts, "
                   "not_before, created_at, updated_at, error, receipt, told")


@dataclass(frozen=True)
class SavedSet:
    """An open set as the store last saw it: what a restarted host resumes from.

    ``reps``, ``hold_seconds`` and ``rejected`` are the set's totals when it was saved;
    ``rep_times`` holds each counted rep as (device, device-clock time), in order.
    """

    assignment_id: str
    started_at: float
    reps: int = 0
    hold_seconds: float | None = None
    rejected: int = 0
    last_reason: str | None = None
    rep_times: tuple[tuple[str, float], ...] = ()


class StoreError(RuntimeError):
    """The database file cannot be opened or is not a repfit store."""


class StoreDamaged(StoreError):
    """The file exists but SQLite cannot read it as a database (damaged or foreign)."""


class StoreMissing(StoreError):
    """A read-only command found no database: nothing has been stored yet."""


class Store:
    """SQLite-backed history; safe to call from worker threads (one lock, one connection).

    Parameters
    ----------
    path : path
        The database file; parent directories are created (unless ``read_only``).
    read_only : bool
        Open an existing file for reading only (`StoreMissing` when there is none).

    Raises
    ------
    StoreError
        The directory cannot be created or written (one line says which and why), or the
        schema is newer than this repfit.
    StoreDamaged
        The file is not a readable SQLite database.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        # Re-entrant: a post planned inside a write (`admit`'s ``posts``) reads the store from
        # the same thread, inside the same transaction.
        self._lock = threading.RLock()
        self._on_queued: list[Callable[[], None]] = []
        if read_only:
            if not self.path.is_file():
                raise StoreMissing(f"no history yet: {self.path} does not exist")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot use {self.path.parent} as the data directory: "
                                 f"{exc.strerror or exc} (choose another with --data-dir)"
                                 ) from None
        if not read_only and self.path.exists():
            self._check_before_writing()
        try:
            if read_only:
                # With no write-ahead log beside it, no host has the file open: reading it
                # as immutable leaves no -wal/-shm files behind.
                idle = not self.path.with_name(self.path.name + "-wal").exists()
                uri = f"{self.path.resolve().as_uri()}?mode=ro{'&immutable=1' * idle}"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                           isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        try:
            self._check()
            if read_only:
                version = version_of(self._db)
                if version > len(_MIGRATIONS):
                    raise StoreError(f"{self.path} has schema version {version}, newer than "
                                     f"this repfit ({len(_MIGRATIONS)}); upgrade repfit")
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if is_damage(exc):
                raise StoreDamaged(f"{self.path} is not a usable repfit database: {exc}"
                                   ) from None
            hint = "" if read_only else (" (the data directory must be writable; choose "
                                         "another with --data-dir)")
            raise StoreError(f"cannot use {self.path}: {exc}{hint}") from None
        except StoreError:
            self._db.close()
            raise
        version = version_of(self._db)
        # A read-only command may find a store an earlier repfit wrote (not migrated yet):
        # its results were all verified and carry no detail.
        self._extra = "r.verified, r.detail" if version >= 3 else "1, NULL"
        self._picture = "picture" if version >= 5 else "0"

    @classmethod
    def in_dir(cls, data_dir: Path | str, *, read_only: bool = False) -> Store:
        return cls(Path(data_dir) / FILE_NAME, read_only=read_only)

    @classmethod
    def recovering(cls, data_dir: Path | str) -> Store:
        """The store of ``data_dir`` for the host: a damaged file is moved aside (one line
        says where) and a fresh one is started, so the host can go on verifying."""
        path = Path(data_dir) / FILE_NAME
        try:
            return cls(path)
        except StoreDamaged as exc:
            kept = cls.set_aside(path)
            log.warning("%s; kept it as %s and started a new one", exc, kept.name)
            return cls(path)

    @classmethod
    def read_only_in(cls, data_dir: Path | str) -> Store:
        """The store of ``data_dir`` for reading; creates nothing (`StoreMissing` if absent)."""
        return cls.in_dir(data_dir, read_only=True)

    @staticmethod
    def set_aside(path: Path | str, now: float | None = None) -> Path:
        """Move a damaged database (and its journal files) aside under a timestamped name,
        so a fresh one can be started and nothing is deleted. Returns the new name."""
        return set_aside(path, now)

    def _check_before_writing(self) -> None:
        """Look for damage through a read-only connection first: a read-write connection
        to a damaged file could checkpoint into it or delete its write-ahead log, and
        what is set aside must be what was found."""
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return                      # the read-write open below says what is wrong
        try:
            (verdict,) = probe.execute("PRAGMA quick_check(1)").fetchone()
            if verdict != "ok":
                raise StoreDamaged(f"{self.path} is not a usable repfit database: database "
                                   f"disk image is malformed ({verdict})")
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreDamaged(f"{self.path} is not a usable repfit database: {exc}"
                                   ) from None
        finally:
            probe.close()

    def _check(self) -> None:
        quick_check(self._db)

    def _migrate(self) -> None:
        try:
            migrate(self._db, _MIGRATIONS, self.path)
        except SchemaError as exc:
            raise StoreError(str(exc)) from None

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
            return self._insert_assignment(user, a, received_at)

    def _insert_assignment(self, user: str, a: wire.Assignment, received_at: float) -> bool:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO assignments (id, user, exercise, target, unit, reason, "
            "issued_at, deadline_s, received_at, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (a.id, user, a.exercise, a.target, a.unit, a.reason, a.issued_at, a.deadline_s,
             received_at, json.dumps(asdict(a))),
        )
        return cur.rowcount == 1

    def add_result(self, user: str, r: wire.Result, published_at: float | None = None, *,
                   assignment: wire.Assignment | None = None,
                   posts: Sequence[QueuedPost] = (), now: float | None = None) -> None:
        """Record a verified result (once per assignment; a second write is ignored).

        ``published_at`` is when the broker acknowledged it, if that is known already;
        otherwise `mark_published` records it later and `unpublished_results` lists it.
        ``assignment`` is recorded in the same transaction if it is not yet (it could not be
        stored when it arrived, e.g. on a full disk). ``posts`` are queued in the same
        transaction too: a result is never stored without its posts, nor a post queued for a
        result that was not stored; ``now`` (epoch seconds, default the clock) stamps them."""
        with self._transaction():
            if assignment is not None:
                self._insert_assignment(user, assignment, r.started_at)
            queued = self._insert_result(user, r, published_at) and self._queue_posts(posts,
                                                                                      now)
        if queued:
            self._queued()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Hold the lock; commit everything inside at once, or nothing on an error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:     # SQLite rolls back by itself on a full disk
                    self._db.execute("ROLLBACK")
                raise

    def queue_posts(self, posts: Sequence[QueuedPost], now: float | None = None) -> int:
        """Queue posts that belong to no single result (daily summaries, test posts); how
        many were new (a key already queued is ignored)."""
        with self._transaction():
            added = self._queue_posts(posts, now)
        if added:
            self._queued()
        return added

    def when_queued(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the writing thread, after the commit) whenever posts were
        queued: the outbox worker wakes instead of waiting for its next look. Returns what
        stops it."""
        self._on_queued.append(callback)
        return lambda: self._on_queued.remove(callback)

    def _queued(self) -> None:
        for callback in self._on_queued:
            try:
                callback()
            except Exception:   # a listener must never undo or fail a stored result
                log.exception("a listener of queued posts failed")

    def _queue_posts(self, posts: Sequence[QueuedPost], now: float | None) -> int:
        now = time.time() if now is None else now
        added = 0
        for p in posts:
            pictured = p.picture is not None and p.assignment_id is not None
            cur = self._db.execute(
                "INSERT INTO post_outbox (key, service, user, kind, assignment_id, "
                "text, state, not_before, created_at, updated_at, picture) "
                "VALUES (?,?,?,?,?,?,'pending',?,?,?,?) ON CONFLICT(key) DO NOTHING",
                (p.key, p.service, p.user, p.kind, p.assignment_id, p.text, p.not_before,
                 now, now, int(pictured)))
            added += cur.rowcount
            if cur.rowcount and p.picture is not None and pictured:
                self._db.execute(
                    "INSERT INTO post_pictures VALUES (?,?,?,?) "
                    "ON CONFLICT(assignment_id) DO NOTHING",
                    (p.assignment_id, p.picture.samples, p.picture.alt, now))
        return added

    def post_picture(self, assignment_id: str) -> PostPicture | None:
        """What the picture of ``assignment_id``'s posts is drawn from, while kept."""
        if self._picture == "0":    # a store an earlier repfit wrote keeps none
            return None
        with self._lock:
            row = self._db.execute("SELECT samples, alt FROM post_pictures WHERE "
                                   "assignment_id=?", (assignment_id,)).fetchone()
        return None if row is None else PostPicture(bytes(row[0]), str(row[1]))

    def prune_pictures(self) -> int:
        """Forget the pictures no post waits for any more (all sent or dropped); how many."""
        with self._transaction():
            cur = self._db.execute(
                "DELETE FROM post_pictures WHERE NOT EXISTS (SELECT 1 FROM post_outbox o "
                "WHERE o.assignment_id=post_pictures.assignment_id AND o.picture=1 AND "
                "o.state IN ('pending', 'sending', 'failed'))")
            return cur.rowcount

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

    def _insert_result(self, user: str, r: wire.Result, published_at: float | None) -> bool:
        """The result row and the final state it puts its assignment in (in the caller's
        transaction); a second result for an assignment is ignored (False)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO results (assignment_id, user, exercise, completed, outcome, "
            "reps, target, unit, hold_seconds, rejected, reason, started_at, finished_at, "
            "published_at, verified, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r.assignment_id, user, r.exercise, int(r.completed), r.outcome, r.reps,
             r.target, r.unit, r.hold_seconds, r.rejected, r.reason, r.started_at,
             r.finished_at, published_at, int(r.verified), r.detail),
        )
        if cur.rowcount != 1:
            return False
        self._transition(r.assignment_id, final_state(r), r.finished_at, r.detail)
        return True

    def _transition(self, assignment_id: str, state: wire.State, at: float,
                    detail: str | None = None) -> bool:
        """Record a step of the assignment's life when the lifecycle table allows it from
        its last recorded state (in the caller's transaction); False when it does not."""
        row = self._db.execute("SELECT state FROM transitions WHERE assignment_id=? ORDER BY "
                               "rowid DESC LIMIT 1", (assignment_id,)).fetchone()
        known = self._db.execute("SELECT 1 FROM assignments WHERE id=?",
                                 (assignment_id,)).fetchone()
        if known is None or state not in allowed_next(row[0] if row else None):
            return False
        self._db.execute("INSERT OR IGNORE INTO transitions VALUES (?,?,?,?)",
                         (assignment_id, state, at, detail))
        return True

    def admit(self, user: str, a: wire.Assignment, received_at: float,
              day: tuple[float, float], judge: Judge,
              posts: Callable[[wire.Result], Sequence[QueuedPost]] | None = None,
              ) -> Admission | None:
        """Record an arriving assignment and its fate in one transaction; None when it was
        already known (a re-delivery, or another host on this store recorded it first).

        ``judge`` gets every assignment of ``user`` received within ``day`` (epoch seconds,
        start inclusive, end exclusive) with its result, and decides. The write lock is taken
        before they are read (``BEGIN IMMEDIATE``), so two hosts on one store never both
        take the last slot of a daily cap. The assignment is then *received* and *announced*,
        or *received* and closed by the judge's result (*capped*, *missed*): then
        ``posts(result)``, called inside the transaction (it may read this store), gives the
        posts queued with it, so a set closed on arrival shows like any other.
        """
        queued = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM assignments WHERE id=?",
                                    (a.id,)).fetchone() is not None:
                    self._db.execute("COMMIT")
                    return None
                admission = judge(self._day(user, *day))
                self._insert_assignment(user, a, received_at)
                self._transition(a.id, "received", received_at)
                if admission.result is None:
                    self._transition(a.id, "announced", received_at)
                elif self._insert_result(user, admission.result, None) and posts is not None:
                    queued = self._queue_posts(posts(admission.result), received_at)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if queued:
            self._queued()
        return admission

    def _day(self, user: str, start: float, end: float,
             ) -> list[tuple[wire.Assignment, wire.Result | None]]:
        return [(a, r) for _, _, a, r in self._records(
            "a.user=? AND a.received_at>=? AND a.received_at<?", (user, start, end))]

    def transition(self, assignment_id: str, state: wire.State, at: float,
                   detail: str | None = None) -> bool:
        """Record one step of an assignment's life (see `repfit.host.lifecycle`); False when
        the lifecycle does not allow it from the last recorded state (nothing is written)."""
        with self._lock:
            return self._transition(assignment_id, state, at, detail)

    def transitions(self, assignment_id: str) -> list[tuple[wire.State, float, str | None]]:
        """The assignment's life so far as (state, time, detail), in order."""
        with self._lock:
            rows = self._db.execute("SELECT state, at, detail FROM transitions WHERE "
                                    "assignment_id=? ORDER BY rowid", (assignment_id,)).fetchall()
        return [(r[0], float(r[1]), r[2]) for r in rows]

    def mark_published(self, assignment_id: str, at: float) -> None:
        """Record that the broker acknowledged the result (the first time counts)."""
        with self._lock:
            self._db.execute("UPDATE results SET published_at=? WHERE assignment_id=? AND "
                             "published_at IS NULL", (at, assignment_id))

    def start_set(self, assignment_id: str, started_at: float) -> float:
        """Record when verification of an assignment began (the first call wins); returns
        the recorded start."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("UPDATE assignments SET started_at=? WHERE id=? AND "
                                 "started_at IS NULL", (started_at, assignment_id))
                row = self._db.execute("SELECT started_at FROM assignments WHERE id=?",
                                       (assignment_id,)).fetchone()
                self._transition(assignment_id, "in_progress", started_at)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return started_at if row is None or row[0] is None else float(row[0])

    def save_set(self, saved: SavedSet, at: float) -> None:
        """Persist the open set's totals and its counted reps, in one transaction.

        Reps already stored are kept (numbered in order), so this can be called after every
        change with the whole list."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO set_progress VALUES (?,?,?,?,?,?) ON CONFLICT(assignment_id) "
                    "DO UPDATE SET reps=excluded.reps, hold_seconds=excluded.hold_seconds, "
                    "rejected=excluded.rejected, last_reason=excluded.last_reason, "
                    "updated_at=excluded.updated_at",
                    (saved.assignment_id, saved.reps, saved.hold_seconds, saved.rejected,
                     saved.last_reason, at))
                (stored,) = self._db.execute("SELECT count(*) FROM set_reps WHERE "
                                             "assignment_id=?", (saved.assignment_id,)).fetchone()
                self._db.executemany(
                    "INSERT OR IGNORE INTO set_reps VALUES (?,?,?,?,?)",
                    [(saved.assignment_id, n, device, t, at)
                     for n, (device, t) in enumerate(saved.rep_times[stored:], start=stored)])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:     # SQLite rolls back by itself on a full disk
                    self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reads

    def has_result(self, assignment_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM results WHERE assignment_id=?",
                                   (assignment_id,)).fetchone()
        return row is not None

    def saved_set(self, assignment_id: str) -> SavedSet | None:
        """The open set's progress as last saved, or None when it never started."""
        with self._lock:
            start = self._db.execute("SELECT started_at FROM assignments WHERE id=?",
                                     (assignment_id,)).fetchone()
            if start is None or start[0] is None:
                return None
            row = self._db.execute("SELECT reps, hold_seconds, rejected, last_reason FROM "
                                   "set_progress WHERE assignment_id=?",
                                   (assignment_id,)).fetchone()
            reps = self._db.execute("SELECT device, t FROM set_reps WHERE assignment_id=? "
                                    "ORDER BY number", (assignment_id,)).fetchall()
        if row is None:
            return SavedSet(assignment_id, started_at=float(start[0]))
        return SavedSet(assignment_id, started_at=float(start[0]), reps=row[0],
                        hold_seconds=row[1], rejected=row[2], last_reason=row[3],
                        rep_times=tuple((d, float(t)) for d, t in reps))

    def unpublished_results(self, user: str) -> list[wire.Result]:
        """Stored results the broker never acknowledged, oldest first (published at start)."""
        return self._results(user, "published_at IS NULL", ())

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
        return self._results(user, "finished_at>=?", (since,))

    def _results(self, user: str, where: str, args: tuple[object, ...]) -> list[wire.Result]:
        with self._lock:
            rows = self._db.execute(
                "SELECT assignment_id, exercise, completed, outcome, reps, target, unit, "
                "hold_seconds, rejected, reason, started_at, finished_at, "
                f"{self._extra.replace('r.', '')} FROM results WHERE user=? AND {where} "
                "ORDER BY finished_at",
                (user, *args),
            ).fetchall()
        return [
            wire.Result(assignment_id=r[0], exercise=r[1], completed=bool(r[2]), outcome=r[3],
                        reps=r[4], target=r[5], unit=r[6], hold_seconds=r[7], rejected=r[8],
                        reason=r[9], started_at=r[10], finished_at=r[11], verified=bool(r[12]),
                        detail=r[13])
            for r in rows
        ]

    def outbox(self, states: Sequence[str] = OUTBOX_STATES, item_id: int | None = None,
               ) -> list[OutboxItem]:
        """Outbox rows in ``states`` (or the one ``item_id``), oldest first."""
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_OUTBOX_COLUMNS}, {self._picture} FROM post_outbox WHERE state IN "
                f"({marks}) "
                "AND (? IS NULL OR id=?) ORDER BY not_before, id",
                (*states, item_id, item_id)).fetchall()
        return [OutboxItem(id=r[0], key=r[1], service=r[2], user=r[3], kind=r[4],
                           assignment_id=r[5], text=r[6], state=r[7], attempts=r[8],
                           not_before=r[9], created_at=r[10], updated_at=r[11], error=r[12],
                           receipt=r[13], told=bool(r[14]), picture=bool(r[15])) for r in rows]

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
            return self._records("(? IS NULL OR a.user=?) AND (a.received_at>=? OR "
                                 "r.finished_at>=?)", (user, user, since, since))

    def _records(self, where: str, args: tuple[object, ...],
                 ) -> list[tuple[str, float, wire.Assignment, wire.Result | None]]:
        rows = self._db.execute(
            "SELECT a.user, a.received_at, a.payload, r.completed, r.outcome, r.reps, "
            "r.target, r.unit, r.hold_seconds, r.rejected, r.reason, r.started_at, "
            f"r.finished_at, {self._extra} FROM assignments a LEFT JOIN results r "
            f"ON r.assignment_id=a.id WHERE {where} "
            "ORDER BY COALESCE(r.finished_at, a.received_at), a.received_at", args,
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
                label=a.label, verified=bool(row[13]), detail=row[14])
            out.append((str(row[0]), float(row[1]), a, r))
        return out
