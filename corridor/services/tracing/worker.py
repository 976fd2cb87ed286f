"""Checking new registrations and arrivals against open enquiries, off the request path.

A registration team must not wait for tracing: the registration commits and answers,
and the worker, woken by it, checks what the tracing outbox holds (``storage/outbox.py``:
the persons each registration, correction or arrival wrote there in its own
transaction), in batches, within about a second. Each outbox row is removed in the
transaction that stores the matches found for it, so should the process stop (a crash, a
``kill -9``, a power cut) with persons still to check, they are still in the outbox, and
the worker checks them when it starts again, however long the outage was: a crash delays
a proposed match but never loses it. The worker also looks every ``POLL_S`` seconds, for
rows another process left (it crashed) or a failed check kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

POLL_S = 60.0

Drain = Callable[[], int]


class TracingWorker:
    """``TracingWorker(drain)``: ``drain`` checks what the outbox holds
    (``TracingService.drain_outbox``)."""

    def __init__(self, drain: Drain, poll_s: float = POLL_S) -> None:
        self.drain = drain
        self.poll_s = poll_s
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._idle = threading.Event()
        self._idle.set()

    def listener(self, found_by: str) -> Callable[[list[str]], None]:
        """For a service's listeners (``found_by`` is in the outbox rows already)."""

        def submit(person_ids: list[str]) -> None:
            self.wake()

        return submit

    def start(self) -> None:
        """Start the thread, which first checks whatever the outbox still holds."""
        self.wake()

    def wake(self) -> None:
        with self._lock:
            self._idle.clear()
            self._wake.set()
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="tracing-checks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll_s)
            with self._lock:
                self._wake.clear()
                if self._stopping:
                    self._idle.set()
                    return
            try:
                self.drain()
            except Exception:  # noqa: BLE001 - logged; the outbox keeps the persons
                log.exception("checking the tracing outbox failed")
            with self._lock:
                if not self._wake.is_set():
                    self._idle.set()

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until everything the outbox held when last woken was checked."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Finish the check under way, then stop (what is left stays in the outbox)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._wake.set()
        if thread is not None:
            thread.join(timeout=60)
