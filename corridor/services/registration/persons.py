"""Registering persons and households, adding details later, linking relatives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select, update

from corridor.domain.birth import age_on
from corridor.domain.generations import GENERATIONS, generations_apart
from corridor.domain.ids import (
    InvalidRegistrationNumber,
    format_registration_number,
    new_registration_number,
    normalise_registration_number,
    uuid7,
)
from corridor.domain.movements import Event, current_location, effective_events
from corridor.domain.plausibility import member_warnings, person_warnings
from corridor.domain.tracing import WITHDREW
from corridor.domain.vulnerability import MEDICAL_FIELDS, WG_DOMAINS, mark_lost
from corridor.errors import Conflict, Implausible, Problem, ValidationFailed, require
from corridor.schemas import (
    ConsentIn,
    HouseholdIn,
    LinkIn,
    PersonDetails,
    PersonIn,
    PersonPatch,
    PersonSearchIn,
    validate_kept,
)
from corridor.security.errors import KeyUnavailable
from corridor.services.base import AuditHook, Service, live_id, live_ids, refuse_erased
from corridor.services.movements.events import recorders_roles
from corridor.services.protection.field_vault import (
    DOCUMENT_FIELD,
    SEALED_PERSON_FIELDS,
    UNREADABLE,
    UNREADABLE_PATHS,
    FieldVault,
)
from corridor.services.registration import renumber as renumbering
from corridor.services.registration.links import INVERSE_LINK, remove_link
from corridor.services.registration.person_rows import (
    detail_fields,
    document_key,
    document_rows,
    normalise_phone,
)
from corridor.services.registration.sites import unknown_site_problems
from corridor.services.search import match_index
from corridor.services.tracing.retention import set_aside_proposed
from corridor.storage import locations, outbox, queries
from corridor.storage.bulk import insert_rows
from corridor.storage.database import Database
from corridor.storage.queries import LIVE_LINK, Sites
from corridor.storage.queries import NAME_COLUMNS as NAME_FIELDS
from corridor.storage.tables import (
    households,
    movements,
    person_documents,
    person_locations,
    persons,
    relationships,
)
from corridor.text import N_, text_of

# Called inside a write's own transaction with the ids of the persons written, so that a
# write and its audit entry commit together or not at all.


# (persons written with their details, the audit hook of the queue's own transaction) ->
# pairs queued.
Linkage = Callable[[Sequence[tuple[str, PersonDetails]], AuditHook], int]

# The details a search for duplicates reads (``match_query``): correcting one of them
# checks the person against the registry again.
MATCHED_DETAILS = frozenset(
    {*NAME_FIELDS, "alternate_names", "mother_name", "birth_date", "estimated_age", "sex",
     "nationality"}
)  # fmt: skip


class _Draft:
    """One person about to be written: row, documents, age on the registration day, and
    the unlikely details found (``plausibility``)."""

    def __init__(
        self, person: dict[str, Any], docs: list[dict[str, Any]], age: int | None = None
    ) -> None:
        self.person = person
        self.docs = docs
        self.age = age
        self.warnings: list[Problem] = []


BIOMETRICS_OFF = N_(
    "biometrics are disabled on this instance (setting biometrics_enabled, "
    "env CORRIDOR_BIOMETRICS_ENABLED)"
)


class RegistrationService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        biometrics_enabled: bool = False,
    ) -> None:
        super().__init__(db, clock)
        self.vault = vault
        self.biometrics_enabled = biometrics_enabled
        # Incremental linkage (issue 15): told, once a desk's write committed, each
        # person written with its details, it queues their suspected duplicates for
        # review in its own transaction (``MergeService.queue_new``; the container
        # wires it). Imports queue theirs themselves.
        self.linkage: Linkage | None = None

    # -- writes -------------------------------------------------------------------------

    def register_person(
        self,
        data: PersonIn,
        recorded_by: str | None = None,
        *,
        audit: AuditHook,
        scope: Sites = None,
        queue_audit: AuditHook | None = None,
    ) -> dict[str, Any]:
        """Register one person at a site; returns the stored person. Unlikely details (an
        age over 110...) are refused as Implausible unless ``data.confirm_implausible``.
        ``queue_audit``: audits the review queue's own transaction, after the
        registration's (``queue_duplicates``; by default ``audit``: a caller whose ``audit`` joins
        the registration's transaction only, as an idempotency key's guard does, passes
        its own)."""
        [person_id] = self.register_many(
            [data],
            recorded_by,
            audit=audit,
            scope=scope,
            confirmed=data.confirm_implausible,
        )
        # Committed: checked against the registry (batches, imports, the demo are not).
        self.queue_duplicates([(person_id, data)], queue_audit or audit)
        return self.get_person(person_id)

    def register_many(
        self,
        items: Sequence[PersonIn],
        recorded_by: str | None = None,
        *,
        audit: AuditHook,
        scope: Sites = None,
        conn: Connection | None = None,
        confirmed: bool = True,
    ) -> list[str]:
        """Register several unrelated persons in one transaction (imports, the demo); with
        ``conn``, inside that caller's transaction (an import is one transaction), and the
        caller tells the listeners once it committed.

        A site outside ``scope`` is reported as unknown, like one that does not exist.
        ``confirmed=False``: unlikely details are refused too (``plausibility``)."""
        now = self.clock()
        problems: list[Problem] = []
        drafts = []
        checks: set[tuple[str, str]] = set()
        multi = len(items) > 1
        for i, data in enumerate(items):
            prefix = f"[{i}]." if multi else ""
            checks.add((data.site_id, f"{prefix}site_id"))
            drafts.append(
                self._draft(
                    data,
                    data.site_id,
                    data.consent,
                    data.purpose,
                    data.legal_basis,
                    data.registered_at or now,
                    recorded_by,
                    prefix,
                    problems,
                )
            )
        warnings = [] if confirmed else [w for d in drafts for w in d.warnings]
        batch = self._batch(drafts, recorded_by, problems + warnings)
        own_transaction = conn is None
        with self._within(conn) as conn:
            problems.extend(unknown_site_problems(conn, checks, scope, open_only=True))
            _require(problems, warnings)
            batch = _ready(batch)
            batch.write(conn)
            audit(conn, [d.person["id"] for d in drafts])
        if own_transaction:  # else the caller tells the listeners once it committed
            self.notify([d.person["id"] for d in drafts])
        return [d.person["id"] for d in drafts]

    def register_household(
        self,
        data: HouseholdIn,
        recorded_by: str | None = None,
        *,
        audit: AuditHook,
        scope: Sites = None,
        queue_audit: AuditHook | None = None,
    ) -> dict[str, Any]:
        """Register a head and members in one go, linked to the head by relationship.

        Returns the household with each member's id and wristband number (the full
        records are at ``get_household``): at an exit point, speed matters. Unlikely
        details (a child older than the head...) are refused as Implausible unless
        ``data.confirm_implausible``."""
        [household] = self.register_households(
            [data],
            recorded_by,
            audit=audit,
            scope=scope,
            confirmed=data.confirm_implausible,
        )
        # Committed: head and members checked against the registry (and each other).
        members = [m["id"] for m in household["members"]]  # head first, as given
        self.queue_duplicates(
            list(zip(members, [data.head, *data.members], strict=True)), queue_audit or audit
        )
        return household

    def register_households(
        self,
        items: Sequence[HouseholdIn],
        recorded_by: str | None = None,
        *,
        audit: AuditHook,
        scope: Sites = None,
        conn: Connection | None = None,
        confirmed: bool = True,
    ) -> list[dict[str, Any]]:
        """Register many households in one transaction (``conn``: the caller's); returns
        each household with its members (head first), in order. ``confirmed=False``:
        unlikely details are refused too."""
        now = self.clock()
        problems: list[Problem] = []
        multi = len(items) > 1
        all_drafts: list[_Draft] = []
        hh_rows: list[dict[str, Any]] = []
        link_rows: list[dict[str, Any]] = []
        site_checks: set[tuple[str, str]] = set()
        for h_index, data in enumerate(items):
            base = f"[{h_index}]." if multi else ""
            at = data.registered_at or now
            household_id = uuid7()
            head = self._draft(
                data.head,
                data.site_id,
                data.consent,
                data.purpose,
                data.legal_basis,
                at,
                recorded_by,
                f"{base}head.",
                problems,
            )
            head.person["household_id"] = household_id
            head.person["relationship_to_head"] = "head"
            drafts = [head]
            for m_index, member in enumerate(data.members):
                d = self._draft(
                    member,
                    data.site_id,
                    member.consent or data.consent,
                    data.purpose,
                    data.legal_basis,
                    at,
                    recorded_by,
                    f"{base}members[{m_index}].",
                    problems,
                )
                d.person["household_id"] = household_id
                d.person["relationship_to_head"] = member.relationship
                d.warnings.extend(
                    member_warnings(
                        f"{base}members[{m_index}].", member.relationship, d.age, head.age
                    )
                )
                drafts.append(d)
                link_rows.append(
                    _link_row(head.person["id"], d.person["id"], member.relationship, at)
                )
                link_rows.append(
                    _link_row(
                        d.person["id"], head.person["id"], INVERSE_LINK[member.relationship], at
                    )
                )
            hh_rows.append(
                {
                    "id": household_id,
                    "site_id": data.site_id,
                    "head_person_id": head.person["id"],
                    "created_at": at,
                }
            )
            site_checks.add((data.site_id, f"{base}site_id"))
            all_drafts.extend(drafts)
        warnings = [] if confirmed else [w for d in all_drafts for w in d.warnings]
        batch = self._batch(all_drafts, recorded_by, problems + warnings)
        own_transaction = conn is None
        with self._within(conn) as conn:
            problems.extend(unknown_site_problems(conn, site_checks, scope, open_only=True))
            _require(problems, warnings)
            batch = _ready(batch)
            insert_rows(conn, households, hh_rows)
            batch.write(conn)
            audit(conn, [d.person["id"] for d in all_drafts])
            insert_rows(conn, relationships, link_rows)
        if own_transaction:
            self.notify([d.person["id"] for d in all_drafts])
        members: dict[str, list[dict[str, Any]]] = {h["id"]: [] for h in hh_rows}
        for d in all_drafts:
            p = d.person
            members[p["household_id"]].append(
                {
                    "id": p["id"],
                    "registration_number": format_registration_number(p["registration_number"]),
                    "name": queries.display_name(p),
                    "relationship_to_head": p["relationship_to_head"],
                }
            )
        return [
            {
                "id": h["id"],
                "site_id": h["site_id"],
                "head_person_id": h["head_person_id"],
                "members": members[h["id"]],
            }
            for h in hh_rows
        ]

    def check(self, data: PersonIn | HouseholdIn, scope: Sites = None) -> ValidationFailed | None:
        """What registering ``data`` would refuse (every error and unconfirmed warning),
        without writing anything; None when it would be registered. The pages ask it
        when part of a form could not even be read, so that every problem comes at once."""
        problems: list[Problem] = []
        drafts = self._drafts(data, problems)
        with self.db.read() as conn:
            checks = {(data.site_id, "site_id")}
            problems.extend(unknown_site_problems(conn, checks, scope, open_only=True))
        warnings = [] if data.confirm_implausible else [w for d in drafts for w in d.warnings]
        try:
            _require(problems, warnings)
        except ValidationFailed as exc:
            return exc
        return None

    def problems(self, data: PersonIn | HouseholdIn) -> list[Problem]:
        """The errors that registering ``data`` meets in its details, named as for one
        item (not its site, checked apart, nor its unconfirmed warnings): what an import
        checks before it writes, so that none is first met inside its transaction."""
        problems: list[Problem] = []
        self._drafts(data, problems)
        return problems

    def _drafts(self, data: PersonIn | HouseholdIn, problems: list[Problem]) -> list[_Draft]:
        at = data.registered_at or self.clock()
        basis = (data.site_id, data.consent, data.purpose, data.legal_basis, at, None)
        if isinstance(data, PersonIn):
            return [self._draft(data, *basis, "", problems)]
        head = self._draft(data.head, *basis, "head.", problems)
        drafts = [head]
        for i, member in enumerate(data.members):
            prefix = f"members[{i}]."
            d = self._draft(member, *basis, prefix, problems)
            d.warnings.extend(member_warnings(prefix, member.relationship, d.age, head.age))
            drafts.append(d)
        return drafts

    def update_person(
        self,
        person_id: str,
        patch: PersonPatch,
        *,
        audit: AuditHook,
        scope: Sites = None,
        check: Callable[[dict[str, Any]], None] | None = None,
        conn: Connection | None = None,
        queue_audit: AuditHook | None = None,
        by: str | None = None,
        note_roles: str | None = None,
    ) -> dict[str, Any]:
        """Add or correct details; only the fields given change. Location is not a detail.
        With ``conn``, inside that caller's transaction. A correction of the details a
        search for duplicates reads checks the person against the registry again, once
        committed (``queue_duplicates``; ``queue_audit`` as for ``register_person``).

        ``check`` sees the current record first and may refuse (field-level rules).

        A correction giving the note records whose field group it is (``note_roles``):
        the roles ``by`` (the user correcting) holds, or ``note_roles`` where given (a
        note taken from another record of it: a sync conflict's other side); none for a
        note cleared or written by no user."""
        given = patch.model_dump(exclude_unset=True)
        named = person_id  # the id the write was sent to (its audit event names it)
        with self.db.read() as read:
            person_id = live_id(read, named)  # a merged id: its survivor (issue 15)
            site_id = read.execute(
                select(persons.c.site_id).where(persons.c.id == person_id)
            ).scalar()
        if site_id is not None:
            # The site's key is found (or created) before the writer's lock is taken.
            self.vault.prepare(site_id)
        own_transaction = conn is None
        with self._within(conn) as conn:
            person_id = live_id(conn, named)  # merged since the read above: followed
            # The person's row lock before reading it: two corrections at once apply in
            # turn, the second to what the first wrote (no lost update).
            locations.lock_persons(conn, [person_id])
            current = self._person(conn, person_id, scope)
            refuse_erased(conn, [person_id], "person_id")
            if check:
                check(current)
            stored = _details_of(current)
            try:
                # The limits hold what is typed, not what is kept: a name stored longer
                # (an old SQLite database) never blocks a correction of another field.
                merged = validate_kept(PersonDetails, _merged(stored, given), stored)
            except ValidationError as exc:
                # The correction is checked as a registration is: by field, never a fault.
                raise ValidationFailed(
                    [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
                ) from exc
            problems: list[Problem] = []
            registered_on = current["registered_at"].date()
            row = detail_fields(merged, registered_on, "", problems)
            docs = document_rows(merged.documents, person_id, "", problems)
            self._check_biometrics(merged, "", problems)
            if not problems and {"birth_date", "estimated_age"} & given.keys():
                problems += _born_after_history(conn, person_id, row)
            require(problems)
            _keep_unreadable(row, current, given)
            if "note" in given:
                row["note_roles"] = (
                    None
                    if merged.note is None
                    else note_roles or _writers_roles(conn, by)
                )
            self.vault.require_live(conn, _seal(self.vault, current["site_id"], row, docs))
            if "consent" in given and patch.consent is not None:
                row["consent_tracing"] = patch.consent.tracing
                row["consent_share_with"] = patch.consent.share_with
                if current["consent"]["tracing"] and not patch.consent.tracing:
                    # No case keeps offering someone who no longer wishes to be found.
                    set_aside_proposed(conn, [person_id], self.clock(), WITHDREW)
            row["updated_at"] = self.clock()
            conn.execute(update(persons).where(persons.c.id == person_id).values(**row))
            if "documents" in given:
                conn.execute(
                    person_documents.delete().where(person_documents.c.person_id == person_id)
                )
                if docs:
                    conn.execute(insert(person_documents), docs)
            match_index.reindex_persons(conn, [person_id], self.vault)
            # Details or consent given later may make a match: checked, durably.
            outbox.record(conn, [person_id], "registration", row["updated_at"])
            audit(conn, [person_id])
            person = self._person(conn, person_id)
        if own_transaction:  # details or consent given later may make a match
            self.notify([person_id])
            if MATCHED_DETAILS & given.keys():
                self.queue_duplicates([(person_id, merged)], queue_audit or audit)
        return person

    def renumber(
        self, person_id: str, reason: str, *, audit: AuditHook, scope: Sites = None
    ) -> dict[str, Any]:
        """Give the person a new random registration number, unique here (a number given
        twice by two installations; docs/sync.md "Registration numbers"): audited,
        journaled (it reaches the nodes holding them), shown on their page. A merged-away
        id: its survivor. ``{person_id, registration_number, previous_number,
        renumbered_at}``."""
        with self.db.transaction() as conn:
            done = renumbering.renumber(
                conn, self.vault, person_id, reason, self.clock(), audit=audit, scope=scope
            )
        return done

    def renumbered(self, person_id: str) -> list[dict[str, Any]]:
        """The numbers the person was given anew, oldest first (shown on their page)."""
        with self.db.read() as conn:
            return renumbering.history(conn, person_id)

    def queue_duplicates(
        self, written: Sequence[tuple[str, PersonDetails]], audit: AuditHook
    ) -> int:
        """Queue the suspected duplicates of the persons a committed write registered or
        corrected (``linkage``); how many pairs were queued. Never raises for the
        queue: the write is committed."""
        if self.linkage is None or not written:
            return 0
        return self.linkage(written, audit)

    def queue_duplicates_of(self, person_ids: Sequence[str], audit: AuditHook) -> int:
        """``queue_duplicates`` for persons written by another installation (a sync
        applied their changes here, corridor/sync): their stored details searched for,
        as a desk's registration is."""
        if self.linkage is None or not person_ids:
            return 0
        with self.db.read() as conn:
            # A person merged away here is searched for as its survivor, once.
            live = list(dict.fromkeys(live_ids(conn, person_ids)))
            written = [
                (pid, _as_kept(_details_of(self._person(conn, pid))))
                for pid in live
            ]
        return self.queue_duplicates(written, audit)

    def link(self, data: LinkIn, scope: Sites = None, *, audit: AuditHook) -> dict[str, Any]:
        """Record that other_person is person's <kind> (and the inverse); audited for both
        persons."""
        now = self.clock()
        with self.db.transaction() as conn:
            # A merged id names its survivor (issue 15): the link is the survivor's.
            person_id, other_id = live_ids(conn, [data.person_id, data.other_person_id])
            data = data.model_copy(update={"person_id": person_id, "other_person_id": other_id})
            if data.person_id == data.other_person_id:
                raise ValidationFailed(
                    [Problem("other_person_id", N_("a person cannot be their own relative"))]
                )
            # Both persons' row locks: the same link recorded twice at once is one link.
            locations.lock_persons(conn, [data.person_id, data.other_person_id])
            found = set(
                conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_([data.person_id, data.other_person_id]),
                        queries.person_scope(scope),
                    )
                ).scalars()
            )
            missing = [
                (f, pid)
                for f, pid in (
                    ("person_id", data.person_id),
                    ("other_person_id", data.other_person_id),
                )
                if pid not in found
            ]
            require(
                [Problem(f, N_("person not found")) for f, _ in missing],
                refused=[pid for _, pid in missing],
            )
            refuse_erased(conn, [data.person_id, data.other_person_id], "other_person_id")
            exists = conn.execute(
                select(relationships.c.id).where(
                    relationships.c.person_id == data.person_id,
                    relationships.c.other_person_id == data.other_person_id,
                    relationships.c.kind == data.kind,
                    LIVE_LINK,
                )
            ).first()
            if exists:
                raise Conflict(N_("this link is recorded already"), field="kind")
            self._check_generations(conn, data)
            row = _link_row(data.person_id, data.other_person_id, data.kind, now, data.note)
            inverse = _link_row(
                data.other_person_id, data.person_id, INVERSE_LINK[data.kind], now, data.note
            )
            conn.execute(insert(relationships), [row, inverse])
            audit(conn, [data.person_id, data.other_person_id])
        return {
            "id": row["id"],
            "person_id": data.person_id,
            "other_person_id": data.other_person_id,
            "kind": data.kind,
            "note": data.note,
        }

    def unlink(
        self,
        link_id: str,
        reason: str,
        removed_by: str,
        scope: Sites = None,
        *,
        audit: AuditHook,
        person_id: str | None = None,
    ) -> dict[str, Any]:
        """Remove a family link recorded wrongly, and its inverse (links.py): marked
        removed with who, when and why; audited for both persons."""
        now = self.clock()
        with self.db.transaction() as conn:
            return remove_link(
                conn,
                link_id,
                reason=reason,
                removed_by=removed_by,
                now=now,
                scope=scope,
                audit=audit,
                person_id=person_id,
            )

    @staticmethod
    def _check_generations(conn: Connection, data: LinkIn) -> None:
        """Refuse a link the recorded links contradict (B is A's parent, then A is B's
        parent; a loop of parents; a parent recorded as a sibling too)."""
        step = GENERATIONS.get(data.kind)
        if step is None:
            return

        def links(ids: set[str]) -> list[tuple[str, str, str]]:
            query = select(
                relationships.c.person_id, relationships.c.other_person_id, relationships.c.kind
            ).where(
                relationships.c.person_id.in_(sorted(ids)),
                relationships.c.kind.in_(GENERATIONS),
                LIVE_LINK,
            )
            return [(str(a), str(b), str(k)) for a, b, k in conn.execute(query)]

        known = generations_apart(data.person_id, data.other_person_id, links)
        if known is not None and known != step:
            raise Conflict(
                N_("contradicts the family links recorded already between these persons"),
                field="kind",
            )

    # -- reads --------------------------------------------------------------------------

    def changes_nothing(self, conn: Connection, person_id: str, patch: PersonPatch) -> bool:
        """Whether ``patch`` leaves the person's details as they are (an import reading
        back the rows Corridor exported of them): then nothing need be written,
        journaled or audited as written. False when that cannot be told (the stored
        details no longer validate: the correction checks them)."""
        given = patch.model_dump(exclude_unset=True)
        if not given or "consent" in given:
            return not given
        if queries.merged_away(conn, [person_id]):
            return False  # an old id: the correction lands on the survivor, as any write
        details = _details_of(self._person(conn, person_id))
        try:
            before = _as_kept(details)
            after = validate_kept(PersonDetails, _merged(details, given), details)
        except ValidationError:
            return False
        return before == after

    def get_person(self, person_id: str, scope: Sites = None) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._person(conn, person_id, scope)

    def relatives(self, person_id: str, scope: Sites = None) -> list[dict[str, Any]]:
        """The persons linked to ``person_id``: each summary with ``kind`` (what the
        relative is to this person: ``parent``, ``child``...), nearest kinds first."""
        today = self.clock().date()
        with self.db.read() as conn:
            queries.person_row(conn, person_id, scope)  # NotFound: unknown or out of scope
            rows = (
                conn.execute(
                    select(
                        persons,
                        relationships.c.kind.label("link_kind"),
                        relationships.c.id.label("link_id"),
                    )
                    .join(relationships, relationships.c.other_person_id == persons.c.id)
                    .where(
                        relationships.c.person_id == person_id,
                        LIVE_LINK,
                        queries.person_scope(scope),
                    )
                    .order_by(relationships.c.created_at, persons.c.id)
                )
                .mappings()
                .all()
            )
        order = list(INVERSE_LINK)
        out = [
            {**queries.person_summary(r, today), "kind": r["link_kind"], "link_id": r["link_id"]}
            for r in rows
        ]
        out.sort(key=lambda r: order.index(r["kind"]) if r["kind"] in order else len(order))
        return out

    def get_household(self, household_id: str, scope: Sites = None) -> dict[str, Any]:
        with self.db.read() as conn:
            household = queries.household_out(conn, household_id, self.clock().date(), scope)
            self.vault.reveal_all(household["members"], conn)
        return household

    def household_head(self, household_id: str, scope: Sites = None) -> dict[str, Any] | None:
        """The head of a household as a summary (its registration number is the household's
        number on wristbands), or None: no head recorded, or the head outside ``scope``."""
        with self.db.read() as conn:
            row = (
                conn.execute(
                    select(persons)
                    .join(households, households.c.head_person_id == persons.c.id)
                    .where(households.c.id == household_id, queries.person_scope(scope))
                )
                .mappings()
                .first()
            )
        return None if row is None else queries.person_summary(row, self.clock().date())

    def _person(self, conn: Connection, person_id: str, scope: Sites = None) -> dict[str, Any]:
        """The stored person with its sealed fields opened (unreadable ones: None)."""
        person = queries.get_person(conn, person_id, self.clock().date(), scope)
        return self.vault.reveal(person, conn)

    def search(self, data: PersonSearchIn, scope: Sites = None) -> list[dict[str, Any]]:
        """Exact-key search: registration number, phone or document number."""
        if not (data.registration_number or data.phone or data.document_number):
            raise ValidationFailed(
                [
                    Problem(
                        "registration_number",
                        N_("give a registration number, phone or document number"),
                    )
                ]
            )
        query = select(persons.c.id)
        if data.registration_number:
            try:
                number = normalise_registration_number(data.registration_number)
            except InvalidRegistrationNumber as exc:
                raise ValidationFailed([Problem("registration_number", text_of(exc))]) from exc
            query = query.where(persons.c.registration_number == number)
        if data.phone:
            hashed = self.vault.lookup_hash("phone", normalise_phone(data.phone))
            query = query.where(persons.c.phone_hash == hashed)
        if data.document_number:
            hashed = self.vault.lookup_hash("document", document_key(data.document_number))
            sub = select(person_documents.c.person_id).where(
                person_documents.c.number_key == hashed
            )
            query = query.where(persons.c.id.in_(sub))
        with self.db.read() as conn:
            # A merged person's number, phone or document leads to the survivor, once.
            found_ids = list(conn.execute(query.limit(50)).scalars())
            if data.registration_number and not (data.phone or data.document_number):
                # An old id merged elsewhere whose record is not held here (a node).
                old = queries.by_number(conn, number)
                found_ids += [old] if old and old not in found_ids else []
            ids = queries.survivors(conn, found_ids)
            rows = (
                conn.execute(
                    select(persons)
                    .where(persons.c.id.in_(ids), queries.person_scope(scope))
                    .order_by(persons.c.id)
                )
                .mappings()
                .all()
            )
            found = queries.persons_out(conn, rows, self.clock().date())
            return self.vault.reveal_all(found, conn)

    # -- internals ----------------------------------------------------------------------

    def _batch(
        self, drafts: list[_Draft], recorded_by: str | None, problems: list[Problem]
    ) -> _Batch | KeyUnavailable | None:
        """The batch, sealed under the sites' keys (found or created before the writer's
        lock); None when there are problems. A key failure is kept, not raised: an
        unknown site must be reported as such first."""
        if problems:
            return None
        try:
            return _Batch(drafts, recorded_by, self.vault)
        except KeyUnavailable as exc:
            return exc

    def _within(self, conn: Connection | None) -> AbstractContextManager[Connection]:
        """The caller's transaction if given, else a new one."""
        return nullcontext(conn) if conn is not None else self.db.transaction()

    def _draft(
        self,
        details: PersonDetails,
        site_id: str,
        consent: ConsentIn,
        purpose: str,
        legal_basis: str,
        registered_at: Any,
        recorded_by: str | None,
        prefix: str,
        problems: list[Problem],
    ) -> _Draft:
        if registered_at > self.clock():
            problems.append(Problem(f"{prefix}registered_at", N_("is in the future")))

        person_id = uuid7()
        row = detail_fields(details, registered_at.date(), prefix, problems)
        docs = document_rows(details.documents, person_id, prefix, problems)
        self._check_biometrics(details, prefix, problems)
        age = age_on(row.get("birth_date"), row.get("birth_precision"), registered_at.date())
        age_field = "estimated_age" if details.estimated_age is not None else "birth_date"
        warnings = person_warnings(
            prefix, age, age_field, details.sex, details.vulnerabilities.pregnant_lactating
        )
        now = self.clock()
        row.update(
            id=person_id,
            site_id=site_id,
            household_id=None,
            relationship_to_head=None,
            consent_tracing=consent.tracing,
            consent_share_with=list(consent.share_with),
            purpose=purpose,
            legal_basis=legal_basis,
            registered_at=registered_at,
            created_at=now,
            updated_at=now,
            recorded_by=recorded_by,
        )
        draft = _Draft(row, docs, age)
        draft.warnings.extend(warnings)
        return draft

    def _check_biometrics(
        self, details: PersonDetails, prefix: str, problems: list[Problem]
    ) -> None:
        if details.biometric_reference is not None and not self.biometrics_enabled:
            problems.append(Problem(f"{prefix}biometric_reference", BIOMETRICS_OFF))


class _Batch:
    """Everything a registration writes, built before the write transaction opens so that
    the single writer holds its lock only for the inserts themselves."""

    def __init__(self, drafts: list[_Draft], recorded_by: str | None, vault: FieldVault) -> None:
        self.recorded_by = recorded_by
        self.rows = [d.person for d in drafts]
        self.docs = [doc for d in drafts for doc in d.docs]
        self.doc_numbers = {d.person["id"]: [doc["number"] for doc in d.docs] for d in drafts}
        for row in self.rows:
            row["registration_number"] = new_registration_number()
        self.key_map = vault.index_key
        # The index is computed from the plain values, which are then sealed in place;
        # the plain phones are kept (in memory only) for a redrawn number's postings.
        self.plain_phones = {row["id"]: row["phone"] for row in self.rows}
        self.postings = match_index.postings_for(self.rows, self.doc_numbers, self.key_map)
        self.vault = vault
        self.sealed = [
            token for d in drafts for token in _seal(vault, d.person["site_id"], d.person, d.docs)
        ]
        self.events: list[dict[str, Any]] = []
        self.locations: list[dict[str, Any]] = []
        for row in self.rows:
            event_id = uuid7()
            self.events.append(
                {
                    "id": event_id,
                    "person_id": row["id"],
                    "kind": "registered",
                    "from_site_id": None,
                    "to_site_id": row["site_id"],
                    "occurred_at": row["registered_at"],
                    "manifest_id": None,
                    "corrects_id": None,
                    "note": None,
                    "recorded_by": recorded_by,
                    "recorded_at": row["created_at"],
                }
            )
            loc = current_location(
                [Event(event_id, 0, "registered", None, row["site_id"], row["registered_at"])]
            )
            self.locations.append(
                {
                    "person_id": row["id"],
                    "site_id": loc.site_id,
                    "state": loc.state,
                    "since": loc.since,
                    "event_id": loc.event_id,
                    "manifest_id": None,
                    "destination_site_id": None,
                }
            )

    def write(self, conn: Connection) -> None:
        self.vault.require_live(conn, self.sealed)
        self._redraw_taken_numbers(conn)
        # A note written at registration is the registering user's field group's.
        noted = any(row["note"] is not None for row in self.rows)
        roles = _writers_roles(conn, self.recorded_by) if noted else None
        for row in self.rows:
            row["note_roles"] = roles if row["note"] is not None else None
        insert_rows(conn, persons, self.rows)
        insert_rows(conn, person_documents, self.docs)
        self.postings.write(conn)
        insert_rows(conn, movements, self.events)
        insert_rows(conn, person_locations, self.locations)
        # To be checked against the open enquiries, durably (committed with the persons).
        if self.rows:
            at = self.rows[0]["created_at"]
            outbox.record(conn, [r["id"] for r in self.rows], "registration", at)

    def _redraw_taken_numbers(self, conn: Connection) -> None:
        """Numbers are random (40 bits each): redraw the rare ones already taken."""
        pending = self.rows
        while True:
            numbers = [r["registration_number"] for r in pending]
            taken = set(
                conn.execute(
                    select(persons.c.registration_number).where(
                        persons.c.registration_number.in_(numbers)
                    )
                ).scalars()
            )
            pending_rows = {id(r) for r in pending}
            seen: set[str] = set()
            clash = []
            for row in self.rows:
                n = row["registration_number"]
                if id(row) in pending_rows and (n in taken or n in seen):
                    clash.append(row)
                seen.add(n)
            if not clash:
                return
            for row in clash:
                row["registration_number"] = new_registration_number()
                plain = {**row, "phone": self.plain_phones[row["id"]]}
                again = match_index.postings_for([plain], self.doc_numbers, self.key_map)
                self.postings.by_person.update(again.by_person)
            pending = clash


def _writers_roles(conn: Connection, user_id: str | None) -> str | None:
    """The roles ``user_id`` holds as ``persons.note_roles`` keeps them (None: no user)."""
    return recorders_roles(conn, {user_id}).get(user_id) if user_id else None


def _require(problems: list[Problem], warnings: list[Problem]) -> None:
    """Every error and every unconfirmed warning at once; warnings alone: Implausible.
    A field in error is not warned about too (an age over 120 is not also over 110)."""
    if problems:
        wrong = {p.field for p in problems}
        warnings = [w for w in warnings if w.field not in wrong]
        raise ValidationFailed(problems + warnings, warnings=warnings)
    if warnings:
        raise Implausible(warnings)


def _ready(batch: _Batch | KeyUnavailable | None) -> _Batch:
    if isinstance(batch, KeyUnavailable):
        raise batch
    assert batch is not None
    return batch


def _seal(
    vault: FieldVault, site_id: str, row: dict[str, Any], docs: list[dict[str, Any]]
) -> list[str | None]:
    """Seal a person row's sensitive fields and its documents' numbers in place, with
    the lookup hashes that keep exact search working; the tokens written."""
    if "phone" in row:  # a phone lost with its key and not typed again keeps its hash
        phone = row["phone"]
        row["phone_hash"] = vault.lookup_hash("phone", phone) if phone else None
    tokens = []
    for field in SEALED_PERSON_FIELDS:
        if field in row:
            row[field] = vault.seal(site_id, field, row[field])
            tokens.append(row[field])
    for doc in docs:
        doc["number_key"] = vault.lookup_hash("document", doc["number_key"])
        doc["number"] = vault.seal(site_id, DOCUMENT_FIELD, doc["number"])
        tokens.append(doc["number"])
    return tokens


def _link_row(a: str, b: str, kind: str, at: Any, note: str | None = None) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "person_id": a,
        "other_person_id": b,
        "kind": kind,
        "note": note,
        "created_at": at,
    }


def _born_after_history(conn: Connection, person_id: str, row: dict[str, Any]) -> list[Problem]:
    """A corrected birth date after the person's first recorded movement (their
    registration, an admission to hospital, a discharge, their death...) would have them
    registered, admitted or dead before they were born: refused, naming the movement.
    The registration date bounds a birth date already, but the log may start before it
    (a registration movement corrected to the day of a paper registration, the
    movements of a duplicate merged in). Before, such a date was taken. The first day a
    date names is compared (``2019-03`` is after 2019-02-28); an estimated age
    (a birth date counted back from the registration) is not refused by this."""
    birth, precision = row.get("birth_date"), row.get("birth_precision")
    if birth is None or precision == "estimated":
        return []
    first = next(iter(effective_events(locations.events_of(conn, [person_id])[person_id])), None)
    if first is None or birth <= first.occurred_at.date():
        return []
    reason = N_(
        "is after the person's first recorded movement ({kind} on {day}): correct the date "
        "or that movement",
        kind=first.kind,
        day=first.occurred_at.date().isoformat(),
    )
    return [Problem("birth_date", reason)]


def _keep_unreadable(row: dict[str, Any], current: dict[str, Any], given: dict[str, Any]) -> None:
    """A correction's ``row`` without the sealed fields of ``current`` that are lost with
    their site's keys (the drill; ``UNREADABLE``) and that the correction does not give:
    their stored values are kept, so they are still said to be unreadable, not read as
    never recorded. The medical details are one sealed value: a correction typing some of
    them stores those, with the names of the others lost (``mark_lost``); the MUAC status
    and disability flag, derived from them, are kept as stored unless what was typed
    decides them (SAM, a disability) while a detail they depend on is still lost."""
    lost = set(current.get(UNREADABLE) or ())
    if not lost:
        return
    for field in ("phone", "note", "biometric_reference"):
        if field in lost and field not in given:
            row.pop(field, None)
    medical = {
        p.removeprefix("vulnerabilities.") for p in lost & set(UNREADABLE_PATHS["medical"])
    }
    if not medical:
        return
    typed = dict(given.get("vulnerabilities") or {})
    if not typed.keys() & MEDICAL_FIELDS.keys():
        for column in ("medical", "muac_status", "disabled"):
            row.pop(column, None)  # as stored
        return
    still = medical - typed.keys()
    answers = typed.get("washington_group") or {}
    if "washington_group" in medical and any(answers.get(d) is None for d in WG_DOMAINS):
        still.add("washington_group")  # some domains typed, the others still lost
    row["medical"] = mark_lost(row["medical"], still)
    stored = current["vulnerabilities"]
    if still & {"muac_mm", "oedema"} and row["muac_status"] != "SAM":
        row["muac_status"] = stored.get("muac_status")
    if "washington_group" in still and row["disabled"] is not True:
        row["disabled"] = stored.get("disabled")


def _details_of(person: dict[str, Any]) -> dict[str, Any]:
    """The stored person as PersonDetails input (for merging a patch)."""
    names = person["names"]
    out: dict[str, Any] = {f: names.get(f) for f in NAME_FIELDS}
    out.update(
        alternate_names=names.get("alternate_names", []),
        kunya=names.get("kunya"),
        mother_name=names.get("mother_name"),
        sex=person.get("sex"),
        birth_date=None
        if person.get("birth_precision") == "estimated"
        else person.get("birth_date"),
        estimated_age=person.get("estimated_age_at_registration")
        if person.get("birth_precision") == "estimated"
        else None,
        nationality=person.get("nationality"),
        origin_pcode=person["origin"].get("pcode"),
        origin_locality=person["origin"].get("locality"),
        languages=person.get("languages", []),
        documents=[
            {"type": d["type"], "number": d["number"], "issuing_country": d["issuing_country"]}
            for d in person.get("documents", [])
            if d["number"] is not None  # unreadable (its site key was destroyed)
        ],
        phone=person.get("phone"),
        vulnerabilities={
            k: v
            for k, v in person["vulnerabilities"].items()
            if k not in ("muac_status", "disabled")
        },
        note=person.get("note"),
        biometric_reference=person.get("biometric_reference"),
    )
    return out


def _as_kept(details: dict[str, Any]) -> PersonDetails:
    """The stored details as PersonDetails, every value as kept (lengths aside)."""
    return validate_kept(PersonDetails, details, details)


def _merged(details: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The stored details with a patch applied. Vulnerabilities (and their Washington
    Group answers) merge field by field: a patch giving one MUAC reading keeps the flags
    and answers recorded before; a field given as null is cleared."""
    patch = _patch_details(given)
    vulnerabilities = patch.get("vulnerabilities")
    if vulnerabilities is not None:
        before = details.get("vulnerabilities") or {}
        after = {**before, **vulnerabilities}
        if vulnerabilities.get("washington_group") is not None:
            wg = before.get("washington_group") or {}
            after["washington_group"] = {**wg, **vulnerabilities["washington_group"]}
        patch["vulnerabilities"] = after
    return details | patch


def _patch_details(given: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in given.items() if k != "consent"}
    if "birth_date" in out and out["birth_date"] is not None:
        out.setdefault("estimated_age", None)
    if "estimated_age" in out and out["estimated_age"] is not None:
        out.setdefault("birth_date", None)
    return out
