"""The audit log: append-only and hash-chained.

Every read, write, export and denial of personal data is one row: who (user id and
role), which person (id only, never a field value), what (action), why (purpose),
the outcome (allowed or denied) and when; and for a write sent to a merged person's old
id, that old id (``via_person_id``: the event names the survivor it led to). Each row
stores the previous row's hash and its own: ``hash = SHA-256(prev_hash + "\\n" +
canonical JSON of the row)``; the JSON holds ``via_person_id`` only when it is set, so
the rows written before it existed keep their hashes and the column is covered for every
row that has one. Editing, deleting or reordering any row breaks the chain at that row,
which ``verify`` names.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock taken before
reading the chain head, so concurrent writers queue instead of forking the chain; on
SQLite ``Database.transaction`` already admits one writer at a time. Call ``append``
inside the transaction of the use case it records, so the event and the change commit
together. A denial must survive the refused operation: write it in its own transaction.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Connection, insert, select, text

from corridor.security.tables import audit_events
from corridor.storage import changes
from corridor.storage.bulk import insert_rows

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "ChainHead",
    "Outcome",
    "VerifyResult",
    "accesses_to",
    "append",
    "head",
    "note_routed",
    "row_hash",
    "verify",
]

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key: any constant the rest of Corridor does not use ("CORRAUDT").
_CHAIN_LOCK_KEY = 0x434F52524155_4454


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


@dataclass(frozen=True)
class AuditEvent:
    """One access to personal data, as the caller describes it."""

    user_id: str
    role: str
    action: str  # an action of the authorisation matrix, e.g. "person.read"
    outcome: Outcome
    purpose: str
    occurred_at: datetime
    person_id: str | None = None
    site_id: str | None = None
    # The id the caller named when it led to ``person_id`` (a merged person's old id).
    via_person_id: str | None = None


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` or the first broken row (``broken_seq``) and why."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    head: ChainHead | None = None


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    prev_hash: str,
    seq: int,
    event: AuditEvent,
) -> str:
    """The hash of one row: SHA-256 over prev_hash and the row's canonical JSON."""
    body = {
        "seq": seq,
        "occurred_at": _utc_text(event.occurred_at),
        "user_id": event.user_id,
        "role": event.role,
        "action": event.action,
        "outcome": str(event.outcome),
        "purpose": event.purpose,
        "person_id": event.person_id,
        "site_id": event.site_id,
    }
    if event.via_person_id is not None:
        body["via_person_id"] = event.via_person_id
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


# Per write transaction (its Connection object, gone with it): survivor id -> the old id
# the write named (``note_routed``), so that its audit events say which id it was sent to.
_routed: weakref.WeakKeyDictionary[Connection, dict[str, str]] = weakref.WeakKeyDictionary()


def note_routed(conn: Connection, named: str, person_id: str) -> None:
    """A write in ``conn``'s transaction named ``named`` and acts on ``person_id`` (the
    survivor of a merge): the events this transaction appends for ``person_id`` carry
    ``named`` as their ``via_person_id``. Called by ``services.base.live_ids``."""
    _routed.setdefault(conn, {})[person_id] = named


def _with_via(conn: Connection, event: AuditEvent) -> AuditEvent:
    routed = _routed.get(conn)
    if not routed or event.via_person_id is not None or event.person_id not in routed:
        return event
    return replace(event, via_person_id=routed[event.person_id])


def _lock_chain(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})


def head(conn: Connection) -> ChainHead | None:
    """The last row's seq and hash: publish it elsewhere to detect a truncated tail."""
    row = conn.execute(
        select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
    ).first()
    return None if row is None else ChainHead(row.seq, row.hash)


def append(conn: Connection, event: AuditEvent) -> ChainHead:
    """Add ``event`` to the end of the chain, inside the caller's write transaction."""
    if not event.purpose.strip():
        raise ValueError("an audit event needs a purpose")
    outcome = Outcome(event.outcome)
    event = _with_via(conn, event)
    _lock_chain(conn)
    last = head(conn)
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.hash
    digest = row_hash(prev, seq, event)
    conn.execute(
        insert(audit_events).values(
            seq=seq,
            occurred_at=event.occurred_at,
            user_id=event.user_id,
            role=event.role,
            action=event.action,
            outcome=str(outcome),
            purpose=event.purpose,
            person_id=event.person_id,
            site_id=event.site_id,
            via_person_id=event.via_person_id,
            prev_hash=prev,
            hash=digest,
        )
    )
    if outcome == Outcome.ALLOWED:
        changes.note(conn, event.action, event.user_id, event.person_id)
    return ChainHead(seq, digest)


def append_many(conn: Connection, events: list[AuditEvent]) -> ChainHead | None:
    """Add several events in order with one lock, one head read and one insert."""
    if not events:
        return head(conn)
    events = [_with_via(conn, e) for e in events]
    for event in events:
        if not event.purpose.strip():
            raise ValueError("an audit event needs a purpose")
    _lock_chain(conn)
    last = head(conn)
    seq = 0 if last is None else last.seq
    prev = GENESIS_HASH if last is None else last.hash
    rows = []
    for event in events:
        seq += 1
        digest = row_hash(prev, seq, event)
        rows.append(
            {
                "seq": seq,
                "occurred_at": event.occurred_at,
                "user_id": event.user_id,
                "role": event.role,
                "action": event.action,
                "outcome": str(Outcome(event.outcome)),
                "purpose": event.purpose,
                "person_id": event.person_id,
                "site_id": event.site_id,
                "via_person_id": event.via_person_id,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    insert_rows(conn, audit_events, rows)
    for event in events:  # what the site-node change log must carry (issue 16)
        if Outcome(event.outcome) == Outcome.ALLOWED:
            changes.note(conn, event.action, event.user_id, event.person_id)
    return ChainHead(seq, prev)


def _rows(conn: Connection, batch: int = 5000) -> Iterator[tuple[int, AuditEvent, str, str]]:
    after = 0
    while True:
        rows = conn.execute(
            select(audit_events)
            .where(audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for r in rows:
            event = AuditEvent(
                user_id=r.user_id,
                role=r.role,
                action=r.action,
                # A tampered outcome outside the vocabulary must fail the hash, not crash.
                outcome=r.outcome,
                purpose=r.purpose,
                occurred_at=r.occurred_at,
                person_id=r.person_id,
                site_id=r.site_id,
                via_person_id=r.via_person_id,
            )
            yield r.seq, event, r.prev_hash, r.hash
        after = rows[-1].seq


def verify(conn: Connection) -> VerifyResult:
    """Walk the chain from the first row; stop at the first row that does not hold.

    A row breaks the chain when its seq is not the next number (a row was deleted), its
    prev_hash is not the previous row's hash, or its hash does not match its content.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for seq, event, prev_hash, stored in _rows(conn):
        if seq != expected_seq:
            return VerifyResult(False, checked, seq, f"expected row {expected_seq}, found {seq}")
        if prev_hash != expected_prev:
            return VerifyResult(False, checked, seq, "prev_hash does not match the row before")
        if row_hash(prev_hash, seq, event) != stored:
            return VerifyResult(False, checked, seq, "content does not match its hash")
        checked += 1
        expected_prev = stored
        expected_seq += 1
    last = None if checked == 0 else ChainHead(expected_seq - 1, expected_prev)
    return VerifyResult(True, checked, head=last)


def accesses_to(conn: Connection, person_id: str) -> list[AuditEvent]:
    """Who accessed this person, oldest first (the data protection officer's view)."""
    rows = conn.execute(
        select(audit_events)
        .where(audit_events.c.person_id == person_id)
        .order_by(audit_events.c.seq)
    ).all()
    return [
        AuditEvent(
            user_id=r.user_id,
            role=r.role,
            action=r.action,
            outcome=Outcome(r.outcome),
            purpose=r.purpose,
            occurred_at=r.occurred_at,
            person_id=r.person_id,
            site_id=r.site_id,
            via_person_id=r.via_person_id,
        )
        for r in rows
    ]
