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
AS = "corridor.sync.as"
CARRY = "corridor.sync.carry"
EXTRA = "corridor.sync.extra"

# The matrix actions whose writes reach other nodes. ``sync.apply`` (a change received
# from another node) is not among them: it is recorded under its own origin instead.
# ``person.erase`` and ``person.hold`` are no matrix actions: an erasure or a legal hold
# names them with ``journal_as`` (docs/sync.md, "Erasure and legal holds across nodes").
JOURNALED_ACTIONS = frozenset(
    {"person.write", "movement.write", "manifest.write", "person.merge", "person.erase",
     "person.hold"}
)  # fmt: skip


@dataclass(frozen=True)
class Note:
    action: str
    user_id: str
    person_id: str


def note(conn: Connection, action: str, user_id: str, person_id: str | None) -> None:
    """Remember, on the write's connection, that ``person_id`` was written."""
    action = conn.info.get(AS, action)
    if action not in JOURNALED_ACTIONS:
        return
    carried = conn.info.pop(CARRY, None) or []
    for pid in [*([person_id] if person_id is not None else []), *carried]:
        conn.info.setdefault(NOTES, []).append(Note(action, user_id, pid))


def carry(conn: Connection, person_ids: list[str]) -> None:
    """Say that this write changes the state of ``person_ids`` though its audit event
    names none of them (a manifest received with everyone checked in: its status is a
    fact in each person's state): the next journaled audit event notes them too."""
    conn.info[CARRY] = list(person_ids)


def journal_as(conn: Connection, action: str) -> None:
    """Say that the persons this transaction's audit events name were written as
    ``action`` (one of ``JOURNALED_ACTIONS``), whatever action the caller audits it
    under: an erasure (audited as the export of a data-subject request, or a retention
    run) and a legal hold travel to the other nodes as person changes."""
    conn.info[AS] = action


def annotate(conn: Connection, person_id: str, extra: dict[str, object]) -> None:
    """Say that this write's change of ``person_id`` carries ``extra`` beside the
    person's state (a decision on a sync conflict names what it decides)."""
    conn.info.setdefault(EXTRA, {}).setdefault(person_id, {}).update(extra)


def extras(conn: Connection) -> dict[str, dict[str, object]]:
    """What ``annotate`` said for this transaction, per person."""
    found: dict[str, dict[str, object]] = conn.info.get(EXTRA) or {}
    return found


def person_state_unchanged(conn: Connection) -> None:
    """Say that this transaction, though audited as a write about persons, changes no
    person's state (a duplicate pair queued or decided apart): it appends no change."""
    conn.info[UNCHANGED] = True


def take(conn: Connection) -> list[Note]:
    """The notes of this transaction, once each (in order, repeats removed)."""
    notes: list[Note] = conn.info.pop(NOTES, None) or []
    conn.info.pop(AS, None)
    conn.info.pop(CARRY, None)
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
    conn.info.pop(AS, None)
    conn.info.pop(CARRY, None)
    conn.info.pop(EXTRA, None)
