"""Bring a database up to date: Alembic's schema migrations, then the data steps they
left for the application.

Migrations import no application code (it is written for the newest schema, and a
migration runs against an older one), so a migration that needs application logic to
fill data only changes the schema and leaves a marker (``corridor.storage.migrate``).
Here, once the schema is at head, each pending step runs with today's code and schema,
in its own transaction that also clears its marker. ``corridor init``, ``corridor db
upgrade``, ``corridor serve`` and ``corridor demo`` call this.

A migration rewrites tables of persons around the gate by design (an operator's tool:
docs/security.md, "The command line"): an upgrade that changed the schema or ran a data
step appends one event through ``audit`` (the commands pass the operator's hook),
naming the revisions and steps, never a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, or_, select

from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.services.base import AdminAudit
from corridor.services.search.match_index import rebuild
from corridor.storage import migrate
from corridor.storage.database import Database
from corridor.storage.tables import person_documents, persons


@dataclass(frozen=True)
class Upgrade:
    revision: str | None
    done: list[str] = field(default_factory=list)
    # Steps left pending, each with why (e.g. the master key is needed).
    waiting: dict[str, str] = field(default_factory=dict)


def upgrade(
    db: Database,
    revision: str = "head",
    master: MasterKey | None = None,
    *,
    audit: AdminAudit | None = None,
) -> Upgrade:
    """Migrate the schema to ``revision``; at head, run the pending data steps; audit
    what changed through ``audit``, if anything did."""
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    current = migrate.current_revision(db)
    result = Upgrade(current)
    if current == migrate.head_revision():  # data steps need the newest schema
        with db.read() as conn:
            steps = migrate.pending_data_steps(conn)
        for step in steps:
            if step == migrate.REBUILD_MATCH_INDEX:
                why = _rebuild_match_index(db, master)
            elif step == migrate.SEAL_NOTES:
                why = _seal_notes(db, master)
            else:
                continue
            if why is None:
                result.done.append(step)
            else:
                result.waiting[step] = why
    if audit is not None and (current != before or result.done):
        _audited(db, audit, before, result)
    return result


def _audited(db: Database, audit: AdminAudit, before: str | None, result: Upgrade) -> None:
    """One event for an upgrade that changed something (where the schema has an audit
    log: a downgrade below it leaves none to write to)."""
    with db.transaction() as conn:
        if "audit_events" not in inspect(conn).get_table_names():
            return
        steps = f"; data steps done: {', '.join(result.done)}" if result.done else ""
        audit(conn, f"database schema {before or 'empty'} -> {result.revision}{steps}", None)


def _rebuild_match_index(db: Database, master: MasterKey | None) -> str | None:
    """Index every person (migration 0002 created the index empty). Identifier keys are
    stored through the keyed lookup hash, so phones and document numbers need the master
    key, sealed or still plain (0004 moves them as they are): without it, the step waits
    (None: done). The keys are the same before and after ``corridor keys seal``, so the
    step may run on either side of it."""
    vault = Services(db, master=master).vault
    with db.transaction() as conn:
        if vault.cipher is None:
            phones = select(persons.c.id).where(persons.c.phone.is_not(None)).exists()
            documents = select(person_documents.c.id).exists()
            if conn.execute(select(or_(phones, documents))).scalar():
                return "persons hold phones or documents: give the master key"
        rebuild(conn, vault)
        migrate.data_step_done(conn, migrate.REBUILD_MATCH_INDEX)
    return None


def _seal_notes(db: Database, master: MasterKey | None) -> str | None:
    """Seal the movement notes and separation reasons migration 0039 found in the clear
    (``KeyService.seal_notes``); without the master key, the step waits."""
    if master is None:
        return "movement notes are stored in the clear: give the master key to seal them"
    keys = Services(db, master=master).keys
    keys.seal_notes()
    with db.transaction() as conn:
        migrate.data_step_done(conn, migrate.SEAL_NOTES)
    return None
