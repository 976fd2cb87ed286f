"""What the gate returns: typed read models of personal data.

Every restricted field is always present. Where the caller's roles may not see it, its
value is ``None`` and its path is listed in ``withheld`` (``"phone"``,
``"vulnerabilities.muac_mm"``, ``"location.site_id"``): a page or a client can tell "not
recorded" from "not yours to see", and a template never meets a missing key. The models
forbid unknown keys, so a field added to a query fails loudly here until someone decides
who may see it (corridor/security/data/authorisation.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)


def _sentence(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value  # a corridor.text.Text keeps its message id: pages translate it


# Text for people, kept as given (a translatable ``Text`` stays one).
Sentence = Annotated[str, PlainValidator(_sentence), WithJsonSchema({"type": "string"})]


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonSummary(ReadModel):
    """A person named in a list (a relative, a manifest's passenger): no restricted field."""

    id: str
    registration_number: str
    name: str
    sex: str | None
    age: int | None
    age_bracket: str | None


class Names(ReadModel):
    given_name: str | None = None
    father_name: str | None = None
    grandfather_name: str | None = None
    family_name: str | None = None
    given_name_original: str | None = None
    father_name_original: str | None = None
    grandfather_name_original: str | None = None
    family_name_original: str | None = None
    alternate_names: list[str] = Field(default_factory=list)
    kunya: str | None = None
    mother_name: str | None = None


class Origin(ReadModel):
    pcode: str | None
    locality: str | None


class Document(ReadModel):
    type: str
    number: str | None
    issuing_country: str | None


class WashingtonGroup(ReadModel):
    seeing: int | None = None
    hearing: int | None = None
    walking: int | None = None
    remembering: int | None = None
    self_care: int | None = None
    communicating: int | None = None


class Vulnerabilities(ReadModel):
    uasc: str | None = None
    muac_mm: int | None = None
    oedema: bool | None = None
    muac_status: str | None = None
    washington_group: WashingtonGroup = Field(default_factory=WashingtonGroup)
    disabled: bool | None = None
    pregnant_lactating: bool | None = None
    serious_medical_condition: bool | None = None
    injury: bool | None = None
    elderly_alone: bool | None = None
    medical_note: str | None = None


class Consent(ReadModel):
    tracing: bool | None
    share_with: list[str] = Field(default_factory=list)


class Location(ReadModel):
    site_id: str | None
    state: str
    since: datetime | None
    manifest_id: str | None = None
    destination_site_id: str | None = None
    site_withheld: bool = False
    destination_site_withheld: bool = False
    unaccounted: bool = Field(
        default=False,
        description="In transit on a vehicle now due, and not checked in: unaccounted for "
        "(as the manifest and the unaccounted list say)",
    )


class PersonView(ReadModel):
    """One person as the caller may see them."""

    id: str
    registration_number: str
    site_id: str | None
    household_id: str | None
    relationship_to_head: str | None
    name: str
    names: Names
    sex: str | None
    birth_date: str | None
    birth_precision: str | None
    estimated_age_at_registration: int | None
    age: int | None
    age_bracket: str | None
    nationality: str | None
    origin: Origin
    languages: list[str] = Field(default_factory=list)
    phone: str | None
    documents: list[Document] | None
    vulnerabilities: Vulnerabilities
    consent: Consent
    purpose: str | None
    legal_basis: str | None
    note: str | None
    note_withheld: bool = Field(
        default=False,
        description="The note is of a field group the caller's roles may not see (its "
        "writer's: a health or protection officer's)",
    )
    biometric_reference: str | None
    location: Location
    registered_at: datetime | None
    updated_at: datetime | None
    withheld: list[str] = Field(
        default_factory=list,
        description="Paths of the fields the caller's roles may not see (their value: null)",
    )
    unreadable: list[str] = Field(
        default_factory=list,
        description="Paths of the fields that were recorded and cannot be read here (their "
        "value: null): the key of the person's registering site was destroyed (the "
        "evacuation drill) or is not held by this installation",
    )


class MovementFields(ReadModel):
    """What every movement read model holds (``corrected``: a later event replaced it)."""

    id: str
    person_id: str
    kind: str
    from_site_id: str | None
    to_site_id: str | None
    occurred_at: datetime
    manifest_id: str | None
    corrects_id: str | None
    note: str | None
    note_unavailable: bool = Field(
        default=False,
        description="A note was recorded and cannot be read here: the key of the person's "
        "registering site is not available (destroyed, or not held by this installation)",
    )
    recorded_by: str | None
    recorded_at: datetime
    corrected: bool = False


class Movement(MovementFields):
    """A movement in a person's log, as the caller may see it (a detention facility's
    site withheld, and said to be)."""

    from_site_withheld: bool = False
    to_site_withheld: bool = False
    note_withheld: bool = Field(
        default=False, description="The note is of a field group the caller's roles may not see"
    )


class Household(ReadModel):
    id: str
    site_id: str | None
    head_person_id: str | None
    members: list[PersonView]


class Relative(PersonSummary):
    kind: str
    link_id: str = Field(
        description="The link's id (to remove it: POST /api/relationships/{link_id}/removal)"
    )


class TracingMention(ReadModel):
    case_id: str
    state: str
    sought_name: str
    as_: str = Field(alias="as")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MergedFrom(ReadModel):
    """A record merged into this person: its id and number lead here (issue 15)."""

    merge_id: str
    person_id: str
    registration_number: str
    merged_at: datetime


class RenumberedFrom(ReadModel):
    """A registration number this person held before they were given a new one (issue
    16: another installation gave it to someone else). No search key any more."""

    previous_number: str
    registration_number: str
    renumbered_at: datetime


class PersonPage(ReadModel):
    """Everything a person's page shows, each person in it passed through the gate."""

    person: PersonView
    relatives: list[Relative]
    movements: list[Movement]
    cases: list[TracingMention] | None = None
    merged_from: list[MergedFrom] = Field(
        default_factory=list, description="Records merged into this one (merges in force)"
    )
    renumbered: list[RenumberedFrom] = Field(
        default_factory=list,
        description="The numbers this person held before being given a new one, oldest first",
    )


class Evidence(ReadModel):
    """One field's part in a match: the field, how it compared, its weight, a sentence
    (each said in the reader's language where a page shows it)."""

    field: Sentence
    level: Sentence
    weight: float
    text: Sentence


class Candidate(ReadModel):
    """A person found by the matching engine, with its probability and explanation."""

    person: PersonSummary
    probability: float
    weight: float
    explanation: list[Evidence]


class ManifestPerson(PersonSummary):
    household_id: str | None
    separation_reason: str | None
    separation_reason_withheld: bool = Field(
        default=False,
        description="The reason is of a field group the caller's roles may not see (a "
        "manifest to or from a detention facility)",
    )
    separation_reason_unavailable: bool = Field(
        default=False, description="A reason was recorded and its key is not available here"
    )
    checked_in_at: datetime | None
    late_arrival: bool = Field(default=False, description="Checked in after the arrival was closed")
    status: str = Field(
        description="on_board (draft), checked_in, late_arrival, in_transit (not checked "
        "in, the vehicle not yet due), unaccounted (due and not checked in), elsewhere "
        "(arrived somewhere else meanwhile)"
    )
    unaccounted: bool = Field(description="status is unaccounted")
    erased: bool = Field(
        default=False,
        description="The person's record was erased (anonymised: at their request or by "
        "retention, here or at another installation): the line stays, nameless",
    )
    left: bool = Field(
        default=False,
        description="At a site node: the person left its site and is no longer held here "
        "(anonymised by the central's forget): the line stays, nameless",
    )


class Discrepancy(ReadModel):
    person: PersonSummary
    kind: str
    note: str | None
    note_withheld: bool = Field(
        default=False, description="The note is of a field group the caller's roles may not see"
    )
    note_unavailable: bool = Field(
        default=False, description="A note was recorded and its key is not available here"
    )
    recorded_at: datetime


class ManifestHead(ReadModel):
    """A manifest's head; a detention facility at either end is withheld (``null``, and
    said to be) from the roles that may not see detention sites, as in a person's
    location: who is on a truck to a facility is where they are held."""

    id: str
    vehicle: str
    from_site_id: str | None
    to_site_id: str | None
    from_site_withheld: bool = False
    to_site_withheld: bool = False
    planned_departure: datetime | None
    status: str
    dispatched_at: datetime | None
    received_at: datetime | None
    expected_arrival: datetime | None = Field(
        default=None,
        description="When the vehicle is due (set at dispatch): persons not checked in are "
        "in transit until then, unaccounted for after it",
    )
    created_at: datetime


class ManifestCounts(ReadModel):
    on_manifest: int
    checked_in: int = Field(description="Late arrivals included")
    in_transit: int = Field(description="Not checked in, the vehicle not yet due")
    unaccounted: int = Field(description="Not checked in, the vehicle due")
    late_arrivals: int = Field(description="Checked in after the arrival was closed")
    discrepancies: int
    erased: int = Field(default=0, description="Passengers whose record was erased")


class ManifestView(ManifestHead):
    overdue: bool = Field(description="Dispatched, and its expected arrival has passed")
    persons: list[ManifestPerson]
    discrepancies: list[Discrepancy]
    counts: ManifestCounts


class Unaccounted(ReadModel):
    person: PersonSummary
    manifest_id: str
    vehicle: str
    from_site_id: str | None = Field(description="Withheld (null) as in a manifest's head")
    to_site_id: str | None = Field(description="Withheld (null) as in a manifest's head")
    from_site_withheld: bool = False
    to_site_withheld: bool = False
    departed_at: datetime
    hours_since_departure: float
    expected_arrival: datetime | None = None
    status: str = Field(
        description="in_transit until the manifest's expected arrival, unaccounted after it"
    )


class FamilyMember(ReadModel):
    id: str | None
    registration_number: str | None = None
    name: str | None = None
    sex: str | None = None
    age: int | None = None
    age_bracket: str | None = None
    relationship_to_head: str | None
    site_id: str | None = None
    site_name: str | None = None
    site_withheld: bool = False
    state: str
    since: datetime | None = None
    unaccounted: bool = False
    minor_apart_from_adult_relatives: bool


class SeparatedFamily(ReadModel):
    household_id: str | None = Field(
        description="null: a child registered on their own (no household) and apart from "
        "every adult relative, the one member listed"
    )
    places: int
    minors_apart_from_every_adult: int
    members: list[FamilyMember]


class Listed(ReadModel):
    """One page of a list: ``total`` rows match the filters; these are rows
    ``offset + 1`` to ``offset + len(items)`` (``limit`` None: all)."""

    total: int
    limit: int | None
    offset: int


class ManifestList(Listed):
    items: list[ManifestHead]


class UnaccountedList(Listed):
    items: list[Unaccounted]


class SeparatedFamilyList(Listed):
    items: list[SeparatedFamily]


# -- what writes answer, and a person's own record ------------------------------------------


class Sparse(ReadModel):
    """A read model whose optional fields are left out of the output when they were not
    given: for answers in which a key's absence means something (a site told to an
    enquirer only once it may be), or that have always left it out."""

    @model_serializer(mode="wrap")
    # No return annotation: pydantic then describes the output with the model's own
    # schema (with one, it would take the annotation's).
    def _given_only(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if isinstance(data, dict):
            for name, info in type(self).model_fields.items():
                if not info.is_required() and name not in self.model_fields_set:
                    data.pop(name, None)
        return data


class MovementEvent(MovementFields, Sparse):
    """A movement as recorded: the answer to a status event or a correction (a detention
    facility withheld as in the log, and only then said to be)."""

    from_site_withheld: bool = False
    to_site_withheld: bool = False
    note_withheld: bool = False


class Link(ReadModel):
    """A relationship recorded between two persons (its inverse is recorded too)."""

    id: str
    person_id: str
    other_person_id: str
    kind: str
    note: str | None


class RemovedLink(ReadModel):
    """A family link removed as recorded wrongly (its inverse is removed with it); its
    row is kept, marked removed."""

    id: str
    person_id: str
    other_person_id: str
    kind: str
    removed_at: datetime


class DuplicatePair(ReadModel):
    """Two registered persons the matching engine takes for one, side by side, with why
    (the explanation is the engine's of today: its sentences are never stored)."""

    id: str
    probability: float
    weight: float
    explanation: list[Evidence]
    found_by: str = Field(
        description="duplicates (a run of corridor duplicates), import, registration "
        "(a desk's registration or correction), officer"
    )
    created_at: datetime
    persons: list[PersonView] = Field(description="The two persons, as the caller may see them")


class DuplicateList(Listed):
    items: list[DuplicatePair]


class FoundTwice(ReadModel):
    """A person of a group the operator's duplicates run found (``corridor duplicates``):
    who, by number and name; nothing of a field group (the operator holds no role)."""

    id: str
    registration_number: str
    name: str


class DuplicatesFound(ReadModel):
    """The groups a duplicates run found, as shown (most persons first), how many groups
    in all and how many pairs the run queued for review."""

    groups: list[list[FoundTwice]]
    total: int
    queued: int


class MergeFollowed(ReadModel):
    """How many rows of each kind followed the survivor (and whether it joined the
    household of the person merged into it)."""

    movements: int
    links: int
    documents: int
    matches: int
    cases: int
    household: bool


class Merge(ReadModel):
    """One merge: ids only. ``unmerged_at`` is set once it was undone."""

    id: str
    survivor_id: str
    merged_id: str
    pair_id: str | None
    merged_at: datetime
    merged_by: str | None
    unmerged_at: datetime | None
    unmerged_by: str | None
    followed: MergeFollowed


class PairDecision(ReadModel):
    """An officer's decision that two persons are two: never proposed again."""

    person_id: str
    other_person_id: str
    status: str


class ConflictChange(ReadModel):
    """Who made one side's change of a conflict, when, at which node and site."""

    change_id: str
    user_id: str | None
    username: str | None
    node_id: str
    site_id: str | None
    site_name: str | None
    recorded_at: datetime
    received_at: datetime | None = Field(description="None: made at this installation")


class ConflictField(ReadModel):
    """One field both sides changed apart: our value (kept so far) and theirs. Where the
    caller's roles may not see the field, both values are None and ``withheld`` is set.
    ``field`` is the field's code, said in the reader's language where a page shows it."""

    field: Sentence
    ours: Any
    theirs: Any
    withheld: bool


class SyncConflict(ReadModel):
    """A change from another node that conflicts with ours (issue 16, the review queue)."""

    id: str
    person_id: str
    registration_number: str
    name: str
    site_id: str | None
    site_name: str | None
    fields: list[ConflictField]
    ours: ConflictChange | None = Field(description="The change our value came from")
    theirs: ConflictChange


class ConflictResolved(ReadModel):
    """A decision on a conflict: which side each field took; the person as written."""

    id: str
    person_id: str
    resolved_by: str
    resolved_at: datetime
    fields: dict[str, str] = Field(description='Each conflicting field: "ours" or "theirs"')
    person: PersonView


class Renumbered(ReadModel):
    """A person given a new registration number (issue 16): ids and numbers, no name.
    The previous number is no search key any more (another person holds it)."""

    person_id: str = Field(description="The person (a merged-away id's survivor)")
    registration_number: str = Field(description="The new number: print the wristband again")
    previous_number: str
    renumbered_at: datetime


class HeldErasure(ReadModel):
    """An erasure received from another installation for a person on legal hold here
    (issue 16): the data protection officer's to decide. Ids, the registration number
    and staff names only."""

    id: str = Field(description="The erasure's change id")
    person_id: str
    registration_number: str
    site_id: str | None
    site_name: str | None
    asked: ConflictChange = Field(description="The erasure: who made it, when, where")
    hold: ConflictChange | None = Field(
        description="The hold's latest change held here: who placed it, when, where"
    )


class RefusedErasure(ReadModel):
    """An erasure made here that another installation refused (a legal hold kept there):
    the person stays erased here; the refusal is recorded on the erasure's change."""

    id: str = Field(description="The erasure's change id")
    person_id: str
    registration_number: str
    erased_at: datetime
    refused_by: str | None
    refused_at: datetime


class HoldDecided(ReadModel):
    """A decision on an erasure received for a person on legal hold."""

    id: str
    person_id: str
    registration_number: str
    decided_by: str
    decided_at: datetime
    legal_hold: str = Field(description='"kept" or "lifted"')
    erasure: str = Field(description='"refused" or "carried out"')


class RegisteredMember(ReadModel):
    id: str
    registration_number: str
    name: str
    relationship_to_head: str | None


class RegisteredHousehold(ReadModel):
    """A household just registered: ids and wristband numbers (full records: GET)."""

    id: str
    site_id: str | None
    head_person_id: str | None
    members: list[RegisteredMember]


class Card(ReadModel):
    """What a wristband or card prints of a person (PROTECTION.md: as little as will do):
    names, sex, age, the registration number and the household's number. No restricted
    field, no nationality, place, detention, health or child-protection status: a
    wristband is read by anyone who stands next to its wearer."""

    id: str
    registration_number: str
    scan_code: str  # what the QR code and the barcode hold (domain/ids.py scan_payload)
    name_latin: str | None
    name_original: str | None
    sex: str | None
    age: int | None
    household_id: str | None
    household_number: str | None  # the head's registration number


class HouseholdSheet(ReadModel):
    """A household's sheet: its number (its head's registration number, where the head is
    in the caller's scope) and one card per member in scope."""

    id: str
    number: str | None
    scan_code: str | None
    members: list[Card]


class CheckIn(ReadModel):
    """A person ticked off at arrival: ``checked_in``, ``already_checked_in`` or
    ``already_recorded_as_discrepancy`` (not on the manifest: a discrepancy)."""

    person_id: str
    status: str
    movement_id: str | None
    late_arrival: bool = Field(default=False, description="Checked in after the arrival was closed")


class HouseholdCheckIn(ReadModel):
    """Every member of a household on the manifest, checked in at once (one result per
    member, in the manifest's order)."""

    manifest_id: str
    household_id: str
    results: list[CheckIn]


class Erasure(ReadModel):
    """A record anonymised at the person's request."""

    person_id: str
    erased_at: datetime
    ground: str
    merged_person_ids: list[str] = Field(
        default_factory=list,
        description="the records merged into this person (issue 15), erased with it",
    )


class RecordLocation(Sparse):
    site_id: str | None
    state: str
    since: datetime | None
    manifest_id: str | None = None
    destination_site_id: str | None = None


class OwnRecord(ReadModel):
    """A person's own record, every field opened (a data-subject access request)."""

    id: str
    registration_number: str
    site_id: str | None
    relationship_to_head: str | None
    name: str
    names: Names
    sex: str | None
    birth_date: str | None
    birth_precision: str | None
    estimated_age_at_registration: int | None
    age: int | None
    age_bracket: str | None
    nationality: str | None
    origin: Origin
    languages: list[str]
    phone: str | None
    documents: list[Document]
    vulnerabilities: Vulnerabilities
    consent: Consent
    purpose: str | None
    legal_basis: str | None
    note: str | None
    biometric_reference: str | None
    location: RecordLocation
    registered_at: datetime | None
    updated_at: datetime | None
    unreadable: list[str] = Field(
        default_factory=list,
        description="Paths of the fields that were recorded and cannot be read any more "
        "(their value: null): the key of the person's registering site was destroyed",
    )


class RedactedRelative(ReadModel):
    """A relative in a subject access answer: the kind of link only."""

    relationship: str
    recorded_at: datetime
    details: str
    removed_at: datetime | None = Field(
        default=None, description="When the link was removed as recorded wrongly; null: in force"
    )


class OwnDiscrepancy(ReadModel):
    """A discrepancy recorded about the person on a manifest (no writer named)."""

    kind: str
    note: str | None
    recorded_at: datetime


class OwnManifestPlace(ReadModel):
    """The person's own place on a manifest, in a subject access answer: the manifest's
    head and their own item, no other passenger, no staff user id; both ends shown, a
    detention facility included (as in the answer's movement log)."""

    manifest_id: str
    person_id: str = Field(
        description="The record on the manifest: the person's, or one merged into it"
    )
    vehicle: str
    from_site_id: str
    to_site_id: str
    planned_departure: datetime | None
    status: str = Field(description="The manifest's: draft, dispatched, received")
    dispatched_at: datetime | None
    expected_arrival: datetime | None
    received_at: datetime | None = Field(description="When the arrival was closed")
    listed: bool = Field(
        description="On the manifest's list; false: arrived by it off the list (a discrepancy)"
    )
    added_at: datetime | None
    checked_in_at: datetime | None
    late_arrival: bool = Field(description="Checked in after the arrival was closed")
    passenger_status: str | None = Field(
        description="Where the person stands on it (as ManifestPerson.status); null: not listed"
    )
    separation_reason: str | None
    separation_reason_unavailable: bool = Field(
        description="A reason was recorded and its key is not available here"
    )
    discrepancies: list[OwnDiscrepancy]


class SubjectAccess(ReadModel):
    """Everything held on a person, for the person: their relatives redacted."""

    notice: Sentence
    generated_at: datetime
    person: OwnRecord
    merged_records: list[OwnRecord] = Field(
        default_factory=list,
        description="Records of the person merged into this one (issue 15), each with its "
        "own details as registered",
    )
    movements: list[MovementEvent]
    manifests: list[OwnManifestPlace] = Field(
        description="The manifests the person travelled on or was listed on: their own "
        "place only (no other passenger, no staff user id), their separation reason opened"
    )
    relatives: list[RedactedRelative]


__all__ = [
    "Candidate",
    "Card",
    "CheckIn",
    "Consent",
    "Discrepancy",
    "Document",
    "DuplicatePair",
    "Erasure",
    "Evidence",
    "FamilyMember",
    "Household",
    "HouseholdCheckIn",
    "HouseholdSheet",
    "Link",
    "Location",
    "ManifestCounts",
    "ManifestHead",
    "ManifestPerson",
    "ManifestView",
    "Merge",
    "MergeFollowed",
    "MergedFrom",
    "Movement",
    "MovementEvent",
    "Names",
    "Origin",
    "OwnDiscrepancy",
    "OwnManifestPlace",
    "OwnRecord",
    "PairDecision",
    "PersonPage",
    "PersonSummary",
    "PersonView",
    "ReadModel",
    "RecordLocation",
    "RedactedRelative",
    "RegisteredHousehold",
    "RegisteredMember",
    "Relative",
    "SeparatedFamily",
    "Sparse",
    "SubjectAccess",
    "TracingMention",
    "Unaccounted",
    "Vulnerabilities",
    "WashingtonGroup",
]


@dataclass(frozen=True)
class ExportedFile:
    """A file of persons in one of the format registry's formats, and who is in it."""

    content: bytes
    person_ids: list[str]
