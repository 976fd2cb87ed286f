"""The shapes of what comes in and goes out (pydantic), shared by the API, CLI and imports.

Shape only: types, enums and lengths. Rules that need the clock or the database (a birth
date in the future, an unknown site) live in the domain and the services, so that every
way in applies them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from corridor.domain.control_characters import REASON, control_character
from corridor.formats.registry import writable
from corridor.security.roles import Role
from corridor.storage.metadata import ID

Sex = Literal["m", "f"]
SiteKind = Literal["exit_point", "screening", "transit", "camp", "hospital", "detention", "other"]
LegalBasis = Literal[
    "vital_interest", "consent", "public_interest", "legitimate_interest", "legal_obligation"
]
DocType = Literal[
    "national_id", "passport", "family_book", "birth_certificate", "residence_card", "other"
]
HouseholdRelation = Literal[
    "spouse", "child", "parent", "sibling", "grandchild", "grandparent", "other_relative"
]
LinkKind = Literal[
    "spouse",
    "child",
    "parent",
    "sibling",
    "twin",
    "grandchild",
    "grandparent",
    "cousin",
    "uncle_aunt",
    "nephew_niece",
    "other_relative",
]
WgLevel = Literal[1, 2, 3, 4]
# One part of a name: every shape that takes one (a registration, a correction) holds
# it to the same length.
Name = Annotated[str, StringConstraints(max_length=100)]
# The id of a record (a site, a person, a household...) as a body names it: a longer
# one is no id at all, refused with its field before any query (as web/impossible_ids.py
# refuses a path's), so that it is neither looked up, nor audited, nor stored.
RecordId = Annotated[str, StringConstraints(max_length=ID.length or 36)]
# What a caller types to find a person: a registration number (``K7M4-Q2XA-9``), a phone
# number, a document's number; as long as the fields they are compared with, and some.
RegistrationNumberText = Annotated[str, StringConstraints(max_length=40)]
PhoneText = Annotated[str, StringConstraints(max_length=40)]
DocumentNumberText = Annotated[str, StringConstraints(max_length=60)]
# An item of a list of texts: an agency a person's details may be shared with; a name
# an enquirer gives (another name of the person sought, a relative's). Each was stored
# at any length (a 50,000-character agency registered a person).
AgencyName = Annotated[str, StringConstraints(max_length=200)]
DescribedName = Annotated[str, StringConstraints(max_length=300)]
# An identifier from a biometric system (a template or enrolment reference): short text,
# so that a raw image (kilobytes of base64) can never be stored in its place.
BiometricReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,199}$")
]


def _in_utc_range(value: datetime) -> datetime:
    """A moment with its offset must be a moment in UTC too: 0001-01-01T00:00+01:00 is
    before the first UTC year (it was a 500 wherever it was stored or compared)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "is outside the years 1 to 9999 once in UTC"
        ) from None
    return value


# A date and time with its offset (every time a body or form gives).
Moment = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


# Limits on what one request may carry (besides the body size, web/limits.py): beyond
# them a request is refused with 422 naming the field, before anything is written.
NOTE_MAX = 4000  # characters in a note or free text
LIST_MAX = 20  # names, languages, documents, agencies on one person
MEMBERS_MAX = 100  # members of one household
MANIFEST_PERSONS_MAX = 1000  # persons put on a manifest in one request


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not silently drop data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """Every text field (and every text of a list), in every body, form and imported
        record: a NUL or another control character is refused with the field."""
        texts = value if isinstance(value, list | tuple) else [value]
        for text in texts:
            char = control_character(text) if isinstance(text, str) else None
            if char:
                raise PydanticCustomError("control_character", REASON, {"char": char})
        return value


def _writable(name: str) -> str:
    known = [f.name for f in writable()]
    if name not in known:
        raise ValueError(f"unknown format; one of: {', '.join(known)}")
    return name


# A format persons can be exported in: the format registry's list (corridor/formats).
ExportFormat = Annotated[
    str,
    AfterValidator(_writable),
    WithJsonSchema({"type": "string", "enum": [f.name for f in writable()]}),
]


PersonIds = list[RecordId]  # (the selection's field ``list`` hides the builtin in its class)


class ExportSelectionIn(Strict):
    """Only the persons of one list, by that list's filter (as ``GET /api/unaccounted``
    and ``GET /api/separated-families`` take it); a search: the ids of the persons it
    showed, and how they were found (never the name searched for)."""

    list: Literal["unaccounted", "families", "search"] = Field(
        description="unaccounted: dispatched and not checked in (site_id, since, until); "
        "families: split across places (site_id, alone_only); search: person_ids, searched_by"
    )
    site_id: RecordId | None = None
    since: date | None = Field(default=None, description="unaccounted: departed on or after")
    until: date | None = Field(default=None, description="unaccounted: departed on or before")
    alone_only: bool = Field(default=False, description="families: only with a child alone")
    person_ids: PersonIds = Field(default_factory=lambda: [], max_length=500)
    searched_by: Literal["name", "registration_number", "phone", "document_number"] | None = None


class ExportIn(Strict):
    reason: str = Field(min_length=3, max_length=2000, description="Why the export is needed")
    format: ExportFormat = Field(
        default="jsonl",
        description="; ".join(f"{f.name}: {f.write.content}" for f in writable() if f.write),
    )
    selection: ExportSelectionIn | None = Field(
        default=None,
        description="Only the persons of one list (by its filter); none: every person of "
        "your sites",
    )


class ExportDownloadIn(Strict):
    passphrase: str = Field(
        min_length=1, max_length=1000, description="Encrypts the file (at least 12 characters)"
    )


class UserSitesIn(Strict):
    site_ids: list[RecordId] = Field(max_length=500, description="The sites the user works at")


# The languages of the pages (corridor/web/i18n.py LANGUAGES; a test keeps them equal).
LanguageCode = Literal["en", "ar", "ku"]
Username = Annotated[
    str,
    StringConstraints(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"),
]
# A password an administrator gives a new user (argon2id-hashed, never stored or logged).
Password = Annotated[str, StringConstraints(min_length=12, max_length=1000)]


class UserIn(Strict):
    """A new user: roles and sites (none by default: nothing is granted unasked)."""

    username: Username
    display_name: str = Field(min_length=1, max_length=200)
    password: Password = Field(description="At least 12 characters; stored argon2id-hashed")
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    site_ids: list[RecordId] = Field(default_factory=list, max_length=500)
    language: LanguageCode | None = None


class PasswordChangeIn(Strict):
    """A user's own new password, given with the one they sign in with now."""

    current_password: str = Field(min_length=1, max_length=1000)
    new_password: Password = Field(description="At least 12 characters; stored argon2id-hashed")


class PasswordResetIn(Strict):
    """An administrator's reset of a forgotten password: the one-time password to hand
    over, or none (one is made and shown once). The user changes it at next sign-in."""

    password: Password | None = Field(
        default=None, description="At least 12 characters; left out, one is made"
    )


class UserPatch(Strict):
    """What an administrator changes of a user; a field left out stays as it is."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=len(Role))
    site_ids: list[RecordId] | None = Field(default=None, max_length=500)
    language: LanguageCode | None = None


class SitePatch(Strict):
    """What an administrator changes of a site (its kind stays). A detention
    facility's name, P-code, locality and coordinates are sealed again as they change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    pcode: str | None = Field(default=None, max_length=12, description="Governorate P-code")
    locality: str | None = Field(default=None, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)


class SiteIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind
    pcode: str | None = Field(default=None, max_length=12, description="Governorate P-code")
    locality: str | None = Field(default=None, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)


class DocumentIn(Strict):
    type: DocType
    number: str = Field(min_length=1, max_length=60)
    issuing_country: str | None = Field(default=None, min_length=3, max_length=3)


class WashingtonGroup(Strict):
    """Levels 1 no difficulty, 2 some, 3 a lot, 4 cannot do at all."""

    seeing: WgLevel | None = None
    hearing: WgLevel | None = None
    walking: WgLevel | None = None
    remembering: WgLevel | None = None
    self_care: WgLevel | None = None
    communicating: WgLevel | None = None


class VulnerabilitiesIn(Strict):
    uasc: Literal["unaccompanied", "separated"] | None = Field(
        default=None, description="Unaccompanied or separated child"
    )
    muac_mm: int | None = Field(default=None, description="MUAC in mm, children 6-59 months")
    oedema: bool | None = Field(default=None, description="Bilateral pitting oedema")
    washington_group: WashingtonGroup | None = None
    pregnant_lactating: bool = False
    serious_medical_condition: bool = False
    injury: bool = False
    elderly_alone: bool = False
    medical_note: str | None = Field(
        default=None,
        max_length=2000,
        description="Health staff's note: conditions, treatment, referrals (sealed at rest)",
    )


class ConsentIn(Strict):
    tracing: bool = Field(description="The person agrees to be found by tracing enquiries")
    share_with: list[AgencyName] = Field(default_factory=list, description="Named agencies")


class NamesIn(Strict):
    given_name: Name | None = Field(default=None, max_length=100)
    father_name: Name | None = Field(default=None, max_length=100)
    grandfather_name: Name | None = Field(default=None, max_length=100)
    family_name: Name | None = Field(default=None, max_length=100)
    given_name_original: Name | None = Field(default=None, max_length=100)
    father_name_original: Name | None = Field(default=None, max_length=100)
    grandfather_name_original: Name | None = Field(default=None, max_length=100)
    family_name_original: Name | None = Field(default=None, max_length=100)
    alternate_names: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, max_length=LIST_MAX
    )
    kunya: str | None = Field(default=None, max_length=100)
    mother_name: str | None = Field(default=None, max_length=200)


class PersonDetails(NamesIn):
    sex: Sex | None = None
    birth_date: str | None = Field(
        default=None,
        max_length=40,
        description="YYYY, YYYY-MM or YYYY-MM-DD; the precision follows the form",
    )
    estimated_age: int | None = Field(
        default=None, ge=0, description="Age in years estimated on the registration date"
    )
    nationality: str | None = Field(
        default=None, max_length=60, description="ISO 3166-1 alpha-3"
    )
    origin_pcode: str | None = Field(default=None, max_length=40)
    origin_locality: str | None = Field(default=None, max_length=200)
    languages: list[Annotated[str, StringConstraints(max_length=60)]] = Field(
        default_factory=list, max_length=LIST_MAX
    )
    documents: list[DocumentIn] = Field(default_factory=list, max_length=LIST_MAX)
    phone: str | None = Field(default=None, max_length=40)
    vulnerabilities: VulnerabilitiesIn = Field(default_factory=VulnerabilitiesIn)
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    biometric_reference: BiometricReference | None = Field(
        default=None,
        description="A reference or template id issued by a biometric system, never an "
        "image; refused unless the instance enables biometrics",
    )


CONFIRM_IMPLAUSIBLE = (
    "The registrar checked the details the server found unlikely (an age over 110, a "
    "child not 12 years younger than the head...): without it, such a registration is "
    "refused (422, code implausible) with each field and reason"
)


class PersonIn(PersonDetails):
    site_id: RecordId
    consent: ConsentIn
    purpose: str = Field(min_length=1, max_length=200)
    legal_basis: LegalBasis
    registered_at: Moment | None = Field(default=None, description="Defaults to now")
    confirm_implausible: bool = Field(default=False, description=CONFIRM_IMPLAUSIBLE)


class PersonPatch(Strict):
    """Details added later (group pre-registration first is normal). Only given fields change."""

    given_name: Name | None = None
    father_name: Name | None = None
    grandfather_name: Name | None = None
    family_name: Name | None = None
    given_name_original: Name | None = None
    father_name_original: Name | None = None
    grandfather_name_original: Name | None = None
    family_name_original: Name | None = None
    alternate_names: list[Annotated[str, StringConstraints(max_length=300)]] | None = Field(
        default=None, max_length=LIST_MAX
    )
    kunya: str | None = Field(default=None, max_length=100)
    mother_name: str | None = Field(default=None, max_length=200)
    sex: Sex | None = None
    birth_date: str | None = Field(default=None, max_length=40)
    estimated_age: int | None = Field(default=None, ge=0)
    nationality: str | None = Field(default=None, max_length=60)
    origin_pcode: str | None = Field(default=None, max_length=40)
    origin_locality: str | None = Field(default=None, max_length=200)
    languages: list[Annotated[str, StringConstraints(max_length=60)]] | None = Field(
        default=None, max_length=LIST_MAX
    )
    documents: list[DocumentIn] | None = Field(default=None, max_length=LIST_MAX)
    phone: str | None = Field(default=None, max_length=40)
    vulnerabilities: VulnerabilitiesIn | None = None
    consent: ConsentIn | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    biometric_reference: BiometricReference | None = None


class MemberIn(PersonDetails):
    relationship: HouseholdRelation
    consent: ConsentIn | None = Field(default=None, description="Defaults to the head's")


class HouseholdIn(Strict):
    site_id: RecordId
    head: PersonDetails
    members: list[MemberIn] = Field(default_factory=list, max_length=MEMBERS_MAX)
    consent: ConsentIn
    purpose: str = Field(min_length=1, max_length=200)
    legal_basis: LegalBasis
    registered_at: Moment | None = None
    confirm_implausible: bool = Field(default=False, description=CONFIRM_IMPLAUSIBLE)


class ErasureIn(Strict):
    """A person's request that their data be erased, taken by a protection officer."""

    ground: Literal["consent_withdrawn", "no_longer_needed", "objection", "unlawful"] = Field(
        description="Why the person asks: consent withdrawn, no longer needed for the "
        "purpose it was collected for, an objection to its use, or unlawful processing"
    )
    confirm: Literal[True] = Field(
        description="The officer confirms the person's identity and request; erasure "
        "cannot be undone"
    )


class LinkIn(Strict):
    person_id: RecordId
    other_person_id: RecordId
    kind: LinkKind = Field(description="other_person_id is person_id's <kind>")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class LinkRemovalIn(Strict):
    """Why a family link is removed (recorded wrongly: an aunt recorded as the mother)."""

    reason: str = Field(min_length=1, max_length=NOTE_MAX)


class MergeIn(Strict):
    """Merge ``other_person_id`` into the person of the path (the survivor)."""

    other_person_id: RecordId = Field(
        description="The person merged away: its id leads here after"
    )
    reason: str | None = Field(default=None, max_length=NOTE_MAX)
    consent_tracing: bool | None = Field(
        default=None,
        description="Whether the person agrees to be found by family tracing, asked anew: "
        "required where the two records differ on it (one refused, one agreed), else unread",
    )


class ConflictResolveIn(Strict):
    """A decision on a sync conflict of the person of the path (issue 16)."""

    conflict_id: str = Field(max_length=64, description="The conflict (its change's id)")
    theirs: list[Annotated[str, StringConstraints(max_length=60)]] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="The conflicting fields that take the other side's value; the others "
        "keep ours (none: keep ours for all)",
    )


class RenumberIn(Strict):
    """The administrator's order to give a person a new registration number (issue 16):
    another installation gave their number to someone else."""

    reason: str = Field(
        min_length=1, max_length=200, description="Why (kept in the audit log as the purpose)"
    )


class HoldDecisionIn(Strict):
    """The data protection officer's decision on an erasure received for a person on
    legal hold here (issue 16)."""

    conflict_id: str = Field(max_length=64, description="The erasure's change id")
    lift: bool = Field(
        description="True: lift the hold and carry the erasure out; False: keep the hold "
        "(the erasure refused)"
    )


class UnmergeIn(Strict):
    reason: str | None = Field(default=None, max_length=NOTE_MAX)


class NotDuplicateIn(Strict):
    """The person of the path and ``other_person_id`` are two persons."""

    other_person_id: RecordId
    reason: str | None = Field(default=None, max_length=NOTE_MAX)


class StatusEventIn(Strict):
    kind: Literal[
        "transferred", "hospitalised", "discharged", "detained", "released", "departed", "deceased"
    ]
    to_site_id: RecordId | None = None
    occurred_at: Moment | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class CorrectionIn(Strict):
    """Replace a recorded event: ``kind='voided'`` removes it, anything else restates it."""

    kind: Literal[
        "voided",
        "registered",
        "arrived",
        "transferred",
        "hospitalised",
        "discharged",
        "detained",
        "released",
        "departed",
        "deceased",
    ]
    from_site_id: RecordId | None = Field(default=None, description="Not for a void")
    to_site_id: RecordId | None = Field(default=None, description="Not for a void")
    occurred_at: Moment | None = None
    note: str = Field(min_length=1, max_length=NOTE_MAX, description="Why the correction is made")

    @field_validator("from_site_id", "to_site_id")
    @classmethod
    def _no_site_for_a_void(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A void removes an event and records no move: a site given with it is a
        mistake (it was stored unchecked, and an unknown one was a 500)."""
        if value is not None and info.data.get("kind") == "voided":
            raise PydanticCustomError("void_site", "a void records no site: leave it out")
        return value


class ManifestIn(Strict):
    vehicle: str = Field(min_length=1, max_length=100)
    from_site_id: RecordId
    to_site_id: RecordId
    planned_departure: Moment | None = None


class ManifestPersonsIn(Strict):
    person_ids: list[RecordId] = Field(min_length=1, max_length=MANIFEST_PERSONS_MAX)
    separation_reason: str | None = Field(
        default=None,
        max_length=NOTE_MAX,
        description="Why these persons travel without the rest of their household",
    )


class DispatchIn(Strict):
    departed_at: Moment | None = None
    expected_arrival: Moment | None = Field(
        default=None,
        description="When the vehicle is due at its destination (default: departure plus "
        "the policy's travel hours). Until then a person not checked in is 'in transit', "
        "after it 'unaccounted for'",
    )
    travel_hours: float | None = Field(
        default=None,
        gt=0,
        le=336,
        description="Instead of expected_arrival: hours from the departure to the expected arrival",
    )


class CheckInIn(Strict):
    person_id: RecordId | None = None
    registration_number: RegistrationNumberText | None = None
    arrived_at: Moment | None = None


class HouseholdCheckInIn(Strict):
    """Check in every member of a household who is on the manifest, in one go."""

    household_id: RecordId
    arrived_at: Moment | None = None


class ReceiveIn(Strict):
    received_at: Moment | None = None


class PersonSearchIn(Strict):
    registration_number: RegistrationNumberText | None = None
    phone: PhoneText | None = None
    document_number: DocumentNumberText | None = None


class SoughtDescription(Strict):
    """A sought person as someone describes them: any field may be missing."""

    full_name: str | None = Field(default=None, max_length=300, description="Any script")
    given_name: str | None = Field(default=None, max_length=100)
    father_name: str | None = Field(default=None, max_length=100)
    grandfather_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    name_original_script: str | None = Field(default=None, max_length=300)
    alternate_names: list[DescribedName] = Field(default_factory=list, max_length=20)
    sex: Sex | None = None
    birth_year: int | None = Field(default=None, ge=1880, le=2100)
    age: int | None = Field(default=None, ge=0, le=120, description="Approximate age today")
    nationality: str | None = Field(default=None, min_length=3, max_length=3)
    place_of_origin: str | None = Field(default=None, max_length=200)
    mother_name: str | None = Field(default=None, max_length=200)
    relatives_names: list[DescribedName] = Field(default_factory=list, max_length=20)


MatchPurpose = Literal["tracing", "deduplication"]


class MatchQueryIn(SoughtDescription):
    """A sought person, as an enquirer describes them: any field may be missing."""

    registration_number: RegistrationNumberText | None = None
    phone: PhoneText | None = None
    document_number: DocumentNumberText | None = None
    purpose: MatchPurpose | None = Field(
        default=None,
        description="tracing: only persons who consented to tracing, within the caller's "
        "scope for tracing (tracing.read); deduplication: registration staff checking for "
        "an existing record, only among the persons the caller may open (person.read). "
        "A purpose whose action the caller's roles lack is refused (403). Omitted: "
        "tracing for a caller who may trace, deduplication otherwise",
    )
    top: int = Field(default=10, ge=1, le=50)


# The errors of a length limit (a text's characters, a list's items): the one check a
# value kept from before its limit (an old SQLite database, which does not hold a VARCHAR
# to its length; a change synced from an older node) may fail without anyone typing it.
LENGTH_LIMITS = frozenset({"string_too_long", "too_long"})
_M = TypeVar("_M", bound=BaseModel)


def validate_kept(model: type[_M], body: dict[str, Any], kept: Any) -> _M:
    """``model`` validated from ``body``, where a value over its length limit that is
    ``kept`` as it was (the same value at the same place of ``kept``: stored, not typed)
    is taken as it is. The limit applies to what is typed, not to what is kept
    (docs/api.md, "Input limits"): a correction of a person's note is never refused for a
    name stored long before. Any other error, and a length over the limit that was typed,
    raise the ValidationError as ``model_validate`` does.

    >>> long = "x" * 150
    >>> validate_kept(NamesIn, {"given_name": long}, {"given_name": long}).given_name == long
    True
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        if not all(e["type"] in LENGTH_LIMITS and _found(kept, e["loc"]) == e["input"]
                   for e in errors):
            raise
    # Checked with each kept value cut to its limit, then given its stored value back.
    cut = json.loads(json.dumps(body, default=str))
    for e in errors:
        limit = int((e.get("ctx") or {}).get("max_length", 0))
        _put(cut, e["loc"], e["input"][:limit])
    checked = model.model_validate(cut)
    for e in errors:
        _put(checked, e["loc"], e["input"])
    return checked


_MISSING = object()


def _found(into: Any, loc: tuple[int | str, ...]) -> Any:
    """The value at ``loc`` of a body, or a marker no input equals."""
    for part in loc:
        try:
            into = _at(into, part)
        except (IndexError, KeyError, AttributeError, ValueError, TypeError):
            return _MISSING
    return into


def _put(into: Any, loc: tuple[int | str, ...], value: Any) -> None:
    """``value`` at ``loc`` in a body (dicts and lists) or a model (its attributes)."""
    *path, last = loc
    for part in path:
        into = _at(into, part)
    if isinstance(into, list):
        into[int(last)] = value
    elif isinstance(into, dict):
        into[last] = value
    else:
        object.__setattr__(into, str(last), value)


def _at(into: Any, part: int | str) -> Any:
    if isinstance(into, list):
        return into[int(part)]
    if isinstance(into, dict):
        return into[part]
    return getattr(into, str(part))
