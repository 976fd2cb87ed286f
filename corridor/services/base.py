"""What every service holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from corridor.errors import Conflict
from corridor.security import audit
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.tables import persons
from corridor.text import N_

# Appends audit events for the persons a write touched, inside the write's transaction.
AuditHook = Callable[[Connection, list[str]], None]
# Appends one audit event for an administrator's action (users, sites, tokens): the
# connection, what was done (ids only, never a password or a secret) and the site, if any.
AdminAudit = Callable[[Connection, str, "str | None"], None]
# Appends one audit event for a user's work on their own account (a new password): the
# connection, what was done (never a password), and whether it was allowed.
AccountAudit = Callable[[Connection, str, bool], None]
# Told, after a write committed, which persons it registered or moved (tracing listens).
PersonsListener = Callable[[list[str]], None]


class Service:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self.listeners: list[PersonsListener] = []

    def notify(self, person_ids: list[str]) -> None:
        """Tell the listeners (after the transaction committed, never inside it)."""
        if person_ids:
            for listener in self.listeners:
                listener(person_ids)


def live_ids(conn: Connection, person_ids: Sequence[str]) -> list[str]:
    """The persons a write names, each led to the survivor of the merges in force (issue
    15): a write sent to a merged person's old id (an offline tablet, a second desk, a
    site node) lands on the survivor, and nothing is ever stored under the old id. Every
    person write calls this inside its transaction, before its scope check, its locks and
    its audit event (so the event names the survivor, and carries the id the write named
    as its ``via_person_id``: ``audit.note_routed``). Same length and order as given.
    Unmerge is the one write that acts on the old id itself, and does not call it."""
    if not person_ids:
        return []
    merged = queries.merged_away(conn, person_ids)
    if not merged:
        return list(person_ids)
    out = []
    for p in person_ids:
        if p in merged:
            survivor = queries.survivors(conn, [p])[0]
            audit.note_routed(conn, p, survivor)
            p = survivor
        out.append(p)
    return out


def live_id(conn: Connection, person_id: str) -> str:
    """``live_ids`` for one person."""
    return live_ids(conn, [person_id])[0]


def refuse_erased(conn: Connection, person_ids: Sequence[str], field: str) -> None:
    """Conflict (409 on ``field``) if one of these persons was erased (anonymised at their
    request or by retention): nothing personal is written onto an erased record again, so
    no correction puts a name back, no link or merge joins it to someone (the person,
    come back, is registered anew). Their movements still count, as facts."""
    erased = conn.execute(
        select(persons.c.id).where(
            persons.c.id.in_(list(person_ids)), persons.c.anonymised_at.is_not(None)
        )
    ).first()
    if erased is not None:
        raise Conflict(
            N_("this record was erased: nothing personal is recorded on it again (register "
               "the person anew)"),
            field,
        )  # fmt: skip
