"""Safe retries: a write sent again with the same idempotency key writes nothing and
answers what the first one did.

The key joins the write's own transaction through the hook every service write already
calls inside it (the audit hook): ``guard`` wraps that hook so that, before the audit
events, it inserts the row ``(caller, key)`` with the request, the hash of its canonical
body and the ids of what the write created (``ref``). A crash leaves the write and its
key together or neither. Two requests racing with one key both run the write, but only
one insert of ``(caller, key)`` can commit: the loser's transaction rolls back (on
PostgreSQL its insert waits for the winner's commit on the primary key, on SQLite the
single writer runs them one after the other) and then finds the winner's row.

The row holds ids, never field values: a replay re-reads them through the gate, so an
answer never outlives the record's retention nor shows what the caller may no longer see.
Rows expire after ``ttl`` (24 hours by default): an expired key is a new key, and
``purge`` deletes expired rows (the retention run calls it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)

from corridor.errors import Conflict, Problem, ValidationFailed
from corridor.services.base import AuditHook, Service
from corridor.storage.database import Database
from corridor.storage.idempotency_tables import KEY_LENGTH, idempotency_keys
from corridor.storage.security_tables import api_tokens, export_requests, users
from corridor.storage.tables import (
    manifest_items,
    manifests,
    movements,
    persons,
    relationships,
    sites,
)
from corridor.storage.tracing_tables import tracing_enquiries, tracing_matches
from corridor.text import N_

DEFAULT_TTL = timedelta(hours=24)

# What a guarded write keeps of what it did: ids (and statuses) only.
Ref = dict[str, Any]
RefOf = Callable[[Connection, list[str]], Ref]


def canonical_hash(payload: Any) -> str:
    """SHA-256 of a JSON value written canonically (sorted keys, no spaces): the same
    body sent twice, its keys in another order, hashes the same."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str) -> str:
    """A key as sent, once it is 1 to 100 printable ASCII characters (a UUID fits)."""
    if not 0 < len(key) <= KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        reason = N_("must be 1 to 100 printable characters, such as a UUID")
        raise ValidationFailed([Problem("Idempotency-Key", reason)])
    return key


@dataclass(frozen=True)
class Attempt:
    """One request carrying a key: who sent it, the key, the request (method and path)
    and its body's hash."""

    user_id: str
    key: str
    request: str
    body_hash: str
    status: int = 200


class NotKept(Exception):
    """A write done under a key whose answer is not kept yet: ``remember`` stores it in a
    transaction of its own just after the write's commit, so a resend (or a racer) can
    find the key's row before it (or never, if the server stopped in between)."""


@dataclass
class Stored:
    """A write already done under a key: its status and what it created (ids)."""

    status: int
    ref: Ref = field(default_factory=dict)
    # Set once a replay has waited for the answer long enough: it will not come.
    waited: bool = False

    def kept(self, name: str = "answer", lost: Any = None) -> Any:
        """What ``remember`` added under ``name`` once the write committed; ``NotKept``
        while it is not there. Once waited for in vain, ``lost`` if given (an import's
        replay then answers its ids alone), else ``NotKept`` still."""
        if name in self.ref:
            return self.ref[name]
        if self.waited and lost is not None:
            return lost
        raise NotKept(name)


class IdempotencyService(Service):
    def __init__(
        self, db: Database, clock: Callable[[], datetime], ttl: timedelta = DEFAULT_TTL
    ) -> None:
        super().__init__(db, clock)
        self.ttl = ttl

    def find(self, attempt: Attempt) -> Stored | None:
        """The first answer under this key, if any and not expired; a key used for
        another request or another body is a conflict (409), never a second write."""
        with self.db.read() as conn:
            row = (
                conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.user_id == attempt.user_id,
                        idempotency_keys.c.key == attempt.key,
                        idempotency_keys.c.created_at >= self.clock() - self.ttl,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        if row["request"] != attempt.request or row["body_hash"] != attempt.body_hash:
            raise Conflict(
                N_(
                    "This idempotency key was already used for a different request: "
                    "send a new key for a new request"
                ),
                field="Idempotency-Key",
            )
        return Stored(status=int(row["status"]), ref=dict(row["ref"] or {}))

    def guard(self, attempt: Attempt, audit: AuditHook, ref: RefOf | None = None) -> AuditHook:
        """``audit``, preceded inside the write's transaction by the key's row (``ref``
        names what the write created; by default the persons it touched)."""

        # A write may call its hook more than once in its transaction (an import writes
        # persons, then households, then updates): the row is inserted at the first call
        # and its person ids extended at the next ones.
        written: list[Any] = [None, []]  # the connection that inserted the row, its ids

        def keyed(conn: Connection, person_ids: list[str]) -> None:
            if written[0] is conn:
                written[1] = list(dict.fromkeys([*written[1], *person_ids]))
                conn.execute(
                    update(idempotency_keys)
                    .where(
                        idempotency_keys.c.user_id == attempt.user_id,
                        idempotency_keys.c.key == attempt.key,
                    )
                    .values(ref=_with_persons(conn, attempt, written[1]))
                )
                audit(conn, person_ids)
                return
            now = self.clock()
            # An expired row of this key makes way (the key is new again).
            conn.execute(
                delete(idempotency_keys).where(
                    and_(
                        idempotency_keys.c.user_id == attempt.user_id,
                        idempotency_keys.c.key == attempt.key,
                        idempotency_keys.c.created_at < now - self.ttl,
                    )
                )
            )
            made = ref(conn, person_ids) if ref is not None else {}
            conn.execute(
                insert(idempotency_keys).values(
                    user_id=attempt.user_id,
                    key=attempt.key,
                    request=attempt.request,
                    body_hash=attempt.body_hash,
                    status=attempt.status,
                    ref={"person_ids": list(person_ids), **made},
                    created_at=now,
                )
            )
            written[0], written[1] = conn, list(person_ids)
            audit(conn, person_ids)

        return keyed

    def remember(self, attempt: Attempt, summary: Ref) -> None:
        """Add to a key's row what the write answered once it committed (counts, never
        field values): an import's report. A crash before this leaves the ids alone."""
        with self.db.transaction() as conn:
            row = conn.execute(
                select(idempotency_keys.c.ref).where(
                    idempotency_keys.c.user_id == attempt.user_id,
                    idempotency_keys.c.key == attempt.key,
                )
            ).first()
            if row is None:
                return
            conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.user_id == attempt.user_id,
                    idempotency_keys.c.key == attempt.key,
                )
                .values(ref={**dict(row[0] or {}), **summary})
            )

    def purge(self, conn: Connection | None = None) -> int:
        """Delete the rows past their time; how many went."""
        cutoff = self.clock() - self.ttl
        stmt = delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
        if conn is not None:
            return int(conn.execute(stmt).rowcount or 0)
        with self.db.transaction() as own:
            return int(own.execute(stmt).rowcount or 0)


def _with_persons(conn: Connection, attempt: Attempt, person_ids: list[str]) -> Ref:
    row = conn.execute(
        select(idempotency_keys.c.ref).where(
            idempotency_keys.c.user_id == attempt.user_id,
            idempotency_keys.c.key == attempt.key,
        )
    ).first()
    return {**dict(row[0] if row else {}), "person_ids": person_ids}


# -- what a guarded write created, found inside its own transaction ----------------------


def _made_here(conn: Connection) -> Any:
    """A condition on a row: written by this transaction. PostgreSQL knows (``xmin``, the
    transaction id that wrote the row); on SQLite the single writer means that the newest
    matching row is this transaction's, which the other conditions then pin down."""
    if conn.dialect.name == "postgresql":
        return text("CAST(xmin AS text) = CAST(txid_current() % 4294967296 AS text)")
    return true()


def _newest(conn: Connection, column: Any, *where: Any) -> str | None:
    found = conn.execute(
        select(column).where(*where, _made_here(conn)).order_by(column.desc()).limit(1)
    ).scalar()
    return None if found is None else str(found)


def movement_ref(user_id: str) -> RefOf:
    """The movement a status event or correction recorded for its person."""

    def ref(conn: Connection, person_ids: list[str]) -> Ref:
        return {
            "movement_id": _newest(
                conn,
                movements.c.id,
                movements.c.person_id == person_ids[0],
                movements.c.recorded_by == user_id,
            )
        }

    return ref


def manifest_ref(user_id: str) -> RefOf:
    """The manifest a create made."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        return {"manifest_id": _newest(conn, manifests.c.id, manifests.c.created_by == user_id)}

    return ref


def household_ref(conn: Connection, person_ids: list[str]) -> Ref:
    """The household a registration made (its head's)."""
    found = conn.execute(
        select(persons.c.household_id).where(persons.c.id == person_ids[0])
    ).scalar()
    return {"household_id": found}


def check_in_ref(manifest_id: str) -> RefOf:
    """What a check-in recorded: the arrival on the manifest, or the discrepancy. (The
    status here is what the ids say; the API keeps the answer's own status once the
    write committed: a tick sent after another's said ``already_checked_in``.)"""

    def ref(conn: Connection, person_ids: list[str]) -> Ref:
        item = conn.execute(
            select(manifest_items.c.arrival_movement_id, manifest_items.c.late_arrival).where(
                manifest_items.c.manifest_id == manifest_id,
                manifest_items.c.person_id == person_ids[0],
            )
        ).first()
        if item is not None:
            return {"status": "checked_in", "movement_id": item[0], "late_arrival": bool(item[1])}
        moved = _newest(
            conn,
            movements.c.id,
            movements.c.person_id == person_ids[0],
            movements.c.manifest_id == manifest_id,
        )
        status = "discrepancy_recorded" if moved else "already_recorded_as_discrepancy"
        return {"status": status, "movement_id": moved}

    return ref


def enquiry_ref(user_id: str) -> RefOf:
    """The tracing enquiry a write recorded."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        return {
            "enquiry_id": _newest(
                conn, tracing_enquiries.c.id, tracing_enquiries.c.created_by == user_id
            )
        }

    return ref


def match_case_ref(match_id: str) -> RefOf:
    """The case of a match a decision was about."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        found = conn.execute(
            select(tracing_matches.c.case_id).where(tracing_matches.c.id == match_id)
        ).scalar()
        return {"case_id": found}

    return ref


def link_ref(person_id: str, other_person_id: str, kind: str) -> RefOf:
    """The relationship a link recorded (its inverse is found from it)."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        found = conn.execute(
            select(relationships.c.id).where(
                relationships.c.person_id == person_id,
                relationships.c.other_person_id == other_person_id,
                relationships.c.kind == kind,
                relationships.c.removed_at.is_(None),
            )
        ).scalar()
        return {"link_id": found}

    return ref


# -- what an administrator's or an officer's write created (ids only) ------------------


def user_ref(username: str) -> RefOf:
    """The user a create made (user names are unique, kept folded)."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        name = username.strip().casefold()
        found = conn.execute(select(users.c.id).where(users.c.username == name)).scalar()
        return {"user_id": found}

    return ref


def site_ref(conn: Connection, _person_ids: list[str]) -> Ref:
    """The site a create made."""
    return {"site_id": _newest(conn, sites.c.id)}


def export_ref(user_id: str) -> RefOf:
    """The export request a caller made."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        return {
            "export_id": _newest(
                conn, export_requests.c.id, export_requests.c.requested_by == user_id
            )
        }

    return ref


def token_ref(user_id: str) -> RefOf:
    """The API token a caller was issued: its id, never its secret. Token ids are random,
    so on SQLite the last row written (``rowid``) is this transaction's."""

    def ref(conn: Connection, _person_ids: list[str]) -> Ref:
        order = (
            literal_column("rowid") if conn.dialect.name == "sqlite" else api_tokens.c.created_at
        )
        found = conn.execute(
            select(api_tokens.c.id)
            .where(api_tokens.c.user_id == user_id, _made_here(conn))
            .order_by(order.desc())
            .limit(1)
        ).scalar()
        return {"token_id": found}

    return ref


def erasure_ref(person_id: str) -> RefOf:
    """When an erasure anonymised its person (a time, not a field value)."""

    def ref(conn: Connection, person_ids: list[str]) -> Ref:
        found = conn.execute(
            select(persons.c.anonymised_at).where(persons.c.id == person_id)
        ).scalar()
        # The erasure audits the person first, then the records merged into it (ids).
        return {
            "erased_at": found.isoformat() if found is not None else None,
            "merged_person_ids": person_ids[1:],
        }

    return ref
