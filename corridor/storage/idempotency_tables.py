"""The answers already given to writes sent with an idempotency key.

A row is written in the same transaction as the write it guards (a crash leaves both or
neither) and holds no personal data: the caller's id, the key they chose, the request
(method and path, which carries ids only), a hash of the canonical body, the status
answered and ``ref``, the ids of what the write created or changed (JSON). A replay
re-reads those through the gate (docs/api.md, "Safe retries").
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

KEY_LENGTH = 100

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Keys are scoped per caller: one user's key never finds another's answer.
    Column("user_id", ID, primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("request", String(300), nullable=False),  # "POST /api/households"
    Column("body_hash", String(64), nullable=False),  # hex SHA-256 of the canonical body
    Column("status", Integer, nullable=False),
    Column("ref", JSON, nullable=False),  # ids only, never field values
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
