"""Tables of the import work (issue 6): what came in from outside, and PFIF notes.

On the one metadata of ``tables.py`` so that one migration history (0006) covers them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

# One row per record taken in from another system: a Kobo/ODK submission (its uuid), a
# PFIF person record, a partner's CSV row id. Re-importing the same key is then either
# nothing (same content) or an update/conflict, never a second person.
imported_records = Table(
    "imported_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),  # csv, pfif, kobo
    Column("external_id", String(250), nullable=False),
    Column("person_id", ID, ForeignKey("persons.id"), index=True),
    Column("household_id", ID, ForeignKey("households.id")),
    Column("content_hash", String(64), nullable=False),
    Column("source_date", UTCDateTime),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("imported_by", String(100)),
    # What a record whose expiry empties it (PFIF) wrote on its person: field -> keyed
    # hash of the value it left there, as JSON (``import_writes.fingerprint``); NULL
    # for other sources and for records taken in before migration 0043.
    Column("fields", Text),
    Index("uq_imported_records_source_external_id", "source", "external_id", unique=True),
)

# PFIF notes, kept whole so that the tracing work can turn them into case notes later
# (case_id is filled then). A note names its person by PFIF id; person_id links it once
# that person is in Corridor.
pfif_notes = Table(
    "pfif_notes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("note_record_id", String(250), nullable=False, unique=True),
    Column("person_record_id", String(250), nullable=False, index=True),
    Column("person_id", ID, ForeignKey("persons.id"), index=True),
    Column("linked_person_record_id", String(250)),
    Column("author_name", String(200)),
    Column("author_made_contact", Boolean),
    Column("status", String(30)),
    Column("last_known_location", Text),
    Column("text", Text),
    Column("source_date", UTCDateTime),
    Column("entry_date", UTCDateTime),
    Column("case_id", ID),
    Column("imported_at", UTCDateTime, nullable=False),
)
