"""Bulk exports of personal data under two keys (PROTECTION.md line 9).

An officer holding ``export.bulk`` asks for an export of the persons of their sites,
giving a reason; a second person holding ``export.approve`` for those sites approves it
(never the requester); only then may the requester download it, once, as a file
encrypted under a passphrase they choose, naming who exported and who approved. The
persons are shown as the requester's roles may see them (field rules apply), and every
person exported is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from corridor.domain.ids import uuid7
from corridor.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from corridor.formats import registry
from corridor.security import export_file
from corridor.security.tables import export_requests
from corridor.services.base import AuditHook, Service
from corridor.services.protection.read_models import ExportedFile
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.text import N_


def _out(row: Any) -> dict[str, Any]:
    return {
        k: row.get(k)
        for k in (
            "id", "requested_by", "reason", "format", "site_ids", "state", "created_at",
            "approved_by", "approved_at", "downloaded_at", "persons",
        )
    }  # fmt: skip


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
    ) -> ExportedFile: ...


class ExportService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        write_file: WriteFile,
    ) -> None:
        """``write_file``: the gate's (the file holds persons as the exporter may see
        them)."""
        super().__init__(db, clock)
        self.write_file = write_file

    def request(
        self, user_id: str, reason: str, scope: Sites, fmt: str = "jsonl", *, audit: AuditHook
    ) -> dict[str, Any]:
        """Ask for an export (audited without a person: nobody is exported yet)."""
        if scope is None:
            raise ValidationFailed([Problem("site_ids", N_("an export covers named sites only"))])
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
        }
        with self.db.transaction() as conn:
            conn.execute(insert(export_requests).values(**row))
            audit(conn, [])
        return _out(row)

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
            return _out(self._get(conn, export_id, scope))

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
            return _out({**row, "state": "approved", "approved_by": user_id, "approved_at": now})

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
            "content": registry.writer(row["format"]).content,
        }
        return export_file.seal(exported.content, passphrase, header), exported.person_ids
