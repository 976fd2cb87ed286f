"""What a write leaves for the site-node change log (issue 16), inside its transaction.

The audit log is the one place every write of personal data passes through
(``security.audit.append``/``append_many``): an allowed event of a journaled action
notes here which person it concerns and who did it. Just before the transaction commits,
``Database.transaction`` hands the notes to the journal the services installed
(``Database.journal``; ``corridor.sync.journal``), which appends one sealed change per
person in that same transaction. So a write cannot commit without its change, and a
rolled-back write leaves none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

NOTES = "corridor.sync.notes"
UNCHANGED = "corridor.sync.unchanged"

# The matrix actions whose writes reach other nodes. ``sync.apply`` (a change received
# from another node) is not among them: it is recorded under its own origin instead.
JOURNALED_ACTIONS = frozenset({"person.write", "movement.write", "manifest.write", "person.merge"})


@dataclass(frozen=True)
class Note:
    action: str
    user_id: str
    person_id: str


def note(conn: Connection, action: str, user_id: str, person_id: str | None) -> None:
    """Remember, on the write's connection, that ``person_id`` was written."""
    if action in JOURNALED_ACTIONS and person_id is not None:
        conn.info.setdefault(NOTES, []).append(Note(action, user_id, person_id))


def person_state_unchanged(conn: Connection) -> None:
    """Say that this transaction, though audited as a write about persons, changes no
    person's state (a duplicate pair queued or decided apart): it appends no change."""
    conn.info[UNCHANGED] = True


def take(conn: Connection) -> list[Note]:
    """The notes of this transaction, once each (in order, repeats removed)."""
    notes: list[Note] = conn.info.pop(NOTES, None) or []
    if conn.info.pop(UNCHANGED, False):
        return []
    seen: dict[str, Note] = {}
    for n in notes:
        seen.setdefault(n.person_id, n)
    return list(seen.values())


def discard(conn: Connection) -> None:
    """Forget the notes of a transaction that did not commit (the connection is pooled)."""
    conn.info.pop(NOTES, None)
    conn.info.pop(UNCHANGED, None)
