"""What every service holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from corridor.storage.database import Database

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
