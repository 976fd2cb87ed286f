"""What the data protection officer reads at the desk: who opened a record (the audit
log of one person), alerts and lockouts, the disposal log, exports waiting for their
second key, legal holds, the audit chain's check, and what an evacuation drill would
destroy.

Nothing here shows a field of a person: a person appears by id and registration number
only, never by name (docs/security.md, "The data protection officer's desk"). The reads
that name persons (a person's accesses, the persons on hold) leave the services through
the gate (``Gate.audit_trail``, ``Gate.legal_holds``), which audits them; the others name
nobody and are not audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, func, select

from corridor.domain.export_selection import Selection, describe
from corridor.domain.ids import (
    InvalidRegistrationNumber,
    format_registration_number,
    normalise_registration_number,
    uuid7,
)
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.security import alerts as alert_log
from corridor.security import audit
from corridor.security.tables import (
    audit_events,
    disposal_log,
    export_requests,
    site_keys,
    users,
)
from corridor.services.base import Service
from corridor.services.protection.field_vault import FieldVault
from corridor.services.protection.read_models import Sentence
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.merge_tables import merged_ids
from corridor.storage.number_tables import erased_numbers, renumbered
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import tracing_enquiries
from corridor.text import N_, text_of

__all__ = [
    "AccessEntry",
    "AlertEntry",
    "Alerts",
    "AuditTrail",
    "ChainCheck",
    "Disposal",
    "DrillPreview",
    "HeldEnquiry",
    "HeldPerson",
    "Holds",
    "Lockout",
    "OversightService",
    "PendingExport",
    "person_by_reference",
]

# The newest rows of the disposal log a page shows.
DISPOSALS_SHOWN = 200


class AccessEntry(BaseModel):
    """One row of the audit log about a person: who, under which role, what, why, when,
    and the outcome; never a value."""

    seq: int
    occurred_at: datetime
    user_id: str
    username: str | None  # None for the command line (``cli:<login>``) or a deleted user
    role: str
    action: str
    purpose: str
    outcome: str


class AuditTrail(BaseModel):
    person_id: str
    registration_number: str | None  # None where no such person is registered
    anonymised: bool
    legal_hold: bool
    entries: list[AccessEntry]


class AlertEntry(BaseModel):
    id: str
    kind: str
    user_id: str | None
    username: str | None
    detail: str
    created_at: datetime


class Lockout(BaseModel):
    user_id: str
    username: str
    failed_logins: int
    locked_until: datetime


class Alerts(BaseModel):
    alerts: list[AlertEntry]
    lockouts: list[Lockout]


class Disposal(BaseModel):
    run_id: str
    category: str
    record_id: str
    action: str
    reason: Sentence  # in words, translatable (``disposal_reason``)
    disposed_at: datetime


class PendingExport(BaseModel):
    """An export that waits for its second key: who asked, why, which sites, and how many
    persons those sites hold now, or a list's selection holds now (the file is written
    only when downloaded)."""

    id: str
    requested_by: str
    requester: str | None
    reason: str
    format: str
    site_ids: list[str]
    sites: list[str]
    created_at: datetime
    persons: int
    selection_text: Sentence = "every person of the sites"


class HeldPerson(BaseModel):
    person_id: str
    registration_number: str
    site_id: str
    site: str
    anonymised: bool


class HeldEnquiry(BaseModel):
    enquiry_id: str
    created_at: datetime


class Holds(BaseModel):
    persons: list[HeldPerson]
    enquiries: list[HeldEnquiry]


class ChainCheck(BaseModel):
    """``corridor audit verify`` as a page: ok and the head, or the first broken row."""

    ok: bool
    checked: int
    broken_seq: int | None
    reason: str | None
    head_seq: int | None
    head_hash: str | None


class DrillPreview(BaseModel):
    """What destroying a site's keys would do: the phrase to type is the site's name."""

    site_id: str
    name: str
    kind: str
    persons: int  # registered at the site: their sealed fields become unreadable
    live_keys: int
    destroyed_keys: int


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def person_by_reference(conn: Connection, ref: str, field: str = "person") -> str | None:
    """The person id a reference names: a person id, or a registration number in any
    spelling a wristband allows (``K7M4-Q2XA-9``). ``None`` for an id-shaped reference
    that names no registered person; a malformed number is a ``ValidationFailed``, an
    unknown one a ``NotFound``."""
    ref = ref.strip()
    if _is_uuid(ref):
        found = conn.execute(select(persons.c.id).where(persons.c.id == ref)).scalar()
        if found is None:  # an old id whose own record is not held here (a node)
            found = conn.execute(
                select(merged_ids.c.survivor_id).where(merged_ids.c.person_id == ref)
            ).scalar()
        return None if found is None else str(found)
    if not ref:
        raise ValidationFailed([Problem(field, N_("give a person id or a registration number"))])
    try:
        number = normalise_registration_number(ref)
    except InvalidRegistrationNumber as exc:
        raise ValidationFailed([Problem(field, text_of(exc))]) from exc
    found = queries.by_number(conn, number)
    if found is None:
        raise NotFound("person", field)
    if not conn.execute(select(persons.c.id).where(persons.c.id == found)).scalar():
        # An old id held alone (``merged_ids``): the person it leads to here.
        found = queries.survivors(conn, [found])[0]
    return found


# What the lookup hash of an erased person's registration number is keyed as (separate
# from the phones' and documents' hashes).
ERASED_NUMBER = "erased-registration-number"


def keep_erased_numbers(
    conn: Connection, vault: FieldVault, person_ids: Sequence[str], now: datetime
) -> int:
    """Inside an erasure's transaction, before the numbers are replaced: a keyed hash of
    every registration number the persons hold or held before a renumbering
    (``erased_numbers``), so that the desk's look-up by an old wristband number still
    finds them. The number itself is kept nowhere. Without a master key nothing can be
    hashed: nothing is kept (the record id still leads to the trail). How many."""
    if vault.cipher is None or not person_ids:
        return 0
    ids = list(person_ids)
    numbers = list(
        conn.execute(
            select(persons.c.id, persons.c.registration_number).where(persons.c.id.in_(ids))
        ).all()
    ) + list(
        conn.execute(
            select(renumbered.c.person_id, renumbered.c.previous_number).where(
                renumbered.c.person_id.in_(ids)
            )
        ).all()
    )
    rows = [
        {
            "id": uuid7(),
            "person_id": person_id,
            "number_hash": vault.lookup_hash(ERASED_NUMBER, str(number)),
            "erased_at": now,
        }
        for person_id, number in dict.fromkeys((str(p), str(n)) for p, n in numbers if n)
    ]
    if rows:
        conn.execute(erased_numbers.insert(), rows)
    return len(rows)


# The grounds of an erasure (``schemas.ErasureIn.ground``) in words.
GROUND_WORDS = {
    "consent_withdrawn": N_("consent withdrawn"),
    "no_longer_needed": N_("no longer needed for the purpose it was collected for"),
    "objection": N_("an objection to its use"),
    "unlawful": N_("unlawful processing"),
}
_ERASED = re.compile(r"erased at the person's request \((\w+)\)")
_ERASED_WITH = re.compile(r"merged into an erased person, erased with it \((\w+)\)")
_PERIOD = re.compile(r"retention period of (\d+) days passed")
_FIXED_REASONS = {
    "erased at another installation": N_("erased at another installation"),
    "left this node's site (the central's forget)": N_(
        "left this node's site (the central's forget)"
    ),
}


def disposal_reason(stored: str) -> str:
    """A disposal log's reason (stored in English, as the code writes it: the erasure's
    ground as its code) in words the pages translate; a reason of another form (an
    older version's) as it is."""
    if found := _ERASED.fullmatch(stored):
        ground = GROUND_WORDS.get(found[1], found[1])
        return N_("erased at the person's request: {ground}", ground=ground)
    if found := _ERASED_WITH.fullmatch(stored):
        ground = GROUND_WORDS.get(found[1], found[1])
        return N_("merged into a person erased, and erased with it: {ground}", ground=ground)
    if found := _PERIOD.fullmatch(stored):
        return N_("retention period of {days} days passed", days=int(found[1]))
    return _FIXED_REASONS.get(stored, stored)


def _usernames(conn: Connection, user_ids: Sequence[str | None]) -> dict[str, str]:
    wanted = sorted({u for u in user_ids if u})
    if not wanted:
        return {}
    rows = conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(wanted)))
    return {r.id: r.username for r in rows}


class OversightService(Service):
    """The desk's reads. ``trail`` and ``holds`` name persons: call them through the gate."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        select_persons: Callable[[Selection, list[str]], list[str]] | None = None,
        vault: FieldVault | None = None,
    ) -> None:
        """``select_persons``: the persons of a list's selection, to count those of a
        waiting export (services/exchange/selections.py)."""
        super().__init__(db, clock)
        self.select_persons = select_persons
        self.vault = vault

    def trail(self, ref: str) -> AuditTrail:
        """Every audit event about the person ``ref`` names (id or registration number),
        oldest first. An id that no person has but the log names (a refused look-up of
        an id that does not exist) shows its events; otherwise ``NotFound``. A number an
        erasure replaced leads to the anonymised record (``erased_numbers``: its keyed
        hash, the latest erasure's where two held it)."""
        with self.db.read() as conn:
            try:
                person_id = person_by_reference(conn, ref)
            except NotFound:
                person_id = self._erased(conn, ref)
                if person_id is None:
                    raise
            if person_id is None:
                person_id = ref.strip()
                row = None
                named = conn.execute(
                    select(func.count())
                    .select_from(audit_events)
                    .where(audit_events.c.person_id == person_id)
                ).scalar_one()
                if not named:
                    raise NotFound("person", "person")
            else:
                row = (
                    conn.execute(
                        select(
                            persons.c.registration_number,
                            persons.c.anonymised_at,
                            persons.c.legal_hold,
                        ).where(persons.c.id == person_id)
                    )
                    .mappings()
                    .one()
                )
            # A survivor's trail holds the events about the records merged into it.
            ids = [person_id, *queries.merged_into(conn, person_id)]
            rows = conn.execute(
                select(audit_events)
                .where(audit_events.c.person_id.in_(ids))
                .order_by(audit_events.c.seq)
            ).all()
            names = _usernames(conn, [r.user_id for r in rows])
        return AuditTrail(
            person_id=person_id,
            registration_number=(
                format_registration_number(row["registration_number"]) if row else None
            ),
            anonymised=bool(row and row["anonymised_at"] is not None),
            legal_hold=bool(row and row["legal_hold"]),
            entries=[
                AccessEntry(
                    seq=r.seq,
                    occurred_at=r.occurred_at,
                    user_id=r.user_id,
                    username=names.get(r.user_id),
                    role=r.role,
                    action=r.action,
                    purpose=r.purpose,
                    outcome=r.outcome,
                )
                for r in rows
            ],
        )

    def _erased(self, conn: Connection, ref: str) -> str | None:
        """The person an erased registration number led to (through the merges in force:
        the survivor), or None."""
        if self.vault is None or self.vault.cipher is None:
            return None
        number = normalise_registration_number(ref.strip())  # valid: looked up before
        found = conn.execute(
            select(erased_numbers.c.person_id)
            .where(erased_numbers.c.number_hash == self.vault.lookup_hash(ERASED_NUMBER, number))
            .order_by(erased_numbers.c.erased_at.desc(), erased_numbers.c.id.desc())
            .limit(1)
        ).scalar()
        return None if found is None else queries.survivors(conn, [str(found)])[0]

    def alerts(self) -> Alerts:
        """Alerts nobody acknowledged (anti-enumeration), and the accounts locked now."""
        now = self.clock()
        with self.db.read() as conn:
            open_ = alert_log.open_alerts(conn)
            locked = conn.execute(
                select(users.c.id, users.c.username, users.c.failed_logins, users.c.locked_until)
                .where(users.c.locked_until > now)
                .order_by(users.c.locked_until, users.c.username)
            ).all()
            names = _usernames(conn, [a.user_id for a in open_])
        return Alerts(
            alerts=[
                AlertEntry(
                    id=a.id,
                    kind=a.kind,
                    user_id=a.user_id,
                    username=names.get(a.user_id or ""),
                    detail=a.detail,
                    created_at=a.created_at,
                )
                for a in open_
            ],
            lockouts=[
                Lockout(
                    user_id=r.id,
                    username=r.username,
                    failed_logins=r.failed_logins,
                    locked_until=r.locked_until,
                )
                for r in locked
            ],
        )

    def disposals(self, limit: int = DISPOSALS_SHOWN) -> list[Disposal]:
        """The newest rows of the disposal log (retention runs and erasures), newest
        first. A person's record id names an anonymised record, nothing more."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(disposal_log)
                .order_by(disposal_log.c.disposed_at.desc(), disposal_log.c.id.desc())
                .limit(limit)
            ).all()
        return [
            Disposal(
                run_id=r.run_id,
                category=r.category,
                record_id=r.record_id,
                action=r.action,
                reason=disposal_reason(r.reason),
                disposed_at=r.disposed_at,
            )
            for r in rows
        ]

    def pending_exports(self) -> list[PendingExport]:
        """Bulk exports waiting for a second person's approval, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(export_requests)
                .where(export_requests.c.state == "pending")
                .order_by(export_requests.c.created_at, export_requests.c.id)
            ).all()
            names = _usernames(conn, [r.requested_by for r in rows])
            site_names = queries.site_names(conn)  # a detention site's label
            out = []
            for r in rows:
                # An erased person is in no file (``partner_exports``): not counted.
                live = persons.c.anonymised_at.is_(None)
                count = conn.execute(
                    select(func.count())
                    .select_from(persons)
                    .where(queries.person_scope(list(r.site_ids)), live)
                ).scalar_one()
                if r.selection and self.select_persons is not None:
                    # a list's persons now (ids only: counted, nobody shown or read)
                    chosen = self.select_persons(Selection.of(r.selection), list(r.site_ids))
                    count = 0
                    for start in range(0, len(chosen), 500):
                        part = chosen[start : start + 500]
                        count += conn.execute(
                            select(func.count())
                            .select_from(persons)
                            .where(persons.c.id.in_(part), live)
                        ).scalar_one()
                out.append(
                    PendingExport(
                        id=r.id,
                        requested_by=r.requested_by,
                        requester=names.get(r.requested_by),
                        reason=r.reason,
                        format=r.format,
                        site_ids=list(r.site_ids),
                        sites=[site_names.get(s, s) for s in r.site_ids],
                        created_at=r.created_at,
                        persons=int(count),
                        selection_text=_selection_text(r.selection, site_names),
                    )
                )
        return out

    def holds(self) -> Holds:
        """The persons and tracing enquiries on legal hold."""
        with self.db.read() as conn:
            people = conn.execute(
                select(
                    persons.c.id,
                    persons.c.registration_number,
                    persons.c.site_id,
                    persons.c.anonymised_at,
                )
                .where(persons.c.legal_hold.is_(True))
                .order_by(persons.c.registration_number)
            ).all()
            asked = conn.execute(
                select(tracing_enquiries.c.id, tracing_enquiries.c.created_at)
                .where(tracing_enquiries.c.legal_hold.is_(True))
                .order_by(tracing_enquiries.c.created_at, tracing_enquiries.c.id)
            ).all()
            site_names = queries.site_names(conn)  # a detention site's label
        return Holds(
            persons=[
                HeldPerson(
                    person_id=p.id,
                    registration_number=format_registration_number(p.registration_number),
                    site_id=p.site_id,
                    site=site_names.get(p.site_id, p.site_id),
                    anonymised=p.anonymised_at is not None,
                )
                for p in people
            ],
            enquiries=[HeldEnquiry(enquiry_id=e.id, created_at=e.created_at) for e in asked],
        )

    def verify(self) -> ChainCheck:
        """Walk the audit chain (as ``corridor audit verify`` does)."""
        with self.db.read() as conn:
            result = audit.verify(conn)
        return ChainCheck(
            ok=result.ok,
            checked=result.checked,
            broken_seq=result.broken_seq,
            reason=result.reason,
            head_seq=result.head.seq if result.head else None,
            head_hash=result.head.hash if result.head else None,
        )

    def drill_preview(self, site_id: str) -> DrillPreview:
        """What destroying ``site_id``'s keys would make unreadable."""
        with self.db.read() as conn:
            site = queries.get_site(conn, site_id)  # NotFound
            registered = conn.execute(
                select(func.count()).select_from(persons).where(persons.c.site_id == site_id)
            ).scalar_one()
            counted = conn.execute(
                select(site_keys.c.state, func.count())
                .where(site_keys.c.site_id == site_id)
                .group_by(site_keys.c.state)
            ).all()
        states: dict[str, int] = {str(state): int(n) for state, n in counted}
        return DrillPreview(
            site_id=site_id,
            name=site["name"],
            kind=site["kind"],
            persons=int(registered),
            live_keys=sum(n for state, n in states.items() if state != "destroyed"),
            destroyed_keys=states.get("destroyed", 0),
        )


def _selection_text(stored: dict[str, Any] | None, site_names: dict[str, str]) -> str:
    """What a waiting export holds, in words: every person of its sites, or a list's
    persons by its filter (they are found again when the file is written)."""
    if not stored:
        return describe(None)
    selection = Selection.of(stored)
    return describe(selection, site_names.get(selection.site_id or "", selection.site_id))
