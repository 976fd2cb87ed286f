"""The schema, as SQLAlchemy Core tables. Alembic migrations are checked against it."""

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
    text,
)

from corridor.storage.metadata import ID as ID  # re-exported: the table modules' names
from corridor.storage.metadata import metadata as metadata
from corridor.storage.types import UTCDateTime

sites = Table(
    "sites",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("pcode", String(12)),
    Column("locality", String(200)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("capacity", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    # Added by 0012: a detention site's name, P-code, locality and coordinates, sealed
    # under its own key (services/protection/detention.py); its plain name is then a neutral label.
    Column("sealed", Text),
    # Added by 0016: when an administrator closed the site (its persons stay).
    Column("closed_at", UTCDateTime),
)

households = Table(
    "households",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("head_person_id", ID),
    Column("created_at", UTCDateTime, nullable=False),
)

persons = Table(
    "persons",
    metadata,
    Column("id", ID, primary_key=True),
    Column("registration_number", String(12), nullable=False, unique=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False, index=True),
    Column("household_id", ID, ForeignKey("households.id"), index=True),
    Column("relationship_to_head", String(20)),
    Column("given_name", String(100)),
    Column("father_name", String(100)),
    Column("grandfather_name", String(100)),
    Column("family_name", String(100)),
    Column("given_name_original", String(100)),
    Column("father_name_original", String(100)),
    Column("grandfather_name_original", String(100)),
    Column("family_name_original", String(100)),
    Column("alternate_names", JSON, nullable=False),
    Column("kunya", String(100)),
    Column("mother_name", String(200)),
    Column("sex", String(1)),
    Column("birth_date", Date),
    Column("birth_precision", String(10)),
    Column("nationality", String(3)),
    Column("origin_pcode", String(12)),
    Column("origin_locality", String(200)),
    Column("languages", JSON, nullable=False),
    Column("uasc", String(20)),
    # The triage categories counted by figures stay in the clear; the measurements behind
    # them (MUAC, oedema, Washington Group answers) and the health note are sealed
    # together in ``medical`` (domain/vulnerability.py ``pack_medical``).
    Column("muac_status", String(10)),
    Column("disabled", Boolean),
    Column("pregnant_lactating", Boolean, nullable=False),
    Column("serious_medical_condition", Boolean, nullable=False),
    Column("injury", Boolean, nullable=False),
    Column("elderly_alone", Boolean, nullable=False),
    Column("consent_tracing", Boolean, nullable=False),
    Column("consent_share_with", JSON, nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("legal_basis", String(30), nullable=False),
    Column("note", Text),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100)),
    # Added by 0004 (protection). phone, note and biometric_reference hold sealed tokens
    # (services/protection/field_vault.py); phone_hash is the keyed lookup hash of the phone.
    Column("phone", Text),
    Column("phone_hash", String(32), index=True),
    # A reference issued by a biometric system (never an image); off unless enabled.
    Column("biometric_reference", Text),
    # Retention: a record on legal hold is never disposed of; anonymised_at marks a
    # record whose personal fields a retention run removed.
    Column("legal_hold", Boolean, nullable=False, server_default=false()),
    Column("anonymised_at", UTCDateTime),
    # Added by 0009: the sealed medical details (see the comment on muac_status).
    Column("medical", Text),
    # Added by 0040: the roles of whoever last wrote ``note`` (sorted, comma-separated):
    # a note written by a role of a field group is that group's (services/protection/
    # gate.py, ``PERSON_NOTE_FIELDS``); NULL: written by no user, or no note.
    Column("note_roles", String(200)),
)

person_documents = Table(
    "person_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("doc_type", String(30), nullable=False),
    # number_key: the keyed lookup hash of the normalised number; number: a sealed token
    # (added by 0004, after issuing_country).
    Column("number_key", String(60), nullable=False, index=True),
    Column("issuing_country", String(3)),
    Column("number", Text),
)

relationships = Table(
    "relationships",
    metadata,
    Column("id", ID, primary_key=True),
    # "other_person_id is person_id's <kind>"
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("other_person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # Added by 0035: a link removed (recorded wrongly) keeps its row, marked with who
    # removed it, when and why; every reader of links reads live ones only (removed_at
    # NULL), and one live link per (person, other, kind).
    Column("removed_at", UTCDateTime),
    Column("removed_by", String(100)),
    Column("removed_reason", Text),
    Index(
        "uq_relationships_live",
        "person_id",
        "other_person_id",
        "kind",
        unique=True,
        sqlite_where=text("removed_at IS NULL"),
        postgresql_where=text("removed_at IS NULL"),
    ),
)

manifests = Table(
    "manifests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("vehicle", String(100), nullable=False),
    Column("from_site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("to_site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("planned_departure", UTCDateTime),
    Column("status", String(12), nullable=False),  # draft, dispatched, received
    Column("dispatched_at", UTCDateTime),
    Column("received_at", UTCDateTime),
    # When the vehicle is due (set at dispatch): until then "in transit", after it
    # "unaccounted for" (NULL: dispatched before it was recorded, so already due).
    Column("expected_arrival", UTCDateTime),
    Column("created_by", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_manifests_status", "status"),
)

manifest_items = Table(
    "manifest_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("manifest_id", ID, ForeignKey("manifests.id"), nullable=False, index=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    # 1 while the item is on an open manifest and not yet checked in, else NULL; the
    # unique key below then forbids one person on two open manifests on both databases.
    Column("open_slot", SmallInteger),
    Column("separation_reason", Text),
    Column("added_at", UTCDateTime, nullable=False),
    Column("checked_in_at", UTCDateTime),
    Column("checked_in_by", String(100)),
    Column("arrival_movement_id", ID),
    # 1: checked in after the arrival was closed (a late arrival), else NULL.
    Column("late_arrival", SmallInteger),
    UniqueConstraint("person_id", "open_slot"),
    UniqueConstraint("manifest_id", "person_id"),
)

manifest_discrepancies = Table(
    "manifest_discrepancies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("manifest_id", ID, ForeignKey("manifests.id"), nullable=False, index=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("note", Text),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100)),
    UniqueConstraint("manifest_id", "person_id", "kind"),
)

movements = Table(
    "movements",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", ID, nullable=False, unique=True),
    Column("person_id", ID, ForeignKey("persons.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("from_site_id", ID, ForeignKey("sites.id"), index=True),
    Column("to_site_id", ID, ForeignKey("sites.id"), index=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("manifest_id", ID, ForeignKey("manifests.id")),
    Column("corrects_id", ID, unique=True),
    Column("note", Text),
    Column("recorded_by", String(100)),
    Column("recorded_at", UTCDateTime, nullable=False),
    # Added by 0037: the roles the recording user held (sorted, comma-separated): a note
    # written by a role of a field group is that group's (services/protection/gate.py).
    Column("recorded_roles", String(200)),
)

# A projection of the movement log, rebuilt from it in the same transaction as every
# event (and by `corridor db rebuild-locations`). Never edited on its own.
person_locations = Table(
    "person_locations",
    metadata,
    Column("person_id", ID, ForeignKey("persons.id"), primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), index=True),
    Column("state", String(20), nullable=False),
    Column("since", UTCDateTime),
    Column("event_id", ID),
    Column("manifest_id", ID),
    Column("destination_site_id", ID),
)

# Matching index: blocking keys of every person (kept on every write) and how many
# persons hold each key. The engine's keys are opaque strings (see matching/blocking.py).
person_match_keys = Table(
    "person_match_keys",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("person_id", ID, ForeignKey("persons.id"), primary_key=True),
    # The person's consent to tracing, copied here so that the consent gate sits in the
    # candidate query itself without a join per posting.
    Column("traceable", Boolean, nullable=False),
    Index("ix_person_match_keys_person_id", "person_id"),
    sqlite_with_rowid=False,
)

# key -> number of persons holding it; the row POPULATION_KEY counts persons indexed.
match_key_counts = Table(
    "match_key_counts",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)
POPULATION_KEY = "#persons"

# The other table modules declare their tables on the same metadata (they import only
# corridor.storage.metadata), so that one migration history covers the whole schema;
# importing this module gives all of it.
import corridor.storage.idempotency_tables  # noqa: E402, F401
import corridor.storage.import_tables  # noqa: E402, F401
import corridor.storage.merge_tables  # noqa: E402, F401
import corridor.storage.number_tables  # noqa: E402, F401
import corridor.storage.security_tables  # noqa: E402, F401
import corridor.storage.sync_tables  # noqa: E402, F401
import corridor.storage.tracing_tables  # noqa: E402, F401
