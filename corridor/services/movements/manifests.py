"""Transport manifests: create, fill, dispatch, check arrivals in, receive."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from corridor.domain.ids import (
    InvalidRegistrationNumber,
    format_registration_number,
    normalise_registration_number,
    uuid7,
)
from corridor.domain.movements import AT_SITE_STATES
from corridor.domain.paging import ALL, Page, Paging
from corridor.errors import Conflict, NotFound, Problem, ValidationFailed, require
from corridor.schemas import (
    CheckInIn,
    DispatchIn,
    HouseholdCheckInIn,
    ManifestIn,
    ManifestPersonsIn,
    ReceiveIn,
)
from corridor.security.crypto import is_token
from corridor.security.errors import KeyUnavailable
from corridor.services.base import AuditHook, Service, live_id, live_ids
from corridor.services.movements.events import (
    NOT_ON_MANIFEST_NOTE,
    insert_event,
    insert_events,
    iso_time,
    not_before_last,
    reference_clock,
)
from corridor.services.registration.sites import unknown_site_problems
from corridor.storage import changes, locations, outbox, queries
from corridor.storage import paging as paged
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    person_locations,
    persons,
)
from corridor.text import N_, Listing, text_of

if TYPE_CHECKING:
    from corridor.services.protection.field_vault import FieldVault

# The vault's field name of a separation reason (``field_vault.SEPARATION_FIELD``).
SEPARATION_FIELD = "manifest.separation_reason"

# The note of the movement of a person checked in after the arrival was closed.
LATE_ARRIVAL_NOTE = "late arrival: checked in after the arrival was closed"


class ManifestService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        travel_hours: float = 12.0,
        vault: FieldVault | None = None,
    ) -> None:
        """``travel_hours``: the policy's default time from dispatch to the expected
        arrival (settings.travel_hours); ``vault``: seals and opens the separation
        reasons."""
        super().__init__(db, clock)
        self.travel_hours = travel_hours
        self.vault = vault

    def create(
        self,
        data: ManifestIn,
        created_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """A draft manifest from a site in ``scope`` to any site (audited without a person:
        nobody is on it yet)."""
        problems = []
        if data.from_site_id == data.to_site_id:
            problems.append(Problem("to_site_id", N_("must differ from the site it leaves from")))
        row = {
            "id": uuid7(),
            "vehicle": data.vehicle,
            "from_site_id": data.from_site_id,
            "to_site_id": data.to_site_id,
            "planned_departure": data.planned_departure,
            "status": "draft",
            "dispatched_at": None,
            "received_at": None,
            "created_by": created_by,
            "created_at": self.clock(),
        }
        with self.db.transaction() as conn:
            problems += unknown_site_problems(conn, [(data.from_site_id, "from_site_id")], scope)
            problems += unknown_site_problems(
                conn, [(data.to_site_id, "to_site_id")], open_only=True
            )
            require(problems)
            conn.execute(insert(manifests), [row])
            audit(conn, [])
            return self._out(conn, str(row["id"]))

    def add_persons(
        self, manifest_id: str, data: ManifestPersonsIn, scope: Sites = None, *, audit: AuditHook
    ) -> dict[str, Any]:
        """Put persons on a draft manifest; each must be at its origin and on no open one."""
        return self.add_groups(manifest_id, [data], scope, audit=audit)

    def add_groups(
        self,
        manifest_id: str,
        groups: list[ManifestPersonsIn],
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Several groups (households, with their own separation reasons) in one go."""
        now = self.clock()
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id, scope, "from", lock=True)
            if m["status"] != "draft":
                raise Conflict(
                    N_(
                        "the manifest is {status}; persons can be added to a draft only",
                        status=m["status"],
                    ),
                    field="person_ids",
                )
            problems: list[Problem] = []
            refused: list[str] = []
            # A merged id names its survivor (issue 15): the survivor goes on the truck.
            groups = [
                g.model_copy(update={"person_ids": live_ids(conn, g.person_ids)}) for g in groups
            ]
            ids = list(dict.fromkeys(pid for g in groups for pid in g.person_ids))
            # Only persons the caller may see: one of another site is "not found", as one
            # who does not exist (no existence oracle), and audited as a denial.
            reachable = set(
                conn.execute(
                    select(persons.c.id).where(persons.c.id.in_(ids), queries.person_scope(scope))
                ).scalars()
            )
            locs = {pid: loc for pid, loc in _locations(conn, ids).items() if pid in reachable}
            open_items = dict(
                conn.execute(
                    select(manifest_items.c.person_id, manifest_items.c.manifest_id).where(
                        manifest_items.c.person_id.in_(ids), manifest_items.c.open_slot == 1
                    )
                ).all()
            )
            rows = []
            seen: set[str] = set()
            for g_index, g in enumerate(groups):
                for i, pid in enumerate(g.person_ids):
                    field = (
                        f"person_ids[{i}]" if len(groups) == 1 else f"[{g_index}].person_ids[{i}]"
                    )
                    if pid in seen:
                        problems.append(Problem(field, N_("the person is listed twice")))
                        continue
                    seen.add(pid)
                    if pid not in locs:
                        problems.append(Problem(field, N_("person not found")))
                        refused.append(pid)
                    elif pid in open_items:
                        on = (
                            N_("the person is already on this manifest")
                            if open_items[pid] == manifest_id
                            else N_(
                                "the person is already on open manifest {manifest}",
                                manifest=open_items[pid],
                            )
                        )
                        problems.append(Problem(field, on))
                    elif (
                        locs[pid]["site_id"] != m["from_site_id"]
                        or locs[pid]["state"] not in AT_SITE_STATES
                    ):
                        problems.append(
                            Problem(field, N_("the person is not at the manifest's origin site"))
                        )
                    rows.append(
                        {
                            "manifest_id": manifest_id,
                            "person_id": pid,
                            "open_slot": 1,
                            "separation_reason": g.separation_reason,
                            "added_at": now,
                        }
                    )
            require(problems, refused)
            self._seal_reasons(conn, rows)
            try:
                with conn.begin_nested():
                    conn.execute(insert(manifest_items), rows)
            except IntegrityError as exc:
                raise Conflict(
                    N_("a person was put on another open manifest at the same moment"),
                    field="person_ids",
                ) from exc
            audit(conn, ids)
            return self._out(conn, manifest_id)

    def _seal_reasons(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Each separation reason sealed under its person's registering site's key (at a
        site node, for a traveller of another site, the node's own site's:
        ``FieldVault.note_site``), in the write's transaction."""
        given = [r for r in rows if r["separation_reason"] is not None]
        if not given:
            return
        if self.vault is None:
            raise KeyUnavailable(N_("No master key is configured: notes cannot be stored"))
        site_of = dict(
            conn.execute(
                select(persons.c.id, persons.c.site_id).where(
                    persons.c.id.in_(sorted({r["person_id"] for r in given}))
                )
            ).all()
        )
        sealers: dict[str, Callable[[str, str], str]] = {}
        for r in given:
            site_id = str(site_of[r["person_id"]])
            if site_id not in sealers:
                sealers[site_id] = self.vault.note_sealer_in(conn, site_id)
            r["separation_reason"] = sealers[site_id](SEPARATION_FIELD, r["separation_reason"])
        self.vault.require_live(conn, [r["separation_reason"] for r in given])

    def remove_person(
        self, manifest_id: str, person_id: str, scope: Sites = None, *, audit: AuditHook
    ) -> dict[str, Any]:
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id, scope, "from", lock=True)
            if m["status"] != "draft":
                raise Conflict(
                    N_("persons can be removed from a draft manifest only"), field="person_id"
                )
            person_id = live_id(conn, person_id)  # a merged id: its survivor (issue 15)
            result = conn.execute(
                manifest_items.delete().where(
                    manifest_items.c.manifest_id == manifest_id,
                    manifest_items.c.person_id == person_id,
                )
            )
            if result.rowcount == 0:
                raise NotFound("person on this manifest", field="person_id")
            audit(conn, [person_id])
            return self._out(conn, manifest_id)

    def dispatch(
        self,
        manifest_id: str,
        data: DispatchIn,
        recorded_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """The truck leaves: everyone on it is in transit. Households stay together
        unless the officer recorded why not."""
        now = self.clock()
        at = data.departed_at or now
        with self.db.transaction() as conn:
            # The manifest's row lock: of officers dispatching it at once, one dispatches
            # and the others, waiting on the lock, then read it dispatched (409).
            m = _manifest(conn, manifest_id, scope, "from", lock=True)
            if m["status"] != "draft":
                raise Conflict(
                    N_("the manifest was {status} already", status=m["status"]), field="status"
                )
            if at > now:
                raise ValidationFailed([Problem("departed_at", N_("is in the future"))])
            if data.expected_arrival and data.travel_hours:
                raise ValidationFailed(
                    [Problem("travel_hours", N_("give expected_arrival or travel_hours, not both"))]
                )
            hours = data.travel_hours or self.travel_hours
            expected = data.expected_arrival or at + timedelta(hours=hours)
            if expected <= at:
                raise ValidationFailed(
                    [Problem("expected_arrival", N_("must be after the departure"))]
                )
            items = (
                conn.execute(
                    select(manifest_items)
                    .where(manifest_items.c.manifest_id == manifest_id)
                    .order_by(manifest_items.c.id)
                )
                .mappings()
                .all()
            )
            if not items:
                raise ValidationFailed(
                    [Problem("person_ids", N_("an empty manifest cannot be dispatched"))]
                )
            # The persons' row locks before their state is checked: an event recorded on
            # one of them at the same moment (a hospital admission, a death) is seen, or
            # waits and then finds them in transit (tests/api/test_races_every_pair.py).
            on_board = locations.lock_persons(conn, [i["person_id"] for i in items])
            problems, named = self._dispatch_problems(conn, m, items, scope)
            problems += _not_before_last(conn, "departed_at", at, now, on_board)
            if problems:
                raise ValidationFailed(problems, shown=named)
            insert_events(
                conn,
                _trip_events(
                    m, "dispatched", [i["person_id"] for i in items], at, now, recorded_by
                ),
            )
            locations.refresh(conn, [i["person_id"] for i in items])
            _set_status(
                conn,
                manifest_id,
                "draft",
                status="dispatched",
                dispatched_at=at,
                expected_arrival=expected,
            )
            audit(conn, [i["person_id"] for i in items])
            return self._out(conn, manifest_id)

    def check_in(
        self,
        manifest_id: str,
        data: CheckInIn,
        recorded_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Tick a person off at the receiving site. Twice is harmless: one movement only.
        Someone not on the manifest is recorded as a discrepancy, not refused: the person
        found by wristband number may come from any site (they are standing there)."""
        now = self.clock()
        at = data.arrived_at or now
        if at > now:
            raise ValidationFailed([Problem("arrived_at", N_("is in the future"))])
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id, scope, "to")
            if m["status"] == "draft":
                raise Conflict(N_("the manifest has not been dispatched"), field="status")
            person_id = live_id(conn, _resolve_person(conn, data))  # a merged id: its survivor
            field = "person_id" if data.person_id else "registration_number"
            [result] = self._check_in(
                conn, m, [person_id], at, now, recorded_by, fields={person_id: field}
            )
            outbox.record(conn, _arrived([result]), "arrival", now)
            audit(conn, [person_id])
        self.notify(_arrived([result]))
        return result

    def check_in_many(
        self,
        manifest_id: str,
        person_ids: list[str],
        arrived_at: datetime | None = None,
        recorded_by: str | None = None,
        *,
        audit: AuditHook,
    ) -> list[dict[str, Any]]:
        """Tick off a whole truck in one transaction (the same rules as one by one)."""
        now = self.clock()
        at = arrived_at or now
        if at > now:
            raise ValidationFailed([Problem("arrived_at", N_("is in the future"))])
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id)
            if m["status"] == "draft":
                raise Conflict(N_("the manifest has not been dispatched"), field="status")
            person_ids = live_ids(conn, person_ids)  # a merged id: its survivor (issue 15)
            found = set(
                conn.execute(select(persons.c.id).where(persons.c.id.in_(person_ids))).scalars()
            )
            require(
                [
                    Problem(f"person_ids[{i}]", N_("person not found"))
                    for i, pid in enumerate(person_ids)
                    if pid not in found
                ]
            )
            fields = {pid: f"person_ids[{i}]" for i, pid in reversed(list(enumerate(person_ids)))}
            results = self._check_in(
                conn, m, list(dict.fromkeys(person_ids)), at, now, recorded_by, fields=fields
            )
            outbox.record(conn, _arrived(results), "arrival", now)
            audit(conn, person_ids)
        self.notify(_arrived(results))
        return results

    def check_in_household(
        self,
        manifest_id: str,
        data: HouseholdCheckInIn,
        recorded_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Check in every member of a household who is on the manifest, at once: all or
        nothing, one audit event per person, one movement each. Sent again, the members
        already ticked off are ``already_checked_in`` (no second movement)."""
        now = self.clock()
        at = data.arrived_at or now
        if at > now:
            raise ValidationFailed([Problem("arrived_at", N_("is in the future"))])
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id, scope, "to", lock=True)
            if m["status"] == "draft":
                raise Conflict(N_("the manifest has not been dispatched"), field="status")
            members = list(
                conn.execute(
                    select(manifest_items.c.person_id)
                    .join(persons, persons.c.id == manifest_items.c.person_id)
                    .where(
                        manifest_items.c.manifest_id == manifest_id,
                        persons.c.household_id == data.household_id,
                    )
                    .order_by(manifest_items.c.id)
                ).scalars()
            )
            if not members:
                raise ValidationFailed(
                    [Problem("household_id", N_("nobody of this household is on the manifest"))]
                )
            # A member recorded as deceased (found dead on the way) does not arrive: the
            # others are checked in; only the dead: 409 below, naming the household.
            dead = _dead_unticked(conn, manifest_id, members)
            living = [pid for pid in members if pid not in dead] or members
            results = self._check_in(
                conn, m, living, at, now, recorded_by, fields=dict.fromkeys(living, "household_id")
            )
            outbox.record(conn, _arrived(results), "arrival", now)
            audit(conn, members)
        self.notify(_arrived(results))
        return {"manifest_id": manifest_id, "household_id": data.household_id, "results": results}

    def _check_in(
        self,
        conn: Connection,
        m: Any,
        person_ids: list[str],
        at: datetime,
        now: datetime,
        recorded_by: str | None,
        fields: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        manifest_id = m["id"]
        _refuse_the_dead(conn, manifest_id, person_ids, fields or {})
        if m["dispatched_at"] is not None and at < m["dispatched_at"]:
            raise ValidationFailed(
                [
                    Problem(
                        "arrived_at",
                        N_("is before the departure ({at})", at=iso_time(m["dispatched_at"])),
                    )
                ]
            )
        # Lock the items first: of two officers ticking the same person at once, the second
        # waits for the first (its row lock on PostgreSQL, the single writer on SQLite) and
        # then sees the person ticked, so one movement is written, never two.
        items = {
            r["person_id"]: r
            for r in conn.execute(
                select(manifest_items)
                .where(
                    manifest_items.c.manifest_id == manifest_id,
                    manifest_items.c.person_id.in_(person_ids),
                )
                .with_for_update()
            ).mappings()
        }
        results: dict[str, dict[str, Any]] = {}
        to_tick = [
            pid for pid in person_ids if pid in items and items[pid]["checked_in_at"] is None
        ]
        # On the list but no longer on this vehicle (their list line says "elsewhere"):
        # checked in off another truck's manifest, found in a hospital or detained while
        # it was due, their departure voided. They arrive here from where they were last,
        # as someone not on the manifest. Before, the tick wrote an arrival from this
        # manifest's origin after their arrival elsewhere: a history they never had.
        if to_tick:
            aboard = set(
                conn.execute(
                    select(person_locations.c.person_id).where(
                        person_locations.c.person_id.in_(to_tick),
                        person_locations.c.state == "in_transit",
                        person_locations.c.manifest_id == manifest_id,
                    )
                ).scalars()
            )
            to_tick = [pid for pid in to_tick if pid in aboard]
        off_this_vehicle = [
            pid
            for pid in person_ids
            if pid not in items or (items[pid]["checked_in_at"] is None and pid not in to_tick)
        ]
        for pid in person_ids:
            if pid in items and pid not in to_tick:
                results[pid] = {
                    "person_id": pid,
                    "status": "already_checked_in",
                    "movement_id": items[pid]["arrival_movement_id"],
                    "late_arrival": bool(items[pid]["late_arrival"]),
                }
        # Checked in after the arrival was closed: a late arrival, said so on the manifest
        # and in the movement log (the movement is still the arrival, at its time).
        late = m["status"] == "received"
        if to_tick:
            events = _trip_events(m, "arrived", to_tick, at, now, recorded_by)
            if late:
                for event in events:
                    event["note"] = LATE_ARRIVAL_NOTE
            new_ids = insert_events(conn, events)
            event_ids = dict(zip(to_tick, new_ids, strict=True))
            conn.execute(
                update(manifest_items)
                .where(manifest_items.c.id == bindparam("item_id"))
                .values(
                    checked_in_at=at,
                    checked_in_by=recorded_by,
                    open_slot=None,
                    arrival_movement_id=bindparam("event_id"),
                    late_arrival=1 if late else None,
                ),
                [{"item_id": items[pid]["id"], "event_id": event_ids[pid]} for pid in to_tick],
            )
            locations.refresh(conn, to_tick)
            for pid in to_tick:
                results[pid] = {
                    "person_id": pid,
                    "status": "checked_in",
                    "movement_id": event_ids[pid],
                    "late_arrival": late,
                }
        # Someone off the manifest arrives from wherever they were last: not before that.
        require(_not_before_last(conn, "arrived_at", at, now, off_this_vehicle))
        for pid in off_this_vehicle:
            results[pid] = self._discrepancy(conn, m, pid, at, now, recorded_by)
        return [results[pid] for pid in person_ids]

    def receive(
        self, manifest_id: str, data: ReceiveIn, scope: Sites = None, *, audit: AuditHook
    ) -> dict[str, Any]:
        """Close the arrival; whoever was not checked in stays unaccounted for (the persons
        the receipt concerns, for the audit log; none: one event without a person)."""
        now = self.clock()
        with self.db.transaction() as conn:
            m = _manifest(conn, manifest_id, scope, "to", lock=True)
            if m["status"] == "received":
                raise Conflict(N_("the manifest was received already"), field="status")
            if m["status"] != "dispatched":
                raise Conflict(N_("the manifest has not been dispatched"), field="status")
            received_at = data.received_at or now
            if received_at > now:
                raise ValidationFailed([Problem("received_at", N_("is in the future"))])
            if m["dispatched_at"] is not None and received_at < m["dispatched_at"]:
                raise ValidationFailed(
                    [
                        Problem(
                            "received_at",
                            N_("is before the departure ({at})", at=iso_time(m["dispatched_at"])),
                        )
                    ]
                )
            _set_status(
                conn,
                manifest_id,
                "dispatched",
                status="received",
                received_at=received_at,
            )
            missing = [
                str(pid)
                for pid in conn.execute(
                    select(manifest_items.c.person_id).where(
                        manifest_items.c.manifest_id == manifest_id,
                        manifest_items.c.checked_in_at.is_(None),
                    )
                ).scalars()
            ]
            if not missing:  # the status travels with the persons on it (issue 16)
                changes.carry(conn, _on_board(conn, manifest_id))
            audit(conn, missing)
            return self._out(conn, manifest_id)

    def get(self, manifest_id: str, scope: Sites = None) -> dict[str, Any]:
        with self.db.read() as conn:
            _manifest(conn, manifest_id, scope)
            return self._out(conn, manifest_id)

    def find(
        self, site_id: str | None = None, status: str | None = None, scope: Sites = None
    ) -> list[dict[str, Any]]:
        """The first 500 manifests, newest first (``find_page`` pages through all)."""
        paging = Paging(limit=500)
        return self.find_page(site_id, status, scope=scope, paging=paging).items

    def find_page(
        self,
        site_id: str | None = None,
        status: str | None = None,
        *,
        scope: Sites = None,
        paging: Paging = ALL,
        since: date | None = None,
        until: date | None = None,
    ) -> Page[dict[str, Any]]:
        """One page of the manifests in scope (filtered, ordered and counted in the
        database); ``since``/``until``: created on or between those days (UTC)."""
        q = select(manifests).where(_manifest_scope(scope))
        if site_id:
            q = q.where((manifests.c.from_site_id == site_id) | (manifests.c.to_site_id == site_id))
        if status:
            q = q.where(manifests.c.status == status)
        if since:
            q = q.where(manifests.c.created_at >= _day_start(since))
        if until:
            q = q.where(manifests.c.created_at < _day_start(until + timedelta(days=1)))
        q = paged.ordered(q, paging, MANIFEST_ORDERS, "created", manifests.c.id, True)
        with self.db.read() as conn:
            total = paged.count(conn, q)
            rows = paged.page_rows(conn, q, paging)
        return Page([_manifest_head(r) for r in rows], total, paging.limit, paging.offset)

    def due(self, manifest_id: str) -> bool:
        """Whether the vehicle of ``manifest_id`` is due at its destination by now: a
        person still on the road on it is then unaccounted for (no such manifest:
        False). Not personal data: the gate asks it for a person it shows."""
        with self.db.read() as conn:
            expected = conn.execute(
                select(manifests.c.expected_arrival, manifests.c.status).where(
                    manifests.c.id == manifest_id
                )
            ).first()
        if expected is None or expected.status == "draft":
            return False
        return due(expected.expected_arrival, self.clock())

    def unaccounted(self, site_id: str | None = None, scope: Sites = None) -> list[dict[str, Any]]:
        """Everyone dispatched and not yet checked in anywhere, longest missing first:
        ``in_transit`` until the manifest's expected arrival, ``unaccounted`` after it."""
        return self.unaccounted_page(site_id, scope=scope).items

    def unaccounted_page(
        self,
        site_id: str | None = None,
        *,
        scope: Sites = None,
        paging: Paging = ALL,
        since: date | None = None,
        until: date | None = None,
    ) -> Page[dict[str, Any]]:
        """One page of everyone dispatched and not yet checked in anywhere (longest
        missing first unless ``paging`` orders otherwise); ``since``/``until``: departed
        on or between those days (UTC). Only the page's persons are read."""
        now = self.clock()
        q = (
            select(
                persons,
                person_locations.c.since,
                person_locations.c.manifest_id,
                manifests.c.from_site_id,
                manifests.c.to_site_id,
                manifests.c.vehicle,
                manifests.c.expected_arrival,
            )
            .join(person_locations, person_locations.c.person_id == persons.c.id)
            .join(manifests, manifests.c.id == person_locations.c.manifest_id)
            .where(person_locations.c.state == "in_transit", _manifest_scope(scope))
        )
        if site_id:
            q = q.where((manifests.c.from_site_id == site_id) | (manifests.c.to_site_id == site_id))
        if since:
            q = q.where(person_locations.c.since >= _day_start(since))
        if until:
            q = q.where(person_locations.c.since < _day_start(until + timedelta(days=1)))
        q = paged.ordered(q, paging, UNACCOUNTED_ORDERS, "departed", persons.c.id)
        with self.db.read() as conn:
            total = paged.count(conn, q)
            rows = paged.page_rows(conn, q, paging)
        out = [
            {
                "person": queries.person_summary(r, now.date()),
                "manifest_id": r["manifest_id"],
                "vehicle": r["vehicle"],
                "from_site_id": r["from_site_id"],
                "to_site_id": r["to_site_id"],
                "departed_at": r["since"],
                "hours_since_departure": round((now - r["since"]).total_seconds() / 3600, 1),
                "expected_arrival": r["expected_arrival"],
                "status": "unaccounted" if due(r["expected_arrival"], now) else "in_transit",
            }
            for r in rows
        ]
        return Page(out, total, paging.limit, paging.offset)

    # -- internals ----------------------------------------------------------------------

    def _dispatch_problems(
        self, conn: Connection, m: Any, items: Sequence[Any], scope: Sites = None
    ) -> tuple[list[Problem], list[str]]:
        """What stops the dispatch, and the persons it names (by name: audited as read)."""
        problems: list[Problem] = []
        named: set[str] = set()
        on_board = {i["person_id"] for i in items}
        rows = {
            r["id"]: r
            for r in conn.execute(
                select(persons.c.id, persons.c.household_id).where(persons.c.id.in_(on_board))
            ).mappings()
        }
        locs = _locations(conn, list(on_board))
        for n, item in enumerate(items):
            pid = item["person_id"]
            loc = locs.get(pid)
            if (
                loc is None
                or loc["site_id"] != m["from_site_id"]
                or loc["state"] not in AT_SITE_STATES
            ):
                problems.append(
                    Problem(
                        f"items[{n}].person_id",
                        N_("the person is no longer at the manifest's origin site"),
                    )
                )
        households = {r["household_id"] for r in rows.values() if r["household_id"]}
        if households:
            members = (
                conn.execute(
                    select(
                        persons.c.id,
                        persons.c.household_id,
                        person_locations.c.site_id,
                        person_locations.c.state,
                    )
                    .join(person_locations, person_locations.c.person_id == persons.c.id)
                    .where(persons.c.household_id.in_(households))
                )
                .mappings()
                .all()
            )
            left_behind: dict[str, list[str]] = {}
            for mem in members:
                if (
                    mem["id"] not in on_board
                    and mem["site_id"] == m["from_site_id"]
                    and mem["state"] in AT_SITE_STATES
                ):
                    left_behind.setdefault(mem["household_id"], []).append(mem["id"])
            names = _names(conn, [p for ids in left_behind.values() for p in ids], scope)
            for n, item in enumerate(items):
                hh = rows[item["person_id"]]["household_id"]
                if hh in left_behind and not item["separation_reason"]:
                    named.update(pid for pid in left_behind[hh] if pid in names)
                    problems.append(
                        Problem(
                            f"items[{n}].separation_reason",
                            N_(
                                "the person travels without household members {members}: "
                                "keep the household together or record why not",
                                members=_listing(left_behind[hh], names),
                            ),
                        )
                    )
        return problems, sorted(named)

    def _discrepancy(
        self,
        conn: Connection,
        m: Any,
        person_id: str,
        at: datetime,
        now: datetime,
        recorded_by: str | None,
    ) -> dict[str, Any]:
        loc = _locations(conn, [person_id]).get(person_id)
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(manifest_discrepancies),
                    [
                        {
                            "manifest_id": m["id"],
                            "person_id": person_id,
                            "kind": "not_on_manifest",
                            "note": f"was {loc['state'] if loc else 'unknown'} before arriving",
                            "recorded_at": now,
                            "recorded_by": recorded_by,
                        }
                    ],
                )
        except IntegrityError:
            return {
                "person_id": person_id,
                "status": "already_recorded_as_discrepancy",
                "movement_id": None,
            }
        event_id = insert_event(
            conn,
            person_id=person_id,
            kind="arrived",
            occurred_at=at,
            recorded_at=now,
            from_site_id=loc["site_id"] if loc else None,
            to_site_id=m["to_site_id"],
            manifest_id=m["id"],
            note=NOT_ON_MANIFEST_NOTE,
            recorded_by=recorded_by,
        )
        # Off the truck they were on (they came on this one): that manifest's slot is
        # free, so they can be put on the next (its list shows them "elsewhere"). A
        # draft's stays: its dispatch names them as no longer at its origin.
        conn.execute(
            update(manifest_items)
            .where(
                manifest_items.c.person_id == person_id,
                manifest_items.c.open_slot == 1,
                manifest_items.c.manifest_id.in_(
                    select(manifests.c.id).where(manifests.c.status != "draft")
                ),
            )
            .values(open_slot=None)
        )
        locations.refresh(conn, [person_id])
        return {"person_id": person_id, "status": "discrepancy_recorded", "movement_id": event_id}

    def _out(self, conn: Connection, manifest_id: str) -> dict[str, Any]:
        m = _manifest(conn, manifest_id)
        today = self.clock().date()
        items = (
            conn.execute(
                select(
                    persons,
                    manifest_items.c.separation_reason,
                    manifest_items.c.checked_in_at,
                    manifest_items.c.late_arrival,
                    person_locations.c.state,
                    person_locations.c.manifest_id.label("on_manifest"),
                )
                .join(persons, persons.c.id == manifest_items.c.person_id)
                .join(person_locations, person_locations.c.person_id == persons.c.id, isouter=True)
                .where(manifest_items.c.manifest_id == manifest_id)
                .order_by(manifest_items.c.id)
            )
            .mappings()
            .all()
        )
        disc = (
            conn.execute(
                select(
                    persons,
                    manifest_discrepancies.c.kind,
                    manifest_discrepancies.c.note,
                    manifest_discrepancies.c.recorded_at,
                )
                .join(persons, persons.c.id == manifest_discrepancies.c.person_id)
                .where(manifest_discrepancies.c.manifest_id == manifest_id)
                .order_by(manifest_discrepancies.c.id)
            )
            .mappings()
            .all()
        )
        out = _manifest_head(m)
        overdue = due(m["expected_arrival"], self.clock())
        out["overdue"] = m["status"] != "draft" and overdue
        out["persons"] = []
        reasons = self._open_reasons(conn, items)
        gone = _anonymised(conn, [str(r["id"]) for r in items if r["anonymised_at"] is not None])
        for r in items:
            status = passenger_status(m, r, overdue)
            reason = reasons.get(r["id"], r["separation_reason"])
            out["persons"].append(
                {
                    **queries.person_summary(r, today),
                    "household_id": r["household_id"],
                    "separation_reason": reason,
                    "separation_reason_unavailable": (
                        r["separation_reason"] is not None and reason is None
                    ),
                    "checked_in_at": r["checked_in_at"],
                    "late_arrival": bool(r["late_arrival"]),
                    "status": status,
                    "unaccounted": status == "unaccounted",
                    # Anonymised: their line stays, nameless, and says why (a manifest
                    # whose passengers were all erased is not "nobody on it").
                    "erased": gone.get(str(r["id"])) == "erased",
                    "left": gone.get(str(r["id"])) == "left",
                }
            )
        out["discrepancies"] = [
            {
                "person": queries.person_summary(r, today),
                "kind": r["kind"],
                "note": r["note"],
                "recorded_at": r["recorded_at"],
            }
            for r in disc
        ]
        out["counts"] = {
            "on_manifest": len(items),
            "checked_in": sum(1 for r in items if r["checked_in_at"] is not None),
            "in_transit": sum(1 for p in out["persons"] if p["status"] == "in_transit"),
            "unaccounted": sum(1 for p in out["persons"] if p["unaccounted"]),
            "late_arrivals": sum(1 for p in out["persons"] if p["late_arrival"]),
            "discrepancies": len(disc),
            "erased": sum(1 for p in out["persons"] if p["erased"]),
        }
        return out


    def _open_reasons(self, conn: Connection, items: Sequence[Any]) -> dict[str, str | None]:
        """Person id -> their separation reason opened (None where its key is not
        available here), for the items that hold one."""
        held = [r for r in items if r["separation_reason"] is not None]
        stored = [r["separation_reason"] for r in held]
        opened = (
            self.vault.open_notes(conn, SEPARATION_FIELD, stored)
            if self.vault is not None
            else [None if is_token(t) else t for t in stored]
        )
        return {r["id"]: o for r, o in zip(held, opened, strict=True)}


# The disposal that anonymises, at a site node, a person who left its site (the
# central's forget, corridor/sync/facts.py): not an erasure.
LEFT_CATEGORY = "sync_forget"


def _anonymised(conn: Connection, ids: list[str]) -> dict[str, str]:
    """Of the anonymised persons ``ids``, why: ``left`` (a site node forgot them: they
    left its site) or ``erased`` (an erasure, here or received, or a retention run)."""
    last = queries.last_disposals(conn, ids)
    return {i: "left" if last.get(i) == LEFT_CATEGORY else "erased" for i in ids}


def due(expected_arrival: datetime | None, now: datetime) -> bool:
    """Whether a vehicle expected at ``expected_arrival`` is due by ``now`` (a manifest
    dispatched before expected arrivals were recorded has none: due).

    >>> from datetime import UTC
    >>> t = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
    >>> due(t, t - timedelta(minutes=1)), due(t, t), due(None, t)
    (False, True, True)
    """
    return expected_arrival is None or now >= expected_arrival


def passenger_status(m: Any, r: Any, overdue: bool) -> str:
    """Where a person on manifest ``m`` stands: ``on_board`` (a draft), ``checked_in``,
    ``late_arrival`` (checked in after the arrival was closed), ``in_transit`` (not yet
    checked in, the vehicle not yet due), ``unaccounted`` (due and not checked in), or
    ``elsewhere`` (arrived somewhere else meanwhile, on the road on another truck, or
    never left: their departure was voided). Before, one on the road on another truck
    was counted in transit or unaccounted on this one too."""
    if m["status"] == "draft":
        return "on_board"
    if r["checked_in_at"] is not None:
        return "late_arrival" if r["late_arrival"] else "checked_in"
    if r["state"] != "in_transit" or r["on_manifest"] != m["id"]:
        return "elsewhere"
    return "unaccounted" if overdue else "in_transit"


def _names(conn: Connection, ids: list[str], scope: Sites) -> dict[str, str]:
    """The display names of the persons among ``ids`` that ``scope`` may see, each with
    the registration number (two persons may share a name; the number finds the one)."""
    if not ids:
        return {}
    rows = conn.execute(
        select(persons).where(persons.c.id.in_(ids), queries.person_scope(scope))
    ).mappings()
    return {
        r["id"]: f"{queries.display_name(r)} "
        f"({format_registration_number(r['registration_number'])})"
        for r in rows
    }


def _listing(ids: list[str], names: dict[str, str]) -> Listing:
    """The persons ``ids`` by name, those the reader may not see as a count."""
    shown: list[Any] = sorted(names[pid] for pid in ids if pid in names)
    hidden = sum(1 for pid in ids if pid not in names)
    if hidden:
        shown.append(N_("{count} more you may not see", count=hidden))
    return Listing(", ", shown)


def _trip_events(
    m: Any, kind: str, person_ids: list[str], at: datetime, now: datetime, by: str | None
) -> list[dict[str, Any]]:
    """The events of persons leaving or reaching the ends of manifest ``m``."""
    return [
        {
            "person_id": pid,
            "kind": kind,
            "occurred_at": at,
            "recorded_at": now,
            "from_site_id": m["from_site_id"],
            "to_site_id": m["to_site_id"],
            "manifest_id": m["id"],
            "recorded_by": by,
        }
        for pid in person_ids
    ]


def _arrived(results: list[dict[str, Any]]) -> list[str]:
    """Who a check-in brought to the site (ticked now, or arriving off the manifest)."""
    return [r["person_id"] for r in results if not r.get("status", "").startswith("already")]


def _manifest(
    conn: Connection, manifest_id: str, scope: Sites = None, side: str = "", *, lock: bool = False
) -> Any:
    """The manifest, if ``scope`` holds its origin (``side="from"``), its destination
    (``"to"``) or either (``""``); otherwise NotFound, as if it did not exist.

    ``lock``: take its row lock (``FOR UPDATE`` on PostgreSQL; SQLite's one writer holds
    it already), so that a change of its status sees the status no other writer can
    change until this transaction ends."""
    query = select(manifests).where(manifests.c.id == manifest_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None or not _in_scope(row, scope, side):
        raise NotFound("manifest")
    return row


def _set_status(conn: Connection, manifest_id: str, expected: str, **values: Any) -> None:
    """Change the status only from ``expected`` (a conditional update behind the row
    lock, so a change made meanwhile can never be overwritten)."""
    done = conn.execute(
        update(manifests)
        .where(manifests.c.id == manifest_id, manifests.c.status == expected)
        .values(**values)
    )
    if done.rowcount != 1:
        raise Conflict(N_("the manifest was changed at the same moment"), field="status")


def _in_scope(m: Any, scope: Sites, side: str = "") -> bool:
    if scope is None:
        return True
    ends = {"from": [m["from_site_id"]], "to": [m["to_site_id"]]}
    return any(site in scope for site in ends.get(side, [m["from_site_id"], m["to_site_id"]]))


# The orders the manifest and unaccounted lists offer (``sort=key`` or ``sort=-key``).
MANIFEST_ORDERS: dict[str, Any] = {
    "created": [manifests.c.created_at],
    "departed": [manifests.c.dispatched_at],
    "vehicle": [manifests.c.vehicle],
    "status": [manifests.c.status],
}
UNACCOUNTED_ORDERS: dict[str, Any] = {
    "departed": [person_locations.c.since],
    "vehicle": [manifests.c.vehicle, person_locations.c.since],
    "name": [persons.c.family_name, persons.c.given_name],
    "number": [persons.c.registration_number],
}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _manifest_scope(scope: Sites) -> Any:
    return or_(
        queries.site_scope(manifests.c.from_site_id, scope),
        queries.site_scope(manifests.c.to_site_id, scope),
    )


def _manifest_head(m: Any) -> dict[str, Any]:
    return {
        k: m[k]
        for k in (
            "id",
            "vehicle",
            "from_site_id",
            "to_site_id",
            "planned_departure",
            "status",
            "dispatched_at",
            "received_at",
            "expected_arrival",
            "created_at",
        )
    }


def _dead_unticked(conn: Connection, manifest_id: str, person_ids: list[str]) -> set[str]:
    """Those of ``person_ids`` recorded as deceased whom a check-in on this manifest would
    give a new arrival: not checked in on it, nor recorded as a discrepancy of it (those
    are answered as before, nothing written). Their rows locked first, as an event's
    are: a death recorded at the same moment is seen."""
    ids = locations.lock_persons(conn, person_ids)
    dead = {
        str(pid)
        for pid in conn.execute(
            select(person_locations.c.person_id).where(
                person_locations.c.person_id.in_(ids), person_locations.c.state == "deceased"
            )
        ).scalars()
    }
    if not dead:
        return dead
    ticked = select(manifest_items.c.person_id).where(
        manifest_items.c.manifest_id == manifest_id, manifest_items.c.checked_in_at.is_not(None)
    )
    noted = select(manifest_discrepancies.c.person_id).where(
        manifest_discrepancies.c.manifest_id == manifest_id,
        manifest_discrepancies.c.kind == "not_on_manifest",
    )
    done = set(conn.execute(ticked).scalars()) | set(conn.execute(noted).scalars())
    return {pid for pid in dead if pid not in {str(d) for d in done}}


def _refuse_the_dead(
    conn: Connection, manifest_id: str, person_ids: list[str], fields: dict[str, str]
) -> None:
    """A check-in (on the manifest or off it) of a person recorded as deceased: refused
    (409 on the field that named them, nothing written), as a status event of theirs
    is. Before, it was taken: an arrival after the death, and the person "present" at
    the destination again."""
    dead = _dead_unticked(conn, manifest_id, person_ids)
    for pid in person_ids:
        if pid in dead:
            raise Conflict(
                N_("the person is recorded as deceased; correct that event first"),
                field=fields.get(pid, "person_id"),
            )


def _locations(conn: Connection, ids: list[str]) -> dict[str, Any]:
    rows = conn.execute(
        select(person_locations).where(person_locations.c.person_id.in_(ids))
    ).mappings()
    return {r["person_id"]: r for r in rows}


def _not_before_last(
    conn: Connection, field: str, at: datetime, now: datetime, person_ids: list[str]
) -> list[Problem]:
    """``events.not_before_last`` for a group: ``at`` not before the latest movement of
    any of them stamped by ``now``, and at the central (the reference clock) of any of
    them at all: one stamped after ``now`` there was stamped by a clock running ahead
    (the time only, no person named: the field is the group's time)."""
    if not person_ids:
        return []
    reference = reference_clock(conn)
    query = select(func.max(person_locations.c.since)).where(
        person_locations.c.person_id.in_(person_ids)
    )
    if not reference:
        query = query.where(person_locations.c.since <= now)
    last = conn.execute(query).scalar()
    return not_before_last(field, at, last, now, group=len(person_ids) > 1, reference=reference)


def _resolve_person(conn: Connection, data: CheckInIn) -> str:
    if data.person_id:
        held = conn.execute(select(persons.c.id).where(persons.c.id == data.person_id)).first()
        if held is None and not queries.merged_away(conn, [data.person_id]):
            raise NotFound("person", field="person_id")
        return data.person_id
    if data.registration_number:
        try:
            number = normalise_registration_number(data.registration_number)
        except InvalidRegistrationNumber as exc:
            raise ValidationFailed([Problem("registration_number", text_of(exc))]) from exc
        pid = queries.by_number(conn, number)  # an old id's number too (issue 16)
        if pid is None:
            raise NotFound("person", field="registration_number")
        return pid
    raise ValidationFailed([Problem("person_id", N_("give a person id or a registration number"))])


def _on_board(conn: Connection, manifest_id: str) -> list[str]:
    return [
        str(pid)
        for pid in conn.execute(
            select(manifest_items.c.person_id)
            .where(manifest_items.c.manifest_id == manifest_id)
            .order_by(manifest_items.c.id)
        ).scalars()
    ]
