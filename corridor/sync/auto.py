"""A site node syncing by itself at intervals (issue 16, docs/sync.md "Over HTTP").

Off by default (``Settings.sync_interval_s`` 0). When set, the web app starts this
worker with itself and stops it when it stops (``corridor/web/app.py``'s lifespan, as
the services start and stop the tracing worker): every interval, on its own thread, a
round of ``corridor node sync`` (push, then pull; ``corridor/sync/client.py``). Only on
an enrolled node: a central or a standalone installation has no round to make, and is
checked again at the next interval (a node may join while it serves).

A round that fails (the central cannot be reached, refuses, or anything else) is logged
without personal data (the kind of failure and its error class: a bundle's contents and
the central's answer are never logged) and tried again at the next interval; each step
is one transaction on one side, so a failed round leaves nothing half-applied and the
next one continues (docs/sync.md, "Resumable").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from corridor.errors import CorridorError

if TYPE_CHECKING:
    from corridor.services import Services

log = logging.getLogger(__name__)


class AutoSync:
    """``AutoSync(round, interval_s)``: ``round()`` makes one sync round, or returns
    False when there is none to make (not an enrolled node)."""

    def __init__(self, round_: Callable[[], bool], interval_s: float) -> None:
        self.round = round_
        self.interval_s = interval_s
        self.rounds = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="node-sync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

    def tick(self) -> None:
        """One round now; a failure is logged (no personal data) and counted."""
        try:
            if self.round():
                self.rounds += 1
        except CorridorError as exc:
            self.failures += 1
            log.warning(
                "the node's sync round failed (%s, %s); tried again in %.0f s",
                type(exc).__name__,
                exc.code,
                self.interval_s,
            )
        except Exception as exc:  # noqa: BLE001 - the worker must keep going
            self.failures += 1
            log.warning(
                "the node's sync round failed (%s); tried again in %.0f s",
                type(exc).__name__,
                self.interval_s,
            )

    def stop(self) -> None:
        """Finish the round under way, then stop."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=150)


def for_services(services: Services, interval_s: float) -> AutoSync | None:
    """The worker of an app whose settings ask for one (``interval_s`` > 0), else None."""
    if interval_s <= 0 or services.vault.master is None:
        return None
    from corridor.sync.client import sync_round
    from corridor.sync.service import SyncService

    sync = SyncService.of(services)

    def round_() -> bool:
        me = sync.identity()
        if me["role"] != "node" or me["status"] != "approved":
            return False
        central = sync.central()
        sync_round(sync, audit=sync.node_hook(central["id"]))
        return True

    return AutoSync(round_, interval_s)
