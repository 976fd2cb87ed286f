"""The shapes of tracing input (pydantic): enquiries, sought persons, officers' decisions.

Shape only. Rules needing the clock or the case's state live in domain/tracing.py and
services/tracing/cases.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from corridor.domain.tracing import CloseReason, Disclosure
from corridor.schemas import SoughtDescription, Strict

SOUGHT_MAX = 20  # persons sought by one enquiry

# What the enquirer is to the sought person ("mother": the enquirer is the sought
# person's mother). It feeds matching: a mother's name is compared with the mother's
# name recorded at registration, any relative's with the household's names.
EnquirerIs = Literal[
    "mother",
    "father",
    "spouse",
    "child",
    "sibling",
    "grandparent",
    "grandchild",
    "uncle_aunt",
    "nephew_niece",
    "cousin",
    "other_relative",
    "friend",
    "other",
]


class EnquirerIn(Strict):
    name: str = Field(min_length=1, max_length=300, description="Any script")
    contact: str = Field(
        min_length=1, max_length=300, description="Phone, e-mail or how to reach them"
    )
    relationship: EnquirerIs = Field(description="What the enquirer is to the sought persons")
    location: str = Field(
        min_length=1, max_length=300, description="Where the enquirer is (often abroad)"
    )
    country: str | None = Field(default=None, min_length=3, max_length=3, description="ISO3")


class SoughtPersonIn(SoughtDescription):
    """A sought person as the enquirer describes them: any field may be missing, but
    there must be a name."""

    last_seen_place: str | None = Field(default=None, max_length=300)
    last_seen_date: dt.date | None = None
    enquirer_is: EnquirerIs | None = Field(
        default=None, description="Overrides the enquirer's relationship for this person"
    )


class EnquiryIn(Strict):
    enquirer: EnquirerIn
    sought: list[SoughtPersonIn] = Field(min_length=1, max_length=SOUGHT_MAX)
    note: str | None = Field(default=None, max_length=2000)


class MatchDecisionIn(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept on the case)")


class CandidateIn(Strict):
    """A registered person an officer found by a search, attached to a case as a
    candidate (the engine scores and explains the pair)."""

    person_id: str = Field(min_length=1, max_length=36, description="The person found")
    reason: str | None = Field(
        default=None, max_length=2000, description="Why the officer attaches them (kept)"
    )


class TransitionIn(Strict):
    to: Literal["family_informed", "reunited", "closed"]
    reason: str | None = Field(default=None, max_length=2000)
    close_reason: CloseReason | None = Field(
        default=None, description="Required when closing a case"
    )


class DisclosureIn(Strict):
    decision: Disclosure = Field(
        description="agreed: the enquirer may learn where the person is; refused: never"
    )
    reason: str = Field(min_length=1, max_length=2000)
