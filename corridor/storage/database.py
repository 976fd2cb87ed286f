"""One object owns the engine, connections and transactions.

On SQLite every write goes through one writer: a process-wide lock plus ``BEGIN
IMMEDIATE`` (which also serialises writers in other processes), in WAL mode so that
readers never wait for it. On PostgreSQL transactions run concurrently and the schema's
constraints and conditional updates keep concurrent writers honest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.pool import NullPool


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let us issue BEGIN ourselves (pysqlite's own transaction handling is off).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """``Database(url)``; use ``transaction()`` to write and ``read()`` to read."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock = threading.RLock()
        if self.is_sqlite:
            db_path = self.url.database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                self.url,
                echo=echo,
                connect_args={"check_same_thread": False},
                poolclass=NullPool if db_path in (None, "", ":memory:") else None,
            )
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", self._sqlite_begin)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_size=10, max_overflow=20)
        self._begin_immediate = threading.local()

    def _sqlite_begin(self, conn: Connection) -> None:
        mode = "IMMEDIATE" if getattr(self._begin_immediate, "on", False) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error."""
        if self.is_sqlite:
            with self._write_lock:
                self._begin_immediate.on = True
                try:
                    with self.engine.begin() as conn:
                        self._begin_immediate.on = False
                        yield conn
                finally:
                    self._begin_immediate.on = False
        else:
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work (one consistent snapshot on both databases)."""
        with self.engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
