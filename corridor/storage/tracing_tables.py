"""The tracing tables (enquiries, cases, proposed matches, the case log) on the one
metadata, so that one migration history covers the whole schema."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

# Who is asking: a relative, often abroad. Mediated contact only: the enquirer never
# sees a record, only what the enquirer view allows.
tracing_enquiries = Table(
    "tracing_enquiries",
    metadata,
    Column("id", ID, primary_key=True),
    # The enquirer's name, contact and location and the enquiry's note, packed and sealed
    # under the tracing key (services/tracing/enquirer.py, migration 0013); NULL once
    # retention anonymised the enquiry.
    Column("sealed", Text),
    Column("enquirer_relationship", String(30), nullable=False),
    Column("enquirer_country", String(3)),
    Column("created_by", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    # Retention (migration 0010): an enquiry on legal hold is never disposed of;
    # anonymised_at marks one whose personal fields, and its cases', a run removed.
    Column("legal_hold", Boolean, nullable=False, server_default=false()),
    Column("anonymised_at", UTCDateTime),
)

# One case per sought person: their description as the enquirer gave it, and the state.
tracing_cases = Table(
    "tracing_cases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("enquiry_id", ID, ForeignKey("tracing_enquiries.id"), nullable=False, index=True),
    Column("state", String(30), nullable=False),
    Column("enquirer_is", String(30), nullable=False),
    Column("full_name", String(300)),
    Column("given_name", String(100)),
    Column("father_name", String(100)),
    Column("grandfather_name", String(100)),
    Column("family_name", String(100)),
    Column("name_original_script", String(300)),
    Column("alternate_names", JSON, nullable=False),
    Column("sex", String(1)),
    Column("birth_year", SmallInteger),
    Column("birth_year_tolerance", SmallInteger, nullable=False),
    Column("nationality", String(3)),
    Column("place_of_origin", String(200)),
    Column("mother_name", String(200)),
    Column("relatives_names", JSON, nullable=False),
    Column("last_seen_place", String(300)),
    Column("last_seen_date", Date),
    Column("found_person_id", ID, ForeignKey("persons.id")),
    Column("disclosure", String(10)),  # agreed / refused, once decided
    Column("close_reason", String(30)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_tracing_cases_state", "state"),
)

# Candidates proposed by the matching engine; an officer confirms or rejects each.
tracing_matches = Table(
    "tracing_matches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("case_id", ID, ForeignKey("tracing_cases.id"), nullable=False, index=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("probability", Float, nullable=False),
    Column("weight", Float, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("found_by", String(20), nullable=False),  # enquiry, registration, arrival
    Column("status", String(10), nullable=False),  # proposed, confirmed, rejected
    Column("reason", Text),
    Column("decided_by", String(100)),
    Column("decided_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # Added by 0017: the officer who attached the candidate from a search (NULL: the
    # engine proposed it), and the confirmed person in whose household it was offered.
    Column("proposed_by", String(100)),
    Column("household_of", ID),
    UniqueConstraint("case_id", "person_id"),
)

# Every change of a case, append-only: who, when, from which state to which, and why.
tracing_case_events = Table(
    "tracing_case_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("case_id", ID, ForeignKey("tracing_cases.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # transition, match_confirmed, ...
    Column("from_state", String(30)),
    Column("to_state", String(30)),
    Column("match_id", ID),
    Column("disclosure", String(10)),
    Column("by_child_rule", Boolean),
    Column("reason", Text),
    Column("recorded_by", String(100)),
    Column("recorded_role", String(40)),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# Blocking keys of each sought person, so that a new registration is checked against
# the open cases sharing a key with it instead of against every case.
tracing_case_keys = Table(
    "tracing_case_keys",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("case_id", ID, ForeignKey("tracing_cases.id"), primary_key=True),
    Index("ix_tracing_case_keys_case_id", "case_id"),
)

# Persons a write registered, corrected or brought to a site, still to be checked
# against the open enquiries: written in the same transaction as the write, deleted in
# the transaction that stores what the check found (services/tracing/outbox.py). A crash
# between the two leaves the rows here, and the next start checks them: a proposal is
# delayed, never lost. No foreign key: a person erased meanwhile is simply skipped.
tracing_outbox = Table(
    "tracing_outbox",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("person_id", ID, nullable=False),
    Column("found_by", String(20), nullable=False),  # registration, arrival
    Column("recorded_at", UTCDateTime, nullable=False),
)
