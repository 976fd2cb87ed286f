"""Whether this server can work: the database answers, its schema is the one this code
was written for, and whether it takes writes. No personal data, nothing that needs an
account: load balancers and monitors ask it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from corridor.services.base import Service
from corridor.storage.database import Database
from corridor.storage.migrate import head_revision

Status = Literal["ok", "database_unreachable", "schema_not_current"]


@dataclass(frozen=True)
class HealthReport:
    database_reachable: bool
    schema_current: bool
    read_only: bool

    @property
    def status(self) -> Status:
        """``ok``, ``database_unreachable`` or ``schema_not_current``."""
        if not self.database_reachable:
            return "database_unreachable"
        return "ok" if self.schema_current else "schema_not_current"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class HealthService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        super().__init__(db, clock)
        self._head = head_revision()  # the code's head, read once a process

    def check(self, *, serving_read_only: bool = False) -> HealthReport:
        """Ask the database; ``serving_read_only``: the server was started read-only."""
        try:
            with self.db.read() as conn:
                conn.execute(text("SELECT 1"))
                revision = MigrationContext.configure(conn).get_current_revision()
                refuses_writes = self._database_refuses_writes(conn)
        except (SQLAlchemyError, OSError):
            return HealthReport(False, False, serving_read_only)
        return HealthReport(True, revision == self._head, serving_read_only or refuses_writes)

    def _database_refuses_writes(self, conn: Connection) -> bool:
        """A PostgreSQL standby (or a read-only default), or a SQLite file this process
        may not write."""
        if self.db.is_sqlite:
            path = self.db.url.database
            return bool(path) and path != ":memory:" and not os.access(str(path), os.W_OK)
        return str(conn.execute(text("SHOW transaction_read_only")).scalar()) == "on"
