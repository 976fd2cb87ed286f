"""Checking new registrations and arrivals against open enquiries, off the request path.

A registration team must not wait for tracing: the registration commits and answers,
and the persons it wrote are handed to this worker, which checks them in batches (one
pass of the tracing check serves every registration that arrived meanwhile) within about
a second. Should the process stop with persons still queued, ``TracingWorker.start``
re-checks the persons registered or moved during the last ``RECHECK_ON_START`` when it
starts again, so a crash delays a proposed match but never loses it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from corridor.storage.database import Database
from corridor.storage.tables import movements

log = logging.getLogger(__name__)

RECHECK_ON_START = timedelta(hours=1)
BATCH = 1000

Check = Callable[[list[str], str], int]


class TracingWorker:
    def __init__(self, db: Database, clock: Callable[[], datetime], check: Check) -> None:
        self.db = db
        self.clock = clock
        self.check = check
        self._queue: queue.Queue[tuple[str, list[str]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def listener(self, found_by: str) -> Callable[[list[str]], None]:
        def submit(person_ids: list[str]) -> None:
            self._ensure_started()
            self._idle.clear()
            self._queue.put((found_by, list(person_ids)))

        return submit

    def _ensure_started(self, recheck: bool = True) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(recheck,), name="tracing-checks", daemon=True
                )
                self._thread.start()

    def _recent(self) -> list[str]:
        since = self.clock() - RECHECK_ON_START
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(movements.c.person_id).where(movements.c.recorded_at >= since).distinct()
                ).scalars()
            )

    def _run(self, recheck: bool) -> None:
        if recheck:
            try:
                self.check(self._recent(), "registration")
            except Exception:  # noqa: BLE001 - logged; new work still proceeds
                log.exception("re-checking recent persons against open enquiries failed")
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch: dict[str, list[str]] = {}
            while item is not None:
                found_by, ids = item
                batch.setdefault(found_by, []).extend(ids)
                if sum(len(v) for v in batch.values()) >= BATCH or self._queue.empty():
                    break
                item = self._queue.get()
            for found_by, ids in batch.items():
                try:
                    self.check(list(dict.fromkeys(ids)), found_by)
                except Exception:  # noqa: BLE001 - logged; the registrations stand
                    log.exception("tracing check failed for %d persons", len(ids))
            if item is None:
                return
            if self._queue.empty():
                self._idle.set()

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until every queued person was checked (tests, shutdown)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=60)
