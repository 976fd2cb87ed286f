"""Bulk exports of personal data under two keys (PROTECTION.md line 9).

An officer holding ``export.bulk`` asks for an export of the persons of their sites,
giving a reason; a second person holding ``export.approve`` for those sites approves it
(never the requester); only then may the requester download it, once, as a file
encrypted under a passphrase they choose, naming who exported and who approved. The
persons are shown as the requester's roles may see them (field rules apply), and every
person exported is audited.

An export may hold the persons of one list (``Selection``: the unaccounted, the
separated families, a search's results) instead of every person of the sites: the
list's filter is stored with the request, shown to the approver in words, and the
persons are found by the list's own query when the file is written, never outside the
request's sites (``corridor/domain/export_selection.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from corridor.domain.export_selection import Selection, describe
from corridor.domain.ids import uuid7
from corridor.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from corridor.formats import registry
from corridor.security import export_file
from corridor.security.tables import export_requests
from corridor.services.base import AuditHook, Service
from corridor.services.protection.read_models import ExportedFile
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.text import N_


def _out(row: Any, conn: Connection) -> dict[str, Any]:
    """The request as answered, its selection also in words (the approver reads them)."""
    return {**_fields(row), "selection_text": selection_text(conn, row.get("selection"))}


def selection_text(conn: Connection, stored: dict[str, Any] | None) -> str:
    """A stored selection in words, naming its site (a translatable ``Text``)."""
    if not stored:
        return describe(None)
    selection = Selection.of(stored)
    site = queries.site_names(conn).get(selection.site_id or "") if selection.site_id else None
    return describe(selection, site or selection.site_id)


def _fields(row: Any) -> dict[str, Any]:
    return {
        k: row.get(k)
        for k in (
            "id", "requested_by", "reason", "format", "site_ids", "state", "created_at",
            "approved_by", "approved_at", "downloaded_at", "persons", "selection",
        )
    }  # fmt: skip


# The persons of a selection among the persons of these sites (the list's own query).
Select = Callable[[Selection, list[str]], list[str]]


class WriteFile(Protocol):
    """The gate's ``export_file``: persons of the sites in a format of the registry, as
    the exporter's roles may see them, audited in the caller's transaction."""

    def __call__(
        self,
        fmt: str,
        roles: Iterable[str],
        site_ids: Iterable[str] | None,
        *,
        exported_by: str,
        domain: str,
        audit: AuditHook,
        conn: Connection | None = None,
        person_ids: list[str] | None = None,
    ) -> ExportedFile: ...


class ExportService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        write_file: WriteFile,
        select: Select | None = None,
    ) -> None:
        """``write_file``: the gate's (the file holds persons as the exporter may see
        them); ``select``: the persons of a list's selection."""
        super().__init__(db, clock)
        self.write_file = write_file
        self.select = select

    def request(
        self,
        user_id: str,
        reason: str,
        scope: Sites,
        fmt: str = "jsonl",
        selection: Selection | None = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Ask for an export (audited without a person: nobody is exported yet);
        ``selection``: only the persons of that list (None: every person of the sites).
        A list filtered on a site outside ``scope`` is refused (404 semantics)."""
        if scope is None:
            raise ValidationFailed([Problem("site_ids", N_("an export covers named sites only"))])
        if selection and selection.site_id and selection.site_id not in scope:
            raise NotFound("site", field="selection.site_id")
        known = [f.name for f in registry.writable()]
        if fmt not in known:
            raise ValidationFailed(
                [Problem("format", N_("unknown format; one of: {known}", known=", ".join(known)))]
            )
        row = {
            "id": uuid7(),
            "requested_by": user_id,
            "reason": reason,
            "format": fmt,
            "site_ids": sorted(scope),
            "state": "pending",
            "created_at": self.clock(),
            "selection": selection.as_json() if selection else None,
        }
        with self.db.transaction() as conn:
            conn.execute(insert(export_requests).values(**row))
            audit(conn, [])
            return _out(row, conn)

    def _get(self, conn: Any, export_id: str, scope: Sites, *, lock: bool = False) -> Any:
        """``lock``: its row lock, so that two approvals or downloads at once go in turn
        and the second sees the state the first left (409)."""
        query = select(export_requests).where(export_requests.c.id == export_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None or (scope is not None and not set(row["site_ids"]) <= set(scope)):
            raise NotFound("export")
        return row

    def get(self, export_id: str, scope: Sites) -> dict[str, Any]:
        with self.db.read() as conn:
            return _out(self._get(conn, export_id, scope), conn)

    def approve(
        self, user_id: str, export_id: str, scope: Sites, *, audit: AuditHook
    ) -> dict[str, Any]:
        """The second key (audited without a person: nobody is exported yet)."""
        with self.db.transaction() as conn:
            row = self._get(conn, export_id, scope, lock=True)
            if row["requested_by"] == user_id:
                raise Forbidden(N_("A second person must approve an export, not its requester"))
            if row["state"] != "pending":
                raise Conflict(
                    N_("the export is {state} already", state=row["state"]), field="state"
                )
            now = self.clock()
            conn.execute(
                update(export_requests)
                .where(export_requests.c.id == export_id)
                .values(state="approved", approved_by=user_id, approved_at=now)
            )
            audit(conn, [])
            approved = {**row, "state": "approved", "approved_by": user_id, "approved_at": now}
            return _out(approved, conn)

    def download(
        self,
        user_id: str,
        roles: frozenset[str],
        export_id: str,
        passphrase: str,
        scope: Sites,
        domain: str = "corridor.local",
        *,
        audit: AuditHook,
    ) -> tuple[bytes, list[str]]:
        """The encrypted file and the ids of the persons in it; each person in the file is
        audited in the transaction that marks the export downloaded."""
        if len(passphrase) < export_file.MIN_PASSPHRASE:
            raise ValidationFailed(
                [
                    Problem(
                        "passphrase",
                        N_("needs at least {n} characters", n=export_file.MIN_PASSPHRASE),
                    )
                ]
            )
        now = self.clock()
        # The persons of the list, found by its own query before the write begins (a
        # read; the request's selection never changes once stored).
        person_ids: list[str] | None = None
        stored = self.get(export_id, scope)
        if stored["selection"] and stored["requested_by"] == user_id:
            if self.select is None:
                raise RuntimeError("an export with a selection needs the list's query")
            selection = Selection.of(stored["selection"])
            person_ids = self.select(selection, list(stored["site_ids"]))
        with self.db.transaction() as conn:
            row = self._get(conn, export_id, scope, lock=True)
            if row["requested_by"] != user_id:
                raise Forbidden(N_("Only the officer who asked for the export may download it"))
            if row["state"] == "pending":
                raise Conflict(N_("the export waits for a second person's approval"), field="state")
            if row["state"] != "approved":
                raise Conflict(N_("the export was downloaded already"), field="state")

            exported = self.write_file(
                row["format"],
                roles,
                row["site_ids"],
                exported_by=user_id,
                domain=domain,
                audit=audit,
                conn=conn,
                person_ids=person_ids,
            )
            conn.execute(
                update(export_requests)
                .where(export_requests.c.id == export_id)
                .values(state="downloaded", downloaded_at=now, persons=len(exported.person_ids))
            )
        header = {
            "export_id": export_id,
            "exported_by": user_id,
            "approved_by": row["approved_by"],
            "reason": row["reason"],
            "site_ids": row["site_ids"],
            "created_at": now.isoformat(),
            "persons": len(exported.person_ids),
            "format": row["format"],
            "selection": row.get("selection"),
            "content": registry.writer(row["format"]).content,
        }
        return export_file.seal(exported.content, passphrase, header), exported.person_ids
