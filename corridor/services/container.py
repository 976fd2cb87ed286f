"""Wires the services to one Database and one clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from corridor.storage.database import Database

if TYPE_CHECKING:
    from corridor.security.crypto import MasterKey


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Every service, sharing a Database and a clock (injectable for tests and the demo)."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utc_now,
        master: MasterKey | None = None,
    ) -> None:
        from corridor.services.accounts import AccountService
        from corridor.services.audit_log import AuditService
        from corridor.services.figures import FigureService
        from corridor.services.manifests import ManifestService
        from corridor.services.movements import MovementService
        from corridor.services.person_search import PersonSearchService
        from corridor.services.registration import RegistrationService
        from corridor.services.sites import SiteService
        from corridor.services.tracing import TracingService

        self.db = db
        self.clock = clock
        self.sites = SiteService(db, clock)
        self.registration = RegistrationService(db, clock)
        self.movements = MovementService(db, clock)
        self.manifests = ManifestService(db, clock)
        self.figures = FigureService(db, clock)
        self.person_search = PersonSearchService(db, clock)
        self.accounts = AccountService(db, clock, master)
        self.audit = AuditService(db, clock)
        self.tracing = TracingService(db, clock)
        # A registration or an arrival is checked against open enquiries as soon as it
        # commits, so that a match is in the tracing queue within seconds.
        self.registration.listeners.append(self.tracing.after_commit("registration"))
        self.manifests.listeners.append(self.tracing.after_commit("arrival"))
