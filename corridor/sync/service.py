"""Site nodes and the central (issue 16): enrolment, bundles, applying changes.

Topology: a star. A node sends the central the changes it made (its own origin); the
central sends a node every change of the node's site it holds from other origins. What
each side sends is what the other has not acknowledged (``sync_acks``, from the ``have``
marks of the other's last bundle), so a bundle can be made again and again until one
gets through, and one imported twice changes nothing.

Enrolment: ``init_node`` (at the node) gives a request signed with the node's new key;
``approve`` (the central's administrator) records the node for its site and answers
with a grant carrying the site's row and its data keys sealed to the node's box key,
signed by the central; ``join`` (at the node) checks and installs it.

A change is applied by ``_apply`` inside the import's one transaction: a person's row is
written when the change was made on the state held here (its ``depends_on`` is this
person's head) or merged field by field with it (a three-way merge against the state the
change was made on); a field changed on both sides to different values is a conflict:
ours is kept, theirs stays in the change (state ``conflict``) for review, never
overwritten silently. Movement events, documents and family links are facts and add up.
A change whose base, site, manifest or household has not arrived waits (``waiting``)
and is tried again at every import; nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update

from corridor.domain.ids import uuid7
from corridor.errors import Conflict, CorridorError, Forbidden, NotFound
from corridor.security import audit as security_audit
from corridor.security.audit import AuditEvent, Outcome
from corridor.security.crypto import MasterKey
from corridor.security.tables import site_keys
from corridor.services.base import AdminAudit, AuditHook, Service
from corridor.services.protection.field_vault import (
    DOCUMENT_FIELD,
    SEALED_PERSON_FIELDS,
    FieldVault,
)
from corridor.services.registration.merges import MergeRows
from corridor.services.registration.person_rows import document_key
from corridor.services.search import match_index
from corridor.storage import locations, outbox, queries
from corridor.storage.bulk import insert_rows
from corridor.storage.changes import Note
from corridor.storage.database import Database
from corridor.storage.merge_tables import merged_persons
from corridor.storage.sync_tables import (
    NODE_SECRET_PURPOSE,
    sync_acks,
    sync_changes,
    sync_heads,
    sync_nodes,
)
from corridor.storage.tables import (
    households,
    manifests,
    person_documents,
    persons,
    sites,
)
from corridor.sync import (
    ahead,
    batch,
    behind,
    decisions,
    facts,
    forgets,
    histories,
    holds,
    keygrant,
    keys,
    lengths,
    names,
    numbers,
    parts,
    reference,
    revocation,
    strays,
)
from corridor.sync import conflicts as conflict_review
from corridor.sync import wipe as wipes
from corridor.sync.journal import (
    COMPRESSED,
    FORGET,
    ZLIB_LEVEL,
    Journal,
    acknowledged,
    custody,
    dumps,
    ensure_self,
    heads_of,
    open_payload,
    relay,
    scrub,
    set_heads,
)
from corridor.sync.state import decode_row, encode_row
from corridor.text import N_, Text

if TYPE_CHECKING:
    from corridor.services import Services

# A bundle's first line: its format. Version 2 (written now) seals the body compressed
# (zlib, then sealed as bytes); version 1 sealed the JSON text. Both are read.
MAGIC_V1 = b"CORRIDOR-BUNDLE/1"
MAGIC = b"CORRIDOR-BUNDLE/2"
BUNDLE_VERSIONS = {MAGIC_V1: 1, MAGIC: 2}
BUNDLE_FIELD = "sync.bundle"
SECRET_PURPOSE = NODE_SECRET_PURPOSE
# Person columns that never decide a conflict (bookkeeping, or computed here).
NOT_COMPARED = {"id", "created_at", "updated_at", "phone_hash", "recorded_by"}
# Person columns that follow another's decision, not compared on their own: whose field
# group the note is goes with the note taken (``persons.note_roles``, 0040).
FOLLOWS = {"note_roles": "note"}
# Why a node's audit events happen (``node_hook``).
NODE_PURPOSE = {
    # Marked for the catalogue: the data protection officer's audit pages say them in
    # the reader's language (the ``stored`` filter).
    "sync.apply": N_("changes received from a site node"),
    "sync.send": N_("changes sent to another node (sync)"),
    "sync.wipe": N_("the central's order to wipe this node (sent, or carried out)"),
    "sync.keys": N_("site keys destroyed at the central, destroyed here too"),
    wipes.ACTION: wipes.PURPOSE,
}
# A node's status at the central that still names it but takes no change from it.
HELD_BACK = frozenset({"revoked", "wipe", "wiped"})
# Marks a header whose order this node carried out (``read_bundle``; never from the wire).
WIPED = "_wiped"


class BundleRefused(CorridorError):
    """A bundle that is not applied at all: nothing was written."""

    code = "bundle_refused"


class EnrolmentRefused(CorridorError):
    """An enrolment request or grant that does not check out."""

    code = "enrolment_refused"


class NodeRevoked(Forbidden):
    """A bundle from a node the central's administrator revoked (403): nothing written."""

    code = "node_revoked"


class NodeToBeWiped(Forbidden):
    """Changes from a node whose wipe the central's administrator ordered (403): not
    taken; its pull is answered with the order."""

    code = "node_wipe_ordered"


class NodeWiped(BundleRefused):
    """This node carried out its central's wipe order (or lost its site's keys to the
    central's evacuation drill): it no longer syncs."""

    code = "node_wiped"


@dataclass
class ImportReport:
    """What an import did. ``already_applied``: the bundle held no change new here (a
    replay); it may still have moved the acknowledgements it carries."""

    applied: int = 0
    waiting: int = 0
    conflicts: int = 0
    already_had: int = 0
    fresh: int = 0
    from_node: str = ""
    # The bundle carried the central's order and this node carried it out: its site's
    # keys are destroyed, its persons anonymised, and it no longer syncs.
    wiped: bool = False
    # At the central: the bundle was a node's signed confirmation of its wipe, recorded now.
    wipe_confirmed: bool = False

    @property
    def already_applied(self) -> bool:
        return self.fresh == 0


class SyncService(Service):
    # The most changes one answer to a pull carries (the setting ``sync_pull_max_changes``;
    # sync_routes.py). A pull's freshness window, and how far ahead a node's clock may
    # run, is the services' ``sync_window`` (``sync_pull_window_hours``), given to
    # ``__init__``: no class-wide policy.
    pull_limit = 2000
    pull_bytes: int | None = 32_000_000  # ``sync_pull_max_bytes``

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        window: timedelta,
    ) -> None:
        super().__init__(db, clock)
        self.vault = vault
        self.pull_window = window
        self.master: MasterKey | None = vault.master
        # At the central: queue the suspected duplicates of the persons a bundle applied
        # (``Services.link_synced``, set by ``of``; issue 16: the same
        # person registered at two sites apart is proposed once both are here).
        self.find_duplicates: Callable[[list[str], AuditHook], int] | None = None
        self.merge_rows = MergeRows(vault)

    @classmethod
    def of(cls, services: Services) -> SyncService:
        """Built beside the services (not inside them: the services import nothing of
        ``corridor.sync`` but its journal)."""
        # How far a node's clock may be off (``sync_pull_window_hours``, passed to the
        # services from the settings): a pull further off is refused, a change made
        # further ahead that brings movements as far ahead is held (ahead.py).
        sync = cls(services.db, services.clock, services.vault, services.sync_window)
        sync.find_duplicates = services.link_synced
        # The persons an import applied (in the tracing outbox with them) are checked
        # against open enquiries as a desk's registration is: at once, not at the
        # tracing worker's next look.
        sync.listeners.append(services.tracing_listener("registration"))
        return sync

    # -- identity ------------------------------------------------------------------------

    def _self(self, conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(sync_nodes).where(sync_nodes.c.is_self)).mappings().first()
        if row is None:
            raise NotFound("this installation's node identity (run `corridor db upgrade`)")
        return dict(row)

    def _private(self, me: dict[str, Any]) -> dict[str, str]:
        if self.master is None:
            raise EnrolmentRefused("a node's keys need the master key (--master-key-file)")
        if me["secret"] is None:
            raise EnrolmentRefused(
                "this installation has no signing key yet: `corridor node init` (a node) "
                "or `corridor node approve` (the central) creates it"
            )
        return dict(json.loads(self.master.decrypt_secret(SECRET_PURPOSE, me["secret"])))

    def _ensure_keys(self, conn: Connection, me: dict[str, Any]) -> dict[str, str]:
        if me["secret"] is not None:
            return self._private(me)
        if self.master is None:
            raise EnrolmentRefused("a node's keys need the master key (--master-key-file)")
        private = keys.new_private_keys()
        public = keys.public_keys(private)
        conn.execute(
            update(sync_nodes)
            .where(sync_nodes.c.id == me["id"])
            .values(
                secret=self.master.encrypt_secret(SECRET_PURPOSE, json.dumps(private)),
                signing_public=public["signing"],
                box_public=public["box"],
            )
        )
        me.update(signing_public=public["signing"], box_public=public["box"])
        return private

    def identity(self) -> dict[str, Any]:
        with self.db.read() as conn:
            me = self._self(conn)
        return {k: v for k, v in me.items() if k != "secret"}

    def init_node(
        self, central_url: str, site_name: str, name: str | None = None
    ) -> dict[str, Any]:
        """Make this installation a node of ``site_name``: its key pairs and a signed
        enrolment request for the central's administrator (a small JSON document).
        ``name``: the node's human name (``names.valid``; None: a request without one)."""
        name = None if name is None else names.valid(name)
        now = self.clock()
        with self.db.transaction() as conn:
            ensure_self(conn)
            me = self._self(conn)
            if me["status"] == "approved":
                raise Conflict("this node is enrolled already")
            if me["status"] == "wiped":
                raise Conflict(
                    "this installation was wiped by order of its central: enrol a fresh "
                    "installation (a new database) instead"
                )
            if int(me["last_seq"]) == 0 and me["secret"] is None:
                # A fresh identity: an installation copied from another (a template, a
                # restored backup) must not share its node id. Once changes are
                # numbered under an id, it stays.
                fresh = uuid7()
                conn.execute(update(sync_nodes).where(sync_nodes.c.id == me["id"]).values(id=fresh))
                me["id"] = fresh
            private = self._ensure_keys(conn, me)
            conn.execute(
                update(sync_nodes)
                .where(sync_nodes.c.id == me["id"])
                .values(
                    role="node",
                    status="requested",
                    central_url=central_url,
                    site_name=site_name,
                    requested_at=now,
                    name=name,
                )
            )
        body = {
            "node_id": me["id"],
            "site": site_name,
            "central_url": central_url,
            "signing_public": me["signing_public"],
            "box_public": me["box_public"],
            "requested_at": now.isoformat(),
            **({"name": name} if name is not None else {}),
        }
        message = dumps(body).encode()
        return {"request": body, "signature": keys.sign(private, message)}

    def approve(
        self,
        request: dict[str, Any],
        approved_by: str,
        *,
        audit: AdminAudit,
        readmit: str | None = None,
    ) -> dict[str, Any]:
        """At the central: enrol the node of ``request`` for its site and answer with the
        grant the node installs (``join``). The request must be signed by the key it
        names; the site must exist here. A node revoked here is enrolled again only with
        ``readmit``, the operator's reason (audited): an old request of a revoked node
        (a tablet thought stolen) would otherwise lift its revocation and hand it the
        site's keys. A node whose wipe was ordered here is not enrolled again at all
        (``revocation.refuse_enrolment``)."""
        try:
            body = request["request"]
            keys.verify(body["signing_public"], dumps(body).encode(), request["signature"])
            node_id, site_name = str(body["node_id"]), str(body["site"])
            name = None if body.get("name") is None else names.valid(str(body["name"]))
        except (KeyError, TypeError, ValueError, keys.BadSignature) as exc:
            raise EnrolmentRefused(f"the enrolment request does not check out: {exc}") from exc
        now = self.clock()
        with self.db.read() as conn:
            site_row = conn.execute(
                select(sites.c.id).where((sites.c.name == site_name) | (sites.c.id == site_name))
            ).scalar()
        if site_row is not None:  # the site's data key exists before it is sent
            self.vault.prepare(str(site_row))
        with self.db.transaction() as conn:
            site = (
                conn.execute(
                    select(sites).where((sites.c.name == site_name) | (sites.c.id == site_name))
                )
                .mappings()
                .first()
            )
            if site is None:
                raise NotFound(f"site {site_name!r}", "site")
            prior = (
                conn.execute(select(sync_nodes).where(sync_nodes.c.id == node_id))
                .mappings()
                .first()
            )
            why = revocation.refuse_enrolment(node_id, prior, readmit)
            # The audit chain's lock first, then the node rows: the order every write
            # takes them in (its audit event, then its change at commit).
            if why is None:
                audit(conn, f"node {node_id} enrolled for site {site['id']}", site["id"])
            else:
                audit(conn, f"node {node_id} re-admitted: {why}", site["id"])
            ensure_self(conn)
            me = self._self(conn)
            if me["id"] == node_id:
                raise EnrolmentRefused("a central cannot enrol itself")
            private = self._ensure_keys(conn, me)
            conn.execute(
                update(sync_nodes).where(sync_nodes.c.id == me["id"]).values(role="central")
            )
            known = conn.execute(select(sync_nodes.c.id).where(sync_nodes.c.id == node_id)).first()
            values = {
                "status": "approved",
                "role": "node",
                "site_id": site["id"],
                "site_name": site["name"],
                "signing_public": body["signing_public"],
                "box_public": body["box_public"],
                "requested_at": datetime.fromisoformat(body["requested_at"]),
                "approved_at": now,
                "approved_by": approved_by[:64],
                # Enrolled again (re-admitted with a reason where it was revoked).
                "revoked_at": None,
                "wipe_ordered_at": None,
                "wiped_at": None,
                "last_request_at": None,
                "name": name,
                "wipe_report": None,
                "wipe_confirmed_at": None,
            }
            names.unique(conn, site["id"], node_id, name)
            if known:
                conn.execute(update(sync_nodes).where(sync_nodes.c.id == node_id).values(**values))
            else:
                conn.execute(insert(sync_nodes).values(id=node_id, is_self=False, **values))
            key_rows = conn.execute(
                select(site_keys).where(
                    site_keys.c.site_id == site["id"], site_keys.c.wrapped_key.is_not(None)
                )
            ).mappings()
            sealed_keys = []
            for k in key_rows:
                assert self.vault.cipher is not None
                _, raw = self.vault.cipher.data_key(conn, site["id"], k["id"])
                sealed_keys.append(
                    {
                        "id": k["id"],
                        "version": k["version"],
                        "state": k["state"],
                        "created_at": k["created_at"].isoformat(),
                        "key": keys.box_seal(body["box_public"], raw, f"site-key|{node_id}"),
                    }
                )
            self._baseline(conn, site["id"], approved_by)
            # Reference data: every site's row (no person, no key; a detention site's
            # whereabouts stay sealed under its own key), so that a movement to
            # another site can be recorded at the node.
            reference = [
                encode_row(sites, r)
                for r in conn.execute(select(sites).order_by(sites.c.id)).mappings()
            ]
        grant = {
            "central_id": me["id"],
            "central_signing_public": me["signing_public"],
            "node_id": node_id,
            "site": encode_row(sites, site),
            "sites": reference,
            "site_keys": sealed_keys,
            "approved_at": now.isoformat(),
        }
        return {"grant": grant, "signature": keys.sign(private, dumps(grant).encode())}

    def _baseline(self, conn: Connection, site_id: str, by: str) -> int:
        """A change for each person of the site that has none yet (registered before
        this installation kept a change log), so that a node enrolled now receives them
        with its first bundle. How many."""
        missing = list(
            conn.execute(
                select(persons.c.id)
                .where(persons.c.site_id == site_id)
                .where(~persons.c.id.in_(select(sync_heads.c.person_id)))
                .order_by(persons.c.registered_at, persons.c.id)
            ).scalars()
        )
        journal = Journal(self.vault, self.clock)
        for start in range(0, len(missing), 500):
            journal(conn, [Note("sync.baseline", by, p) for p in missing[start : start + 500]])
        return len(missing)

    def join(
        self, grant: dict[str, Any], central_fingerprint: str | None, *, audit: AdminAudit
    ) -> dict[str, Any]:
        """At the node: install the central's grant (its site row and keys, the central's
        identity). ``central_fingerprint`` (as ``approve`` printed it) pins the central's
        key; without it the first key seen is trusted."""
        try:
            body = grant["grant"]
            keys.verify(body["central_signing_public"], dumps(body).encode(), grant["signature"])
        except (KeyError, TypeError, ValueError, keys.BadSignature) as exc:
            raise EnrolmentRefused(f"the grant does not check out: {exc}") from exc
        if central_fingerprint and keys.fingerprint(body["central_signing_public"]) != (
            central_fingerprint.strip()
        ):
            raise EnrolmentRefused("the grant is signed by another central than the one named")
        now = self.clock()
        with self.db.transaction() as conn:
            me = self._self(conn)
            if body["node_id"] != me["id"]:
                raise EnrolmentRefused("the grant is for another node")
            private = self._private(me)
            site = decode_row(sites, body["site"])
            strays.refuse(conn, me, site)
            audit(conn, f"joined central {body['central_id']} for site {site['id']}", site["id"])
            known = set(conn.execute(select(sites.c.id)).scalars())
            for row in [body["site"], *body.get("sites", [])]:
                if row["id"] not in known:
                    conn.execute(insert(sites).values(**decode_row(sites, row)))
                    known.add(row["id"])
            assert self.vault.cipher is not None
            have = set(conn.execute(select(site_keys.c.id)).scalars())
            for k in body["site_keys"]:
                if k["id"] in have:
                    continue
                raw = keys.box_open(private, k["key"], f"site-key|{me['id']}")
                self.vault.cipher.adopt_site_key(conn, site["id"], k, raw)
            central = {
                "status": "approved",
                "role": "central",
                "signing_public": body["central_signing_public"],
                "central_url": me["central_url"],
                "approved_at": datetime.fromisoformat(body["approved_at"]),
            }
            if conn.execute(
                select(sync_nodes.c.id).where(sync_nodes.c.id == body["central_id"])
            ).first():
                conn.execute(
                    update(sync_nodes)
                    .where(sync_nodes.c.id == body["central_id"])
                    .values(**central)
                )
            else:
                conn.execute(
                    insert(sync_nodes).values(id=body["central_id"], is_self=False, **central)
                )
            conn.execute(
                update(sync_nodes)
                .where(sync_nodes.c.id == me["id"])
                .values(status="approved", site_id=site["id"], approved_at=now)
            )
        self.vault.forget()
        return {"site_id": site["id"], "central_id": body["central_id"]}

    # -- bundles -------------------------------------------------------------------------

    def _peer(
        self, conn: Connection, peer_id: str, also: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        row = (
            conn.execute(
                select(sync_nodes).where(
                    sync_nodes.c.id == peer_id,
                    sync_nodes.c.status.in_(also | {"approved"}),
                    sync_nodes.c.is_self.is_(False),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"enrolled node {peer_id!r}", "node")
        return dict(row)

    def peers(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(sync_nodes).where(sync_nodes.c.is_self.is_(False)).order_by(sync_nodes.c.id)
            ).mappings()
            return [{k: v for k, v in r.items() if k != "secret"} for r in rows]

    def _marks(self, conn: Connection, me: dict[str, Any]) -> dict[str, int]:
        """What this installation holds, per origin (contiguous, as far as it knows)."""
        marks = {
            str(o): int(s)
            for o, s in conn.execute(
                select(sync_acks.c.origin_node, sync_acks.c.seq).where(
                    sync_acks.c.peer_node == me["id"]
                )
            )
        }
        marks[me["id"]] = int(me["last_seq"])
        return marks

    def _acks(self, conn: Connection, peer_id: str) -> dict[str, int]:
        return {
            str(o): int(s)
            for o, s in conn.execute(
                select(sync_acks.c.origin_node, sync_acks.c.seq).where(
                    sync_acks.c.peer_node == peer_id
                )
            )
        }

    def export(
        self,
        peer_id: str | None = None,
        after: dict[str, int] | None = None,
        *,
        changes: bool = True,
        version: int = 2,
        audit: AuditHook | None = None,
        limit: int | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """A bundle for ``peer_id`` (a node's: its central) of what it has not
        acknowledged: compressed, encrypted under the site's key, signed with this node's
        key. ``after``: leave out, per origin, what an earlier bundle still on its way
        holds. ``changes=False``: a bundle with no change and no range, only this side's
        marks (what it holds): the signed request of a pull (``POST /api/sync/pull``).
        ``version=1``: the first format (not compressed), which every version reads.

        Each person whose change is sent is audited (``sync.send``, PROTECTION.md line 6:
        a bundle carries personal data out of this installation), in the transaction
        that reads what is sent: ``audit`` (the operator who writes a bundle file), or
        by default under the receiving node's id, role ``node`` (the answer to a pull).
        A bundle that sends no change audits nothing.

        ``limit``: at most this many changes (a pull's answer): the header says ``more``
        and its ranges claim only what it carries, so the node pulls again.
        ``max_bytes``: likewise, at most as many as keep the bundle within this size
        (``parts.fit``; ``parts.export_parts`` writes the rest as further parts).

        Orders (docs/sync.md "Protection across nodes"): to a node whose wipe was
        ordered, a bundle of no change carrying ``wipe`` (its delivery recorded and
        audited); to every node, the ids of the site's keys destroyed here
        (``destroy_keys``); a site with no key left here sends no change (empty body)."""
        with self.db.transaction() as conn:
            me = self._self(conn)
            if me["status"] == "wiped":
                raise NodeWiped(self._wiped_message(me))
            private = self._private(me)
            if peer_id is None:
                if me["role"] != "node":
                    raise NotFound("the node to export for (--to-node)", "node")
                peer_id = str(
                    conn.execute(
                        select(sync_nodes.c.id).where(
                            sync_nodes.c.role == "central", sync_nodes.c.is_self.is_(False)
                        )
                    ).scalar_one()
                )
            peer = self._peer(conn, peer_id, HELD_BACK - {"revoked"})
            site_id = me["site_id"] if me["role"] == "node" else peer["site_id"]
            wipe = peer["status"] in ("wipe", "wiped")
            granted = (
                keygrant.sealed_for(conn, self.vault.cipher, site_id, peer_id, peer["box_public"])
                if me["role"] == "central"
                and not wipe
                and peer["box_public"]
                and self.vault.cipher is not None
                else []
            )
            destroyed = sorted(
                conn.execute(
                    select(site_keys.c.id).where(
                        site_keys.c.site_id == site_id, site_keys.c.state == "destroyed"
                    )
                ).scalars()
            )
            # Nothing can be sealed for a site whose keys were destroyed and that has no
            # new one (a site with no key yet gets its first when the body is sealed).
            sealable = not destroyed or (
                conn.execute(
                    select(site_keys.c.id).where(
                        site_keys.c.site_id == site_id,
                        site_keys.c.state == "active",
                        site_keys.c.wrapped_key.is_not(None),
                    )
                ).first()
                is not None
            )
            if me["role"] == "node":  # the central names destroyed keys, a node does not
                destroyed = []
            if wipe or not sealable:  # an order, or nothing can be sealed: no change
                changes = False
            created_at = self.clock()
            if not changes and me["role"] == "node":
                created_at = self._request_time(conn, peer, created_at)
            acks = self._acks(conn, peer_id)
            for origin, seq in (after or {}).items():
                acks[origin] = max(acks.get(origin, 0), seq)
            marks = self._marks(conn, me)
            query = select(sync_changes).where(
                sync_changes.c.site_id == site_id, sync_changes.c.origin_node != peer_id
            )
            if me["role"] == "node":  # a node sends what it made; the central relays
                query = query.where(sync_changes.c.origin_node == me["id"])
            if not changes:  # a pull's request: it carries nothing, claims no range
                query = query.where(sync_changes.c.id.is_(None))
            rows = conn.execute(
                query.order_by(sync_changes.c.origin_node, sync_changes.c.seq)
            ).mappings()
            sent = [_change_out(r) for r in rows if r["seq"] > acks.get(r["origin_node"], 0)]
            if max_bytes is not None:  # a part of bounded size (corridor/sync/parts.py)
                spent = parts.overhead(marks, granted, destroyed)
                limit = parts.fit(sent, max_bytes, spent, limit)
            # Origins the bound cuts: their range claims only what this bundle carries.
            cut: dict[str, int | None] = {}
            if limit is not None and len(sent) > limit:
                carried: dict[str, int] = {}
                for c in sent[:limit]:
                    carried[c["origin_node"]] = int(c["seq"])
                for c in sent[limit:]:
                    cut[c["origin_node"]] = carried.get(c["origin_node"])
                sent = sent[:limit]
            sites_now = reference.rows(conn) if me["role"] == "central" else None
            sent_persons = [str(c["person_id"]) for c in sent if c["person_id"] is not None]
            if sent_persons:
                (audit or self.node_hook(peer_id, "sync.send"))(
                    conn, list(dict.fromkeys(sent_persons))
                )
            if wipe:
                # The order goes out: recorded (its first delivery) and audited each time.
                self.node_hook(peer_id, "sync.wipe")(conn, [])
                conn.execute(
                    update(sync_nodes)
                    .where(sync_nodes.c.id == peer_id, sync_nodes.c.status == "wipe")
                    .values(status="wiped", wiped_at=created_at)
                )
        ranges: dict[str, list[int]] = {}
        if changes:
            for origin in {c["origin_node"] for c in sent} | (
                {me["id"]} if me["role"] == "node" else set(marks) - {peer_id}
            ):
                if origin in cut:
                    hi = cut[origin]
                    if hi is not None:
                        ranges[origin] = [acks.get(origin, 0), hi]
                    continue
                ranges[origin] = [acks.get(origin, 0), marks.get(origin, 0)]
        text = dumps({"changes": sent, **({reference.SITES: sites_now} if sites_now else {})})
        magic = MAGIC_V1 if version == 1 else MAGIC
        if sealable:
            sealed = self.vault.seal(
                site_id,
                BUNDLE_FIELD,
                text if version == 1 else COMPRESSED + zlib.compress(text.encode(), ZLIB_LEVEL),
            )
            assert sealed is not None
            body = sealed
        else:
            body = ""
        header: dict[str, Any] = {
            "from_node": me["id"],
            "to_node": peer_id,
            "site_id": site_id,
            "created_at": created_at.isoformat(),
            "ranges": ranges,
            "have": marks,
            "count": len(sent),
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "body_bytes": len(body),
        }
        if cut:
            header["more"] = True
        if wipe:
            header["wipe"] = True
        if destroyed:
            header["destroy_keys"] = destroyed
        if granted:
            header["site_keys"] = granted
        header_line = dumps(header).encode()
        signature = keys.sign(private, magic + b"\n" + header_line + b"\n" + body.encode())
        return b"\n".join([magic, header_line, body.encode(), signature.encode(), b""])

    def check_header(self, prefix: bytes) -> None:
        """The first lines of a bundle still arriving (``POST /api/sync/push``, ``/pull``):
        refused now (``BundleRefused``, 403 for a revoked node) unless it is a bundle
        addressed here from a node enrolled here. ``read_bundle`` checks the whole."""
        lines = prefix.split(b"\n", 2)
        if len(lines) < 3 or lines[0] not in BUNDLE_VERSIONS:
            raise BundleRefused(
                "this is not a Corridor bundle (its first lines): nothing was imported"
            )
        try:
            header = json.loads(lines[1])
            if not isinstance(header, dict):
                raise ValueError("the header is not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleRefused("the bundle's header cannot be read: nothing was imported") from exc
        with self.db.read() as conn:
            me = self._self(conn)
            if header.get("to_node") != me["id"]:
                raise BundleRefused(
                    "this bundle is meant for another node, not this one: nothing was imported"
                )
            sender = self._sender(conn, str(header.get("from_node")))
        if sender["status"] == "revoked":
            self._refuse_held_back(sender, header)

    def read_bundle(self, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Check a bundle (whole, for this node and site, signed by a node we enrolled
        with, unaltered) and open it; raises ``BundleRefused`` saying why."""
        lines = data.split(b"\n")
        if len(lines) != 5 or lines[0] not in BUNDLE_VERSIONS or lines[4] != b"":
            raise BundleRefused(
                "this file is not a whole Corridor bundle (truncated or not a bundle): "
                "nothing was imported"
            )
        try:
            header = json.loads(lines[1])
            body = lines[2].decode("ascii")
            signature = lines[3].decode("ascii")
            if not isinstance(header, dict):
                raise ValueError("the header is not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleRefused("the bundle's header cannot be read: nothing was imported") from exc
        header.pop(WIPED, None)  # set below, never taken from the wire
        header.pop(reference.RECEIVED, None)  # likewise, from the sealed body
        with self.db.read() as conn:
            me = self._self(conn)
            if me["status"] == "wiped":
                raise NodeWiped(self._wiped_message(me))
            if header.get("to_node") != me["id"]:
                raise BundleRefused(
                    "this bundle is meant for another node, not this one: nothing was imported"
                )
            sender = self._sender(conn, str(header.get("from_node")))
        my_site = me["site_id"] if me["role"] == "node" else sender["site_id"]
        if header.get("site_id") != my_site:
            raise BundleRefused(
                "this bundle is for another site than this node's: nothing was imported"
            )
        try:
            keys.verify(
                sender["signing_public"],
                lines[0] + b"\n" + lines[1] + b"\n" + lines[2],
                signature,
            )
        except keys.BadSignature:
            raise BundleRefused(
                "the bundle's signature does not verify (altered, or not from the node it "
                "names): nothing was imported"
            ) from None
        if hashlib.sha256(lines[2]).hexdigest() != header.get("body_sha256") or len(
            lines[2]
        ) != header.get("body_bytes"):
            raise BundleRefused("the bundle's content does not match its header: nothing imported")
        self._refuse_held_back(sender, header)
        if me["role"] == "node" and header.get("site_keys") and not header.get("wipe"):
            self._adopt_keys(me, sender, header["site_keys"])
        ordered = me["role"] == "node" and (header.get("wipe") or header.get("destroy_keys"))
        if ordered and self._carry_out(me, sender, header):
            header[WIPED] = True
            return header, []
        if header.get("count") == 0 and not header.get("ranges"):
            # No change and no range (a pull's request, an order, an answer with nothing
            # new): the signed header is all there is; the body need not open (the
            # site's key may be destroyed here while the node still holds its copy).
            return header, []
        opened = self.vault.open_bytes(my_site, BUNDLE_FIELD, body)
        if opened is None:
            raise BundleRefused(
                "the bundle cannot be opened with this site's key (destroyed or never "
                "received): nothing was imported"
            )
        try:
            if BUNDLE_VERSIONS[lines[0]] == 2:
                opened = zlib.decompress(opened.removeprefix(COMPRESSED))
            content = json.loads(opened)
            changes = content["changes"]
            if me["role"] == "node" and sender["role"] == "central":
                header[reference.RECEIVED] = list(content.get(reference.SITES, []))
        except (zlib.error, ValueError, KeyError, TypeError) as exc:
            raise BundleRefused("the bundle's body cannot be read: nothing was imported") from exc
        if any(c["site_id"] != my_site for c in changes):
            raise BundleRefused("the bundle holds another site's changes: nothing was imported")
        return header, changes

    def import_bundle(self, data: bytes, *, audit: AuditHook | None = None) -> ImportReport:
        """Apply a bundle once, in one transaction: new changes are applied or wait; the
        ones held already are skipped; the sender's marks become its acknowledgements.
        ``audit``: the hook for the persons applied; None (a bundle received over the
        network, with nobody at the keyboard): audited as the sending node."""
        header, changes = self.read_bundle(data)
        sender = str(header["from_node"])
        if header.get(wipes.REPORT):  # a wiped node's one message: its confirmation
            return ImportReport(from_node=sender, wipe_confirmed=wipes.record(self, header))
        if header.get(WIPED):
            return ImportReport(from_node=sender, wiped=True)
        if audit is None:
            audit = self.node_hook(sender)
        report = ImportReport(from_node=sender)
        with self.db.transaction() as conn:
            # One import from a sender at a time: the same bundle twice at once (a sync
            # killed and run again while its push is still applied) waits here and then
            # finds the changes held (PostgreSQL; SQLite has one writer anyway).
            conn.execute(select(sync_nodes.c.id).where(sync_nodes.c.id == sender).with_for_update())
            me = self._self(conn)
            ids = [c["id"] for c in changes]
            held: set[str] = set()
            for start in range(0, len(ids), 500):
                held.update(
                    conn.execute(
                        select(sync_changes.c.id).where(
                            sync_changes.c.id.in_(ids[start : start + 500])
                        )
                    ).scalars()
                )
            fresh = [c for c in changes if c["id"] not in held]
            report.already_had = len(changes) - len(fresh)
            now = self.clock()
            insert_rows(
                conn,
                sync_changes,
                [
                    {
                        **_change_in(c),
                        "received_at": now,
                        "state": "waiting",
                        "conflict_fields": None,
                    }
                    for c in fresh
                ],
            )
            reference.install(conn, header.get(reference.RECEIVED, []))  # sites first
            acked = acknowledged(conn, me["id"]) if me["role"] == "node" else 0
            if me["role"] == "node":  # what the central now holds of ours, before a
                # change it relays lands on it (corridor/sync/forgets.py)
                forgets.scrub_sent(conn, self.vault, me["id"], acked, _have(header, me["id"]))
            touched = self._drain(conn, report, audit)
            advanced = self._advance(conn, me, sender, header)
            if advanced and me["role"] == "node":  # and of those forgotten just now
                forgets.scrub_sent(conn, self.vault, me["id"], acked, _have(header, me["id"]))
            if me["role"] == "node":  # the central answers this node again
                revocation.answered_again(conn, me, _made(header))
            report.fresh = len(fresh)
            if fresh or advanced:
                conn.execute(
                    update(sync_nodes).where(sync_nodes.c.id == sender).values(last_contact_at=now)
                )
            if touched:
                match_index.reindex_persons(conn, sorted(touched), self.vault)
                # A person merged away here is out of the index (the survivor holds it).
                away = conn.execute(
                    select(merged_persons.c.person_id).where(
                        merged_persons.c.person_id.in_(sorted(touched))
                    )
                ).scalars()
                match_index.unindex(conn, list(away))
                # An erased person is out of it too (as a retention run leaves them).
                gone = conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_(sorted(touched)), persons.c.anonymised_at.is_not(None)
                    )
                ).scalars()
                match_index.unindex(conn, list(gone))
                outbox.record(conn, sorted(touched), "registration", now)
        if touched:
            self.notify(sorted(touched))
            if self.find_duplicates is not None and me["role"] == "central":
                self.find_duplicates(sorted(touched), audit)
        return report

    def node_hook(self, node_id: str, action: str = "sync.apply") -> AuditHook:
        """The audit hook of changes a node sent over the network (``sync.apply``) or
        that are sent to it (``sync.send``): the node's id (enrolled, its signature
        verified) stands where a user's would, role ``node``."""
        purpose = NODE_PURPOSE.get(action, action)

        def append(conn: Connection, person_ids: list[str]) -> None:
            now = self.clock()
            ids: list[str | None] = list(dict.fromkeys(person_ids)) or [None]
            security_audit.append_many(
                conn,
                [
                    AuditEvent(
                        user_id=node_id[:36],
                        role="node",
                        action=action,
                        outcome=Outcome.ALLOWED,
                        purpose=purpose,
                        occurred_at=now,
                        person_id=pid,
                    )
                    for pid in ids
                ],
            )

        return append

    # -- protection across nodes: revocation, wipe, key destruction --------------------

    def _sender(self, conn: Connection, node_id: str) -> dict[str, Any]:
        """The enrolled node a bundle names as its sender, whatever its status now (a
        revoked node's or a node to be wiped is refused after its signature checks)."""
        row = (
            conn.execute(
                select(sync_nodes).where(
                    sync_nodes.c.id == node_id,
                    sync_nodes.c.is_self.is_(False),
                    sync_nodes.c.status.in_(HELD_BACK | {"approved"}),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise BundleRefused(
                "this bundle comes from a node not enrolled here: nothing was imported"
            )
        return dict(row)

    def _refuse_held_back(self, sender: dict[str, Any], header: dict[str, Any]) -> None:
        """A revoked node's bundle is refused; a node to be wiped may only pull (a bundle
        of no change and no range), and its pull is answered with the order."""
        if sender["status"] == "revoked":
            when = sender["revoked_at"].date().isoformat() if sender["revoked_at"] else "-"
            raise NodeRevoked(
                f"node {sender['id']} was revoked at this central ({when}): its bundles "
                "are refused and nothing was imported; if the node is in safe hands, the "
                "central's administrator can reinstate it (`corridor node reinstate "
                f"{sender['id']} --reason TEXT`) and its changes not yet sent come in"
            )
        if sender["status"] in ("wipe", "wiped") and (header.get("count") or header.get("ranges")):
            raise NodeToBeWiped(
                f"node {sender['id']} is to be wiped by order of this central's "
                "administrator: its changes are not taken (nothing was imported); its next "
                "pull brings the order"
            )

    def revoke(self, node_id: str, revoked_by: str, *, audit: AdminAudit) -> dict[str, Any]:
        """At the central: revoke an enrolled node; from now on its bundles (push, pull,
        a file) are refused (403). A wipe ordered and not yet delivered is then never
        delivered: order the wipe and let it be delivered first."""
        now = self.clock()
        with self.db.transaction() as conn:
            node = self._enrolled_node(conn, node_id)
            audit(conn, f"node {node_id} revoked by {revoked_by}"[:200], node["site_id"])
            conn.execute(
                update(sync_nodes)
                .where(sync_nodes.c.id == node_id)
                .values(status="revoked", revoked_at=now)
            )
        return {"node_id": node_id, "site_id": node["site_id"], "revoked_at": now}

    def reinstate(
        self, node_id: str, reason: str, *, audit: AdminAudit, name: str | None = None
    ) -> dict[str, Any]:
        """At the central: undo a revocation (``corridor/sync/revocation.py``), so that the
        node's changes not yet sent come in at its next sync or bundle file."""
        return revocation.reinstate(self, node_id, reason, audit=audit, name=name)

    def order_wipe(self, node_id: str, ordered_by: str, *, audit: AdminAudit) -> dict[str, Any]:
        """At the central: order an enrolled node's wipe. Its next contact (a pull, or a
        bundle written for it) carries the signed order; from now on its changes are
        not taken. The node destroys its copy of the site's keys, anonymises its
        persons and stops syncing; the central records when the order went out."""
        now = self.clock()
        with self.db.transaction() as conn:
            node = self._enrolled_node(conn, node_id)
            if node["status"] == "revoked":
                raise Conflict(
                    f"node {node_id} is revoked: it cannot be reached to deliver a wipe order"
                )
            audit(conn, f"wipe of node {node_id} ordered by {ordered_by}"[:200], node["site_id"])
            if node["status"] == "approved":
                conn.execute(
                    update(sync_nodes)
                    .where(sync_nodes.c.id == node_id)
                    .values(status="wipe", wipe_ordered_at=now)
                )
        return {"node_id": node_id, "site_id": node["site_id"], "wipe_ordered_at": now}

    def _enrolled_node(self, conn: Connection, node_id: str) -> dict[str, Any]:
        row = (
            conn.execute(
                select(sync_nodes).where(
                    sync_nodes.c.id == node_id,
                    sync_nodes.c.is_self.is_(False),
                    sync_nodes.c.role == "node",
                    sync_nodes.c.status.in_(HELD_BACK | {"approved"}),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"enrolled node {node_id!r}", "node")
        return dict(row)

    def _carry_out(
        self, me: dict[str, Any], central: dict[str, Any], header: dict[str, Any]
    ) -> bool:
        """At a node: carry out the orders of its central's signed bundle (its signature
        checked): a wipe (every key of the site destroyed, its persons anonymised, no more
        syncing) or keys destroyed at the central (the evacuation drill: destroyed here
        too; a site with no key left is wiped). In one transaction, audited under the
        central's id. True when this node is now wiped."""
        from corridor.services.protection.keys import destroy_in
        from corridor.services.protection.retention import anonymise

        site_id = str(me["site_id"])
        wipe = bool(header.get("wipe"))
        ids = [str(k) for k in header.get("destroy_keys") or []]
        cipher = self.vault.cipher
        if cipher is None:
            raise EnrolmentRefused("a node's keys need the master key (--master-key-file)")
        now = self.clock()
        with self.db.transaction() as conn:
            live = select(site_keys.c.id).where(
                site_keys.c.site_id == site_id, site_keys.c.wrapped_key.is_not(None)
            )
            doomed = set(conn.execute(live).scalars())
            if not wipe:
                doomed &= set(ids)
            if not doomed and not wipe:
                return False
            left = set(conn.execute(live).scalars()) - doomed
            wiped = wipe or not left
            if wiped:
                destroy_in(conn, cipher, site_id)
                held: list[str] = []
                if wipe:
                    # Every person held here: the site's own and those of other sites
                    # who came to it on a manifest (a node holds no one else).
                    held = list(conn.execute(select(persons.c.id)).scalars())
                    anonymise(conn, held, now)
                gone = sorted(left | doomed)
                wipes.note(conn, me, str(central["id"]), wipe, gone, len(held), now)
                conn.execute(
                    update(sync_nodes)
                    .where(sync_nodes.c.id == me["id"])
                    .values(status="wiped", wiped_at=now)
                )
            else:
                conn.execute(
                    update(site_keys)
                    .where(site_keys.c.id.in_(sorted(doomed)))
                    .values(
                        state="destroyed", wrapped_key=None, master_key_id=None, destroyed_at=now
                    )
                )
            self.node_hook(str(central["id"]), "sync.wipe" if wipe else "sync.keys")(conn, [])
        self.vault.forget(site_id)
        if wiped:  # nothing the wipe overwrote left readable in the file (wipe.py)
            wipes.scrub_storage(self.db)
        return wiped

    def _adopt_keys(
        self, me: dict[str, Any], central: dict[str, Any], granted: list[dict[str, Any]]
    ) -> None:
        """The site's keys the central's signed header carries, installed here
        (``keygrant.adopt``) in one transaction, audited ``sync.keys`` under the central."""
        cipher = self.vault.cipher
        if cipher is None:
            raise EnrolmentRefused("a node's keys need the master key (--master-key-file)")
        site_id = str(me["site_id"])
        try:
            with self.db.transaction() as conn:
                private = self._private(self._self(conn))
                if keygrant.adopt(conn, cipher, site_id, private, str(me["id"]), granted):
                    self.node_hook(str(central["id"]), "sync.keys")(conn, [])
        except (KeyError, ValueError) as exc:
            raise BundleRefused(f"the site's keys in the bundle cannot be read: {exc}") from exc
        self.vault.forget(site_id)

    def _wiped_message(self, me: dict[str, Any]) -> str:
        when = me["wiped_at"].isoformat(timespec="minutes") if me["wiped_at"] else "-"
        return (
            f"this node was wiped ({when}): its site's keys are destroyed by order of its "
            "central and it no longer syncs; enrol a fresh installation to work again"
        )

    # -- over the network (corridor/web/sync_routes.py, corridor/sync/client.py) -------

    def receive_push(self, data: bytes) -> tuple[ImportReport, dict[str, int]]:
        """``POST /api/sync/push`` at the central: the bundle checked and applied exactly as
        ``corridor node import`` does; with what this side now holds of each origin the
        bundle covers (the sender's own at least)."""
        report = self.import_bundle(data)
        header = json.loads(data.split(b"\n")[1])
        origins = {report.from_node, *dict(header.get("ranges", {}))}
        with self.db.read() as conn:
            marks = self._marks(conn, self._self(conn))
        return report, {o: marks.get(o, 0) for o in sorted(origins)}

    def answer_pull(self, data: bytes) -> bytes:
        """``POST /api/sync/pull`` at the central: ``data`` is the node's signed request
        (a bundle, usually of no change, carrying what the node holds); it is imported
        like any bundle (its marks become the node's acknowledgements), then the answer
        is the bundle of what the node has not acknowledged, addressed to it, at most
        ``pull_limit`` changes (``more`` in its header: the node pulls again).

        Freshness: a request made more than ``pull_window`` from this central's clock
        (either way) is refused; so is one not newer than the last answered for the
        node unless its marks move (a replay: it would move nothing and have its
        answer audited as sent). Nothing is written by a refusal."""
        header, _ = self.read_bundle(data)
        self._fresh(header)
        report = self.import_bundle(data)
        self.touch(report.from_node)
        return self.export(report.from_node, limit=self.pull_limit, max_bytes=self.pull_bytes)

    def _fresh(self, header: dict[str, Any]) -> None:
        """Refuse a stale or replayed pull request (its signature already checked), and
        note its time as the last answered for the node."""
        node_id = str(header["from_node"])
        try:
            made = datetime.fromisoformat(str(header.get("created_at")))
            if made.tzinfo is None:
                raise ValueError("no time zone")
        except ValueError:
            raise BundleRefused(
                "the pull request carries no readable time: nothing was sent"
            ) from None
        now = self.clock()
        if abs(now - made) > self.pull_window:
            hours = self.pull_window.total_seconds() / 3600
            raise BundleRefused(
                f"the pull request was made at {made.isoformat(timespec='minutes')}, more "
                f"than {hours:g} hours from this central's clock "
                f"({now.isoformat(timespec='minutes')}): refused as stale or replayed, "
                "nothing was sent; check the node's clock and sync again"
            )
        with self.db.transaction() as conn:
            acks = self._acks(conn, node_id)
            try:
                have = {str(o): int(v) for o, v in dict(header.get("have") or {}).items()}
            except (TypeError, ValueError):
                raise BundleRefused(
                    "the pull request's marks cannot be read: nothing was sent"
                ) from None
            moves = any(v > acks.get(o, 0) for o, v in have.items())
            newer = conn.execute(
                update(sync_nodes)
                .where(
                    sync_nodes.c.id == node_id,
                    (sync_nodes.c.last_request_at.is_(None))
                    | (sync_nodes.c.last_request_at < made),
                )
                .values(last_request_at=made)
            ).rowcount
            if not newer and not moves:
                raise BundleRefused(
                    "this pull request is not newer than the last one answered for this "
                    "node and moves nothing (a replay): nothing was sent"
                )

    def _request_time(self, conn: Connection, central: dict[str, Any], now: datetime) -> datetime:
        """At a node: the time of a pull request, after the last one sent (a clock set
        back must not make the central take it for a replay), noted on the central's
        row (``not_taken`` takes it back when the central refused the request)."""
        last = central["last_request_at"]
        if last is not None and now <= last:
            now = last + timedelta(milliseconds=1)
        conn.execute(
            update(sync_nodes).where(sync_nodes.c.id == central["id"]).values(last_request_at=now)
        )
        return now

    def not_taken(self, request: bytes, before: datetime | None) -> None:
        """At a node: the central refused the pull ``request`` (e.g. as stale: this
        clock was days ahead), so it cannot make a later one look like a replay; the
        last request noted goes back to ``before``. Otherwise a clock set right after
        running ahead kept every later request refused until real time caught up."""
        made = datetime.fromisoformat(str(json.loads(request.split(b"\n")[1])["created_at"]))
        with self.db.transaction() as conn:
            conn.execute(
                update(sync_nodes)
                .where(
                    sync_nodes.c.role == "central",
                    sync_nodes.c.is_self.is_(False),
                    sync_nodes.c.last_request_at == made,
                )
                .values(last_request_at=before)
            )

    def touch(self, peer_id: str) -> None:
        """Note a contact with ``peer_id`` that checked out (a sync round, a pull)."""
        with self.db.transaction() as conn:
            conn.execute(
                update(sync_nodes)
                .where(sync_nodes.c.id == peer_id)
                .values(last_contact_at=self.clock())
            )

    def central(self) -> dict[str, Any]:
        """At a node: its central (id, URL). NotFound before ``corridor node join``."""
        with self.db.read() as conn:
            me = self._self(conn)
            row = (
                conn.execute(
                    select(sync_nodes).where(
                        sync_nodes.c.role == "central",
                        sync_nodes.c.is_self.is_(False),
                        sync_nodes.c.status == "approved",
                    )
                )
                .mappings()
                .first()
            )
        if me["role"] != "node" or row is None:
            raise NotFound("this node's central (run `corridor node join` first)", "node")
        return {
            "id": row["id"],
            "url": row["central_url"] or me["central_url"],
            "last_request_at": row["last_request_at"],
        }

    def _advance(
        self, conn: Connection, me: dict[str, Any], sender: str, header: dict[str, Any]
    ) -> bool:
        """The sender's marks as its acknowledgements, and this side's own marks moved
        past each range it now holds whole. True when anything moved."""
        moved = False
        for peer, origin, seq in [
            *((sender, o, int(s)) for o, s in dict(header.get("have", {})).items()),
            *(
                (me["id"], o, int(hi))
                for o, (lo, hi) in dict(header.get("ranges", {})).items()
                if o != me["id"]
            ),
        ]:
            current = conn.execute(
                select(sync_acks.c.seq).where(
                    sync_acks.c.peer_node == peer, sync_acks.c.origin_node == origin
                )
            ).scalar()
            if peer == me["id"]:
                lo = int(header["ranges"][origin][0])
                if lo > (current or 0):  # an earlier range is missing: not whole yet
                    continue
            if current is None:
                conn.execute(insert(sync_acks).values(peer_node=peer, origin_node=origin, seq=seq))
                moved = True
            elif seq > current:
                conn.execute(
                    update(sync_acks)
                    .where(sync_acks.c.peer_node == peer, sync_acks.c.origin_node == origin)
                    .values(seq=seq)
                )
                moved = True
        return moved

    def _drain(self, conn: Connection, report: ImportReport, audit: AuditHook) -> set[str]:
        """Apply every waiting change whose dependencies are here, until none moves."""
        touched: set[str] = set()
        applied_now: list[dict[str, Any]] = []
        while True:
            waiting = conn.execute(
                select(sync_changes)
                .where(sync_changes.c.state == "waiting")
                .order_by(
                    sync_changes.c.recorded_at, sync_changes.c.origin_node, sync_changes.c.seq
                )
            ).mappings()
            progress = False
            pending = [(c, self._open_change(c)) for c in waiting]
            # A value longer than its column: the person's last change decides.
            if long := lengths.refusal(pending):
                raise BundleRefused(long)
            # New persons with nothing to wait for: applied together (corridor/sync/batch.py).
            now = self.clock()
            together = batch.apply_new(
                conn,
                [
                    p
                    for p in pending
                    if not ahead.made_ahead(p[0]["recorded_at"], now, self.pull_window)
                ],
                hashed=self._hashed,
                documents=self._document_rows,
            )
            for change, state in pending:
                if change["id"] in together:
                    state["_via"] = (change["kind"], change["user_id"], change["site_id"])
                    applied_now.append(state)
                    touched.add(str(change["person_id"]))
                    progress = True
                    continue
                if self._missing(conn, change, state):
                    continue
                conflicts = self._apply(conn, change, state)
                conn.execute(
                    update(sync_changes)
                    .where(sync_changes.c.id == change["id"])
                    .values(
                        state="conflict" if conflicts else "applied",
                        conflict_fields=",".join(conflicts) or None,
                        resolution=decisions.opened(conn, change["person_id"], conflicts),
                    )
                )
                state["_via"] = (change["kind"], change["user_id"], change["site_id"])
                applied_now.append(state)
                touched.add(str(change["person_id"]))
                touched |= state["_moved"]
                progress = True
            if not progress:
                break
        # Family links are written once both persons are here (a household's members
        # arrive in the same bundle, in any order).
        for state in applied_now:
            self._links(conn, state)
        # Persons erased here (or by a change just applied): anonymised whatever the
        # changes carried, and no change held here keeps their old state readable.
        # A forget made before the central held what put them at this site again (this
        # node's own check-in, say) is not carried out (corridor/sync/forgets.py).
        by = {
            str(s["person"]["id"]): s["_forget_by"]
            for s in applied_now
            if s.get(FORGET) and not s.get("_stays")
        }
        leaving = sorted(by)
        if leaving:  # the central's forget: they left this node's site
            facts.forget(conn, leaving, self.clock())
            scrub(conn, self.vault, leaving, forget=True)
            # No decision of a conflict of theirs will reach this node again.
            forgets.withdraw_conflicts(conn, by)
        erased = facts.keep_erased(conn, touched - set(leaving))
        if erased:
            scrub(conn, self.vault, erased)
        touched |= self._relay_applied(conn, applied_now)
        report.waiting = conn.execute(
            select(func.count()).select_from(sync_changes).where(sync_changes.c.state == "waiting")
        ).scalar_one()
        report.conflicts = sum(1 for s in applied_now if s.get("_conflict"))
        report.applied = len(applied_now) - report.conflicts
        if touched:
            audit(conn, sorted(touched))
        return touched

    def _open_change(self, change: Any) -> dict[str, Any]:
        try:
            opened = open_payload(self.vault, change["site_id"], change["payload"])
        except ValueError as exc:
            raise BundleRefused(f"{exc}: nothing was imported") from exc
        if opened is None:
            raise BundleRefused(
                "a change cannot be opened with its site's key (destroyed or never "
                "received): nothing was imported"
            )
        return opened

    def _missing(self, conn: Connection, change: Any, state: dict[str, Any]) -> list[str]:
        """What the change needs that is not here yet (its base, a site, a manifest)."""
        missing = []
        if change["depends_on"] is not None:
            base = conn.execute(
                select(sync_changes.c.state).where(sync_changes.c.id == change["depends_on"])
            ).scalar()
            if base not in ("applied", "conflict"):
                missing.append(f"change {change['depends_on']}")
        person = state["person"]
        wanted_sites, wanted_manifests = facts.needs(state)
        wanted_sites.add(person["site_id"])
        for m in state["movements"]:
            wanted_sites.update(s for s in (m["from_site_id"], m["to_site_id"]) if s)
        have_sites = set(
            conn.execute(select(sites.c.id).where(sites.c.id.in_(wanted_sites))).scalars()
        )
        missing += [f"site {s}" for s in wanted_sites - have_sites]
        if wanted_manifests:
            have = set(
                conn.execute(
                    select(manifests.c.id).where(manifests.c.id.in_(wanted_manifests))
                ).scalars()
            )
            missing += [f"manifest {m}" for m in wanted_manifests - have]
        return missing

    def _apply(self, conn: Connection, change: Any, state: dict[str, Any]) -> list[str]:
        """Write the change's state here; the conflicting fields (kept ours)."""
        incoming = facts.kept_here(state, decode_row(persons, state["person"]))
        site_id = incoming["site_id"]
        pid = incoming["id"]
        state["_moved"] = facts.apply_merges(conn, self.merge_rows, state)
        current = conn.execute(select(persons).where(persons.c.id == pid)).mappings().first()
        head = heads_of(conn, [pid]).get(pid)
        conflicts: list[str] = []
        decided = decisions.taken(conn, pid, state)  # a decision of a conflict held here
        decisions.withdraw_left_out(conn, pid, state)  # what it left out, out here too
        twice = numbers.collision(conn, change, incoming, current, self._open_change)
        if twice:  # two persons, one number: refused whole, nothing written
            raise BundleRefused(twice)
        erased = facts.erasure(conn, change["kind"], current, incoming, self.vault)
        holds.received(conn, change, state)  # a kept hold: our erasure refused there
        if erased == "held":  # an erasure of a person on legal hold here: not carried out
            state["_conflict"] = True
            return ["legal_hold"]
        if state["household"] is not None:
            hh = decode_row(households, state["household"])
            if (
                conn.execute(select(households.c.id).where(households.c.id == hh["id"])).first()
                is None
            ):
                conn.execute(insert(households).values(**hh))
        docs_in = [decode_row(person_documents, d) for d in state["documents"]]
        keep_docs = facts.documents_withheld(state)
        if current is None:
            conn.execute(insert(persons), [self._hashed(site_id, incoming)])
            self._replace_documents(conn, pid, site_id, docs_in)
        elif erased:  # erased here or by this change: nothing of the old details written
            pass
        elif head == change["depends_on"]:  # made on what is here: it follows on
            conflict_review.settle(conn, pid, change)
            conn.execute(
                update(persons).where(persons.c.id == pid).values(**self._hashed(site_id, incoming))
            )
            if not keep_docs:
                self._replace_documents(conn, pid, site_id, docs_in)
        else:  # both sides changed the person apart: merged field by field
            base_state = self._base_state(conn, change["depends_on"])
            base = base_state["person"] if base_state else {}
            ours = encode_row(persons, current)
            theirs = state["person"]
            take: dict[str, Any] = {}
            for column in persons.columns:
                name = column.name
                if name in NOT_COMPARED or name in FOLLOWS or name not in incoming:  # or withheld
                    continue
                b, o, t = (self._plain(site_id, name, x.get(name)) for x in (base, ours, theirs))
                if t in (b, o) and name not in decided:
                    continue
                if o == b or name in decided:
                    take[name] = theirs.get(name)
                else:
                    conflicts.append(name)
            for name, leader in FOLLOWS.items():
                if leader in take and name in incoming:
                    take[name] = theirs.get(name)
            if base_state is not None and not keep_docs:
                b_docs = self._doc_set(site_id, base_state["documents"])
                o_docs = self._doc_set(
                    site_id,
                    [encode_row(person_documents, d) for d in conn.execute(
                        select(person_documents).where(person_documents.c.person_id == pid)
                    ).mappings()],
                )  # fmt: skip
                t_docs = self._doc_set(site_id, state["documents"])
                if t_docs not in (b_docs, o_docs) or "documents" in decided:
                    if o_docs == b_docs or "documents" in decided:
                        self._replace_documents(conn, pid, site_id, docs_in)
                    else:
                        conflicts.append("documents")
            if take:
                values = decode_row(persons, {**encode_row(persons, current), **take})
                values["updated_at"] = max(current["updated_at"], incoming["updated_at"])
                conn.execute(
                    update(persons)
                    .where(persons.c.id == pid)
                    .values(**self._hashed(site_id, values))
                )
        numbers.received(conn, current, incoming.get("updated_at"))  # a number given anew
        decisions.settle_copies(conn, pid, change, state)
        # Facts add up: manifests (before the events naming them), then movement events
        # by id, in the order they happened, on the survivor of a person merged here.
        facts.apply_manifests(conn, state)
        # Movements recorded apart that together would make the history impossible:
        # not landed, held for an officer (corridor/sync/histories.py).
        left_out = histories.not_landed(conn, pid)
        if left_out:  # an officer's decision here left these out: not landed again
            state["movements"] = [m for m in state["movements"] if m["id"] not in left_out]
        survivor = queries.survivors(conn, [pid])[0]
        why = self._held(conn, survivor, state, change)
        if why is not None and state.get(FORGET):
            # The central's forget, made before it held what this node recorded
            # (corridor/sync/forgets.py): its history lands here, this node's own
            # events it does not carry taken out of the log (kept in this node's
            # changes, decided at the central).
            forgets.withdraw_own(conn, survivor, pid, state)
            why = self._held(conn, survivor, state, change)
        if why is None:
            target = facts.land_movements(conn, pid, state)
        else:
            target = survivor
            conflicts.append(histories.MOVEMENTS)
        # The manifests' check-ins follow the events: one by an arrival not landed is
        # held with it (all of the state's landed but those left out, where none is held).
        held = histories.absent(conn, state) if why is not None else set()
        facts.apply_items(conn, state, held | left_out)
        if change["depends_on"] is not None:  # taken off a draft since its base
            facts.take_off(conn, pid, self._base_state(conn, change["depends_on"]), state)
        state["_moved"] |= facts.apply_merges(conn, self.merge_rows, state)
        if target != pid:
            state["_moved"].add(target)
        named = sorted({pid, target, *state["_moved"]})
        merged_here = set(
            conn.execute(
                select(merged_persons.c.person_id).where(merged_persons.c.person_id.in_(named))
            ).scalars()
        )
        locations.refresh(conn, [p for p in named if p not in merged_here])
        # A check-in or an arrival off a manifest voided (or replaced): the manifests
        # here follow the log here, whatever the state said of them.
        facts.follow_voids(conn, [p for p in named if p not in merged_here])
        if state.get(FORGET):  # who forgets, and whether she is (still) of this site
            keys = ("id", "user_id", "origin_node", "recorded_at")
            state["_forget_by"] = {k: change[k] for k in keys}
            state["_stays"] = forgets.stays(conn, pid, target, custody(conn)[1])
        if not conflicts:
            merged = current is not None and not erased and head != change["depends_on"]
            if not (merged and decisions.holds_head(conn, pid)):
                set_heads(conn, {pid: change["id"]})
        else:
            state["_conflict"] = True
        return conflicts

    def _held(
        self, conn: Connection, survivor: str, state: dict[str, Any], change: Any
    ) -> Text | None:
        """Why the change's movement events are held for an officer, not landed: they
        would make the history impossible (histories.py: recorded apart), or they are
        stamped further ahead than a node's clock may run (ahead.py), or before a
        movement their sender held already (behind.py: its clock ran behind)."""
        return (
            histories.impossible(conn, survivor, state)
            or ahead.ahead(
                conn, survivor, state, change["recorded_at"], self.clock(), self.pull_window
            )
            or behind.behind(conn, survivor, state, self.clock(), str(change["origin_node"]))
        )

    def _links(self, conn: Connection, state: dict[str, Any]) -> None:
        for link in state["relationships"]:
            facts.land_link(conn, link)

    def _relay_applied(self, conn: Connection, applied: list[dict[str, Any]]) -> set[str]:
        """At the central: the persons just applied, sealed again for the other sites'
        nodes that should hold them (``journal.relay``); a person whose rows moved here
        (a survivor that received facts recorded under an old id) for every such site.
        The persons relayed."""
        if not applied or custody(conn)[0] != "central":
            return set()
        done: list[tuple[Note, str | None]] = []
        for state in applied:
            kind, user, site = state["_via"]
            pid = str(state["person"]["id"])
            done.append((Note(kind, user, pid), site))
            done += [(Note(kind, user, p), None) for p in sorted(state["_moved"] - {pid})]
        relay(conn, self.vault, self.clock(), done)
        return {n.person_id for n, _ in done}

    def _base_state(self, conn: Connection, change_id: str | None) -> dict[str, Any] | None:
        if change_id is None:
            return None
        row = (
            conn.execute(select(sync_changes).where(sync_changes.c.id == change_id))
            .mappings()
            .first()
        )
        return None if row is None else self._open_change(row)

    def _plain(self, site_id: str, name: str, value: Any) -> Any:
        """A sealed field compared by what it says (each sealing differs)."""
        if name in SEALED_PERSON_FIELDS and isinstance(value, str):
            return self.vault.open(site_id, name, value)
        return value

    def _doc_set(self, site_id: str, docs: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {
            (
                d["doc_type"],
                d["issuing_country"],
                self.vault.open(site_id, DOCUMENT_FIELD, d["number"]),
            )
            for d in docs
        }

    def _hashed(self, site_id: str, row: dict[str, Any]) -> dict[str, Any]:
        """The lookup hash computed here (it is keyed by this installation's master key);
        none for a row whose phone was withheld (the one held here stays)."""
        if "phone" not in row:
            return row
        phone = self.vault.open(site_id, "phone", row.get("phone"))
        return {**row, "phone_hash": self.vault.lookup_hash("phone", phone) if phone else None}

    def _replace_documents(
        self, conn: Connection, pid: str, site_id: str, docs: list[dict[str, Any]]
    ) -> None:
        conn.execute(delete(person_documents).where(person_documents.c.person_id == pid))
        rows = self._document_rows(site_id, docs)
        if rows:
            conn.execute(insert(person_documents), rows)

    def _document_rows(self, site_id: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Documents with their lookup key computed here (keyed by this master key)."""
        rows = []
        for d in docs:
            number = self.vault.open(site_id, DOCUMENT_FIELD, d["number"]) or ""
            rows.append(
                {**d, "number_key": self.vault.lookup_hash("document", document_key(number))}
            )
        return rows

    # -- status --------------------------------------------------------------------------

    def site_ids(self) -> list[str]:
        """Every site this installation knows (a node: its own and the reference rows)."""
        with self.db.read() as conn:
            return list(conn.execute(select(sites.c.id).order_by(sites.c.id)).scalars())

    def status(self, scope: frozenset[str] | None = None) -> dict[str, Any]:
        """This installation and each peer: last contact, changes not yet acknowledged
        (to send), changes the peer said it made that have not arrived (to receive:
        known for a node's own changes, so at the central; None at a node, whose
        central relays other sites' numbers too), changes waiting and in conflict here.
        ``scope``: the sites the caller may see (None: all): peers of other sites and
        their changes are left out."""
        with self.db.read() as conn:
            me = self._self(conn)
            marks = self._marks(conn, me)
            out_peers = []
            for peer in conn.execute(
                select(sync_nodes).where(sync_nodes.c.is_self.is_(False)).order_by(sync_nodes.c.id)
            ).mappings():
                site_id = me["site_id"] if me["role"] == "node" else peer["site_id"]
                if scope is not None and site_id not in scope:
                    continue
                acks = self._acks(conn, peer["id"])
                query = select(sync_changes.c.origin_node, sync_changes.c.seq).where(
                    sync_changes.c.site_id == site_id, sync_changes.c.origin_node != peer["id"]
                )
                if me["role"] == "node":
                    query = query.where(sync_changes.c.origin_node == me["id"])
                unsent = sum(1 for o, s in conn.execute(query) if s > acks.get(o, 0))
                to_receive = None
                withdrawn = None
                if me["role"] == "node" and peer["role"] == "central":
                    withdrawn = forgets.withdrawn_unsent(
                        conn, self.vault, me["id"], acks.get(me["id"], 0)
                    )
                if peer["role"] == "node":
                    said = acks.get(peer["id"], 0)
                    to_receive = max(0, said - marks.get(peer["id"], 0))
                out_peers.append(
                    {
                        "id": peer["id"],
                        "role": peer["role"],
                        "status": peer["status"],
                        "site_id": peer["site_id"],
                        "last_contact_at": peer["last_contact_at"],
                        "wiped_at": peer["wiped_at"],
                        **wipes.peer_fields(peer),
                        "unsent": unsent,
                        "to_receive": to_receive,
                        # At a node: its changes not yet at the central whose movements
                        # the central's forget took out of the log here (forgets.py).
                        "withdrawn": withdrawn,
                    }
                )
            counts = {}
            for state in ("waiting", "conflict"):
                count = select(func.count()).select_from(sync_changes)
                count = count.where(sync_changes.c.state == state)
                if state == "conflict":  # decided ones left the review queue
                    count = count.where(sync_changes.c.resolved_at.is_(None))
                    # An erasure against a legal hold is the officer's: counted apart.
                    count = count.where(
                        func.coalesce(sync_changes.c.conflict_fields, "") != holds.HOLD_FIELD
                    )
                if scope is not None:
                    count = count.where(sync_changes.c.site_id.in_(sorted(scope)))
                counts[state] = int(conn.execute(count).scalar_one())
            held = holds.open_count(conn, scope)
        return {
            "node_id": me["id"],
            "role": me["role"] or "standalone",
            "status": me["status"],
            "site_id": me["site_id"],
            "last_seq": me["last_seq"],
            "wiped_at": me["wiped_at"],
            # At a node: when its central last refused it as revoked (its changes kept).
            "revoked_at": me["revoked_at"] if me["role"] == "node" else None,
            "name": me["name"],
            "fingerprint": keys.fingerprint(me["signing_public"]) if me["signing_public"] else None,
            "waiting": counts["waiting"],
            "conflicts": counts["conflict"],
            "held_erasures": held,
            "peers": out_peers,
        }


def _have(header: dict[str, Any], origin: str) -> int:
    """The last change of ``origin`` the sender of a bundle says it holds (0: none)."""
    try:
        return int(dict(header.get("have") or {}).get(origin, 0))
    except (TypeError, ValueError):
        return 0


def _made(header: dict[str, Any]) -> datetime | None:
    """When a bundle says it was made (None: unreadable)."""
    try:
        return datetime.fromisoformat(str(header.get("created_at")))
    except ValueError:
        return None


def _change_out(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "origin_node": r["origin_node"],
        "seq": int(r["seq"]),
        "user_id": r["user_id"],
        "kind": r["kind"],
        "person_id": r["person_id"],
        "site_id": r["site_id"],
        "depends_on": r["depends_on"],
        "payload": r["payload"],
        "recorded_at": r["recorded_at"].isoformat(),
    }


def _change_in(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(c["id"]),
        "origin_node": str(c["origin_node"]),
        "seq": int(c["seq"]),
        "user_id": c["user_id"],
        "kind": str(c["kind"]),
        "person_id": c["person_id"],
        "site_id": c["site_id"],
        "depends_on": c["depends_on"],
        "payload": str(c["payload"]),
        "recorded_at": datetime.fromisoformat(c["recorded_at"]),
    }
