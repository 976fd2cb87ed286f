"""Taking in files from the tools field teams use: the only writer of imports.

A format (``corridor.formats``) parses a file into records and problems; this service
checks every record with the same schemas and rules as the API, finds what is new, what
updates an earlier import and what is already here (by the record's id in the system it
came from, or for a row with none the keyed fingerprint of its content, ``_fingerprint``,
kept in ``imported_records``), runs the matching engine against the registry
for each new person (suspected duplicates), and writes everything in one transaction,
or nothing when any record is bad (unless bad records are skipped) or on a dry run.

Once the import has committed, each suspected duplicate (the new person written, the
registered person) is queued for review as ``corridor duplicates`` queues its pairs
(``MergeService.propose``, found by "import"), in a transaction of its own: the import
never waits on, nor is undone by, the queue (see ``ImportService._queue``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, Connection, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from corridor.domain.control_characters import REASON, control_character
from corridor.domain.ids import InvalidRegistrationNumber, normalise_registration_number
from corridor.domain.names import NAME_PARTS
from corridor.errors import Conflict, Forbidden, NotFound, Problem
from corridor.formats import registry
from corridor.formats.records import Issue, Parsed, Record
from corridor.schemas import HouseholdIn, PersonDetails, PersonIn, PersonPatch
from corridor.security.errors import KeyUnavailable
from corridor.services.base import AuditHook, Service
from corridor.services.exchange.import_writes import Plan, chunks, write
from corridor.services.registration.merges import MergeService
from corridor.services.registration.person_rows import detail_fields
from corridor.services.registration.persons import RegistrationService
from corridor.services.registration.sites import unknown_site_problems
from corridor.services.search.person_search import PersonSearchService
from corridor.storage import queries
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.tables import persons
from corridor.text import N_, text_of

DUPLICATE_PROBABILITY = 0.5
NOTHING_TO_WRITE = "the file holds no record: nothing to write"
log = logging.getLogger(__name__)
# Called as (stage, done, total) while checking records and looking for duplicates.
Progress = Callable[[str, int, int], None]


@dataclass
class ImportOptions:
    site_id: str | None = None
    dry_run: bool = False
    skip_bad_rows: bool = False
    check_duplicates: bool = True
    purpose: str = "registration and assistance"
    legal_basis: Literal[
        "vital_interest", "consent", "public_interest", "legitimate_interest", "legal_obligation"
    ] = "vital_interest"
    consent_tracing: bool = False
    recorded_by: str | None = None
    instance_domain: str = "corridor.local"
    progress: Progress | None = None
    # The sites the importing user may write to (None: any). A site or a person outside
    # them is reported exactly as one that does not exist (no existence oracle).
    allowed_sites: frozenset[str] | None = None
    # Given the fields a row correcting a registered person sets, the check a PATCH of
    # them by the importer would pass (Forbidden on the stored person), or None when
    # nothing need be checked (``Gate.import_check``). None: the importer may change any
    # field (the operator on the server).
    patch_check: Callable[[dict[str, Any]], Callable[[dict[str, Any]], None] | None] | None = (
        None
    )
    # The file is another Corridor registry's export (``from_registry``): its ids,
    # registration numbers and site ids are that registry's (``_from_registry``).
    from_registry: bool = False


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    written: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    expired: int = 0
    notes: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)
    person_ids: list[str] = field(default_factory=list)
    # Suspected duplicates newly queued for review (pairs queued or decided before are not).
    queued_pairs: int = 0

    @property
    def fatal(self) -> list[Issue]:
        return [p for p in self.problems if p.fatal]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "written": self.written,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "expired": self.expired,
            "notes": self.notes,
            "suspected_duplicates": self.duplicates,
            "problems": [p.as_dict() for p in self.problems],
            "person_ids": self.person_ids,
            "queued_pairs": self.queued_pairs,
        }


class ImportService(Service):
    def __init__(
        self,
        db: Any,
        clock: Callable[[], datetime],
        registration: RegistrationService,
        search: PersonSearchService,
        merges: MergeService,
    ) -> None:
        super().__init__(db, clock)
        self.registration = registration
        self.search = search
        self.merges = merges

    def run(
        self,
        parsed: Parsed,
        options: ImportOptions,
        *,
        audit: AuditHook,
        queue_audit: AuditHook | None = None,
    ) -> ImportReport:
        """Check, then (unless a dry run or a bad record stops it) write in one transaction;
        then queue the suspected duplicates for review in a transaction of their own,
        audited by ``queue_audit`` (by default ``audit``: a caller whose ``audit`` joins
        the import's transaction only, as an idempotency key's guard does, passes its
        own)."""
        report = ImportReport(parsed.source, options.dry_run, problems=list(parsed.issues))
        if options.from_registry:
            report.problems += _from_registry(parsed, options.site_id)
        report.problems += _unkeepable(parsed)
        report.problems += _fingerprint(parsed.records, self.registration.vault)
        space = registry.id_space(parsed.source)
        bad_lines = {i.line for i in parsed.issues if i.fatal}
        with self.db.read() as conn:
            known = self._known(conn, space, parsed.records, options.instance_domain)
            plans = []
            total = len(parsed.records)
            for n, record in enumerate(parsed.records, start=1):
                plan = self._plan(record, known, options, report.problems)
                if (
                    plan.action in ("update", "expire")
                    and plan.person_id
                    and queries.merged_away(conn, [plan.person_id])
                ):
                    plan = self._merged_since(conn, plan, report.problems)
                if (
                    plan.action == "update"
                    and plan.person_id
                    and isinstance(plan.data, PersonPatch)
                ):
                    plan.data = self._names_as_held(conn, plan.person_id, plan.data)
                    stamp = record.changed_at or record.source_date
                    if stamp is not None:
                        earlier = known["earlier"].get(record.key) if record.key else None
                        plan = self._since_export(conn, plan, stamp, earlier, report.problems)
                if (
                    plan.action == "update"
                    and plan.person_id
                    and isinstance(plan.data, PersonPatch)
                    and self.registration.changes_nothing(conn, plan.person_id, plan.data)
                ):
                    # What the row says the person already holds (Corridor's own export
                    # read back): nothing is written, journaled or audited as written.
                    plan = Plan(record, "unchanged", person_id=plan.person_id)
                plans.append(plan)
                if options.progress:
                    options.progress("checking", n, total)
            self._check_sites(conn, plans, report.problems, options.allowed_sites)
            _together(conn, plans, known)
        if options.patch_check is not None:
            self._check_fields(plans, options.patch_check, report.problems)
        bad_lines |= {i.line for i in report.problems if i.fatal}
        for plan in plans:
            if plan.record.line in bad_lines:
                plan.action = "skip"
        if any(i.line is None for i in report.fatal):
            return report  # the file as a whole is unreadable
        report.skipped = len({i.line for i in report.fatal})
        # Each suspected duplicate's new person: its plan and its place in the plan.
        found_for: list[tuple[Plan, int]] = []
        # The engine searches the whole registry (the review queue needs every pair);
        # the report names only the persons the importer may open.
        found: list[dict[str, Any]] = []
        if options.check_duplicates:
            found, found_for = self._duplicates(
                [p for p in plans if p.action == "create"], options.progress
            )
            report.duplicates = self._reportable(found, options.allowed_sites)
        # What would be (or is) written: a report says so even when errors stop it.
        for plan in plans:
            if plan.action in _COUNTER:
                setattr(report, _COUNTER[plan.action], getattr(report, _COUNTER[plan.action]) + 1)
        report.notes = len(parsed.notes) + sum(
            len(p.record.notes) for p in plans if p.action != "skip"
        )
        if report.fatal and not options.skip_bad_rows:
            return report
        if not plans and not parsed.notes:
            # A header and no record (an export taken before anyone was registered):
            # nothing to write, not even a site's key; said, not an error.
            report.problems.append(Issue(None, None, NOTHING_TO_WRITE, fatal=False))
            return report
        if options.dry_run:
            return report
        # Sites' keys are found (or created) before the import's one transaction opens.
        sites = _sites_of(plans) | ({options.site_id} if options.site_id else set())
        updated = [p.person_id for p in plans if p.action != "create" and p.person_id]
        if updated:
            with self.db.read() as conn:
                sites |= set(
                    conn.execute(
                        select(persons.c.site_id).where(persons.c.id.in_(updated))
                    ).scalars()
                )
        for site_id in sorted(sites):
            self.registration.vault.prepare(site_id)
        try:
            with self.db.transaction() as conn:
                ids = write(
                    conn,
                    self.registration,
                    space,
                    plans,
                    parsed.notes,
                    options.recorded_by,
                    self.clock(),
                    audit,
                    _stage(options.progress, "writing"),
                )
        except IntegrityError as exc:
            # Another import of the same records committed between our check and our write
            # (the unique keys of imported_records and pfif_notes): nothing was written.
            raise Conflict(
                "these records were imported at the same time by someone else; "
                "import the file again to see what is left"
            ) from exc
        report.person_ids = ids
        report.written = True
        # Committed: imported persons are checked against open tracing enquiries too.
        self.registration.notify(ids)
        pairs = [
            [plan.written[at], dup["person_id"]]
            for dup, (plan, at) in zip(found, found_for, strict=True)
            if plan.action == "create" and at < len(plan.written)
        ]
        # And persons of the file who duplicate each other (the search above found
        # only persons registered before the file).
        created = [pid for plan in plans if plan.action == "create" for pid in plan.written]
        report.queued_pairs = self._queue(pairs, report, queue_audit or audit, created)
        return report

    def _reportable(
        self, found: list[dict[str, Any]], allowed: frozenset[str] | None
    ) -> list[dict[str, Any]]:
        """The suspected duplicates a report may name: registered persons within the
        importer's sites (``queries.person_scope``). One of another site is left out, as
        a search by the importer leaves them out: naming them (id, registration number)
        would answer "is this name registered elsewhere?" for any name in a file, a dry
        run included (PROTECTION.md line 3). The review queue still receives every pair
        (``MergeService.propose``); only ``person.merge`` at both persons' sites sees it."""
        if allowed is None or not found:
            return found
        ids = sorted({d["person_id"] for d in found})
        with self.db.read() as conn:
            visible = {
                pid
                for part in chunks(ids)
                for pid in conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_(part), queries.person_scope(allowed)
                    )
                ).scalars()
            }
        return [d for d in found if d["person_id"] in visible]

    def _queue(
        self,
        pairs: list[list[str]],
        report: ImportReport,
        audit: AuditHook,
        created: Sequence[str] = (),
    ) -> int:
        """Queue (new person, registered person) pairs for review, and the pairs of the
        persons ``created`` who duplicate each other (``duplicates_among``); how many
        were new.

        Its own transaction, after the import's: the import's records are committed
        whatever happens here, and a pair is written once (``propose`` leaves out the
        pairs queued before and those decided apart, and its rows and their audit events
        commit together or not at all). A database failure is reported as a warning, not
        raised: the import stands, and ``corridor duplicates`` finds the pairs again."""
        try:
            pairs = pairs + [list(p) for p in self.search.duplicates_among(created)]
            if not pairs:
                return 0
            _, queued = self.merges.propose(pairs, "import", audit=audit)
        except SQLAlchemyError as exc:
            log.warning(
                "import: suspected duplicates not queued for review (%s)", type(exc).__name__
            )
            report.problems.append(
                Issue(
                    None,
                    "suspected_duplicates",
                    "the suspected duplicates could not be queued for review; "
                    "`corridor duplicates` will find them",
                    fatal=False,
                )
            )
            return 0
        return queued

    # -- planning -------------------------------------------------------------------------

    def _known(
        self, conn: Connection, space: str, records: Sequence[Record], domain: str
    ) -> dict[str, Any]:
        """Earlier imports of these keys, and Corridor persons named in the file."""
        # An id no column can keep was refused (``_unkeepable``): never looked up.
        keys = [r.key for r in records if r.key and not _unkeepable_text(r.key, _KEY)]
        earlier: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            rows = conn.execute(
                select(imported_records).where(
                    imported_records.c.source == space,
                    imported_records.c.external_id.in_(keys[start : start + 500]),
                )
            ).mappings()
            earlier.update({r["external_id"]: dict(r) for r in rows})
        wanted = {r.corridor_id for r in records if r.corridor_id}
        own = f"{domain}/person."
        wanted |= {r.key[len(own) :] for r in records if r.key and r.key.startswith(own)}
        # What cannot be a Corridor id (too long, a control character) names nobody.
        wanted = {w for w in wanted if not _unkeepable_text(w, persons.c.id)}
        wanted |= {r["person_id"] for r in earlier.values() if r["person_id"]}
        numbers: dict[str, str] = {}
        given = sorted({n for r in records if (n := _number(r.registration_number))})
        for chunk in chunks(given):
            found_numbers = conn.execute(
                select(persons.c.registration_number, persons.c.id).where(
                    persons.c.registration_number.in_(chunk)
                )
            ).all()
            numbers.update({str(number): str(pid) for number, pid in found_numbers})
        wanted |= set(numbers.values())
        existing: dict[str, str] = {}
        households: dict[str, str | None] = {}
        erased: set[str] = set()
        for chunk in chunks(sorted(wanted)):
            found = conn.execute(
                select(
                    persons.c.id, persons.c.site_id, persons.c.household_id, persons.c.anonymised_at
                ).where(persons.c.id.in_(chunk))
            ).all()
            existing.update({str(row[0]): str(row[1]) for row in found})
            households.update({str(row[0]): row[2] for row in found})
            erased.update(str(row[0]) for row in found if row[3] is not None)
        # How many rows of the file name each household (the person table's column).
        shared = Counter(r.household for r in records if r.household)
        return {
            "earlier": earlier,
            "persons": existing,
            "own": own,
            "households": households,
            "shared": shared,
            "numbers": numbers,
            "erased": erased,
        }

    def _plan(
        self, record: Record, known: dict[str, Any], options: ImportOptions, issues: list[Issue]
    ) -> Plan:
        earlier = known["earlier"].get(record.key) if record.key else None
        person_id: str | None = earlier["person_id"] if earlier else None
        if record.corridor_id and record.corridor_id in known["persons"]:
            person_id = record.corridor_id
        if record.key and record.key.startswith(known["own"]):
            local = record.key[len(known["own"]) :]
            person_id = local if local in known["persons"] else person_id
        allowed = options.allowed_sites
        if record.registration_number:
            refused, person_id = _named_by_number(record, person_id, known, allowed, issues)
            if refused:
                return Plan(record, "skip")
        if person_id and allowed is not None and known["persons"].get(person_id) not in allowed:
            issues.append(Issue(record.line, "record_id", "person not found"))
            return Plan(record, "skip")
        if record.household and person_id is None and not record.expired:
            rows = known["shared"][record.household]
            if options.from_registry and rows > 1:
                # Another registry's household: a new household here (``_together``).
                data = self._validate_new(record, options, issues)
                return Plan(record, "create", data, together=record.household)
            plan = _new_in_household(record, rows, issues)
            if plan is not None:
                return plan
        elif (
            record.household
            and person_id is not None
            and person_id == record.corridor_id  # a Corridor person's row: Corridor's household
            and record.household != known["households"].get(person_id)
        ):
            issues.append(
                Issue(
                    record.line,
                    "household_id",
                    N_(
                        "an import does not move a person to another household: "
                        "household_id {household} is not applied",
                        household=record.household,
                    ),
                    fatal=False,
                )
            )
        if record.expired:
            # Emptied: only a person taken in from this very record of another system
            # (PFIF keeps ids and dates of an expired record); never one registered here,
            # whom an expired copy of Corridor's own record (or a row naming them) names.
            taken_in = earlier["person_id"] if earlier else None
            if person_id is not None and (
                person_id != taken_in or (record.key or "").startswith(known["own"])
            ):
                reason = N_(
                    "the record has expired in the system it comes from, and names a "
                    "person registered here: nothing of them is emptied"
                )
                issues.append(Issue(record.line, record.key_field, reason, fatal=False))
                return Plan(record, "unchanged", person_id=person_id)
            return Plan(record, "expire" if person_id else "skip", person_id=person_id)
        if person_id is None and earlier is not None:
            return Plan(record, "unchanged")  # a household submission taken in before
        if person_id is not None and person_id in known["erased"]:
            # Erased (at their request, or by retention): a record sent again with other
            # content brings nothing back onto them.
            issues.append(
                Issue(
                    record.line,
                    record.key_field,
                    N_("the person of this record was erased: nothing of it is taken in"),
                    fatal=False,
                )
            )
            return Plan(record, "unchanged", person_id=person_id)
        if person_id is not None:
            if earlier and (
                record.fingerprinted or earlier["content_hash"] == record.content_hash()
            ):
                return Plan(record, "unchanged", person_id=person_id)
            if record.members or record.resent_conflicts:
                # A form submission edited since it was imported: what was registered
                # from it may have been corrected in Corridor since, and is kept.
                reason = N_(
                    "submission {key} was imported before with other content (it was "
                    "edited since): what was registered from it is left as it was; correct "
                    "the persons in Corridor where needed (conflict)",
                    key=record.key,
                )
                issues.append(Issue(record.line, record.key_field, reason, fatal=False))
                return Plan(record, "unchanged", person_id=person_id)
            older = (
                earlier is not None
                and earlier["source_date"] is not None
                and record.source_date is not None
                and record.source_date <= earlier["source_date"]
            )
            if older:
                return Plan(record, "unchanged", person_id=person_id)
            patch = self._validate_patch(record, issues)
            return Plan(record, "update", patch, person_id)
        data = self._validate_new(record, options, issues)
        return Plan(record, "create", data)

    def _names_as_held(self, conn: Connection, person_id: str, patch: PersonPatch) -> PersonPatch:
        """A row's names read against the person it corrects: a name chain that is the
        person's own, cut into parts by position (a full name or an original-script
        chain split own, father's, grandfather's, family: "Mariam Fadi Saleh" for Mariam
        daughter of Fadi, of the Saleh family), and an alternate name that is their
        whole chain or their kunya (PFIF has no field for a father's or grandfather's
        name, nor for a kunya: Corridor's export puts them in ``full_name`` and
        ``alternate_names``), say nothing new and are left out. Before, such a row read
        back from Corridor's own export added the person's full name as an alternate
        name, or moved their family name into the grandfather's place."""
        given = patch.model_dump(exclude_unset=True)
        if not any(k in given for k in (*NAME_PARTS, "alternate_names")):
            return patch
        try:
            names: dict[str, Any] = self.registration._person(conn, person_id)["names"]
        except NotFound:
            return patch
        held: set[str] = set()
        for suffix in ("", "_original"):
            parts = [p + suffix for p in NAME_PARTS[:4]]
            chain = " ".join(names.get(p) or "" for p in parts).split()
            held.add(" ".join(chain))
            said = [p for p in parts if p in given]
            if said and " ".join(given.get(p) or "" for p in parts).split() == chain:
                for p in said:
                    given.pop(p)
        if names.get("kunya"):
            held.add(" ".join(str(names["kunya"]).split()))
        kept = list(names.get("alternate_names") or [])
        if "alternate_names" in given:
            new = [
                n
                for n in given["alternate_names"] or []
                if " ".join(n.split()) not in held or n in kept
            ]
            if new:
                given["alternate_names"] = new
            else:
                given.pop("alternate_names")
        return PersonPatch.model_validate(given)

    def _since_export(
        self,
        conn: Connection,
        plan: Plan,
        stamp: datetime,
        earlier: dict[str, Any] | None,
        issues: list[Issue],
    ) -> Plan:
        """A row dated before the person's record last changed here: a row of Corridor's
        own table export (its ``changed_at``, the record's last change when exported), a
        PFIF record (its ``source_date``: in Corridor's own export, the same) read back
        after a registrar corrected the person. A field the row says otherwise than the
        record now may be one corrected since: each is left out with a warning on its
        line and field; what the row says alike changes nothing ("unchanged"). A record
        whose person has changed here only by its own earlier import (the last change
        is no later than that import) updates them as before, as does a row with no
        date (a partner's table). Before, the file's older values silently replaced the
        correction. Compared to the second (PFIF's dates have no fraction)."""
        assert plan.person_id is not None and isinstance(plan.data, PersonPatch)
        [live] = queries.survivors(conn, [plan.person_id])
        changed = conn.execute(select(persons.c.updated_at).where(persons.c.id == live)).scalar()
        if changed is None or changed.replace(microsecond=0) <= stamp.replace(microsecond=0):
            return plan
        if earlier and earlier["person_id"] == live and changed <= earlier["imported_at"]:
            return plan  # no change here since this record's own import
        record = plan.record
        for name, value in plan.data.model_dump(exclude_unset=True).items():
            if self.registration.changes_nothing(
                conn, live, PersonPatch.model_validate({name: value})
            ):
                continue
            reason = N_(
                "the person's record was changed in Corridor after this file was exported: "
                "the file's {field} is not applied (it may undo a correction); correct it "
                "on the person's page, or import a fresh export",
                field=name,
            )
            issues.append(Issue(record.line, name, reason, fatal=False))
        return Plan(record, "unchanged", person_id=plan.person_id)

    def _merged_since(self, conn: Connection, plan: Plan, issues: list[Issue]) -> Plan:
        """A row naming a person merged into another since the file was made (Corridor's
        own export taken before the merge, read back after it; a partner's record of the
        person merged away): it is read against the survivor's current details, and left
        out with a warning unless it says what the survivor holds. Before, it was written
        onto the survivor (every write follows a merged id), so the merged-away record's
        older or other details silently replaced the survivor's. An expired record naming
        them empties nobody. The survivor is not named: they may be at another site."""
        [survivor] = queries.survivors(conn, [plan.person_id or ""])
        record = plan.record
        if (
            plan.action == "update"
            and isinstance(plan.data, PersonPatch)
            and self.registration.changes_nothing(conn, survivor, plan.data)
        ):
            return Plan(record, "unchanged", person_id=survivor)
        named_by_number = record.registration_number and not (record.corridor_id or record.key)
        field = "registration_number" if named_by_number else record.key_field
        reason = N_(
            "this person was merged with another record since the file was made: the row "
            "is not applied (its details may be older than the record kept, or another "
            "person's); open the person in Corridor (this id leads to the record kept) and "
            "correct them there"
        )
        issues.append(Issue(record.line, field, reason, fatal=False))
        return Plan(record, "unchanged", person_id=survivor)

    def _validate_new(
        self, record: Record, options: ImportOptions, issues: list[Issue]
    ) -> PersonIn | HouseholdIn | None:
        site_id = record.site_id or options.site_id
        if not site_id:
            issues.append(Issue(record.line, "site_id", "no site: give --site or a site_id column"))
            return None
        tracing = (
            options.consent_tracing if record.consent_tracing is None else record.consent_tracing
        )
        common: dict[str, Any] = {
            "site_id": site_id,
            "consent": {"tracing": tracing, "share_with": []},
            "purpose": options.purpose,
            "legal_basis": options.legal_basis,
        }
        if record.registered_at is not None:
            common["registered_at"] = record.registered_at
        model: type[BaseModel]
        if record.members:
            body = {**common, "head": record.person, "members": record.members}
            model = HouseholdIn
        else:
            body = {**common, **record.person}
            model = PersonIn
        try:
            data = model.model_validate(body)
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"])
                issues.append(Issue(record.line, where, str(e["msg"])))
            return None
        assert isinstance(data, PersonIn | HouseholdIn)
        # What the registration would refuse inside the import's transaction (a birth
        # date after the registration's, a document number with no digit...), named by
        # line here and never met there.
        problems = self.registration.problems(data)
        issues.extend(Issue(record.line, p.field, p.reason) for p in problems)
        return data if not problems else None

    def _validate_patch(self, record: Record, issues: list[Issue]) -> PersonPatch | None:
        given = {k: v for k, v in record.person.items() if v not in (None, "", [])}
        try:
            details = PersonDetails.model_validate(given)
            patch = PersonPatch.model_validate(given)
        except ValidationError as exc:
            for e in exc.errors():
                issues.append(Issue(record.line, ".".join(str(p) for p in e["loc"]), str(e["msg"])))
            return None
        problems: list[Problem] = []
        detail_fields(details, self.clock().date(), "", problems)
        if not given:
            return patch
        issues.extend(
            Issue(record.line, p.field, p.reason)
            for p in problems
            if p.reason != "a person needs at least one name"
        )
        return patch

    def _check_sites(
        self,
        conn: Connection,
        plans: list[Plan],
        issues: list[Issue],
        allowed: frozenset[str] | None,
    ) -> None:
        lines: dict[str, list[int]] = {}
        for plan in plans:
            if plan.action == "create" and isinstance(plan.data, PersonIn | HouseholdIn):
                lines.setdefault(plan.data.site_id, []).append(plan.record.line)
        unknown = {p.field for p in unknown_site_problems(conn, [(s, s) for s in lines])} | {
            s for s in lines if allowed is not None and s not in allowed
        }
        for site in sorted(unknown):
            issues.extend(Issue(line, "site_id", f"unknown site {site!r}") for line in lines[site])

    def _check_fields(
        self,
        plans: list[Plan],
        patch_check: Callable[[dict[str, Any]], Callable[[dict[str, Any]], None] | None],
        issues: list[Issue],
    ) -> None:
        """A row correcting a registered person changes nothing the importer's roles may
        not change on them by a PATCH (a child's place of origin for a registrar,
        PROTECTION.md 4): an error on its line, for each such field."""
        for plan in plans:
            if plan.action != "update" or not plan.person_id:
                continue
            if not isinstance(plan.data, PersonPatch):
                continue
            check = patch_check(plan.data.model_dump(exclude_unset=True))
            if check is None:
                continue
            try:
                with self.db.read() as conn:
                    # A merged person's old id: the correction lands on the survivor.
                    [live] = queries.survivors(conn, [plan.person_id])
                check(self.registration.get_person(live))
            except Forbidden as exc:
                issues.extend(Issue(plan.record.line, p.field, p.reason) for p in exc.problems)

    def _duplicates(
        self, plans: list[Plan], progress: Progress | None
    ) -> tuple[list[dict[str, Any]], list[tuple[Plan, int]]]:
        """Each new person the registry probably holds already (the matching engine);
        beside each, its plan and its place in it (0: the person or the head; i + 1: the
        household's member i), where ``write`` puts the id it gives it."""
        found = []
        where_from: list[tuple[Plan, int]] = []
        for n, plan in enumerate(plans, start=1):
            if progress:
                progress("matching", n, len(plans))
            data = plan.data
            people: list[tuple[str, PersonDetails]] = []
            if isinstance(data, HouseholdIn):
                people = [("head", data.head)]
                people += [(f"members[{i}]", m) for i, m in enumerate(data.members)]
            elif isinstance(data, PersonIn):
                people = [("", data)]
            for at, (where, person) in enumerate(people):
                for match in self.search.suspected_duplicates(person, DUPLICATE_PROBABILITY):
                    found.append(
                        {
                            "line": plan.record.line,
                            "member": where or None,
                            "person_id": match["person"]["id"],
                            "registration_number": match["person"]["registration_number"],
                            "probability": match["probability"],
                        }
                    )
                    where_from.append((plan, at))
        return found, where_from


_KEY = imported_records.c.external_id


def _number(text: str | None) -> str | None:
    """A registration number as stored, None when ``text`` is none."""
    try:
        return normalise_registration_number(text) if text else None
    except InvalidRegistrationNumber:
        return None


# The document type a registration number given by another registry is kept as.
OTHER_REGISTRY_DOCUMENT = "other"


def _from_registry(parsed: Parsed, site_id: str | None) -> list[Issue]:
    """A file exported by another Corridor registry (another installation, not a site
    node of this one): its ``record_id``, ``registration_number`` and ``site_id`` are
    that registry's, and name nobody and no site here. Each row is a new person (or one
    taken in from that file before: its ``record_id`` is its key), registered at the
    import's site; the other registry's registration number is kept on the person as a
    document of type ``other`` (sealed, found by an exact search by document number: the
    number on the wristband the person carries from there). The import's site is
    required: the file's sites cannot be told by name (the table has their ids only).

    Without it, such a file is refused row by row (its numbers are nobody's here, its
    sites unknown), and with the site ids emptied the numbers were still refused."""
    for record in parsed.records:
        number = (record.registration_number or "").strip()
        if number:
            documents = list(record.person.get("documents") or [])
            documents.append({"type": OTHER_REGISTRY_DOCUMENT, "number": number})
            record.person["documents"] = documents
        record.registration_number = None
        record.corridor_id = None
        record.site_id = None
    if site_id:
        return []
    reason = N_(
        "a file from another registry names that registry's sites: give the site here "
        "its persons are registered at (--site, site_id)"
    )
    return [Issue(None, "site_id", reason)]


# A row with no id is remembered by this prefix and the keyed hash of its content.
FINGERPRINT = "fingerprint:"


def _fingerprint(records: Sequence[Record], vault: Any) -> list[Issue]:
    """Give each row with no id of its own (no ``record_id``, registration number or
    submission uuid: a partner's plain table, a Kobo export without ``_uuid``) a key:
    the keyed hash (the vault's lookup hash) of its normalised content
    (``Record.normalised``) and of how many rows before it in the file say the same.
    The same file imported again, or a partner's cumulative file (yesterday's rows and
    today's), then finds its rows taken in before ("unchanged") and registers only the
    new ones; a row saying anything else (a namesake, a corrected spelling) is new, and
    goes through the matching engine as before. A second identical row in one file is a
    second person (the count), as before. Without a master key nothing can be hashed:
    the rows are registered as before, with a warning. Before, such rows were
    registered again on every import."""
    seen: Counter[str] = Counter()
    for record in records:
        if record.key or record.corridor_id or record.registration_number or record.expired:
            continue
        text = record.normalised()
        seen[text] += 1
        try:
            hashed = vault.lookup_hash("import.row", f"{text}\0{seen[text]}")
        except KeyUnavailable:
            reason = N_(
                "no master key is configured: rows without a record_id cannot be "
                "recognised when imported again"
            )
            return [Issue(None, "record_id", reason, fatal=False)]
        record.key = FINGERPRINT + hashed
        record.fingerprinted = True
    return []


def _together(conn: Connection, plans: Sequence[Plan], known: dict[str, Any]) -> None:
    """The new persons of another registry's household (rows of a ``from_registry``
    file sharing a ``household_id``) join the household here that earlier rows of the
    same household were put in (a cumulative file: a member added there since), if
    any; else ``write`` makes them a new household. Never one of this registry's
    households of the same id: the file's household ids are that registry's."""
    labels = {p.together for p in plans if p.together}
    if not labels:
        return
    here: dict[str, str] = {}
    for plan in plans:
        label = plan.record.household
        if label not in labels or plan.action == "create" or not plan.person_id:
            continue
        earlier = known["earlier"].get(plan.record.key) or {}
        household = earlier.get("household_id") or known["households"].get(plan.person_id)
        if household:
            here.setdefault(label, household)
    for plan in plans:
        if plan.together and plan.together in here:
            plan.joins = here[plan.together]


def _named_by_number(
    record: Record,
    person_id: str | None,
    known: dict[str, Any],
    allowed: frozenset[str] | None,
    issues: list[Issue],
) -> tuple[bool, str | None]:
    """The person a row's registration number names (the person table's column): the
    row updates them, as a row naming their id does, and is never registered again as
    someone new. (refused, the person the row updates.) A number nobody here holds, or
    one of a site outside ``allowed``, is the same error (no existence oracle); one
    naming another person than the row's id is an error; a malformed one a warning."""
    text = record.registration_number or ""
    try:
        number = normalise_registration_number(text)
    except InvalidRegistrationNumber as exc:
        reason = N_("not a registration number ({reason}): ignored", reason=text_of(exc))
        issues.append(Issue(record.line, "registration_number", reason, fatal=False))
        return False, person_id
    named = known["numbers"].get(number)
    if named is None or (allowed is not None and known["persons"].get(named) not in allowed):
        reason = N_(
            "no person registered here has this number: empty the cell to register the "
            "row as a new person"
        )
        issues.append(Issue(record.line, "registration_number", reason))
        return True, None
    if person_id is not None and person_id != named:
        reason = N_("the row's record_id and registration_number name two different persons")
        issues.append(Issue(record.line, "registration_number", reason))
        return True, None
    return False, named


def _new_in_household(record: Record, rows: int, issues: list[Issue]) -> Plan | None:
    """A new person that the file puts in a household (``Record.household``). Rows
    sharing it are refused: registered one by one, the household the file states would
    be lost, and the person table has no column saying how its members are related.
    A household id no other row shares is dropped with a warning (the person was alone
    in the file too). None: plan the record as any other."""
    if rows > 1:
        reason = N_(
            "{rows} rows of the file share household {household}, and an import of the "
            "person table cannot register a household (it has no column for how members "
            "are related): register the household on its page or through the Kobo form, "
            "or empty household_id to register each person alone",
            rows=rows,
            household=record.household,
        )
        issues.append(Issue(record.line, "household_id", reason))
        return Plan(record, "skip")
    reason = N_(
        "registered alone: household_id {household} is not kept (no other row shares it)",
        household=record.household,
    )
    issues.append(Issue(record.line, "household_id", reason, fatal=False))
    return None


def _unkeepable_text(value: Any, column: Column[Any]) -> str | None:
    """Why ``value`` cannot be kept in ``column`` (a control character, or longer than
    the column), None when it can. SQLite keeps any length; PostgreSQL refuses both."""
    if not isinstance(value, str):
        return None
    char = control_character(value)
    if char:
        return REASON.format(char=char)
    length = getattr(column.type, "length", None)
    if length is not None and len(value) > length:
        return f"longer than {length} characters"
    return None


def _unkeepable(parsed: Parsed) -> list[Issue]:
    """The records' ids and the PFIF notes' fields that their columns cannot keep, by
    line and field (the formats know no columns; the schemas check everything else).
    A bad note is left out of what is written (so skipping bad records skips it)."""
    issues = []
    for record in parsed.records:
        reason = _unkeepable_text(record.key, _KEY)
        if reason:
            issues.append(Issue(record.line, record.key_field, reason))
        record.notes[:] = _keepable_notes(record.notes, issues, record.key)
    parsed.notes[:] = _keepable_notes(parsed.notes, issues, None)
    return issues


def _keepable_notes(
    notes: list[dict[str, Any]], issues: list[Issue], reported: str | None
) -> list[dict[str, Any]]:
    kept = []
    for note in notes:
        bad = [
            Issue(note.get("line"), name, reason)
            for name, value in note.items()
            if name in pfif_notes.c
            and not (name == "person_record_id" and value == reported)  # said above
            and (reason := _unkeepable_text(value, pfif_notes.c[name]))
        ]
        issues.extend(bad)
        if not bad:
            kept.append(note)
    return kept


_COUNTER = {"create": "created", "update": "updated", "unchanged": "unchanged", "expire": "expired"}


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    """``progress`` for one stage (None: none)."""
    if progress is None:
        return None
    report = progress
    return lambda done, total: report(stage, done, total)


def _sites_of(plans: Sequence[Plan]) -> set[str]:
    """The sites the plans register persons at."""
    out: set[str] = set()
    for plan in plans:
        site = getattr(plan.data, "site_id", None)
        if plan.action == "create" and isinstance(site, str):
            out.add(site)
    return out
