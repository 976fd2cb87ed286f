"""What every service holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from corridor.storage.database import Database

# Appends audit events for the persons a write touched, inside the write's transaction.
AuditHook = Callable[[Connection, list[str]], None]
# Appends one audit event for an administrator's action (users, sites, tokens): the
# connection, what was done (ids only, never a password or a secret) and the site, if any.
AdminAudit = Callable[[Connection, str, "str | None"], None]
# Told, after a write committed, which persons it registered or moved (tracing listens).
PersonsListener = Callable[[list[str]], None]


class Service:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self.listeners: list[PersonsListener] = []

    def notify(self, person_ids: list[str]) -> None:
        """Tell the listeners (after the transaction committed, never inside it)."""
        if person_ids:
            for listener in self.listeners:
                listener(person_ids)
