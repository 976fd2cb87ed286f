"""Wires the services to one Database and one clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from corridor.domain.disclosure import DEFAULT_BELOW
from corridor.security.roles import AuthorisationMatrix, default_matrix
from corridor.storage.database import Database

if TYPE_CHECKING:
    from corridor.matching import Model
    from corridor.schemas import PersonDetails
    from corridor.security.crypto import MasterKey
    from corridor.services.base import AuditHook
    from corridor.services.protection.retention import Category


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Every service, sharing a Database and a clock (injectable for tests and the demo)."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utc_now,
        master: MasterKey | None = None,
        tracing_in_background: bool = False,
        *,
        biometrics_enabled: bool = False,
        matrix: AuthorisationMatrix | None = None,
        retention_periods: dict[str, Category] | None = None,
        matching_model: Model | None = None,
        travel_hours: float = 12.0,
        one_time_password_hours: float = 72.0,
        lookups_per_hour: Mapping[str, int] | None = None,
        small_counts_below: int = DEFAULT_BELOW,
        sync_window_hours: float = 48.0,
    ) -> None:
        """``tracing_in_background``: check new registrations and arrivals against open
        enquiries, and a desk's registrations against the registry for duplicates, on
        worker threads (the server) rather than before answering (tests, the CLI, the
        demo build)."""
        from corridor.services.exchange.exports import ExportService
        from corridor.services.exchange.imports import ImportService
        from corridor.services.exchange.partner_exports import PartnerExportService
        from corridor.services.exchange.reports import ReportService
        from corridor.services.exchange.selections import ListSelections
        from corridor.services.figures import FigureService
        from corridor.services.health import HealthService
        from corridor.services.idempotency import IdempotencyService
        from corridor.services.movements.events import MovementService
        from corridor.services.movements.manifests import ManifestService
        from corridor.services.protection.accounts import AccountService
        from corridor.services.protection.administration import AdministrationService
        from corridor.services.protection.audit_log import AuditService
        from corridor.services.protection.field_vault import FieldVault
        from corridor.services.protection.gate import Gate
        from corridor.services.protection.keys import KeyService
        from corridor.services.protection.oversight import OversightService
        from corridor.services.protection.retention import RetentionService
        from corridor.services.protection.subject_access import SubjectAccessService
        from corridor.services.registration.merges import MergeService
        from corridor.services.registration.persons import RegistrationService
        from corridor.services.registration.sites import SiteService
        from corridor.services.search.person_search import PersonSearchService
        from corridor.services.tracing.cases import TracingService
        from corridor.services.tracing.worker import TracingWorker

        self.db = db
        self.clock = clock
        # How far a site node's clock may be off this one (``sync_pull_window_hours``):
        # a pull made further off is refused, movements stamped further ahead are held
        # (corridor/sync/ahead.py). Policy passed in (settings), not a global.
        self.sync_window = timedelta(hours=sync_window_hours)
        # The authorisation matrix is policy passed in (settings), not a global.
        self.matrix = matrix or default_matrix()
        # Sensitive person fields are sealed under per-site keys wrapped by ``master``;
        # without a master key they cannot be written (field_vault.py).
        self.vault = FieldVault(db, clock, master)
        # Every write also appends its sealed changes for the site nodes (issue 16); with
        # no master key nothing can be sealed, and nothing is journaled.
        if master is not None:
            from corridor.sync.journal import Journal

            db.journal = Journal(self.vault, clock)
        self.sites = SiteService(db, clock, self.vault)
        self.registration = RegistrationService(db, clock, self.vault, biometrics_enabled)
        self.movements = MovementService(db, clock, self.vault)
        self.manifests = ManifestService(db, clock, travel_hours, self.vault)
        # Small counts withheld from figures read as aggregates only (policy: settings).
        self.figures = FigureService(db, clock, small_counts_below)
        self.health = HealthService(db, clock)
        self.person_search = PersonSearchService(db, clock, self.vault, matching_model)
        self.accounts = AccountService(
            db, clock, master, self.matrix, lookups_per_hour, one_time_password_hours
        )
        self.audit = AuditService(db, clock)
        self.administration = AdministrationService(db, clock, master, self.matrix)
        # Safe retries: the answers already given to writes sent with a key.
        self.idempotency = IdempotencyService(db, clock)
        # Review and merge of duplicates: merges as recorded facts, undone exactly.
        self.merges = MergeService(db, clock, self.vault, self.person_search)
        # Incremental linkage: a person registered or renamed at a desk is searched for
        # once the write committed, and its suspected duplicates queued for review; on
        # the server off the request path (a search costs more than the registration's
        # write), on one thread, so that the desk never waits for it.
        self._linker: ThreadPoolExecutor | None = None
        if tracing_in_background:
            self._linker = ThreadPoolExecutor(1, thread_name_prefix="duplicate-links")
        self.registration.linkage = self._link
        # An import queues its suspected duplicates for review (``merges.propose``).
        self.imports = ImportService(db, clock, self.registration, self.person_search, self.merges)
        self.partner_exports = PartnerExportService(db, clock, self.vault)
        self.reports = ReportService(db, clock)
        self.keys = KeyService(db, clock, self.vault)
        self.retention = RetentionService(db, clock, self.vault, retention_periods)
        # The data protection officer's desk (reads naming persons go through the gate).
        self.oversight = OversightService(
            db, clock, select_persons=ListSelections(self.manifests, self.figures), vault=self.vault
        )
        # The one way personal data leaves the services (scope, purpose, field groups,
        # audit; typed read models).
        self.gate = Gate(self, self.matrix)
        self.exports = ExportService(
            db,
            clock,
            write_file=self.gate.export_file,
            select=ListSelections(self.manifests, self.figures),
        )
        self.subject_access = SubjectAccessService(db, clock, self.vault)
        self.tracing = TracingService(db, clock, self.vault, self.person_search)
        # A registration or an arrival is checked against open enquiries as soon as it
        # commits, so that a match is in the tracing queue within seconds.
        self.tracing_worker: TracingWorker | None = None
        if tracing_in_background:
            self.tracing_worker = TracingWorker(self.tracing.drain_outbox)
            self.registration.listeners.append(self.tracing_worker.listener("registration"))
            self.manifests.listeners.append(self.tracing_worker.listener("arrival"))
            self.merges.listeners.append(self.tracing_worker.listener("registration"))
        else:
            self.registration.listeners.append(self.tracing.after_commit("registration"))
            self.manifests.listeners.append(self.tracing.after_commit("arrival"))
            self.merges.listeners.append(self.tracing.after_commit("registration"))

    def _link(self, written: Sequence[tuple[str, PersonDetails]], audit: AuditHook) -> int:
        """``registration.linkage``: the pairs queued (0 when left to the thread)."""
        if self._linker is not None:
            try:
                self._linker.submit(
                    self.merges.queue_new, list(written), "registration", audit=audit
                )
                return 0
            except RuntimeError:  # shut down (the app is stopping): searched here instead
                pass
        return self.merges.queue_new(written, "registration", audit=audit)

    def tracing_listener(self, found_by: str) -> Callable[[list[str]], None]:
        """What checks persons just written against open enquiries, for a service's
        listeners: the tracing worker woken (in the background), or the check made at
        once after the commit."""
        if self.tracing_worker is not None:
            return self.tracing_worker.listener(found_by)
        return self.tracing.after_commit(found_by)

    def link_synced(self, person_ids: Sequence[str], audit: AuditHook) -> int:
        """``SyncService.find_duplicates``: the persons a sync applied, searched for
        duplicates as a desk's registration is, on the linkage thread (their details read
        there too, not in the push's request); at once when there is no thread."""
        if self._linker is not None:
            try:
                self._linker.submit(self.registration.queue_duplicates_of, list(person_ids), audit)
                return 0
            except RuntimeError:  # shut down: searched here instead
                pass
        return self.registration.queue_duplicates_of(person_ids, audit)

    def linkage_idle(self, timeout: float = 30) -> bool:
        """Wait until the searches for duplicates asked for so far are made (the linkage
        thread takes them in turn); False on timeout. At once when there is no thread."""
        if self._linker is None:
            return True
        try:
            self._linker.submit(lambda: None).result(timeout)
        except RuntimeError:  # shut down: every search asked for was made
            return True
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        """Start background work: the tracing worker first checks what the outbox kept
        from before (a crash, however long ago)."""
        if self.tracing_worker is not None:
            self.tracing_worker.start()

    def close(self) -> None:
        """Finish background work (queued tracing checks)."""
        if self.tracing_worker is not None:
            self.tracing_worker.stop()
        if self._linker is not None:
            self._linker.shutdown(wait=True)  # the searches asked for are made
