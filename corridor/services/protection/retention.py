"""Retention: each category of record has a period (``security/data/retention.json``);
``run`` disposes of what expired and writes one ``disposal_log`` row per record (category,
id, action, when, why; never a value). A person on legal hold is never disposed of.

A person is *anonymised*, not deleted: names, phone, documents, note, medical details,
biometric reference, origin locality, family links and the free text written about them
(movement and manifest notes, imported PFIF notes) are removed, a birth day or month is
coarsened to its year (a representative day of it that keeps the age bracket of every day
counted, ``domain.birth.anonymised_birth``; an estimated age, the registration date less
the age, and a year stay) and the wristband number is replaced, so the figures (sex, age
bracket, nationality, site, movements) still count them as they did. Their matching keys
go too, and the text of tracing match explanations that name them.

A tracing enquiry is anonymised with all its cases once every case ended (reunited or
closed) and each is past the period of its outcome, counted from when it ended (the case
log says when); an enquiry with a case still open, or on legal hold, is never disposed
of. The enquirer's name, contact, whereabouts and note, the sought persons' names,
relatives' names, places and last-seen details, their blocking keys, the names in match
explanations and the officers' decision notes go; states, dates, close reasons,
disclosure, relationship, sex, birth year and nationality stay for figures. The case log
(``tracing_case_events``) is append-only: the database allows one change only, blanking
an entry's free-text reason (migration 0011), which is what the run does; who moved the
case, when, and from which state to which stay.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, or_, select, update

from corridor.domain.birth import anonymised_birth
from corridor.domain.ids import new_registration_number, uuid7
from corridor.errors import Conflict, NotFound, Problem, ValidationFailed
from corridor.security.tables import alerts, audit_events, disposal_log, rate_events, sessions
from corridor.services.base import AuditHook, Service, live_id
from corridor.services.protection.field_vault import FieldVault
from corridor.services.protection.keys import audit_admin
from corridor.services.protection.oversight import keep_erased_numbers, person_by_reference
from corridor.services.search import match_index
from corridor.services.tracing.retention import (
    TRACING,
    anonymise_enquiries,
    ended_enquiries,
    forget_explanations,
    forget_notes,
    set_aside_proposed,
)
from corridor.storage import changes, locations, queries
from corridor.storage.bulk import insert_rows
from corridor.storage.database import Database
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.merge_tables import duplicate_pairs, merged_ids, person_merges
from corridor.storage.number_tables import renumbered
from corridor.storage.queries import NAME_COLUMNS, Sites
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    movements,
    person_documents,
    persons,
    relationships,
)
from corridor.storage.tracing_tables import tracing_enquiries, tracing_matches
from corridor.text import N_

ACTIONS = {"person": "anonymise", "tracing_reunited": "anonymise",
           "tracing_closed": "anonymise", "session": "delete", "rate_event": "delete",
           "alert": "delete", "audit_event": "report"}  # fmt: skip
DONE = {"anonymise": "anonymised", "delete": "deleted"}  # as the disposal log says it

# What an erased person's import records say of the file's content: nothing.
ERASED_CONTENT = "0" * 64


@dataclass(frozen=True)
class Category:
    name: str
    period: timedelta
    action: str
    why: str


def load_policy(path: Path | None = None) -> dict[str, Category]:
    """Retention periods from a file (``None``: the shipped one), checked: every known
    category, nothing else."""
    if path is None:
        text = resources.files("corridor.security").joinpath("data/retention.json").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    raw = json.loads(text)["categories"]
    if set(raw) != set(ACTIONS):
        raise ValueError(f"retention.json must define exactly {sorted(ACTIONS)}")
    out = {}
    for name, c in raw.items():
        if c["action"] != ACTIONS[name] or int(c["period_days"]) < 1:
            raise ValueError(f"retention.json: bad period or action for {name}")
        out[name] = Category(name, timedelta(days=int(c["period_days"])), c["action"], c["why"])
    return out


@cache
def policy() -> dict[str, Category]:
    """The shipped retention periods (a deployment passes its own through settings)."""
    return load_policy()


@dataclass(frozen=True)
class HoldChange:
    kind: str  # person or enquiry
    record_id: str
    hold: bool


@dataclass
class RetentionReport:
    dry_run: bool
    run_id: str
    # category -> ids disposed of (or that would be, in a dry run)
    disposed: dict[str, list[str]] = field(default_factory=dict)
    kept_on_hold: int = 0
    enquiries_kept_on_hold: int = 0
    audit_events_past_period: int = 0


class RetentionService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        periods: dict[str, Category] | None = None,
    ) -> None:
        super().__init__(db, clock)
        self.vault = vault
        self.periods = periods or policy()

    def set_hold(self, person_id: str, hold: bool, actor: str) -> None:
        """Place (or lift) a legal hold: a person on hold is never disposed of."""
        why = "legal hold placed" if hold else "legal hold lifted"
        self._set_hold(persons, "person", person_id, hold, self._operator(actor, why))

    def set_enquiry_hold(self, enquiry_id: str, hold: bool, actor: str) -> None:
        """Place (or lift) a legal hold on a tracing enquiry: neither it nor its cases
        are disposed of while it holds."""
        why = ("legal hold placed" if hold else "legal hold lifted") + " on an enquiry"
        self._set_hold(tracing_enquiries, "enquiry", enquiry_id, hold, self._operator(actor, why))

    def hold(self, kind: str, ref: str, hold: bool, *, audit: AuditHook) -> HoldChange:
        """Place (or lift) a legal hold from the data protection officer's desk: ``kind``
        ``person`` (``ref`` a person id or registration number) or ``enquiry`` (an
        enquiry id). Audited through ``audit`` with the person, or without one for an
        enquiry."""
        if kind == "person":
            with self.db.read() as conn:
                record_id = person_by_reference(conn, ref, "ref")
            if record_id is None:
                raise NotFound("person", "ref")
            # A merged person's number holds the survivor it leads to (issue 15), in
            # the hold's own transaction (``follow``), as every write to an old id.
            record_id = self._set_hold(persons, "person", record_id, hold, audit, follow=True)
        elif kind == "enquiry":
            record_id = ref.strip()
            self._set_hold(tracing_enquiries, "enquiry", record_id, hold, audit, "ref")
        else:
            raise ValidationFailed([Problem("kind", N_("choose a person or an enquiry"))])
        return HoldChange(kind, record_id, hold)

    def _operator(self, actor: str, why: str) -> AuditHook:
        """The command line's audit: the operator, as an administrator (``audit_admin``)."""

        def append(conn: Connection, touched: list[str]) -> None:
            audit_admin(conn, self.clock(), actor, "retention.run", why, None, touched)

        return append

    def _set_hold(
        self,
        table: Table,
        what: str,
        record_id: str,
        hold: bool,
        audit: AuditHook,
        where: str | None = None,
        follow: bool = False,
    ) -> str:
        """The hold placed or lifted; the record's id (``follow``: a merged person's
        survivor)."""
        with self.db.transaction() as conn:
            if follow:
                record_id = live_id(conn, record_id)
            was = conn.execute(
                select(table.c.legal_hold).where(table.c.id == record_id).with_for_update()
            ).first()
            if was is None:
                raise NotFound(what, where)
            conn.execute(update(table).where(table.c.id == record_id).values(legal_hold=hold))
            if what == "person":  # the hold travels to the other nodes (issue 16)
                changes.journal_as(conn, "person.hold")
                if bool(was[0]) == hold:
                    # Placed (or lifted) already: the run is audited, but no second change
                    # of the same state goes to the other nodes (`corridor retention hold`
                    # run again after a lost answer journaled one each time).
                    changes.person_state_unchanged(conn)
            audit(conn, [record_id] if what == "person" else [])
        return record_id

    def erase(
        self,
        person_id: str,
        ground: str,
        *,
        audit: AuditHook,
        scope: Sites = None,
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """Erase a person's data at their request (PROTECTION.md line 11), now: the same
        anonymisation as a retention run, logged as a disposal. Refused for a record on
        legal hold or already anonymised. With ``conn``, inside that caller's
        transaction (a hold lifted to carry out an erasure received from another node).

        The records merged into the person (issue 15: the same person registered more
        than once) are erased with it, each logged as a disposal and named in the answer
        (``merged_person_ids``); one of them on legal hold refuses the whole erasure."""
        now = self.clock()
        within = nullcontext(conn) if conn is not None else self.db.transaction()
        with within as conn:
            person_id = live_id(conn, person_id)  # a merged id: its survivor (issue 15)
            # The person's row lock before anything of theirs is read, as a merge, an
            # event or a PATCH takes it: a merge made at the same moment commits first and
            # the record it merged in is erased too (or this waits, then finds the person
            # merged elsewhere or erased already: tests/api/test_races_every_pair.py).
            locations.lock_persons(conn, [person_id])
            person_id = live_id(conn, person_id)
            row = queries.person_row(conn, person_id, scope)  # NotFound: unknown or out of scope
            merged = queries.merged_into(conn, person_id)
            held = [person_id] if row["legal_hold"] else []
            if merged:
                held += conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_(merged), persons.c.legal_hold.is_(True)
                    )
                ).scalars()
            if held:
                raise Conflict(
                    N_("this record is on legal hold and cannot be erased")
                    if held[0] == person_id
                    else N_(
                        "a record merged into this person is on legal hold: nothing was erased"
                    ),
                    "legal_hold",
                )
            if row["anonymised_at"] is not None:
                raise Conflict(N_("this record was erased already"), "person_id")
            erased = [person_id] + list(
                conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_(merged), persons.c.anonymised_at.is_(None)
                    )
                ).scalars()
            ) if merged else [person_id]  # fmt: skip
            self._anonymise(conn, erased, now)
            changes.journal_as(conn, "person.erase")  # travels to the other nodes
            run_id = uuid7()
            insert_rows(
                conn,
                disposal_log,
                [
                    {
                        "run_id": run_id,
                        "category": "erasure_request",
                        "record_id": record_id,
                        "action": "anonymised",
                        "reason": f"erased at the person's request ({ground})"
                        if record_id == person_id
                        else f"merged into an erased person, erased with it ({ground})",
                        "disposed_at": now,
                    }
                    for record_id in erased
                ],
            )
            audit(conn, erased)
        return {
            "person_id": person_id,
            "erased_at": now,
            "ground": ground,
            "merged_person_ids": erased[1:],
        }

    def run(self, actor: str, dry_run: bool = False) -> RetentionReport:
        now = self.clock()
        rules = self.periods
        report = RetentionReport(dry_run=dry_run, run_id=uuid7())
        with self.db.read() if dry_run else self.db.transaction() as conn:
            expired = {
                "person": self._expired_persons(conn, now - rules["person"].period),
                **ended_enquiries(conn, now, _periods(rules), hold=False),
                "session": _ids(conn, sessions.c.id_hash, sessions, _session_gone(now, rules)),
                "rate_event": _ids(
                    conn,
                    rate_events.c.id,
                    rate_events,
                    rate_events.c.at < now - rules["rate_event"].period,
                ),  # fmt: skip
                "alert": _ids(
                    conn,
                    alerts.c.id,
                    alerts,
                    alerts.c.acknowledged_at < now - rules["alert"].period,
                ),  # fmt: skip
            }
            # A person registered more than once and merged is one person: a hold on any
            # of their records keeps them all (as it refuses their erasure).
            holding = self._held_with_merges(conn)
            kept = [p for p in expired["person"] if p in holding]
            expired["person"] = [p for p in expired["person"] if p not in holding]
            report.kept_on_hold = self._held_past_period(conn, now - rules["person"].period)
            report.kept_on_hold += len(kept)
            held = ended_enquiries(conn, now, _periods(rules), hold=True)
            report.enquiries_kept_on_hold = sum(len(v) for v in held.values())
            report.audit_events_past_period = int(
                conn.execute(
                    select(func.count())
                    .select_from(audit_events)
                    .where(audit_events.c.occurred_at < now - rules["audit_event"].period)
                ).scalar_one()
            )
            report.disposed = {k: v for k, v in expired.items() if v}
            if dry_run:
                return report
            self._anonymise(conn, expired["person"], now)
            anonymise_enquiries(conn, [e for c in TRACING for e in expired[c]], now)
            conn.execute(delete(sessions).where(sessions.c.id_hash.in_(expired["session"])))
            conn.execute(delete(rate_events).where(rate_events.c.id.in_(expired["rate_event"])))
            conn.execute(delete(alerts).where(alerts.c.id.in_(expired["alert"])))
            log = [
                {
                    "run_id": report.run_id,
                    "category": category,
                    "record_id": str(record_id),
                    "action": DONE[rules[category].action],
                    "reason": f"retention period of {rules[category].period.days} days passed",
                    "disposed_at": now,
                }
                for category, ids in expired.items()
                for record_id in ids
            ]
            insert_rows(conn, disposal_log, log)
            total = sum(len(v) for v in expired.values())
            why = f"retention run: {total} disposed"
            changes.journal_as(conn, "person.erase")  # travels to the other nodes
            audit_admin(conn, now, actor, "retention.run", why, None, expired["person"])
        return report

    # -- persons -------------------------------------------------------------------------

    def _candidates(self, cutoff: datetime, hold: bool) -> Any:
        """Persons whose last activity (registration, correction, movement) is older
        than ``cutoff``, on hold or not."""
        last_move = (
            select(movements.c.person_id, func.max(movements.c.occurred_at).label("at"))
            .group_by(movements.c.person_id)
            .subquery()
        )
        return (
            select(persons.c.id)
            .outerjoin(last_move, last_move.c.person_id == persons.c.id)
            .where(
                persons.c.anonymised_at.is_(None),
                persons.c.legal_hold.is_(hold),
                persons.c.updated_at < cutoff,
                persons.c.registered_at < cutoff,
                or_(last_move.c.at.is_(None), last_move.c.at < cutoff),
            )
            .order_by(persons.c.id)
        )

    def _expired_persons(self, conn: Connection, cutoff: datetime) -> list[str]:
        return list(conn.execute(self._candidates(cutoff, hold=False)).scalars())

    def _held_with_merges(self, conn: Connection) -> set[str]:
        """The persons on legal hold, with every record of the same person through the
        merges in force: the survivor a held record was merged into, and every record
        merged into a held survivor."""
        on_hold = select(persons.c.id).where(persons.c.legal_hold.is_(True))
        held = list(conn.execute(on_hold).scalars())
        out = set(held)
        for survivor in queries.survivors(conn, held):
            out.add(survivor)
            out.update(queries.merged_into(conn, survivor))
        return out

    def _held_past_period(self, conn: Connection, cutoff: datetime) -> int:
        return len(list(conn.execute(self._candidates(cutoff, hold=True)).scalars()))

    def _anonymise(self, conn: Connection, ids: list[str], now: datetime) -> None:
        # Their wristband numbers, as keyed hashes only, for the desk's look-up.
        keep_erased_numbers(conn, self.vault, ids, now)
        anonymise(conn, ids, now)


# Why a pair of the duplicates queue was set aside when one of its records was erased.
ERASED_PAIR = "a record of the pair was erased"


def anonymise(conn: Connection, ids: list[str], now: datetime) -> None:
    """Anonymise the persons ``ids`` in the caller's transaction (a retention run, a site
    node carrying out its central's wipe order): names, contact, notes, documents and
    family links go; the events, their sites and times stay."""
    if not ids:
        return
    match_index.unindex(conn, ids)
    # Officers' own words about them (a merge's or a pair's reason, a tracing decision's
    # note) may name them; the numbers they held before a renumbering are theirs too.
    forget_notes(conn, ids)
    conn.execute(delete(renumbered).where(renumbered.c.person_id.in_(ids)))
    theirs = or_(person_merges.c.survivor_id.in_(ids), person_merges.c.merged_id.in_(ids))
    conn.execute(update(person_merges).where(theirs).values(reason=None, unmerge_reason=None))
    # A merge keeps the documents that followed the survivor, as they were (for an
    # unmerge): their numbers (sealed) and lookup hashes go with the documents.
    merges = select(person_merges.c.id, person_merges.c.moved).where(theirs)
    for merge_id, moved in conn.execute(merges).all():
        documents = (moved or {}).get("documents") or []
        if any(d.get("number") or d.get("number_key") for d in documents):
            kept = [{**d, "number": None, "number_key": None} for d in documents]
            conn.execute(
                update(person_merges)
                .where(person_merges.c.id == merge_id)
                .values(moved={**moved, "documents": kept})
            )
    pairs = or_(duplicate_pairs.c.person_a.in_(ids), duplicate_pairs.c.person_b.in_(ids))
    conn.execute(update(duplicate_pairs).where(pairs).values(reason=None))
    set_aside_proposed(conn, ids, now)  # no tracing case offers them any more
    # Nor does the duplicates queue: a pair with an erased record is set aside for good.
    conn.execute(
        update(duplicate_pairs)
        .where(duplicate_pairs.c.status == "proposed", pairs)
        .values(status="rejected", reason=ERASED_PAIR, decided_by="system", decided_at=now)
    )
    forget_explanations(conn, tracing_matches.c.person_id.in_(ids))
    # Old ids merged elsewhere that only led here (a node): their numbers go too.
    conn.execute(delete(merged_ids).where(merged_ids.c.survivor_id.in_(ids)))
    conn.execute(delete(person_documents).where(person_documents.c.person_id.in_(ids)))
    # Free text written about them elsewhere: movement and manifest notes, PFIF notes
    # (their author, last known location and text). The events, their sites and
    # times stay; imported_records stays so that a re-import cannot bring them back.
    # ``recorded_roles`` only tells whose field group a note is (services/protection/
    # gate.py): with the note gone it would still say a health or protection officer
    # wrote about them.
    conn.execute(
        update(movements)
        .where(movements.c.person_id.in_(ids))
        .values(note=None, recorded_roles=None)
    )
    conn.execute(
        update(manifest_items)
        .where(manifest_items.c.person_id.in_(ids))
        .values(separation_reason=None)
    )
    conn.execute(
        update(manifest_discrepancies)
        .where(manifest_discrepancies.c.person_id.in_(ids))
        .values(note=None)
    )
    conn.execute(
        update(pfif_notes)
        .where(pfif_notes.c.person_id.in_(ids))
        .values(author_name=None, last_known_location=None, text=None)
    )
    # The hashes of what a PFIF record wrote on them (names among them), and the digest
    # of what each file said of them (a plain SHA-256: a guess of their details would
    # confirm it): gone. The record's key stays and turns a re-import away.
    conn.execute(
        update(imported_records)
        .where(imported_records.c.person_id.in_(ids))
        .values(fields=None, content_hash=ERASED_CONTENT)
    )
    conn.execute(
        delete(relationships).where(
            or_(relationships.c.person_id.in_(ids), relationships.c.other_person_id.in_(ids))
        )
    )
    births = _births_kept(conn, ids, now.astimezone(UTC).date())
    for pid in ids:
        born, precision = births[pid]
        conn.execute(
            update(persons)
            .where(persons.c.id == pid)
            .values(
                **dict.fromkeys(NAME_COLUMNS),
                alternate_names=[],
                kunya=None,
                mother_name=None,
                origin_locality=None,
                phone=None,
                phone_hash=None,
                note=None,
                note_roles=None,  # whose group the note was: gone with it
                medical=None,
                biometric_reference=None,
                recorded_by=None,
                birth_date=born,
                birth_precision=precision,
                registration_number=new_registration_number(),
                anonymised_at=now,
                updated_at=now,
            )
        )


def _births_kept(
    conn: Connection, ids: list[str], today: date
) -> dict[str, tuple[date | None, str | None]]:
    """Person -> the birth date and precision their anonymisation keeps
    (``domain.birth.anonymised_birth``): the age bracket the figures counted them in stays
    what it was on every day they were counted, from their first day (their registration
    or their first movement in force, whichever is earlier) to ``today``."""
    moved = (
        select(movements.c.person_id, func.min(movements.c.occurred_at).label("at"))
        .where(
            movements.c.person_id.in_(ids),
            movements.c.kind != "voided",
            movements.c.id.not_in(
                select(movements.c.corrects_id).where(movements.c.corrects_id.is_not(None))
            ),
        )
        .group_by(movements.c.person_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            persons.c.id,
            persons.c.birth_date,
            persons.c.birth_precision,
            persons.c.registered_at,
            moved.c.at,
        )
        .outerjoin(moved, moved.c.person_id == persons.c.id)
        .where(persons.c.id.in_(ids))
    ).all()
    out: dict[str, tuple[date | None, str | None]] = {}
    for pid, born, precision, registered_at, first_moved in rows:
        first = registered_at.date()
        if first_moved is not None:
            first = min(first, first_moved.date())
        out[pid] = anonymised_birth(born, precision, first, today)
    return out


def _periods(rules: dict[str, Category]) -> dict[str, timedelta]:
    return {name: rules[name].period for name in TRACING}


def _session_gone(now: datetime, rules: dict[str, Category]) -> Any:
    cutoff = now - rules["session"].period
    return or_(sessions.c.expires_at < cutoff, sessions.c.revoked_at < cutoff)


def _ids(conn: Connection, column: Any, table: Any, condition: Any) -> list[Any]:
    return list(conn.execute(select(column).select_from(table).where(condition)).scalars())
