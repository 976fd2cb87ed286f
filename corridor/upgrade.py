"""Bring a database up to date: Alembic's schema migrations, then the data steps they
left for the application.

Migrations import no application code (it is written for the newest schema, and a
migration runs against an older one), so a migration that needs application logic to
fill data only changes the schema and leaves a marker (``corridor.storage.migrate``).
Here, once the schema is at head, each pending step runs with today's code and schema,
in its own transaction that also clears its marker. ``corridor init``, ``corridor db
upgrade``, ``corridor serve`` and ``corridor demo`` call this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from corridor.security.crypto import MasterKey
from corridor.services import Services
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


def upgrade(db: Database, revision: str = "head", master: MasterKey | None = None) -> Upgrade:
    """Migrate the schema to ``revision``; at head, run the pending data steps."""
    migrate.upgrade(db, revision)
    current = migrate.current_revision(db)
    if current != migrate.head_revision():
        return Upgrade(current)  # data steps need the newest schema
    with db.read() as conn:
        steps = migrate.pending_data_steps(conn)
    result = Upgrade(current)
    for step in steps:
        if step == migrate.REBUILD_MATCH_INDEX:
            why = _rebuild_match_index(db, master)
            if why is None:
                result.done.append(step)
            else:
                result.waiting[step] = why
    return result


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
