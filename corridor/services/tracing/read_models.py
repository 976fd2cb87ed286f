"""The tracing views as the gate returns them: typed read models.

``corridor/services/tracing/views.py`` builds the views (the queue, an enquiry, a case,
the list of enquiries, the enquirer view); the gate audits them, blanks the detention
sites the caller may not see, then validates them into these models
(``Gate.tracing``). The models forbid unknown keys: a field added to a view fails
loudly until someone decides who may see it. Times are kept as the views give them (ISO
8601 text); sentences for people (a log entry's reason, the engine's explanation, what
an enquirer is told) stay translatable.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, WithJsonSchema

from corridor.services.protection.read_models import PersonSummary, ReadModel, Sentence, Sparse

# An instant or a date as the views write it (``datetime.isoformat()``).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]


class SiteRef(Sparse):
    """Where a registered person is. A detention site the caller may not see is blanked:
    ``id``, ``name`` and ``kind`` null, ``hidden`` says why."""

    id: str | None
    name: str | None
    kind: str | None
    hidden: str | None = None


class TracedPerson(PersonSummary):
    """A registered person in a case: who, where now, unaccompanied or separated."""

    uasc: str | None
    deceased: bool = Field(
        default=False, description="A death is recorded for them (a movement: deceased)"
    )
    site: SiteRef


class Explanation(ReadModel):
    """One field's part in a match: the field, how it compared, its weight, a sentence
    (each translated where a page shows it)."""

    field: Sentence
    level: Sentence
    weight: float
    text: Sentence


class HouseholdLink(ReadModel):
    """The confirmed person in whose household a candidate was offered."""

    id: str
    name: str
    registration_number: str


class ProposedMatch(ReadModel):
    """A candidate for a person sought, with the engine's field-by-field explanation
    and the decision on it."""

    id: str
    person: TracedPerson
    probability: float
    weight: float
    explanation: list[Explanation]
    found_by: str = Field(
        description="enquiry, registration, arrival (the engine), search (an officer "
        "attached the person from a search) or household (offered from the household of "
        "the person confirmed for another person of the enquiry)"
    )
    proposed_by: str | None = Field(
        default=None, description="The officer who attached the candidate (null: the engine)"
    )
    proposed_by_name: str | None = None
    household_of: HouseholdLink | None = Field(
        default=None,
        description="The confirmed person in whose household the candidate was offered",
    )
    status: str
    reason: Sentence | None
    decided_by: str | None
    decided_at: Timestamp | None
    proposed_at: Timestamp


class CaseEvent(ReadModel):
    """One line of a case's log: who did what, when."""

    kind: str
    from_state: str | None
    to_state: str | None
    match_id: str | None
    disclosure: str | None
    reason: Sentence | None
    by: str | None
    by_name: str | None = None  # the user's display name, where the user is known
    role: str | None
    at: Timestamp


class Sought(ReadModel):
    """The person sought, as the enquirer described them."""

    full_name: str | None
    given_name: str | None
    father_name: str | None
    grandfather_name: str | None
    family_name: str | None
    name_original_script: str | None
    alternate_names: list[str]
    sex: str | None
    birth_year: int | None
    nationality: str | None
    place_of_origin: str | None
    mother_name: str | None
    relatives_names: list[str]
    last_seen_place: str | None
    last_seen_date: Day | None
    enquirer_is: str | None
    name: str
    age: int | None


class Case(ReadModel):
    """A tracing case: the person sought, every candidate, the found person, the log."""

    id: str
    enquiry_id: str
    state: str
    sought: Sought
    found_person: TracedPerson | None
    disclosure: str | None
    disclosure_decider: str | None = Field(
        default=None,
        description="The role that records the disclosure decision once a person is found: "
        "tracing_officer (an adult's own answer) or protection_officer (a child)",
    )
    found_person_withdrew: bool = Field(
        default=False,
        description="The found person withdrew their consent to tracing since (or their "
        "record was erased): the case can no longer be recorded as family_informed or "
        "reunited (409 consent_withdrawn), only closed",
    )
    close_reason: str | None
    matches: list[ProposedMatch]
    history: list[CaseEvent]
    opened_at: Timestamp
    updated_at: Timestamp


class Enquirer(ReadModel):
    """Who asks (a relative, often abroad)."""

    name: str | None
    contact: str | None
    relationship: str
    location: str | None
    country: str | None
    unavailable: bool = Field(
        default=False, description="The tracing key was destroyed: the fields above are null"
    )


class Enquiry(ReadModel):
    """An enquiry with its enquirer and a case per person sought."""

    id: str
    enquirer: Enquirer
    note: str | None
    created_by: str | None
    created_at: Timestamp
    anonymised_at: Timestamp | None = Field(
        description="Set once retention removed the enquirer's and sought persons' details"
    )
    cases: list[Case]


class SoughtBrief(ReadModel):
    name: str
    age: int | None
    sex: str | None


class QueueItem(ReadModel):
    """A case an officer still has to act on, with the candidates waiting."""

    case_id: str
    enquiry_id: str
    state: str
    priority: str = Field(description="uasc, child or adult: the order of the queue")
    sought: SoughtBrief
    found_person: TracedPerson | None
    proposed_matches: list[ProposedMatch]
    opened_at: Timestamp


class EnquirySummary(ReadModel):
    """An enquiry in the list (no registered person in it)."""

    id: str
    created_at: Timestamp
    enquirer_name: str | None
    enquirer_relationship: str
    anonymised: bool
    state: str
    priority: str
    sought: int = Field(description="How many persons are sought")
    open_cases: int


class EnquiryList(ReadModel):
    """A page of enquiries (children first, then open before closed, oldest first)."""

    items: list[EnquirySummary]
    total: int
    page: int
    pages: int
    per_page: int
    state: str | None


class EnquirerSite(Sparse):
    """Where the found person is, once it may be told. A detention site the caller may
    not see is blanked (``id``, ``name``, ``locality``, ``kind`` null; ``hidden`` says
    why): a protection officer gives the place."""

    id: str | None
    name: str | None
    locality: str | None
    kind: str | None
    hidden: str | None = None


class EnquirerNews(Sparse):
    """What may be told about one person sought. ``site`` and ``found_person_id`` are
    there only once the place may be disclosed (the found adult agreed, or for a child a
    protection officer decided so)."""

    case_id: str
    sought_name: str
    status: str = Field(
        description="searching; checking (a candidate verified, the person not yet asked: "
        "never 'found' before that); found (consulted); closed"
    )
    message_can_be_passed: bool
    text: Sentence
    site: EnquirerSite | None = None
    found_person_id: str | None = None


class EnquirerView(ReadModel):
    """What may be told to the enquirer, and nothing more."""

    enquiry_id: str
    enquirer_name: str | None
    sought: list[EnquirerNews]


__all__ = [
    "Case",
    "CaseEvent",
    "Day",
    "Enquirer",
    "EnquirerNews",
    "EnquirerSite",
    "EnquirerView",
    "Enquiry",
    "EnquiryList",
    "EnquirySummary",
    "Explanation",
    "HouseholdLink",
    "ProposedMatch",
    "QueueItem",
    "SiteRef",
    "Sought",
    "SoughtBrief",
    "Timestamp",
    "TracedPerson",
]
