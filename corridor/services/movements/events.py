"""Recording status events and corrections; reading a person's movement log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from corridor.domain.birth import format_birth_date
from corridor.domain.ids import uuid7
from corridor.domain.movements import (
    AT_SITE_STATES,
    EVENT_KINDS,
    UNKNOWN,
    Event,
    Location,
    apply,
    effective_events,
)
from corridor.errors import Conflict, NotFound, Problem, ValidationFailed, require
from corridor.schemas import CorrectionIn, StatusEventIn
from corridor.security.crypto import is_token
from corridor.security.errors import KeyUnavailable
from corridor.services.base import AuditHook, Service, live_id
from corridor.storage import locations, queries
from corridor.storage.queries import Sites
from corridor.storage.security_tables import user_roles
from corridor.storage.sync_tables import sync_nodes
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    movements,
    person_locations,
    persons,
    sites,
)
from corridor.text import N_

if TYPE_CHECKING:
    from corridor.services.protection.field_vault import FieldVault

# The vault's field name of a movement's note (``field_vault.MOVEMENT_NOTE_FIELD``).
NOTE_FIELD = "movement.note"
# The note of an arrival checked in off the manifest (written by the check-in itself).
NOT_ON_MANIFEST_NOTE = "not on the manifest"
# The note of a received movement corrected back by an officer who kept our history
# (a conflict on the movements decided "ours": corridor/sync/histories.py).
KEPT_OURS_NOTE = "received apart; corrected back: the history held here was kept"

# Which kind of site an event may lead to (None: any kind).
SITE_KIND_FOR = {"hospitalised": ("hospital",), "detained": ("detention",)}


def movement_out(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "person_id": r["person_id"],
        "kind": r["kind"],
        "from_site_id": r["from_site_id"],
        "to_site_id": r["to_site_id"],
        "occurred_at": r["occurred_at"],
        "manifest_id": r["manifest_id"],
        "corrects_id": r["corrects_id"],
        "note": r["note"],
        "recorded_by": r["recorded_by"],
        "recorded_at": r["recorded_at"],
        # Not shown: the gate reads it to tell whose group the note is, then drops it.
        "recorded_roles": r.get("recorded_roles"),
    }


def insert_event(conn: Connection, **fields: Any) -> str:
    """Append one event; the caller refreshes the location projection."""
    [event_id] = insert_events(conn, [fields])
    return event_id


EVENT_DEFAULTS: dict[str, Any] = {
    "from_site_id": None,
    "to_site_id": None,
    "manifest_id": None,
    "corrects_id": None,
    "note": None,
    "recorded_by": None,
}


def insert_events(conn: Connection, events: list[dict[str, Any]]) -> list[str]:
    """Append events (each needs person_id, kind, occurred_at, recorded_at); returns ids.
    Each event recorded by a user keeps the roles that user holds now
    (``recorded_roles``): a note written by a health or protection officer is their
    field group's (the gate withholds it from other roles)."""
    rows = [{**EVENT_DEFAULTS, **e, "id": uuid7()} for e in events]
    held = recorders_roles(conn, {str(r["recorded_by"]) for r in rows if r["recorded_by"]})
    for r in rows:
        if "recorded_roles" not in r:
            r["recorded_roles"] = held.get(str(r["recorded_by"])) if r["recorded_by"] else None
    if rows:
        conn.execute(insert(movements), rows)
    return [r["id"] for r in rows]


def recorders_roles(conn: Connection, user_ids: set[str]) -> dict[str, str]:
    """User id -> the roles they hold, sorted and comma-separated (``recorded_roles``)."""
    if not user_ids:
        return {}
    held: dict[str, list[str]] = {}
    query = select(user_roles.c.user_id, user_roles.c.role).where(
        user_roles.c.user_id.in_(sorted(user_ids))
    )
    for user_id, role in conn.execute(query):
        held.setdefault(str(user_id), []).append(str(role))
    return {u: ",".join(sorted(r))[:200] for u, r in held.items()}


def not_before_last(
    field: str,
    at: datetime,
    last: datetime | None,
    now: datetime,
    *,
    group: bool = False,
    reference: bool = False,
) -> list[Problem]:
    """A new event at ``at`` of a person whose latest movement was at ``last`` (of a
    ``group``: the latest of theirs). One that went before it would be folded in before it
    (the log is ordered by time): the person stayed where the latest movement put them and
    the new event was lost, recorded from a site they had not reached yet. Changing the
    history is a correction's work. A latest movement stamped after ``now`` was stamped
    by a clock running ahead (every installation refuses an event in its own future). At
    a site node, which cannot tell whose clock is wrong, it does not hold the person up:
    the central sorts it out when the change reaches it (corridor/sync/behind.py). At the
    central (``reference``: the star's reference clock) it is known stamped ahead, and
    the new event, though it happens after it, would be folded in before it (the person
    counted where the movement stamped ahead put them, an admission shown before the
    registration): refused, the officer told to correct that movement's time first
    (docs/sync.md, "Clocks that run wrong")."""
    if last is None or at >= last:
        return []
    if last > now:
        if not reference:
            return []
        ahead = (
            N_(
                "is before the last recorded movement of a person on it ({at}), which a "
                "clock running ahead stamped after this installation's time: correct that "
                "movement to the time it happened first",
                at=iso_time(last),
            )
            if group
            else N_(
                "is before the person's last recorded movement ({at}), which a clock "
                "running ahead stamped after this installation's time: correct that "
                "movement to the time it happened first",
                at=iso_time(last),
            )
        )
        return [Problem(field, ahead)]
    reason = (
        N_(
            "is before the last recorded movement of a person on it ({at}); record a "
            "correction to change the history",
            at=iso_time(last),
        )
        if group
        else N_(
            "is before the person's last recorded movement ({at}); record a correction to "
            "change the history",
            at=iso_time(last),
        )
    )
    return [Problem(field, reason)]


def reference_clock(conn: Connection) -> bool:
    """Whether this installation is the central, whose clock is the reference of the star
    of site nodes (a pull window measures every node's clock against it)."""
    role = conn.execute(select(sync_nodes.c.role).where(sync_nodes.c.is_self)).scalar()
    return role == "central"


def iso_time(moment: datetime) -> str:
    """A time as the API writes it (UTC, ``2019-03-10T08:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def site_problems(
    conn: Connection, kind: str, from_site: str | None, to_site: str | None
) -> list[Problem]:
    needs_from, needs_to, _ = EVENT_KINDS[kind]
    problems = []
    if needs_from and not from_site:
        problems.append(Problem("kind", N_("a {kind} event needs a site to leave from", kind=kind)))
    if needs_to and not to_site:
        problems.append(
            Problem("to_site_id", N_("a {kind} event needs a destination site", kind=kind))
        )
    if not needs_to and to_site and kind not in ("released",):
        problems.append(
            Problem("to_site_id", N_("a {kind} event has no destination site", kind=kind))
        )
    wanted = {s for s in (from_site, to_site) if s}
    kinds = dict(conn.execute(select(sites.c.id, sites.c.kind).where(sites.c.id.in_(wanted))).all())
    for field, site in (("from_site_id", from_site), ("to_site_id", to_site)):
        if site and site not in kinds:
            problems.append(Problem(field, N_("unknown site {site}", site=repr(site))))
    allowed = SITE_KIND_FOR.get(kind)
    if allowed and to_site in kinds and kinds[to_site] not in allowed:
        problems.append(
            Problem(
                "to_site_id",
                N_(
                    "a {kind} event leads to a {allowed} site, not a {got}",
                    kind=kind,
                    allowed=" or ".join(allowed),
                    got=kinds[to_site],
                ),
            )
        )
    return problems


def person_site(conn: Connection, person_id: str) -> str | None:
    """The person's registering site (the key their sealed fields are under)."""
    found = conn.execute(select(persons.c.site_id).where(persons.c.id == person_id)).scalar()
    return None if found is None else str(found)


def open_notes(
    vault: FieldVault | None, conn: Connection, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events as ``movement_out`` shapes them, their notes opened (``FieldVault.
    open_notes``). A note that cannot be read here (its key destroyed; a site node's
    copy of another site's traveller; no master key) reads as ``None`` with
    ``note_unavailable``."""
    sealed = [e for e in events if e.get("note") is not None]
    if not sealed:
        return events
    stored = [e["note"] for e in sealed]
    opened = (
        vault.open_notes(conn, NOTE_FIELD, stored)
        if vault is not None
        else [None if is_token(t) else t for t in stored]
    )
    for e, plain in zip(sealed, opened, strict=True):
        e["note"] = plain
        if plain is None:
            e["note_unavailable"] = True
    return events


class MovementService(Service):
    def __init__(
        self, db: Any, clock: Callable[[], datetime], vault: FieldVault | None = None
    ) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def _sealed_note(
        self, person_id: str, note: str | None, scope: Sites
    ) -> tuple[str | None, str | None]:
        """The person's registering site (read before the writer's lock, within the
        caller's scope: a person out of it is not found before any key is looked at) and
        the note sealed under its active key (at a site node, for a traveller of another
        site, under the node's own site's: ``FieldVault.note_site``)."""
        if note is None:
            return None, None
        with self.db.read() as read:
            site_id = str(queries.person_row(read, live_id(read, person_id), scope)["site_id"])
        if self.vault is None:
            raise KeyUnavailable(N_("No master key is configured: notes cannot be stored"))
        return site_id, self.vault.seal_note(site_id, NOTE_FIELD, note)

    def _live(
        self, conn: Connection, person_id: str, site_id: str | None, token: str | None
    ) -> None:
        """Inside the write: the note's key is still live, and the person still of the
        site it was sealed for (a merge meanwhile moves them)."""
        if token is None or self.vault is None:
            return
        if person_site(conn, person_id) != site_id:
            raise Conflict(
                N_("the person's record changed while this was saved: send it again"),
                field="note",
            )
        self.vault.require_live(conn, [token])

    def record(
        self,
        person_id: str,
        data: StatusEventIn,
        recorded_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Record a status event (hospitalised, detained, released, deceased...)."""
        now = self.clock()
        at = data.occurred_at or now
        if at > now:
            raise ValidationFailed([Problem("occurred_at", N_("is in the future"))])
        note_site, note = self._sealed_note(person_id, data.note, scope)
        with self.db.transaction() as conn:
            person_id = live_id(conn, person_id)  # a merged id: its survivor (issue 15)
            queries.person_row(conn, person_id, scope)
            self._live(conn, person_id, note_site, note)
            # The person's row lock: two events recorded at once are checked in turn,
            # each against the state the other left.
            locations.lock_persons(conn, [person_id])
            loc = conn.execute(
                select(
                    person_locations.c.site_id,
                    person_locations.c.state,
                    person_locations.c.since,
                    person_locations.c.manifest_id,
                ).where(person_locations.c.person_id == person_id)
            ).one()
            if loc.state == "deceased":
                raise Conflict(
                    N_("the person is recorded as deceased; correct that event first"),
                    field="kind",
                )
            if loc.state == "in_transit":
                _found_elsewhere(conn, person_id, loc.manifest_id, now)
            require(
                not_before_last(
                    "occurred_at", at, loc.since, now, reference=reference_clock(conn)
                )
            )
            _hospital_stay(data.kind, data.to_site_id, loc.state, loc.site_id)
            from_site = loc.site_id
            require(site_problems(conn, data.kind, from_site, data.to_site_id))
            _not_where_they_are(data.kind, data.to_site_id, loc.state, loc.site_id)
            event_id = insert_event(
                conn,
                person_id=person_id,
                kind=data.kind,
                occurred_at=at,
                recorded_at=now,
                from_site_id=from_site,
                to_site_id=data.to_site_id,
                note=note,
                recorded_by=recorded_by,
            )
            locations.refresh(conn, [person_id])
            audit(conn, [person_id])
            return self._out(conn, event_id)

    def correct(
        self,
        event_id: str,
        data: CorrectionIn,
        recorded_by: str | None = None,
        scope: Sites = None,
        *,
        audit: AuditHook,
    ) -> dict[str, Any]:
        """Append a correction that replaces (or voids) an earlier event."""
        now = self.clock()
        if data.note is not None:
            with self.db.read() as read:
                person_id = str(_event(read, event_id)["person_id"])
            try:
                note_site, note = self._sealed_note(person_id, data.note, scope)
            except NotFound:
                raise NotFound("movement", field="event_id") from None
        else:
            note_site, note = None, None
        with self.db.transaction() as conn:
            old = _event(conn, event_id)
            try:
                queries.person_row(conn, old["person_id"], scope)
            except NotFound:
                raise NotFound("movement", field="event_id") from None
            self._live(conn, old["person_id"], note_site, note)
            locations.lock_persons(conn, [old["person_id"]])  # two corrections in turn
            taken = conn.execute(
                select(movements.c.id).where(movements.c.corrects_id == event_id)
            ).first()
            if taken:
                raise Conflict(
                    N_("this event was corrected already; correct the correction"),
                    field="event_id",
                )
            if data.kind != "voided":
                require(site_problems(conn, data.kind, data.from_site_id, data.to_site_id))
            at = data.occurred_at or old["occurred_at"]
            # A void has no time of its own (it keeps the voided event's): an event
            # stamped ahead of this clock (a node whose clock ran ahead) can be voided.
            if at > now and (data.kind != "voided" or data.occurred_at is not None):
                raise ValidationFailed([Problem("occurred_at", N_("is in the future"))])
            require(_history_problems(conn, old, data, at))
            new_id = insert_event(
                conn,
                person_id=old["person_id"],
                kind=data.kind,
                occurred_at=at,
                recorded_at=now,
                from_site_id=data.from_site_id,
                to_site_id=data.to_site_id,
                manifest_id=old["manifest_id"],
                corrects_id=event_id,
                note=note,
                recorded_by=recorded_by,
            )
            _follow_check_in(conn, event_id, new_id, data.kind, at)
            if data.kind == "voided":
                _drop_discrepancy(conn, old)
            locations.refresh(conn, [old["person_id"]])
            _keep_places(conn, old["person_id"], old["kind"])
            audit(conn, [old["person_id"]])
            return self._out(conn, new_id)

    def history(self, person_id: str, scope: Sites = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            queries.person_row(conn, person_id, scope)
            rows = conn.execute(
                select(movements)
                .where(movements.c.person_id == person_id)
                .order_by(movements.c.occurred_at, movements.c.seq)
            ).mappings()
            corrected = set()
            out = []
            for r in rows:
                out.append(movement_out(r))
                if r["corrects_id"]:
                    corrected.add(r["corrects_id"])
            for m in out:
                m["corrected"] = m["id"] in corrected
            return open_notes(self.vault, conn, out)

    def _out(self, conn: Connection, event_id: str) -> dict[str, Any]:
        """A recorded event as answered, its note opened."""
        return open_notes(self.vault, conn, [movement_out(_event(conn, event_id))])[0]

    def rebuild_locations(self) -> int:
        """Recompute every person's location from the log (after a restore, say)."""
        with self.db.transaction() as conn:
            ids = list(conn.execute(select(persons.c.id)).scalars())
            for start in range(0, len(ids), 500):
                locations.refresh(conn, ids[start : start + 500])
            return len(ids)


def _history_problems(
    conn: Connection, old: Any, data: CorrectionIn, at: datetime
) -> list[Problem]:
    """A correction (or a void) may not make the person's history one that the rules for
    recording an event would have refused: an event before the person was born; one
    after their death (a death corrected to before later movements made them alive
    again); a discharge with no hospital stay before it (a discharge corrected to before
    its admission, an admission voided or moved after it); an admission to the hospital
    the person is in already; an arrival off a truck before the truck left; a movement
    before their registration, or a second registration; a corrected event leaving from
    a site the movement before it did not lead to. The corrected log is folded in time order, as the
    location is, and checked event by event against the state before it. Only what
    the correction brings is refused (a log that broke a rule already, say after a
    merge of two registrations, stays correctable). 422, the field (``occurred_at``
    where the time was changed or for the birth and the departure, ``from_site_id``,
    else ``kind``) and the movement, nothing written.
    Before, every such correction was taken."""
    person_id = old["person_id"]
    logged = locations.events_of(conn, [person_id])[person_id]
    if data.kind == "voided":
        replacement = None
    else:
        replacement = Event(
            id="",
            seq=max((e.seq for e in logged), default=0) + 1,
            kind=data.kind,
            from_site_id=data.from_site_id,
            to_site_id=data.to_site_id,
            occurred_at=at,
            manifest_id=old["manifest_id"],
            corrects_id=old["id"],
        )
    void = Event("", 0, "voided", None, None, at, corrects_id=old["id"])
    corrected = [*logged, replacement or void]
    person = conn.execute(
        select(persons.c.birth_date, persons.c.birth_precision).where(persons.c.id == person_id)
    ).one()
    born = None if person.birth_precision == "estimated" else person.birth_date
    trips = {e.manifest_id for e in corrected if e.kind == "arrived" and e.manifest_id}
    departures = dict(
        conn.execute(
            select(manifests.c.id, manifests.c.dispatched_at).where(manifests.c.id.in_(trips))
        ).all()
    )
    broken = _broken_rules(effective_events(logged), born, departures)
    field = "occurred_at" if at != old["occurred_at"] and replacement else "kind"
    problems: list[Problem] = []
    for (rule, event), (other, state) in _broken_rules(
        effective_events(corrected), born, departures
    ).items():
        if (rule, event.id or old["id"]) in {(r, e.id) for r, e in broken}:
            continue
        birth = format_birth_date(born, person.birth_precision) or ""
        reason = _rule_reason(rule, event, other, state, birth, departures)
        named = {"born": "occurred_at", "departure": "occurred_at", "from": "from_site_id"}
        problems.append(Problem(named.get(rule, field), reason))
    return problems[:1]


def history_breaks(
    conn: Connection, person_id: str, logs: list[list[Event]]
) -> list[dict[tuple[str, str], Any]]:
    """For each log of the person's movement events (each folded as the location is):
    (rule, movement id) -> why, for each rule of the history check (``_history_problems``)
    it breaks, said of the movement it puts wrong. Used where movements recorded apart
    come together by sync (corridor/sync/histories.py), where the rule ``from`` holds of
    every movement (a received movement is no correction made here, and a log recorded
    whole at one place keeps it: each event left from where the person was)."""
    person = conn.execute(
        select(persons.c.birth_date, persons.c.birth_precision).where(persons.c.id == person_id)
    ).one()
    born = None if person.birth_precision == "estimated" else person.birth_date
    birth = format_birth_date(born, person.birth_precision) or ""
    trips = {e.manifest_id for log in logs for e in log if e.kind == "arrived" and e.manifest_id}
    departures = dict(
        conn.execute(
            select(manifests.c.id, manifests.c.dispatched_at).where(manifests.c.id.in_(trips))
        ).all()
    )
    return [
        {
            (rule, event.id): _rule_reason(rule, event, other, state, birth, departures)
            for (rule, event), (other, state) in _broken_rules(
                effective_events(log), born, departures, every_from=True
            ).items()
        }
        for log in logs
    ]


def _broken_rules(
    history: list[Event],
    born: Any,
    departures: dict[str, datetime | None],
    *,
    every_from: bool = False,
) -> dict[tuple[str, Event], tuple[Event | None, str]]:
    """(rule, event) -> (the other event it concerns, the state before), for each event
    of a folded history that a new event would not have been allowed to be. The rule
    ``from`` of the corrected event only (id ``""``), unless ``every_from``."""
    out: dict[tuple[str, Event], tuple[Event | None, str]] = {}
    loc: Location = UNKNOWN
    death: Event | None = None
    origin: str | None = None  # where a trip on the road left from
    for event in history:
        if born is not None and event.occurred_at.date() < born:
            out["born", event] = (None, loc.state)
        left = departures.get(event.manifest_id or "") if event.kind == "arrived" else None
        if left is not None and event.occurred_at < left:
            out["departure", event] = (None, loc.state)
        if death is not None:
            out["death", event] = (death, loc.state)
        if event.kind == "discharged" and loc.state != "hospitalised":
            out["discharge", event] = (None, loc.state)
        if (
            event.kind == "hospitalised"
            and loc.state == "hospitalised"
            and event.to_site_id == loc.site_id
        ):
            out["admitted", event] = (None, loc.state)
        if event.kind == "registered" and loc.state != "unknown":
            out["registration", event] = (history[0], loc.state)
        at_site = loc.site_id if loc.state in AT_SITE_STATES else None
        was = origin if loc.state == "in_transit" else at_site
        # Of the corrected event only: the site a later movement left from follows the
        # one before it when that is corrected (the wrong hospital: the admission is
        # corrected, then the discharge), else neither could be corrected first.
        mine = every_from or event.id == ""
        if mine and event.from_site_id and was and event.from_site_id != was:
            out["from", event] = (None, loc.state)
        if event.kind == "deceased" and death is None:
            death = event
        if event.kind == "dispatched":
            origin = event.from_site_id
        loc = apply(loc, event)
    return out


def _rule_reason(
    rule: str,
    event: Event,
    other: Event | None,
    state: str,
    born: str,
    departures: dict[str, datetime | None],
) -> Any:
    """Why the corrected history breaks ``rule`` at ``event``, said of the corrected
    event (id ``""``) where it is the one at fault, else of the movement it puts wrong."""
    ours = event.id == ""
    at = iso_time(event.occurred_at)
    if rule == "born":
        return N_(
            "is before the person's date of birth ({born}): correct the date of birth or "
            "this time",
            born=born,
        )
    if rule == "departure":
        left = departures[event.manifest_id or ""]
        return N_("is before the departure ({at})", at=iso_time(left) if left else "")
    if rule == "death" and other is not None:
        if ours:
            return N_(
                "is after the person's recorded death ({at}); nothing can follow a death: "
                "correct or void that event first",
                at=iso_time(other.occurred_at),
            )
        return N_(
            "the person has a movement recorded after this time ({kind} at {at}); a death "
            "is the last event of a person's history: correct or void that movement first",
            kind=event.kind,
            at=at,
        )
    if rule == "discharge":
        if ours:
            return N_(
                "the person is not in hospital at this time (they are {state}); a discharge "
                "ends a hospital stay",
                state=state,
            )
        return N_(
            "the discharge at {at} would end no hospital stay: correct or void the "
            "discharge first",
            at=at,
        )
    if rule == "admitted":
        if ours:
            return N_(
                "the person is in this hospital already at this time; a discharge comes "
                "between two admissions"
            )
        return N_(
            "the admission at {at} would follow an admission to the same hospital with no "
            "discharge between: correct or void it first",
            at=at,
        )
    if rule == "registration" and other is not None:
        if ours and other.kind == "registered":
            return N_(
                "the person is registered already ({at}); their registration is the first "
                "event of their history",
                at=iso_time(other.occurred_at),
            )
        if ours:
            return N_(
                "is after the person's movement at {at} ({kind}); their registration is the "
                "first event of their history",
                at=iso_time(other.occurred_at),
                kind=other.kind,
            )
        return N_("is before the person's registration ({at})", at=at)
    if rule == "from":
        return N_(
            "is not where the person was at this time: a movement leaves from the site the "
            "one before it led to"
        )
    return N_("would make the person's movement history impossible")


def _hospital_stay(kind: str, to_site: str | None, state: str, site: str | None) -> None:
    """A discharge ends a hospital stay, and an admission to the hospital where the
    person already is would be a second one. Before, "discharged" was accepted of a
    person present at a camp (a camp-to-camp move logged as a discharge), and the same
    admission recorded twice (without an ``Idempotency-Key``: two staff, a second
    click) logged the person admitted twice. A move between hospitals is a
    ``hospitalised`` event to the other hospital. 409, nothing written."""
    if kind == "discharged" and state != "hospitalised":
        raise Conflict(
            N_(
                "the person is not in hospital (they are {state}); a discharge ends a "
                "hospital stay",
                state=state,
            ),
            field="kind",
        )
    if kind == "hospitalised" and state == "hospitalised" and to_site == site:
        raise Conflict(
            N_("the person is in this hospital already; record a discharge first"),
            field="to_site_id",
        )


def _not_where_they_are(kind: str, to_site: str | None, state: str, site: str | None) -> None:
    """An event changes where the person is or what they are there: a transfer to the
    camp they are present at, or a detention at the facility where they are held, would
    log a departure and an arrival of a person who never moved (a double click, the
    wrong line of a list). Before, it was accepted and the site's figures counted them
    leaving and arriving. 409, nothing written. A change of state at the site stands (a
    person brought to a detention facility by truck, then detained there)."""
    if to_site is not None and to_site == site and EVENT_KINDS[kind][2] == state:
        raise Conflict(
            N_("the person is at this site already; choose the site they are moved to"),
            field="to_site_id",
        )


def _found_elsewhere(
    conn: Connection, person_id: str, manifest_id: str | None, now: datetime
) -> None:
    """A person in transit gets a status event only once their truck is due or its
    arrival was closed without them (unaccounted for): found in a hospital, detained,
    dead on the way. They are then off the truck (its manifest shows them "elsewhere")
    and can travel on. Before, nothing could be recorded of them but a check-in at the
    truck's destination, where they never came. On the road, before it is due: 409."""
    truck = conn.execute(
        select(manifests.c.status, manifests.c.expected_arrival).where(
            manifests.c.id == manifest_id
        )
    ).first()
    due = truck is not None and (
        truck.status == "received"
        or truck.expected_arrival is None
        or now >= truck.expected_arrival
    )
    if not due:
        raise Conflict(
            N_("the person is in transit on a manifest; check them in first"), field="kind"
        )
    conn.execute(
        update(manifest_items)
        .where(manifest_items.c.person_id == person_id, manifest_items.c.open_slot == 1)
        .values(open_slot=None)
    )


def _follow_check_in(
    conn: Connection, event_id: str, new_id: str, kind: str, at: datetime
) -> None:
    """A manifest's check-in follows a correction of its arrival movement: voided, the
    person is not checked in (on the truck again, to be checked in anew); replaced, the
    check-in is the new event, at its time (not before the truck left). Before, the
    manifest kept the person checked in while the log put them back on the road, and a
    new check-in answered "already checked in": nobody could tick them off again."""
    item = (
        conn.execute(
            select(manifest_items).where(manifest_items.c.arrival_movement_id == event_id)
        )
        .mappings()
        .first()
    )
    if item is None:
        return
    if kind != "voided":
        left = conn.execute(
            select(manifests.c.dispatched_at).where(manifests.c.id == item["manifest_id"])
        ).scalar()
        if left is not None and at < left:
            raise ValidationFailed(
                [Problem("occurred_at", N_("is before the departure ({at})", at=iso_time(left)))]
            )
        conn.execute(
            update(manifest_items)
            .where(manifest_items.c.id == item["id"])
            .values(arrival_movement_id=new_id, checked_in_at=at)
        )
        return
    _refuse_while_on_an_open_manifest(conn, item["person_id"])
    conn.execute(
        update(manifest_items)
        .where(manifest_items.c.id == item["id"])
        .values(
            checked_in_at=None,
            checked_in_by=None,
            arrival_movement_id=None,
            late_arrival=None,
            open_slot=1,
        )
    )


def _drop_discrepancy(conn: Connection, old: Any) -> bool:
    """A voided arrival off a manifest (a check-in of someone not on it) takes its
    discrepancy away once nothing of the person on that manifest stands in the log (a
    corrected arrival keeps it: they did come, at another time). Before, the discrepancy
    stood: the manifest counted it, and checking the person in again answered "already
    recorded as a discrepancy" with no arrival. Whether one was taken away."""
    person_id, manifest_id = old["person_id"], old["manifest_id"]
    if manifest_id is None:
        return False
    corrected = select(movements.c.corrects_id).where(
        movements.c.person_id == person_id, movements.c.corrects_id.is_not(None)
    )
    standing = conn.execute(
        select(movements.c.id).where(
            movements.c.person_id == person_id,
            movements.c.manifest_id == manifest_id,
            movements.c.kind != "voided",
            movements.c.id.not_in(corrected),
        )
    ).first()
    if standing is not None:
        return False
    gone = conn.execute(
        delete(manifest_discrepancies).where(
            manifest_discrepancies.c.manifest_id == manifest_id,
            manifest_discrepancies.c.person_id == person_id,
            manifest_discrepancies.c.kind == "not_on_manifest",
        )
    )
    return bool(gone.rowcount)


def _keep_places(conn: Connection, person_id: str, corrected: str) -> None:
    """After a correction, the person's places on trucks that left follow the log: they
    hold their place on the truck the log puts them on the road on (a voided arrival off
    a manifest, or a voided event of someone found off their truck, folds them back onto
    it), and on no other truck that left (a voided departure: they never boarded, so the
    truck's list shows them elsewhere and the next truck can take them). Before, a void
    left the place as it was: free on the truck they were on the road on again, or held
    on one they had never boarded ("already on open manifest" on every other truck).
    Taking a place is refused (409, nothing written) while they hold one on another open
    manifest: they would be on two trucks at once. See docs/api.md."""
    on = conn.execute(
        select(person_locations.c.manifest_id).where(
            person_locations.c.person_id == person_id,
            person_locations.c.state == "in_transit",
        )
    ).scalar()
    left = select(manifests.c.id).where(manifests.c.status != "draft")
    not_on_it = [] if on is None else [manifest_items.c.manifest_id != on]
    conn.execute(
        update(manifest_items)
        .where(
            manifest_items.c.person_id == person_id,
            manifest_items.c.open_slot == 1,
            manifest_items.c.checked_in_at.is_(None),
            manifest_items.c.manifest_id.in_(left),
            *not_on_it,
        )
        .values(open_slot=None)
    )
    if on is None:
        return
    item = conn.execute(
        select(manifest_items.c.id).where(
            manifest_items.c.manifest_id == on,
            manifest_items.c.person_id == person_id,
            manifest_items.c.checked_in_at.is_(None),
            manifest_items.c.open_slot.is_(None),
        )
    ).scalar()
    if item is None:
        return
    _refuse_while_on_an_open_manifest(
        conn, person_id, "arrival" if corrected == "arrived" else "event"
    )
    conn.execute(update(manifest_items).where(manifest_items.c.id == item).values(open_slot=1))


def _event(conn: Connection, event_id: str) -> Any:
    row = conn.execute(select(movements).where(movements.c.id == event_id)).mappings().first()
    if row is None:
        raise NotFound("movement", field="event_id")
    return row


def _refuse_while_on_an_open_manifest(
    conn: Connection, person_id: str, voided: str = "arrival"
) -> None:
    """A correction that puts the person back on a truck: refused (409, nothing
    written) while they hold a place on another open manifest, with what to do first:
    take them off a draft; check them in off a truck on the road (nobody can be taken
    off a truck that left)."""
    elsewhere = conn.execute(
        select(manifests.c.id, manifests.c.status)
        .join(manifest_items, manifest_items.c.manifest_id == manifests.c.id)
        .where(manifest_items.c.person_id == person_id, manifest_items.c.open_slot == 1)
    ).first()
    if elsewhere is None:
        return
    if elsewhere.status == "draft":
        reason = (
            N_(
                "the person is on open manifest {manifest}; take them off it before voiding "
                "this arrival",
                manifest=elsewhere.id,
            )
            if voided == "arrival"
            else N_(
                "the person is on open manifest {manifest}; take them off it before voiding "
                "this event",
                manifest=elsewhere.id,
            )
        )
    else:
        reason = (
            N_(
                "the person is on the road on manifest {manifest}; check them in at its "
                "destination before voiding this arrival",
                manifest=elsewhere.id,
            )
            if voided == "arrival"
            else N_(
                "the person is on the road on manifest {manifest}; check them in at its "
                "destination before voiding this event",
                manifest=elsewhere.id,
            )
        )
    raise Conflict(reason, field="event_id")
