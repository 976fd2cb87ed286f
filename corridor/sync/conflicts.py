"""The conflict review queue (issue 16, "Conflicts are never silent"; docs/sync.md).

A change applied by ``SyncService._apply`` in state ``conflict`` kept our value of each
field both sides changed apart and holds the other side's in its payload. Here:

- ``queue`` / ``find``: the open conflicts of the caller's sites, each with the person as
  stored here (ours) and as the other side's change left them (theirs), their sealed
  fields opened, and who made each side's change, when, at which node. Raw: only the
  gate (``Gate.sync_conflicts``) shows them, with the field groups applied and one audit
  event per person.
- ``resolve``: an officer's decision. It is a correction through the registration
  service (``update_person``, inside this transaction), so it is audited and journaled
  like any correction. Its change is made on the conflicting change (the person's head
  is set to it first), so at the other side it follows on from, or merges with, their
  own change and carries the value chosen; the conflict is marked resolved (who, when,
  which side per field) and leaves the queue.
- ``unsent``: the changes made here that the central has not acknowledged (a node only),
  one cheap query, for every registration page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, select, update

from corridor.domain.names import NAME_PARTS
from corridor.domain.paging import Paging
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.schemas import PersonPatch, validate_kept
from corridor.services.base import AuditHook
from corridor.services.protection.gate import DETENTION_FIELDS
from corridor.storage import changes, locations, queries
from corridor.storage.merge_tables import duplicate_pairs
from corridor.storage.security_tables import users
from corridor.storage.sync_tables import sync_acks, sync_changes, sync_nodes
from corridor.storage.tables import persons, sites
from corridor.sync import ahead, behind, decisions, facts, histories
from corridor.sync.histories import MOVEMENTS
from corridor.sync.holds import HOLD_FIELD
from corridor.sync.journal import heads_of, open_payload, set_heads
from corridor.sync.state import decode_row
from corridor.text import N_, Text

if TYPE_CHECKING:
    from corridor.services import Services

Sites = frozenset[str] | None

NAME_COLUMNS = (
    *NAME_PARTS,
    "alternate_names",
    "kunya",
    "mother_name",
)
VULNERABILITY_COLUMNS = (
    "uasc",
    "muac_status",
    "disabled",
    "pregnant_lactating",
    "serious_medical_condition",
    "injury",
    "elderly_alone",
)
# The sealed ``medical`` column: these, as the API shows them.
MEDICAL_KEYS = ("muac_mm", "oedema", "washington_group", "medical_note")
WG_FIELDS = tuple(
    f"wg_{d}" for d in ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
)
# The matrix's restricted fields (the gate's field groups) each column holds.
RESTRICTED: dict[str, frozenset[str]] = {
    "phone": frozenset({"phone"}),
    "note": frozenset({"note"}),
    "documents": frozenset({"documents"}),
    "origin_locality": frozenset({"origin_locality"}),
    "biometric_reference": frozenset({"biometric_reference"}),
    "uasc": frozenset({"uasc"}),
    "muac_status": frozenset({"muac_status"}),
    "disabled": frozenset({"disabled"}),
    "pregnant_lactating": frozenset({"pregnant_lactating"}),
    "serious_medical_condition": frozenset({"serious_medical_condition"}),
    "injury": frozenset({"injury"}),
    "medical": frozenset({"muac_mm", "oedema", "medical_note", *WG_FIELDS}),
}
# A vulnerability column as the details a correction gives (``VulnerabilitiesIn``).
VULNERABILITY_PATCH: dict[str, tuple[str, ...]] = {
    "uasc": ("uasc",),
    "muac_status": ("muac_mm", "oedema"),
    "disabled": ("washington_group",),
    "pregnant_lactating": ("pregnant_lactating",),
    "serious_medical_condition": ("serious_medical_condition",),
    "injury": ("injury",),
    "elderly_alone": ("elderly_alone",),
    "medical": MEDICAL_KEYS,
}
PLAIN_PATCH = (
    *NAME_COLUMNS,
    "sex",
    "nationality",
    "languages",
    "phone",
    "note",
    "biometric_reference",
    "origin_pcode",
    "origin_locality",
)
SIDES = ("ours", "theirs")


def restricted_fields(column: str) -> frozenset[str]:
    """The field-group fields a conflicting column shows (for the gate)."""
    return RESTRICTED.get(column, frozenset())


def value_of(person: dict[str, Any], column: str) -> Any:
    """A person column's value as the API shows the person (``queries.person_out``, its
    sealed fields opened)."""
    if column in NAME_COLUMNS:
        return person["names"].get(column)
    if column in ("origin_pcode", "origin_locality"):
        return person["origin"].get(column.removeprefix("origin_"))
    if column == "medical":
        return {k: person["vulnerabilities"].get(k) for k in MEDICAL_KEYS}
    if column in VULNERABILITY_COLUMNS:
        return person["vulnerabilities"].get(column)
    if column in ("consent_tracing", "consent_share_with"):
        return person["consent"].get(column.removeprefix("consent_"))
    if column == "birth_date":
        return person.get("birth_date")
    return person.get(column)


def _note_roles(column: str, *sides: dict[str, Any]) -> list[str | None]:
    """Whose field group each side's note is (``persons.note_roles``), for a conflict on
    the note; none for another field."""
    return [side.get("note_roles") for side in sides] if column == "note" else []


def patch_of(person: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """The correction that gives ``columns`` the values they have in ``person`` (a
    ``PersonPatch`` body). A column no correction can set is refused (keep ours)."""
    patch: dict[str, Any] = {}
    refused = []
    for column in columns:
        if column in PLAIN_PATCH:
            patch[column] = value_of(person, column)
        elif column in ("birth_date", "birth_precision"):
            if person.get("birth_precision") == "estimated":
                patch["estimated_age"] = person.get("estimated_age_at_registration")
                patch["birth_date"] = None
            else:
                patch["birth_date"] = person.get("birth_date")
        elif column == "documents":
            patch["documents"] = [
                {"type": d["type"], "number": d["number"], "issuing_country": d["issuing_country"]}
                for d in person.get("documents", [])
                if d["number"] is not None
            ]
        elif column in VULNERABILITY_PATCH:
            given = patch.setdefault("vulnerabilities", {})
            for key in VULNERABILITY_PATCH[column]:
                given[key] = person["vulnerabilities"].get(key)
        elif column in ("consent_tracing", "consent_share_with"):
            patch["consent"] = dict(person["consent"])
        else:
            refused.append(column)
    if refused:
        raise ValidationFailed(
            [Problem("theirs", N_("this field is not corrected here: keep ours")) for _ in refused]
        )
    return patch


def as_kept(body: dict[str, Any]) -> PersonPatch:
    """The correction that takes the other side's stored values (``patch_of``), checked
    as any correction is, but for the lengths: a value stored before its limit existed
    (synced from an older node, or written before the limit) is taken as it was kept.
    The limit applies to what is typed, not to what is kept: an officer's decision is
    never refused for a value nobody typed here (docs/sync.md, "Conflicts";
    ``schemas.validate_kept``).

    >>> long = "x" * 250
    >>> kept = as_kept({"consent": {"tracing": True, "share_with": ["ICRC", long]}})
    >>> kept.consent.share_with[1] == long
    True
    """
    try:
        return validate_kept(PersonPatch, body, body)
    except ValidationError as exc:
        raise ValidationFailed(
            [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        ) from exc


class ConflictReview:
    """The review queue of a site's conflicts, and the decisions on them."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.db = services.db
        self.vault = services.vault
        self.clock = services.clock

    @classmethod
    def of(cls, services: Services) -> ConflictReview:
        return cls(services)

    # -- counts (no person) --------------------------------------------------------------

    def duplicates_to_merge(self, scope: Sites = None) -> int:
        """The open duplicate pairs (issue 15's queue) whose two persons are both in
        ``scope``: a count, no person, for the ``/sync`` page."""
        visible = select(persons.c.id).where(queries.person_scope(scope))
        query = (
            select(func.count())
            .select_from(duplicate_pairs)
            .where(
                duplicate_pairs.c.status == "proposed",
                duplicate_pairs.c.person_a.in_(visible),
                duplicate_pairs.c.person_b.in_(visible),
            )
        )
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def unsent(self) -> int | None:
        """At a node: the changes made here its central has not acknowledged (what the
        ``/sync`` page counts as "to send"); None on a central or a standalone
        installation. One query on the changes' (origin, number) index."""
        return self.outbox()[0]

    def outbox(self) -> tuple[int | None, datetime | None]:
        """What ``unsent`` counts, and at a node its central refused as revoked, when it
        last did (the changes are kept; ``corridor/sync/revocation.py``), else None. The
        same one query."""
        me = sync_nodes.alias("me")
        acked = (
            select(func.coalesce(func.max(sync_acks.c.seq), 0))
            .select_from(sync_acks.join(sync_nodes, sync_nodes.c.id == sync_acks.c.peer_node))
            .where(
                sync_nodes.c.role == "central",
                sync_nodes.c.is_self.is_(False),
                sync_acks.c.origin_node == me.c.id,
            )
            .scalar_subquery()
        )
        count = (
            select(func.count())
            .select_from(sync_changes)
            .where(sync_changes.c.origin_node == me.c.id, sync_changes.c.seq > acked)
            .scalar_subquery()
        )
        query = select(me.c.role, count, me.c.revoked_at).where(me.c.is_self.is_(True))
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None or row[0] != "node":
            return None, None
        return int(row[1]), row[2]

    # -- the queue (raw: shown only through the gate) -----------------------------------

    def queue(self, scope: Sites = None, paging: Paging | None = None) -> list[dict[str, Any]]:
        """The open conflicts of ``scope``'s sites, oldest first; ``paging``: one page of
        them (``total`` counts them all)."""
        return self._load(scope, paging=paging)

    def total(self, scope: Sites = None) -> int:
        """How many open conflicts ``scope``'s sites hold (the queue's pages together)."""
        with self.db.read() as conn:
            query = self._open(scope).with_only_columns(func.count()).order_by(None)
            return int(conn.execute(query).scalar_one())

    def _open(self, scope: Sites) -> Any:
        query = (
            select(sync_changes)
            .where(sync_changes.c.state == "conflict", sync_changes.c.resolved_at.is_(None))
            # An erasure against a legal hold is the data protection officer's (holds.py).
            .where(func.coalesce(sync_changes.c.conflict_fields, "") != HOLD_FIELD)
            .order_by(sync_changes.c.received_at, sync_changes.c.id)
        )
        if scope is not None:
            query = query.where(sync_changes.c.site_id.in_(sorted(scope)))
        return query

    def find(self, conflict_id: str, person_id: str, scope: Sites = None) -> dict[str, Any]:
        """One open conflict of this person (NotFound otherwise, or out of scope)."""
        found = self._load(scope, conflict_id=conflict_id, person_id=person_id)
        if not found:
            raise NotFound("conflict", field="conflict_id")
        return found[0]

    def decision(
        self, conflict_id: str, person_id: str, scope: Sites = None
    ) -> dict[str, Any] | None:
        """How a conflict of this person in ``scope`` was decided, here or elsewhere (a
        decision received by sync settles it too): who (their username where they are a
        user here), when, and per field "ours" or "theirs" (empty where it was settled
        by a decision made elsewhere: ``settled_by`` names that change). None while it
        is open, or where there is no such conflict in scope. No person is read."""
        query = (
            select(
                sync_changes.c.resolved_by,
                sync_changes.c.resolved_at,
                sync_changes.c.resolution,
                users.c.username,
            )
            .select_from(
                sync_changes.outerjoin(users, users.c.id == sync_changes.c.resolved_by)
            )
            .where(
                sync_changes.c.id == conflict_id,
                sync_changes.c.person_id == person_id,
                sync_changes.c.state == "conflict",
                sync_changes.c.resolved_at.is_not(None),
            )
        )
        if scope is not None:
            query = query.where(sync_changes.c.site_id.in_(sorted(scope)))
        with self.db.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        try:
            resolution = json.loads(row["resolution"] or "{}")
        except ValueError:
            resolution = {}
        fields = resolution.get("fields") if isinstance(resolution, dict) else None
        return {
            "conflict_id": conflict_id,
            "person_id": person_id,
            "resolved_by": row["username"] or row["resolved_by"],
            "resolved_at": row["resolved_at"],
            "fields": {str(k): str(v) for k, v in (fields or {}).items()},
            "settled_by": resolution.get("settled_by") if isinstance(resolution, dict) else None,
        }

    def _load(
        self,
        scope: Sites,
        conflict_id: str | None = None,
        person_id: str | None = None,
        paging: Paging | None = None,
    ) -> list[dict[str, Any]]:
        query = self._open(scope)
        if paging is not None:
            query = query.limit(paging.limit).offset(paging.offset)
        if conflict_id is not None:
            query = query.where(
                sync_changes.c.id == conflict_id, sync_changes.c.person_id == person_id
            )
        today = self.clock().date()
        out = []
        with self.db.read() as conn:
            rows = list(conn.execute(query).mappings())
            if not rows:
                return []
            pids = sorted({str(r["person_id"]) for r in rows})
            present = {
                r["id"]: r
                for r in conn.execute(
                    select(persons).where(persons.c.id.in_(pids), queries.person_scope(scope))
                ).mappings()
            }
            ours_people = {
                p["id"]: p
                for p in self.vault.reveal_all(
                    queries.persons_out(conn, list(present.values()), today), conn
                )
            }
            heads = heads_of(conn, pids)
            # Ours: the head the conflict was applied against (noted then), else today's.
            ours_ids = {
                r["id"]: decisions.ours_of(r["resolution"]) or heads.get(str(r["person_id"]), "")
                for r in rows
            }
            head_rows = {
                r["id"]: r
                for r in conn.execute(
                    select(sync_changes).where(
                        sync_changes.c.id.in_(sorted(set(ours_ids.values())))
                    )
                ).mappings()
            }
            site_names = dict(conn.execute(select(sites.c.id, sites.c.name)).all())
            names = self._usernames(conn, rows, head_rows.values())
            for row in rows:
                pid = str(row["person_id"])
                if pid not in ours_people:
                    continue  # merged away since, or out of scope: not shown here
                theirs = self._theirs(conn, row, today)
                if theirs is None:
                    continue  # its site's key is destroyed: nothing can be shown or decided
                ours = ours_people[pid]
                head = head_rows.get(ours_ids[row["id"]])
                fields = [f for f in (row["conflict_fields"] or "").split(",") if f]
                moves = self._movements(conn, row) if MOVEMENTS in fields else None
                out.append(
                    {
                        "id": row["id"],
                        "person_id": pid,
                        "registration_number": ours["registration_number"],
                        "name": ours["name"],
                        "ages": [ours.get("age"), theirs.get("age")],
                        "values": [
                            moves
                            if f == MOVEMENTS and moves is not None
                            else {
                                "field": Text(f),
                                "restricted": restricted_fields(f),
                                "ours": _plain(value_of(ours, f)),
                                "theirs": _plain(value_of(theirs, f)),
                                # Whose field group each side's note is (the gate's).
                                "note_roles": _note_roles(f, ours, theirs),
                            }
                            for f in fields
                        ],
                        "site_id": row["site_id"],
                        "site_name": site_names.get(row["site_id"]),
                        "fields": fields,
                        "ours_change": ours_ids[row["id"]] or None,
                        "ours": {
                            "person": ours,
                            "change": _change_of(head, names, site_names),
                        },
                        "theirs": {
                            "person": theirs,
                            "change": _change_of(row, names, site_names),
                        },
                    }
                )
        return out

    def _movements(self, conn: Connection, row: Any) -> dict[str, Any]:
        """The ``movements`` of a conflict: ours, the history held here, kept; theirs,
        why their movements would make it impossible (corridor/sync/histories.py).
        Shown only to roles that see detention sites where either side holds one."""
        state = open_payload(self.vault, row["site_id"], row["payload"]) or {"movements": []}
        state = histories.without_left_out(conn, str(row["person_id"]), state)
        target = queries.survivors(conn, [str(row["person_id"])])[0]
        why = histories.impossible(conn, target, state) or ahead.ahead(
            conn, target, state, row["recorded_at"], self.clock(), self.s.sync_window
        ) or behind.behind(conn, target, state, self.clock())
        return {
            "field": MOVEMENTS,
            "restricted": DETENTION_FIELDS
            if histories.involves_detention(conn, target, state)
            else frozenset(),
            "ours": N_("the movement history held here (kept so far)"),
            "theirs": why
            or N_("their movements, which no longer make the history impossible here"),
            "note_roles": [],
        }

    def _theirs(self, conn: Connection, row: Any, today: Any) -> dict[str, Any] | None:
        try:
            state = open_payload(self.vault, row["site_id"], row["payload"])
        except ValueError:  # a payload format newer than this installation
            return None
        if state is None:
            return None
        person = decode_row(persons, state["person"])
        docs = [
            {"type": d["doc_type"], "number": d["number"], "issuing_country": d["issuing_country"]}
            for d in state["documents"]
        ]
        shaped = queries.person_from(person, docs, today)
        return self.vault.reveal(shaped, conn)

    def _usernames(self, conn: Connection, *groups: Any) -> dict[str, str]:
        ids = sorted({str(r["user_id"]) for g in groups for r in g if r["user_id"]})
        if not ids:
            return {}
        return dict(
            conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(ids))).all()
        )

    # -- the decision ----------------------------------------------------------------------

    def resolve(
        self,
        person_id: str,
        conflict_id: str,
        theirs: list[str],
        *,
        by: str,
        audit: AuditHook,
        scope: Sites = None,
        check_fields: Callable[
            [frozenset[str], list[str | None]], Callable[[dict[str, Any]], None]
        ]
        | None = None,
    ) -> dict[str, Any]:
        """Decide a conflict: the fields in ``theirs`` take the other side's value, the
        others keep ours. One correction of the person (audited by ``audit``, journaled,
        made on the conflicting change), and the conflict marked resolved, in one
        transaction. ``check_fields(names)``: the gate's check that the caller may see
        (and so decide) the restricted fields the conflict holds. NotFound: no open
        conflict of this person in scope; Conflict: decided meanwhile."""
        found = self.find(conflict_id, person_id, scope)
        fields = found["fields"]
        unknown = sorted(set(theirs) - set(fields))
        if unknown:
            raise ValidationFailed(
                [Problem("theirs", N_("not a field of this conflict")) for _ in unknown]
            )
        patch = as_kept(patch_of(found["theirs"]["person"], [f for f in theirs if f != MOVEMENTS]))
        # The movements' restriction is the conflict's own (a detention in either history).
        needed = frozenset().union(*(v["restricted"] for v in found["values"]))
        note_roles = [r for v in found["values"] for r in v["note_roles"]]
        check = check_fields(needed, note_roles) if check_fields is not None else None
        self.vault.prepare(found["site_id"])
        now = self.clock()
        resolution = {
            "fields": {f: ("theirs" if f in theirs else "ours") for f in fields},
        }
        with self.db.transaction() as conn:
            decisions.mark_decided(conn, conflict_id, by, now, resolution)
            person = self.s.registration.update_person(
                person_id,
                patch,
                audit=audit,
                scope=scope,
                check=check,
                conn=conn,
                # Their note taken: whose group it is comes with it, not the decider's.
                note_roles=found["theirs"]["person"].get("note_roles"),
            )
            left_out: list[str] = []
            if MOVEMENTS in fields:  # their movements landed (theirs) or corrected back
                left_out = self._decide_movements(
                    conn, person_id, conflict_id, MOVEMENTS in theirs, by
                )
            # The decision is made on the other side's change: at the other side it
            # follows on from (or merges with) their own and carries the value kept.
            set_heads(conn, {person_id: conflict_id})
            # Every copy of this conflict (at a third origin too) is settled by it.
            changes.annotate(
                conn,
                person_id,
                decisions.mark(
                    conflict_id, found["ours_change"], resolution["fields"], left_out
                ),
            )
        self.s.registration.notify([person_id])
        return {
            "id": conflict_id,
            "person_id": person_id,
            "resolved_by": by,
            "resolved_at": now,
            "fields": resolution["fields"],
            "person": person,
        }


    def _decide_movements(
        self, conn: Connection, person_id: str, conflict_id: str, take: bool, by: str
    ) -> list[str]:
        """The movements a conflict held: landed (``take``; Conflict while they would
        still make the history impossible) or landed and corrected back by ``by``, with
        the check-ins held with them; then the location, the manifests and the places
        on trucks follow the log, and the
        other open conflicts of the person on their movements alone whose movements are
        all held now are settled by this decision. The events left out (not landed)."""
        row = conn.execute(select(sync_changes).where(sync_changes.c.id == conflict_id)).one()
        state = open_payload(self.vault, row.site_id, row.payload)
        if state is None:
            raise NotFound("conflict", field="conflict_id")
        state = histories.without_left_out(conn, person_id, state)
        target = queries.survivors(conn, [person_id])[0]
        left_out: list[str] = []
        if take:
            histories.land(conn, target, state)
        else:
            _, left_out = histories.keep_ours(conn, target, state, by=by, now=self.clock())
            if left_out:  # kept in the change, and named in its resolution
                conn.execute(
                    update(sync_changes)
                    .where(sync_changes.c.id == conflict_id)
                    .values(
                        resolution=json.dumps(
                            {**json.loads(row.resolution or "{}"), histories.NOT_LANDED: left_out}
                        )
                    )
                )
        # The check-ins held with their arrivals follow them (corridor/sync/facts.py).
        facts.apply_items(conn, state, histories.absent(conn, state))
        others = conn.execute(
            select(sync_changes).where(
                sync_changes.c.person_id == person_id,
                sync_changes.c.state == "conflict",
                sync_changes.c.resolved_at.is_(None),
                sync_changes.c.conflict_fields == MOVEMENTS,
            )
        ).mappings()
        for other in list(others):
            held = open_payload(self.vault, other["site_id"], other["payload"])
            if held is not None:
                held = histories.without_left_out(conn, person_id, held)
            if held is not None and histories.all_held(conn, target, held):
                facts.apply_items(conn, held, set())
                decisions.mark_decided(
                    conn, other["id"], by, self.clock(), {"settled_by_decision": conflict_id}
                )
        locations.refresh(conn, [target])
        facts.follow_voids(conn, [target])
        return left_out


def settle(conn: Connection, person_id: str, change: Any) -> None:
    """A change that follows on from our head (made on it) settles this person's open
    conflicts from the same origin numbered before it: that origin held them and our
    head when it made this change, so its state is the decision (a resolution there, or
    a merge) and is applied here whole. Called by ``SyncService._apply``."""
    conn.execute(
        update(sync_changes)
        .where(
            sync_changes.c.person_id == person_id,
            sync_changes.c.origin_node == change["origin_node"],
            sync_changes.c.seq < change["seq"],
            sync_changes.c.state == "conflict",
            sync_changes.c.resolved_at.is_(None),
        )
        .values(
            resolved_by=(change["user_id"] or change["origin_node"])[:64],
            resolved_at=change["recorded_at"],
            resolution=json.dumps({"settled_by": change["id"]}),
        )
    )


def _plain(value: Any) -> Any:
    """A value as JSON shows it (dates as text)."""
    return json.loads(json.dumps(value, default=str))


def _change_of(
    row: Any, names: dict[str, str], site_names: dict[str, str]
) -> dict[str, Any] | None:
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
