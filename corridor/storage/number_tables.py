"""Registration numbers given anew (issue 16, docs/sync.md "Registration numbers").

Numbers are random; two installations apart may give one number to two persons, and the
import that brings the second is refused. The administrator then gives the person held
at the central a new number (``corridor person renumber``). ``renumbered`` records, per
person, each number they were given anew: the number before (shown on the person's page
so that staff print the wristband again; no longer a search key, since it now belongs
to someone else), the new one and when. A node that receives the new number with a
change records it too. Ids and numbers only, no name.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

renumbered = Table(
    "renumbered",
    metadata,
    Column("id", ID, primary_key=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("previous_number", String(12), nullable=False),
    Column("registration_number", String(12), nullable=False),
    Column("renumbered_at", UTCDateTime, nullable=False),
)

# The registration numbers of persons erased (a data-subject erasure, a retention run):
# the erasure replaces the number, and the data protection officer asked "what happened
# to wristband X?" still needs X to lead to the anonymised record's audit trail. Never
# the number itself: a keyed hash of it (``FieldVault.lookup_hash``, HMAC-SHA256 under a
# key derived from the master key, which is never in the database), with the person it
# led to and when it was erased. Only the desk's look-up reads it (``OversightService.
# trail``); no search of persons does.
erased_numbers = Table(
    "erased_numbers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False),
    Column("number_hash", String(32), nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
    Index("ix_erased_numbers_number_hash", "number_hash"),
)
