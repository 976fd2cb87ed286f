"""Defining sites. A detention site's details are sealed (``detention.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from corridor.domain.ids import uuid7
from corridor.domain.sites import pcode_problem
from corridor.errors import Conflict, Problem, require
from corridor.schemas import SiteIn
from corridor.services.base import AuditHook, Service
from corridor.services.protection import detention
from corridor.services.protection.field_vault import FieldVault
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import sites
from corridor.text import N_


def unknown_site_problems(
    conn: Connection, checks: Iterable[tuple[str, str]], scope: Sites = None
) -> list[Problem]:
    """One problem per (site id, field) whose site does not exist, or lies outside
    ``scope`` (the same answer, so that a caller learns nothing of other sites)."""
    checks = sorted(set(checks))
    wanted = {site for site, _ in checks}
    if scope is not None:
        wanted &= set(scope)
    found = set(conn.execute(select(sites.c.id).where(sites.c.id.in_(wanted))).scalars())
    return [
        Problem(field, N_("unknown site {site}", site=repr(site)))
        for site, field in checks
        if site not in found
    ]


class SiteService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime], vault: FieldVault) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def create(self, data: SiteIn, *, audit: AuditHook) -> dict[str, Any]:
        """A new site; a detention site is stored with its details sealed and a label as
        its name (``KeyUnavailable`` without a master key). Audited without a person."""
        problems = []
        if data.pcode and (reason := pcode_problem(data.pcode)):
            problems.append(Problem("pcode", reason))
        require(problems)
        given = {"id": uuid7(), **data.model_dump(), "created_at": self.clock()}
        is_detention = data.kind == detention.KIND
        row = detention.stored(self.vault, given) if is_detention else given
        with self.db.transaction() as conn:
            if conn.execute(select(sites.c.id).where(sites.c.name == row["name"])).first():
                raise Conflict(
                    N_("a site named {name} exists already", name=repr(data.name)), field="name"
                )
            conn.execute(insert(sites), [row])
            if is_detention:
                detention.seal(self.vault, conn, row["id"], given)
            audit(conn, [])
        return queries.site_out(row)

    def all(self, reveal: bool = False) -> list[dict[str, Any]]:
        """Every site; with ``reveal``, detention sites with their sealed details opened
        (for the roles allowed to see them)."""
        with self.db.read() as conn:
            out = queries.list_sites(conn)
            details = detention.open_all(self.vault, conn) if reveal else {}
        return [detention.reveal(s, details) for s in out]

    def get(self, site_id: str, reveal: bool = False) -> dict[str, Any]:
        with self.db.read() as conn:
            site = queries.get_site(conn, site_id)
            details = detention.open_all(self.vault, conn, [site_id]) if reveal else {}
        return detention.reveal(site, details)
