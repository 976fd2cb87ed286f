"""Defining sites. A detention site's details are sealed (``detention.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from corridor.domain.ids import uuid7
from corridor.domain.sites import pcode_problem
from corridor.errors import Conflict, NotFound, Problem, require
from corridor.schemas import SiteIn, SitePatch
from corridor.services.base import AdminAudit, AuditHook, Service
from corridor.services.protection import detention
from corridor.services.protection.field_vault import FieldVault
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import sites
from corridor.text import N_


def unknown_site_problems(
    conn: Connection,
    checks: Iterable[tuple[str, str]],
    scope: Sites = None,
    *,
    open_only: bool = False,
) -> list[Problem]:
    """One problem per (site id, field) whose site does not exist, or lies outside
    ``scope`` (the same answer, so that a caller learns nothing of other sites); with
    ``open_only``, also one per site an administrator closed (it takes nobody new)."""
    checks = sorted(set(checks))
    wanted = {site for site, _ in checks}
    if scope is not None:
        wanted &= set(scope)
    rows = conn.execute(
        select(sites.c.id, sites.c.closed_at, sites.c.name).where(sites.c.id.in_(wanted))
    ).all()
    found = {row.id: row for row in rows}
    problems = []
    for site, field in checks:
        if site not in found:
            problems.append(Problem(field, N_("unknown site {site}", site=repr(site))))
        elif open_only and found[site].closed_at is not None:
            # Named as people know it (a detention facility: its neutral label).
            name = found[site].name
            problems.append(Problem(field, N_("site {site} is closed", site=name)))
    return problems


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

    def update(self, site_id: str, patch: SitePatch, *, audit: AdminAudit) -> dict[str, Any]:
        """Change a site's name, place or capacity (its kind stays). A detention
        facility's details are opened inside the service, changed and sealed again: the
        administrator never sees them, and its plain name stays a neutral label."""
        changes = patch.model_dump(exclude_unset=True)
        problems = []
        if changes.get("pcode") and (reason := pcode_problem(changes["pcode"])):
            problems.append(Problem("pcode", reason))
        if "name" in changes and changes["name"] is None:
            problems.append(Problem("name", N_("a site needs a name")))
        require(problems)
        with self.db.transaction() as conn:
            row = conn.execute(select(sites).where(sites.c.id == site_id)).mappings().first()
            if row is None:
                raise NotFound("site", field="site_id")
            values: dict[str, Any] = {}
            if row["kind"] == detention.KIND:
                sealed = set(changes) & set(detention.DETAILS)
                if sealed:
                    details = detention.open_all(self.vault, conn, [site_id]).get(site_id)
                    if details is None:  # its key was destroyed: nothing to build on
                        details = {k: None for k in detention.DETAILS}
                    details = {**details, **{k: changes[k] for k in sealed}}
                    values["name"] = detention.label(self.vault, details["name"] or site_id)
                    detention.seal(self.vault, conn, site_id, details)
                if "capacity" in changes:
                    values["capacity"] = changes["capacity"]
            else:
                values = changes
            if (
                "name" in values
                and conn.execute(
                    select(sites.c.id).where(sites.c.name == values["name"], sites.c.id != site_id)
                ).first()
            ):
                raise Conflict(
                    N_("a site named {name} exists already", name=repr(changes["name"])),
                    field="name",
                )
            if values:
                conn.execute(update(sites).where(sites.c.id == site_id).values(**values))
            audit(
                conn, f"site {site_id} edited: {', '.join(sorted(changes)) or 'nothing'}", site_id
            )
            out = queries.get_site(conn, site_id)
        return detention.reveal(out, {})

    def close(self, site_id: str, *, audit: AdminAudit) -> dict[str, Any]:
        """Close a site: it takes no new registration and no manifest to it; its persons,
        movements and figures stay as they are (people are moved out by manifests as
        usual). Closing a closed site is refused (409)."""
        with self.db.transaction() as conn:
            site = queries.get_site(conn, site_id)
            if site["closed_at"] is not None:
                raise Conflict(N_("the site is closed already"), field="site_id")
            conn.execute(update(sites).where(sites.c.id == site_id).values(closed_at=self.clock()))
            audit(conn, f"site {site_id} closed", site_id)
            out = queries.get_site(conn, site_id)
        return detention.reveal(out, {})
