"""An erasure received for a person on legal hold here (issue 16; docs/sync.md, "Erasure
and legal holds across nodes").

``SyncService._apply`` does not carry out an erasure (a change of kind ``person.erase``)
of a person on legal hold here: the change is stored in state ``conflict`` with
``conflict_fields`` ``legal_hold`` and the person is kept whole. Deciding it is the data
protection officer's (``retention.hold``: who may place or lift a hold), never a
correction's, so it has its own queue:

- ``queue``: the open ones, in words an officer reads: what was asked (an erasure), by
  whom, at which node and site, when; the hold (who placed it, where, when). Ids,
  registration numbers and staff names only, never a person's name or field (the
  officer's desk never shows one; docs/security.md). Raw: shown through the gate
  (``Gate.held_erasures``), one audit event per person.
- ``decide``: keep the hold (the erasure is refused: the conflict marked resolved, and a
  change of kind ``person.hold`` made on their erasure and marked ``erasure_refused``
  travels back, where ``received`` records the refusal on the erasure's own change), or
  lift it (the hold lifted and the erasure carried out through
  ``RetentionService.erase``, audited and journaled as any erasure), in one transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from corridor.domain.ids import format_registration_number
from corridor.errors import Conflict, NotFound
from corridor.services.base import AuditHook
from corridor.storage import changes
from corridor.storage.security_tables import users
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons, sites
from corridor.sync import decisions
from corridor.sync.journal import open_payload, set_heads
from corridor.sync.state import decode_row

if TYPE_CHECKING:
    from corridor.services import Services

Sites = frozenset[str] | None

HOLD_FIELD = "legal_hold"
HOLD_KIND = "person.hold"
ERASE_KIND = "person.erase"
# The mark a kept hold's change carries: the erasure change it refused.
REFUSED = "erasure_refused"


def is_hold_conflict(fields: str | None) -> bool:
    return fields == HOLD_FIELD


class HeldErasures:
    """The erasures received for persons on legal hold here, and the decisions on them."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.db = services.db
        self.vault = services.vault
        self.clock = services.clock

    @classmethod
    def of(cls, services: Services) -> HeldErasures:
        return cls(services)

    # -- the queue (raw: shown only through the gate) -----------------------------------

    def queue(self, scope: Sites = None) -> list[dict[str, Any]]:
        """The open ones of ``scope``'s sites (None: every site), oldest first."""
        return self._load(scope)

    def total(self, scope: Sites = None) -> int:
        """How many open ones ``scope``'s sites hold (a count: no person)."""
        with self.db.read() as conn:
            return open_count(conn, scope)

    def find(self, conflict_id: str, person_id: str, scope: Sites = None) -> dict[str, Any]:
        found = self._load(scope, conflict_id=conflict_id, person_id=person_id)
        if not found:
            raise NotFound("conflict", field="conflict_id")
        return found[0]

    def _load(
        self, scope: Sites, conflict_id: str | None = None, person_id: str | None = None
    ) -> list[dict[str, Any]]:
        query = _open(
            select(sync_changes, persons.c.registration_number, persons.c.site_id.label("home")),
            scope,
        ).order_by(sync_changes.c.received_at, sync_changes.c.id)
        if conflict_id is not None:
            query = query.where(
                sync_changes.c.id == conflict_id, sync_changes.c.person_id == person_id
            )
        with self.db.read() as conn:
            rows = list(conn.execute(query).mappings())
            if not rows:
                return []
            pids = sorted({str(r["person_id"]) for r in rows})
            holds = _hold_changes(conn, pids)
            site_names = dict(conn.execute(select(sites.c.id, sites.c.name)).all())
            names = _usernames(conn, [*rows, *holds.values()])
        return [
            {
                "id": r["id"],
                "person_id": str(r["person_id"]),
                "registration_number": format_registration_number(r["registration_number"]),
                "site_id": r["home"],
                "site_name": site_names.get(r["home"]),
                "asked": _who(r, names, site_names),
                "hold": _who(holds.get(str(r["person_id"])), names, site_names),
            }
            for r in rows
        ]

    def refused(self, scope: Sites = None) -> list[dict[str, Any]]:
        """The erasures made here that another installation refused (``refused_here``)."""
        with self.db.read() as conn:
            return refused_here(conn, scope)

    # -- the decision ----------------------------------------------------------------------

    def decide(
        self,
        person_id: str,
        conflict_id: str,
        lift: bool,
        *,
        by: str,
        audit: AuditHook,
        scope: Sites = None,
    ) -> dict[str, Any]:
        """Keep the hold (``lift`` False: the erasure refused, and the refusal travels)
        or lift it and carry the erasure out, in one transaction with the conflict marked
        resolved. NotFound: no open one of this person in scope; Conflict: decided
        meanwhile, or the erasure itself refused (a record merged into the person on
        hold: nothing written)."""
        found = self.find(conflict_id, person_id, scope)
        self.vault.prepare(str(found["site_id"]))
        now = self.clock()
        resolution = (
            {"legal_hold": "lifted", "erasure": "carried out"}
            if lift
            else {"legal_hold": "kept", "erasure": "refused"}
        )
        with self.db.transaction() as conn:
            decisions.mark_decided(conn, conflict_id, by, now, resolution)
            # The decision is made on their erasure: at the other side it follows on.
            set_heads(conn, {person_id: conflict_id})
            if lift:
                conn.execute(
                    update(persons).where(persons.c.id == person_id).values(legal_hold=False)
                )
                node = found["asked"]["node_id"] if found["asked"] else "another installation"
                self.s.retention.erase(
                    person_id,
                    f"received from node {node}; legal hold lifted",
                    audit=audit,
                    conn=conn,
                )
                # As received: the same number and time at every installation.
                conn.execute(
                    update(persons)
                    .where(persons.c.id == person_id)
                    .values(**self._as_received(conn, conflict_id))
                )
            else:  # held (again, if it was lifted meanwhile at the desk)
                conn.execute(
                    update(persons).where(persons.c.id == person_id).values(legal_hold=True)
                )
                changes.journal_as(conn, HOLD_KIND)
                changes.annotate(conn, person_id, {REFUSED: conflict_id})
                audit(conn, [person_id])
        return {
            "id": conflict_id,
            "person_id": person_id,
            "registration_number": found["registration_number"],
            "decided_by": by,
            "decided_at": now,
            "legal_hold": resolution["legal_hold"],
            "erasure": resolution["erasure"],
        }

    def _as_received(self, conn: Connection, conflict_id: str) -> dict[str, Any]:
        """The registration number and time the received erasure gave the person."""
        row = conn.execute(select(sync_changes).where(sync_changes.c.id == conflict_id)).one()
        state = open_payload(self.vault, row.site_id, row.payload)
        if state is None:
            raise Conflict("the erasure received cannot be opened with this site's key")
        person = decode_row(persons, state["person"])
        return {
            "registration_number": person["registration_number"],
            "anonymised_at": person["anonymised_at"],
            "updated_at": person["anonymised_at"],
        }


def _open(query: Any, scope: Sites) -> Any:
    """``query`` narrowed to the open erasures held against a legal hold here, of the
    persons registered at ``scope``'s sites (None: every site)."""
    query = query.join(persons, persons.c.id == sync_changes.c.person_id).where(
        sync_changes.c.state == "conflict",
        sync_changes.c.resolved_at.is_(None),
        sync_changes.c.conflict_fields == HOLD_FIELD,
    )
    return query if scope is None else query.where(persons.c.site_id.in_(sorted(scope)))


def open_count(conn: Connection, scope: Sites = None) -> int:
    """How many erasures wait for the data protection officer in ``scope``'s sites (the
    registrars' conflict queue leaves them out; the sync page counts them apart)."""
    query = _open(select(func.count()).select_from(sync_changes), scope)
    return int(conn.execute(query).scalar_one())


def received(conn: Connection, change: Any, state: dict[str, Any]) -> None:
    """Applying a change: a kept hold's change names the erasure it refused. Where that
    erasure is held (the installation that made it), the refusal is recorded on it (who,
    when, by which change) and the hold is written (the person stays as they are here:
    an erasure carried out cannot be undone). Called by ``SyncService._apply``."""
    refused = state.get(REFUSED)
    if not refused:
        return
    done = conn.execute(
        update(sync_changes)
        .where(
            sync_changes.c.id == str(refused),
            sync_changes.c.kind == ERASE_KIND,
            sync_changes.c.resolved_at.is_(None),
        )
        .values(
            resolved_by=(change["user_id"] or change["origin_node"])[:64],
            resolved_at=change["recorded_at"],
            resolution=json.dumps(
                {"erasure": "refused", "legal_hold": "kept", "decided_by": change["id"]}
            ),
        )
    )
    if done.rowcount:
        person_id = str(state["person"]["id"])
        conn.execute(update(persons).where(persons.c.id == person_id).values(legal_hold=True))


def refused_here(conn: Connection, scope: Sites = None) -> list[dict[str, Any]]:
    """The erasures made here that another installation refused (a hold kept there):
    ids, registration numbers, who decided, when."""
    query = (
        select(
            sync_changes.c.id,
            sync_changes.c.person_id,
            sync_changes.c.recorded_at,
            sync_changes.c.resolved_by,
            sync_changes.c.resolved_at,
            persons.c.registration_number,
            persons.c.site_id,
        )
        .join(persons, persons.c.id == sync_changes.c.person_id)
        .where(
            sync_changes.c.kind == ERASE_KIND,
            sync_changes.c.received_at.is_(None),
            sync_changes.c.resolved_at.is_not(None),
        )
        .order_by(sync_changes.c.resolved_at)
    )
    if scope is not None:
        query = query.where(persons.c.site_id.in_(sorted(scope)))
    return [
        {
            "id": r.id,
            "person_id": str(r.person_id),
            "registration_number": format_registration_number(r.registration_number),
            "erased_at": r.recorded_at,
            "refused_by": r.resolved_by,
            "refused_at": r.resolved_at,
        }
        for r in conn.execute(query)
    ]


def _hold_changes(conn: Connection, person_ids: list[str]) -> dict[str, Any]:
    """Each person's latest ``person.hold`` change held here (made or received)."""
    reached = func.coalesce(sync_changes.c.received_at, sync_changes.c.recorded_at)
    out: dict[str, Any] = {}
    for row in conn.execute(
        select(sync_changes)
        .where(sync_changes.c.person_id.in_(person_ids), sync_changes.c.kind == HOLD_KIND)
        .order_by(reached, sync_changes.c.id)
    ).mappings():
        out[str(row["person_id"])] = row
    return out


def _usernames(conn: Connection, rows: list[Any]) -> dict[str, str]:
    ids = sorted({str(r["user_id"]) for r in rows if r["user_id"]})
    if not ids:
        return {}
    return dict(conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(ids))).all())


def _who(row: Any, names: dict[str, str], site_names: dict[str, str]) -> dict[str, Any] | None:
    if row is None:
        return None
    recorded: datetime = row["recorded_at"]
    return {
        "change_id": row["id"],
        "user_id": row["user_id"],
        "username": names.get(str(row["user_id"])) if row["user_id"] else None,
        "node_id": row["origin_node"],
        "site_id": row["site_id"],
        "site_name": site_names.get(row["site_id"]),
        "recorded_at": recorded,
        "received_at": row["received_at"],
    }
