"""Defining sites."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select

from corridor.domain.ids import uuid7
from corridor.domain.sites import pcode_problem
from corridor.errors import Conflict, Problem, require
from corridor.schemas import SiteIn
from corridor.services.base import Service
from corridor.storage import queries
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
    def create(self, data: SiteIn) -> dict[str, Any]:
        problems = []
        if data.pcode and (reason := pcode_problem(data.pcode)):
            problems.append(Problem("pcode", reason))
        require(problems)
        row = {"id": uuid7(), **data.model_dump(), "created_at": self.clock()}
        with self.db.transaction() as conn:
            if conn.execute(select(sites.c.id).where(sites.c.name == data.name)).first():
                raise Conflict(
                    N_("a site named {name} exists already", name=repr(data.name)), field="name"
                )

            conn.execute(insert(sites), [row])
        return queries.site_out(row)

    def all(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return queries.list_sites(conn)

    def get(self, site_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return queries.get_site(conn, site_id)
