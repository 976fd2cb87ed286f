"""Duplicates under review and merges, as recorded facts (issue 15).

A merge never rewrites history out of existence: ``person_merges`` keeps, for every
merge, which rows followed the survivor (movements, family links, documents, tracing
matches and cases, the household) so that an unmerge puts each one back where it was;
``merged_persons`` is the projection of the merges in force (one row per person merged
away, its survivor), kept in the same transaction as each merge and unmerge, and the one
place reads consult to lead an old id to its survivor. Its primary key also refuses one
person merged twice at once. ``duplicate_pairs`` is the review queue: probable duplicates
proposed by ``corridor duplicates`` and what an officer decided. None holds a name: ids,
probabilities and the engine's levels (its sentences quote names, so they are computed
again when the queue is read, never stored).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, String, Table, Text, UniqueConstraint

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

duplicate_pairs = Table(
    "duplicate_pairs",
    metadata,
    Column("id", ID, primary_key=True),
    # The pair in id order (person_a < person_b): one row per pair, whoever found it.
    Column("person_a", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("person_b", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("probability", Float, nullable=False),
    Column("weight", Float, nullable=False),
    # Per field: the level and weight (no text: the texts quote names).
    Column("levels", JSON, nullable=False),
    Column("found_by", String(20), nullable=False),  # duplicates, import, registration, officer
    Column("status", String(10), nullable=False),  # proposed, merged, rejected, unmerged
    Column("reason", Text),
    Column("decided_by", String(100)),
    Column("decided_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("person_a", "person_b"),
    Index("ix_duplicate_pairs_status", "status"),
)

person_merges = Table(
    "person_merges",
    metadata,
    Column("id", ID, primary_key=True),
    Column("survivor_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("merged_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("pair_id", ID),
    Column("reason", Text),
    # What followed the survivor, by row id, and what the merge changed in place, with
    # the values before (docs/architecture.md, "Merges are facts").
    Column("moved", JSON, nullable=False),
    Column("merged_by", String(100)),
    Column("merged_at", UTCDateTime, nullable=False),
    Column("unmerged_by", String(100)),
    Column("unmerged_at", UTCDateTime),
    Column("unmerge_reason", Text),
)

# The merges in force: the person merged away -> its survivor (and the merge).
merged_persons = Table(
    "merged_persons",
    metadata,
    Column("person_id", ID, ForeignKey("persons.id"), primary_key=True),
    Column("survivor_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("merge_id", ID, ForeignKey("person_merges.id"), nullable=False),
)

# An old id merged elsewhere into a survivor held here, whose own record this
# installation never held (a site node: the camp's registration merged at the central
# into the exit's person; migration 0027). ``merged_persons`` names two ``persons``
# rows; this names the survivor only, and keeps the old id's registration number for
# look-ups by number. Read with ``merged_persons`` wherever an old id is led to its
# survivor (``queries.survivors``, ``services.base.live_ids``).
merged_ids = Table(
    "merged_ids",
    metadata,
    Column("person_id", ID, primary_key=True),
    Column("survivor_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("merge_id", ID, nullable=False),  # the central's merge (not held here)
    Column("registration_number", String(12), index=True),
    Column("merged_at", UTCDateTime),  # when the central merged it
)
