"""Site-node sync (issue 16): the change log, the nodes and what each peer acknowledged.

``sync_changes`` is the outbox of facts: every audited write of a person at this
installation appends, in its own transaction, one change per person it touched (the
person's state after the write, sealed under the person's site key), numbered per origin
node without gaps. Changes received from other nodes are kept here too, under their own
origin and number, so that a central relays them and a replay is recognised. ``state``:
``applied``, ``waiting`` (what it depends on has not arrived: kept, never dropped) or
``conflict`` (two nodes changed the same field apart: kept with both values for review).

``sync_nodes`` holds this installation's own identity (``is_self``) and every node it
knows (enrolment requests and approved nodes, with their public keys).
``sync_heads``: the change each person's stored state reflects (the base version the
next change of that person is made on). ``sync_acks``: the highest number of each origin
that a peer holds (from its last bundle), so that an export sends only what the peer has
not acknowledged.

Ids, numbers and sealed tokens only: no name or field value is stored in the clear.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from corridor.storage.metadata import ID, metadata
from corridor.storage.types import UTCDateTime

sync_changes = Table(
    "sync_changes",
    metadata,
    Column("id", ID, primary_key=True),  # UUIDv7
    Column("origin_node", ID, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("user_id", String(64)),
    Column("kind", String(40), nullable=False),
    Column("person_id", ID, index=True),
    Column("site_id", ID, index=True),
    # The change of the same person this one was made on (its base version), or None.
    Column("depends_on", ID),
    Column("payload", Text, nullable=False),  # sealed under the site's key
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime),  # None: made here
    Column("state", String(10), nullable=False),
    Column("conflict_fields", Text),  # comma-separated column names, for review
    # A conflict's review (0025): who decided, when, and what was kept (JSON).
    Column("resolved_by", String(64)),
    Column("resolved_at", UTCDateTime),
    Column("resolution", Text),
    UniqueConstraint("origin_node", "seq"),
)
Index("ix_sync_changes_state", sync_changes.c.state)

# What a node's private keys (``sync_nodes.secret``) are sealed for under the master key:
# ``corridor keys rotate-master`` re-wraps them with the site keys.
NODE_SECRET_PURPOSE = "sync.node-keys"

sync_nodes = Table(
    "sync_nodes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("is_self", Boolean, nullable=False, server_default=false()),
    # "self" (this installation, not enrolled), "requested", "approved", "revoked",
    # "wipe" (ordered, at the central), "wiped" (delivered at the central; carried out at
    # a node, its own row).
    Column("status", String(10), nullable=False),
    Column("role", String(10)),  # "node" or "central"
    Column("site_id", ID),
    Column("central_url", String(300)),
    Column("signing_public", Text),  # Ed25519, base64
    Column("box_public", Text),  # X25519, base64 (site keys are sent to it)
    # This installation only: its private keys, encrypted under the master key.
    Column("secret", Text),
    Column("site_name", String(200)),  # the site asked for at ``node init``
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("requested_at", UTCDateTime),
    Column("approved_at", UTCDateTime),
    Column("approved_by", String(64)),
    Column("last_contact_at", UTCDateTime),
    # Protection across nodes (migration 0025_guard): a node revoked by the central's
    # administrator; a wipe ordered, and delivered (at the central) or carried out (a
    # node's own row); the ``created_at`` of the last pull request answered (at the
    # central) or sent (at a node, on its central's row).
    Column("revoked_at", UTCDateTime),
    Column("wipe_ordered_at", UTCDateTime),
    Column("wiped_at", UTCDateTime),
    Column("last_request_at", UTCDateTime),
    # Migration 0028_wipe: the node's human name (given at ``corridor node init``); its
    # signed account of a wipe it carried out (JSON, no personal data: a node's own row,
    # and at the central the node's row once verified, with when it arrived).
    Column("name", String(64)),
    Column("wipe_report", Text),
    Column("wipe_confirmed_at", UTCDateTime),
)

# The change each person's stored state reflects here (the base of the next change).
sync_heads = Table(
    "sync_heads",
    metadata,
    Column("person_id", ID, primary_key=True),
    Column("change_id", ID, nullable=False),
)

sync_acks = Table(
    "sync_acks",
    metadata,
    Column("peer_node", ID, primary_key=True),
    Column("origin_node", ID, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
