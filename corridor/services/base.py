"""What every service holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from corridor.storage.database import Database


class Service:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
