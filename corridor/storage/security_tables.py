"""The tables behind users, sessions, tokens, the audit chain, site keys and rate limits.

They are declared on the one schema metadata (``security_metadata`` is another name for
``corridor.storage.metadata.metadata``), with the other tables in storage: storage imports
nothing from ``corridor.security``, which uses them (``corridor.security.tables``
re-exports this module's names).

No column ever holds a personal field value: audit rows and rate-limit rows carry ids
only, and the TOTP secret is stored encrypted under the master key.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

security_metadata = metadata

HASH = String(64)  # hex SHA-256

users = Table(
    "users",
    security_metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    # A one-time password an administrator set (migration 0036): the user changes it
    # before anything else (``AccountService.resolve``).
    Column("password_expired", Boolean, nullable=False, server_default=false()),
    # "mk:v1:..." token from MasterKey.encrypt_secret; NULL until TOTP is enrolled.
    Column("totp_secret", Text),
    # The last accepted TOTP time step: a code for this step or an earlier one is a replay.
    Column("totp_last_step", BigInteger),
    Column("disabled", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The language the user chose for the pages (a code of corridor/web/i18n.py).
    Column("language", String(10)),
)

user_roles = Table(
    "user_roles",
    security_metadata,
    Column("user_id", ID, ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True),
    Column("role", String(30), primary_key=True),
    Column("granted_at", UTCDateTime, nullable=False),
    Column("granted_by", ID),
)

user_sites = Table(
    "user_sites",
    security_metadata,
    Column("user_id", ID, ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), primary_key=True),
    Column("granted_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    security_metadata,
    # SHA-256 of the cookie value: a database dump does not yield usable session ids.
    Column("id_hash", HASH, primary_key=True),
    Column("user_id", ID, ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # absolute expiry
    Column("second_factor_at", UTCDateTime),  # NULL: password only, no person endpoint
    Column("revoked_at", UTCDateTime),
)

api_tokens = Table(
    "api_tokens",
    security_metadata,
    Column("id", ID, primary_key=True),
    Column("token_hash", HASH, nullable=False, unique=True),
    Column("user_id", ID, ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("scopes", JSON, nullable=False),  # list of action names, e.g. ["figures.read"]
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

audit_events = Table(
    "audit_events",
    security_metadata,
    # Assigned by audit.append under the chain lock: 1, 2, 3... with no gaps.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("user_id", ID, nullable=False, index=True),
    Column("role", String(30), nullable=False),
    Column("action", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),  # allowed, denied
    Column("purpose", String(200), nullable=False),
    Column("person_id", ID, index=True),
    Column("site_id", ID),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False, unique=True),
    # The id a write was sent to when it led to ``person_id`` (a merged person's old id,
    # issue 15); in the row's hash when set (migration 0021).
    Column("via_person_id", ID),
)

site_keys = Table(
    "site_keys",
    security_metadata,
    Column("id", ID, primary_key=True),  # the key id written into every ciphertext token
    # A site's id, or ``tracing`` for the key of tracing enquirers (field_vault.TRACING_KEY;
    # no foreign key since migration 0013).
    Column("site_id", ID, nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # active, retired, destroyed
    # base64(nonce + AES-GCM(master key, data key)); NULL once destroyed.
    Column("wrapped_key", Text),
    Column("master_key_id", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
    Column("destroyed_at", UTCDateTime),
    Index("ix_site_keys_site_id_version", "site_id", "version", unique=True),
)

rate_events = Table(
    "rate_events",
    security_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("bucket", String(120), nullable=False),  # limit name + ":" + key
    Column("item", String(64), nullable=False),  # what was counted ("" or a person id)
    Column("at", UTCDateTime, nullable=False),
    Index("ix_rate_events_bucket_at", "bucket", "at"),
)

alerts = Table(
    "alerts",
    security_metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(40), nullable=False),  # e.g. lookup.enumeration
    Column("user_id", ID, index=True),
    Column("detail", Text, nullable=False),  # counts and limits, never personal data
    Column("created_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
)

# One row per record a retention run disposed of: which category, which id, what was
# done, when and why. Never the values that were removed.
disposal_log = Table(
    "disposal_log",
    security_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", ID, nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("action", String(20), nullable=False),  # deleted, anonymised
    Column("reason", String(200), nullable=False),
    Column("disposed_at", UTCDateTime, nullable=False),
)

SECURITY_TABLES = (
    users,
    user_roles,
    user_sites,
    sessions,
    api_tokens,
    audit_events,
    site_keys,
    rate_events,
    alerts,
    disposal_log,
)


# Bulk exports of personal data: requested by one officer, approved by another, then
# downloaded once as an encrypted file (PROTECTION.md line 9).
export_requests = Table(
    "export_requests",
    security_metadata,
    Column("id", ID, primary_key=True),
    Column("requested_by", ID, nullable=False),
    Column("reason", Text, nullable=False),
    Column("format", String(10), nullable=False),
    Column("site_ids", JSON, nullable=False),
    Column("state", String(20), nullable=False),  # pending, approved, downloaded
    Column("created_at", UTCDateTime, nullable=False),
    Column("approved_by", ID, nullable=True),
    Column("approved_at", UTCDateTime, nullable=True),
    Column("downloaded_at", UTCDateTime, nullable=True),
    Column("persons", Integer, nullable=True),
    # Only the persons of one list, by its filter (corridor/domain/export_selection.py);
    # NULL: every person of the sites.
    Column("selection", JSON, nullable=True),
)
