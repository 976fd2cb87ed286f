"""One object owns the engine, connections and transactions.

On SQLite every write goes through one writer: a process-wide lock, an exclusive lock on
a file beside the database (so that writers in other processes queue in the kernel and
wake at once, instead of polling SQLite's busy handler) and ``BEGIN IMMEDIATE``, in WAL
mode so that readers never wait for it. Checkpoints (copying the WAL into the database
file, with its fsync) run on a background thread rather than inside whichever write
happens to cross the threshold. On PostgreSQL transactions run concurrently and the
schema's constraints and conditional updates keep concurrent writers honest.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from corridor.errors import StorageFull
from corridor.storage import changes
from corridor.storage.bulk import COPY_OPTION, COPY_ROWS

# The WAL is folded into the database by the checkpointer thread every second; SQLite's
# own automatic checkpoint stays as a backstop should that thread ever stop.
CHECKPOINT_EVERY_S = 1.0
BACKSTOP_CHECKPOINT_PAGES = 20_000


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let us issue BEGIN ourselves (pysqlite's own transaction handling is off).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a crash of the process; the WAL is synced at
    # each checkpoint, so a power cut can lose at most the last second of writes.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class _Checkpointer:
    """Folds the WAL into the database file every ``CHECKPOINT_EVERY_S`` seconds."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            try:
                with self._engine.connect() as conn:
                    # PASSIVE never waits for readers or the writer.
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # noqa: BLE001 - the backstop checkpoint still runs
                continue

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():  # a collection in the thread
            self._thread.join(timeout=10)


def _release(engine: Engine, checkpointers: list[_Checkpointer]) -> None:
    """What a Database let go without ``dispose()`` holds, released when it is collected:
    its checkpoint thread stopped, its engine's pooled connections closed."""
    while checkpointers:
        checkpointers.pop().stop()
    engine.dispose()


# SQLite's primary result codes (the low byte of an extended code) and PostgreSQL's
# SQLSTATEs for a full disk and for two writers colliding.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
_PG_CONTENTION = ("40001", "40P01", "23505")  # serialization, deadlock, unique key


def storage_failure(exc: BaseException) -> str | None:
    """What a database error means for the user: ``"full"`` (the disk or the database's
    size limit is full), ``"contention"`` (another writer changed the same rows at the
    same moment: try again), or None (a fault)."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        if code & 0xFF == _SQLITE_FULL:
            return "full"
        return None
    state = getattr(orig, "sqlstate", None)
    if state == _PG_DISK_FULL:
        return "full"
    if state in _PG_CONTENTION:
        return "contention"
    return None


def _sqlite_begin(local: threading.local) -> Callable[[Connection], None]:
    """The engine's ``begin``: ``BEGIN IMMEDIATE`` in a write (``local.immediate``, set by
    ``Database.transaction`` for its thread), else ``BEGIN DEFERRED``."""

    def begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if getattr(local, "immediate", False) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return begin


class Database:
    """``Database(url)``; use ``transaction()`` to write and ``read()`` to read."""

    def __init__(
        self, url: str, *, echo: bool = False, copy_rows: int | None = COPY_ROWS
    ) -> None:
        """``copy_rows``: on PostgreSQL, batches of at least this many rows are written
        by COPY (``storage/bulk.py``); None: never."""
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._lock_file: int | None = None
        self._checkpointer: _Checkpointer | None = None
        self._checkpointers: list[_Checkpointer] = []  # every one started, for ``_release``
        self._checkpointer_guard = threading.Lock()
        # Called just before a write commits, inside it, with the persons its audit events
        # named (``storage/changes.py``): the site-node change log (issue 16). Set by the
        # services; None appends nothing.
        self.journal: Callable[[Connection, list[changes.Note]], None] | None = None
        if self.is_sqlite:
            db_path = self.url.database
            in_memory = db_path in (None, "", ":memory:")
            if not in_memory:
                assert db_path is not None
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
                self._lock_file = os.open(f"{db_path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
            self.engine: Engine = create_engine(
                self.url,
                echo=echo,
                connect_args={"check_same_thread": False},
                poolclass=NullPool if in_memory else None,
            )
            event.listen(self.engine, "connect", _sqlite_on_connect)
            # The listener holds the thread-local state, not the Database: the finalizer
            # below holds the engine, and an engine holding its Database (a bound method)
            # kept every SQLite Database alive to the end of the process, with its engine
            # and its cache of compiled statements (a test worker's memory grew by
            # gigabytes: docs/performance.md, "Session 30").
            event.listen(self.engine, "begin", _sqlite_begin(self._local))
        else:
            self.engine = create_engine(self.url, echo=echo, pool_size=10, max_overflow=20)
            self.engine.update_execution_options(**{COPY_OPTION: copy_rows})
        # A Database let go without ``dispose()`` (an app whose shutdown never ran, one
        # caught in a reference cycle with its services) closes its pooled connections
        # when collected: else each is left to the garbage collector, which drops it
        # without telling the server (psycopg's "deleted while still open"). Its SQLite
        # checkpoint thread, which holds the engine, is stopped then too: it polled the
        # file every second to the end of the process, and kept the engine alive.
        weakref.finalize(self, _release, self.engine, self._checkpointers)

    @contextmanager
    def _sqlite_writer(self) -> Iterator[None]:
        """The one writer: this process's threads queue on the lock, other processes on
        the lock file (released by the kernel if a process dies)."""
        with self._write_lock:
            depth = getattr(self._local, "depth", 0)
            if depth == 0 and self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
                if depth == 0 and self._lock_file is not None:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error."""
        try:
            if self.is_sqlite:
                self._ensure_checkpointer()
                with self._sqlite_writer():
                    self._local.immediate = True
                    try:
                        with self.engine.begin() as conn:
                            self._local.immediate = False
                            with self._journaled(conn):
                                yield conn
                    finally:
                        self._local.immediate = False
            else:
                with self.engine.begin() as conn, self._journaled(conn):
                    yield conn
        except DBAPIError as exc:
            # A full disk is the operator's to fix, not a fault: rolled back, said clearly.
            if storage_failure(exc) == "full":
                raise StorageFull from exc
            raise

    @contextmanager
    def _journaled(self, conn: Connection) -> Iterator[None]:
        """The write's changes appended to the change log as its last statements."""
        try:
            yield
            notes = changes.take(conn)
            if notes and self.journal is not None:
                self.journal(conn, notes)
        finally:
            changes.discard(conn)

    def _ensure_checkpointer(self) -> None:
        if self._checkpointer is None and self._lock_file is not None:
            with self._checkpointer_guard:
                if self._checkpointer is None:
                    self._checkpointer = _Checkpointer(self.engine)
                    # (in place: the finalizer holds this list; the stopped ones dropped)
                    self._checkpointers[:] = [
                        *(c for c in self._checkpointers if not c.stopped), self._checkpointer
                    ]

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work (one consistent snapshot on both databases)."""
        with self.engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    def dispose(self) -> None:
        self._checkpointer = None
        _release(self.engine, self._checkpointers)
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
