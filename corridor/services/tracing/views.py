"""Reading tracing data back: an enquiry, a case with its candidates and log, the
officers' queue (children first), and the enquirer view (only what may be told)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, exists, or_, select

from corridor.domain.tracing import (
    WITHDREW,
    CaseState,
    CloseReason,
    Disclosure,
    disclosure_decider,
    enquirer_status,
    is_child,
    log_reason,
    queue_priority,
    site_disclosable,
)
from corridor.errors import NotFound
from corridor.matching.model import Calibration
from corridor.services.base import Service
from corridor.services.protection import detention
from corridor.services.protection.field_vault import TRACING_KEY, FieldVault
from corridor.services.tracing import enquirer as enquirer
from corridor.services.tracing.enquiries import PER_PAGE, enquiry_list
from corridor.services.tracing.matching import EXPLANATION_FIELD, stored_explanation
from corridor.services.tracing.retention import SYSTEM
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.merge_tables import merged_persons
from corridor.storage.queries import Sites
from corridor.storage.security_tables import users
from corridor.storage.tables import (
    POPULATION_KEY,
    match_key_counts,
    person_locations,
    persons,
    sites,
)
from corridor.storage.tracing_tables import (
    tracing_case_events,
    tracing_cases,
    tracing_enquiries,
    tracing_matches,
)

SOUGHT_FIELDS = (
    "full_name",
    "given_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "name_original_script",
    "alternate_names",
    "sex",
    "birth_year",
    "nationality",
    "place_of_origin",
    "mother_name",
    "relatives_names",
    "last_seen_place",
    "last_seen_date",
    "enquirer_is",
)
V = TypeVar("V")
# The queue: cases an officer still has to act on.
ACTIVE = (
    CaseState.OPEN,
    CaseState.POSSIBLE_MATCH,
    CaseState.VERIFIED,
    CaseState.FOUND_PERSON_CONSULTED,
    CaseState.FAMILY_INFORMED,
)
_STATE_ORDER = {s: i for i, s in enumerate([ACTIVE[1], ACTIVE[2], ACTIVE[3], ACTIVE[4], ACTIVE[0]])}


def sought_name(case: Any) -> str:
    parts = [case[f] for f in ("given_name", "father_name", "grandfather_name", "family_name")]
    latin = " ".join(p for p in parts if p)
    return (
        case["full_name"]
        or latin
        or case["name_original_script"]
        or next(iter(case["alternate_names"] or ()), "")
    )


def _sought(case: Any, today: date) -> dict[str, Any]:
    out = {f: case[f] for f in SOUGHT_FIELDS}
    out["last_seen_date"] = case["last_seen_date"].isoformat() if case["last_seen_date"] else None
    out["name"] = sought_name(case)
    out["age"] = today.year - case["birth_year"] if case["birth_year"] else None
    return out


def cases_in_scope(conn: Connection, case_ids: list[str], scope: Sites) -> set[str]:
    """The cases a holder of ``scope`` may see: those with a candidate or a found person
    in scope (an enquiry has no site of its own; the persons it found have)."""
    if scope is None:
        return set(case_ids)
    in_scope = select(persons.c.id).where(queries.person_scope(scope))
    by_match = select(tracing_matches.c.case_id).where(
        tracing_matches.c.case_id.in_(case_ids),
        tracing_matches.c.person_id.in_(in_scope),
        offered_or_decided(),  # a candidate no longer offered brings no case in scope
    )
    by_found = select(tracing_cases.c.id).where(
        tracing_cases.c.id.in_(case_ids), tracing_cases.c.found_person_id.in_(in_scope)
    )
    return {str(c) for c in conn.execute(by_match.union(by_found)).scalars()}


def persons_in_scope(conn: Connection, person_ids: Iterable[str], scope: Sites) -> set[str]:
    """Of these persons, those a holder of ``scope`` may see. A case in scope by one of
    its persons (a candidate at the caller's site) names only those: a candidate, a found
    person or a household at another site is left out of what the caller reads."""
    wanted = sorted({str(p) for p in person_ids if p})
    if scope is None or not wanted:
        return set(wanted)
    return {
        str(p)
        for p in conn.execute(
            select(persons.c.id).where(persons.c.id.in_(wanted), queries.person_scope(scope))
        ).scalars()
    }


class TracingViews(Service):
    """Read models of the tracing work. A detention site in a view carries its real
    details (opened with the vault): the web layer hides detention sites from the roles
    not allowed to see them, and an enquirer learns the place once it may be disclosed."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """``calibration``: the matching model's (the app's), which turns the candidates'
        weights into the probabilities a view shows (``_matches``)."""
        super().__init__(db, clock)
        self.vault = vault
        if calibration is None:
            from corridor.services.search.person_search import engine_data

            calibration = engine_data()[0].calibration
        self.calibration = calibration

    def _located(self, view: V, conn: Connection) -> V:
        """``view`` with the real details of the detention sites it names."""
        return detention.reveal_in(view, self.vault, conn) if self.vault is not None else view

    def _cases_shown(self, conn: Connection, enquiry_id: str, scope: Sites) -> list[str]:
        """The enquiry's cases the holder of ``scope`` may see, in order: those with a
        candidate or a found person in scope (``cases_in_scope``). An enquiry with none
        is not found; a case outside scope (a child found at another site) is left out,
        as its case is (404): a protection officer of one site never reads another
        site's person through an enquiry that also seeks someone at theirs."""
        ids = [
            str(c)
            for c in conn.execute(
                select(tracing_cases.c.id)
                .where(tracing_cases.c.enquiry_id == enquiry_id)
                .order_by(tracing_cases.c.id)
            ).scalars()
        ]
        if scope is None:
            return ids
        visible = cases_in_scope(conn, ids, scope)
        if not visible:
            raise NotFound("enquiry")
        return [c for c in ids if c in visible]

    def enquiry(self, enquiry_id: str, scope: Sites = None) -> dict[str, Any]:
        """The enquiry with the enquirer and every case (candidates, log)."""
        with self.db.read() as conn:
            e = _enquiry_row(conn, enquiry_id)
            ids = self._cases_shown(conn, enquiry_id, scope)
            cases = self._located([self._case(conn, cid, scope) for cid in ids], conn)
            who = enquirer.open_row(self.vault, conn, e)
        return {
            "id": e["id"],
            "enquirer": {
                "name": who["name"],
                "contact": who["contact"],
                "relationship": e["enquirer_relationship"],
                "location": who["location"],
                "country": e["enquirer_country"],
                # True when the tracing key was destroyed: the fields above are null.
                "unavailable": who["unavailable"],
            },
            "note": who["note"],
            "created_by": e["created_by"],
            "created_at": e["created_at"].isoformat(),
            # Set once retention removed the enquirer's and sought persons' details.
            "anonymised_at": e["anonymised_at"].isoformat() if e["anonymised_at"] else None,
            "cases": cases,
        }

    def case(self, case_id: str, scope: Sites = None) -> dict[str, Any]:
        with self.db.read() as conn:
            if not cases_in_scope(conn, [case_id], scope):
                raise NotFound("case")
            return self._located(self._case(conn, case_id, scope), conn)

    def queue(self, scope: Sites = None) -> list[dict[str, Any]]:
        """Cases an officer still has to act on. Unaccompanied and separated children
        first, then other children sought, then cases with candidates waiting, oldest
        first."""
        today = self.clock().date()
        with self.db.read() as conn:
            rows = list(
                conn.execute(
                    select(tracing_cases).where(tracing_cases.c.state.in_(list(ACTIVE)))
                ).mappings()
            )
            if scope is not None:
                visible = cases_in_scope(conn, [r["id"] for r in rows], scope)
                rows = [r for r in rows if r["id"] in visible]
            if not rows:
                return []
            matches = _matches(
                conn,
                [r["id"] for r in rows],
                today,
                proposed_only=True,
                vault=self.vault,
                scope=scope,
                calibration=self.calibration,
            )
            found_ids = [r["found_person_id"] for r in rows if r["found_person_id"]]
            found = _summaries(conn, persons_in_scope(conn, found_ids, scope), today)
            self._located([matches, found], conn)
        items = []
        for r in rows:
            waiting = matches.get(r["id"], [])
            people = [m["person"] for m in waiting]
            if r["found_person_id"] in found:
                people.append(found[r["found_person_id"]])
            uasc = any(p["uasc"] for p in people)
            sought_age = today.year - r["birth_year"] if r["birth_year"] else None
            items.append(
                {
                    "case_id": r["id"],
                    "enquiry_id": r["enquiry_id"],
                    "state": r["state"],
                    "priority": ("uasc", "child", "adult")[queue_priority(uasc, sought_age)],
                    "sought": {"name": sought_name(r), "age": sought_age, "sex": r["sex"]},
                    "found_person": found.get(r["found_person_id"]),
                    "proposed_matches": waiting,
                    "opened_at": r["created_at"].isoformat(),
                    "_order": (
                        queue_priority(uasc, sought_age),
                        _STATE_ORDER[CaseState(r["state"])],
                        r["created_at"],
                        r["id"],
                    ),
                }
            )
        items.sort(key=lambda i: i["_order"])
        for i in items:
            del i["_order"]
        return items

    def enquiries(
        self,
        scope: Sites = None,
        state: str | None = None,
        page: int = 1,
        per_page: int = PER_PAGE,
    ) -> dict[str, Any]:
        """Every enquiry in scope, a page at a time (``tracing_enquiries.enquiry_list``):
        ``{items: [{id, created_at, enquirer_name, enquirer_relationship, state,
        priority, sought, open_cases, anonymised}], total, page, pages, per_page, state}``."""
        today = self.clock().date()
        with self.db.read() as conn:
            visible = None
            if scope is not None:
                ids = list(conn.execute(select(tracing_cases.c.id)).scalars())
                visible = cases_in_scope(conn, ids, scope)
            return enquiry_list(conn, today, scope, visible, state, page, per_page, self.vault)

    def enquirer_view(self, enquiry_id: str, scope: Sites = None) -> dict[str, Any]:
        """What may be told to the enquirer: per sought person, searching / found /
        closed, whether a message can be passed, and the site only once the found adult
        agreed (or, for a child, a protection officer decided so)."""
        with self.db.read() as conn:
            e = _enquiry_row(conn, enquiry_id)
            ids = self._cases_shown(conn, enquiry_id, scope)
            rows = list(
                conn.execute(
                    select(tracing_cases)
                    .where(tracing_cases.c.id.in_(ids))
                    .order_by(tracing_cases.c.id)
                ).mappings()
            )
            by_child = _decided_by_child_rule(conn, [r["id"] for r in rows])
            found_ids = [r["found_person_id"] for r in rows if r["found_person_id"]]
            withdrawn = withdrew_tracing(conn, found_ids)
            seen = persons_in_scope(conn, found_ids, scope)
            dead = deceased(conn, found_ids)
            out = []
            for r in rows:
                state = CaseState(r["state"])
                disclosure = Disclosure(r["disclosure"]) if r["disclosure"] else None
                if disclosure is Disclosure.AGREED and r["found_person_id"] in withdrawn | dead:
                    # The found person withdrew their consent to tracing after they
                    # agreed (or was anonymised), or died: no place. A death is told
                    # by an officer closing the case (``deceased``), not by this view.
                    disclosure = Disclosure.REFUSED
                reason = CloseReason(r["close_reason"]) if r["close_reason"] else None
                told = enquirer_status(
                    state, disclosure, reason, r["id"] in by_child, r["found_person_id"] in dead
                )
                item: dict[str, Any] = {
                    "case_id": r["id"],
                    "sought_name": sought_name(r),
                    "status": told.status,
                    "message_can_be_passed": told.message_can_be_passed,
                    "text": told.text,
                }
                # An erased found person's whereabouts are nobody's to tell any more.
                found = r["found_person_id"]
                # Where a person of another site is is not for this caller to tell.
                if (
                    site_disclosable(state, disclosure)
                    and found in seen
                    and not _erased(conn, found)
                ):
                    item["site"] = _site_of(conn, r["found_person_id"])
                    item["found_person_id"] = r["found_person_id"]
                out.append(item)
            self._located(out, conn)
            name = enquirer.open_row(self.vault, conn, e)["name"]
        return {"enquiry_id": e["id"], "enquirer_name": name, "sought": out}

    def _case(self, conn: Connection, case_id: str, scope: Sites = None) -> dict[str, Any]:
        """A case as the holder of ``scope`` reads it: its candidates and found person in
        scope only (``persons_in_scope``)."""
        today = self.clock().date()
        r = (
            conn.execute(select(tracing_cases).where(tracing_cases.c.id == case_id))
            .mappings()
            .first()
        )
        if r is None:
            raise NotFound("case")
        events = (
            conn.execute(
                select(tracing_case_events)
                .where(tracing_case_events.c.case_id == case_id)
                .order_by(tracing_case_events.c.seq)
            )
            .mappings()
            .all()
        )
        names = _user_names(conn, {ev["recorded_by"] for ev in events if ev["recorded_by"]})
        found_ids = [r["found_person_id"]] if r["found_person_id"] else []
        found = _summaries(conn, persons_in_scope(conn, found_ids, scope), today)
        decider = None
        if r["found_person_id"] in found:
            person = found[r["found_person_id"]]
            decider = disclosure_decider(is_child(person["age"], person["uasc"]))
        return {
            "id": r["id"],
            "enquiry_id": r["enquiry_id"],
            "state": r["state"],
            "sought": _sought(r, today),
            "found_person": found.get(r["found_person_id"]),
            "disclosure": r["disclosure"],
            # The role whose holder records the disclosure (a child: protection officer).
            "disclosure_decider": decider,
            # The family may no longer be told (``withdrew_tracing``).
            "found_person_withdrew": bool(withdrew_tracing(conn, found_ids)),
            "close_reason": r["close_reason"],
            "matches": _matches(
                conn,
                [case_id],
                today,
                vault=self.vault,
                scope=scope,
                calibration=self.calibration,
            ).get(
                case_id, []
            ),
            "history": [
                {
                    "kind": ev["kind"],
                    "from_state": ev["from_state"],
                    "to_state": ev["to_state"],
                    "match_id": ev["match_id"],
                    "disclosure": ev["disclosure"],
                    "reason": log_reason(ev["kind"], ev["to_state"], ev["reason"]),
                    "by": ev["recorded_by"],
                    "by_name": names.get(ev["recorded_by"]),
                    "role": ev["recorded_role"],
                    "at": ev["recorded_at"].isoformat(),
                }
                for ev in events
            ],
            "opened_at": r["created_at"].isoformat(),
            "updated_at": r["updated_at"].isoformat(),
        }


def _user_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """User id -> the name the user is shown by (for the case log)."""
    if not ids:
        return {}
    rows = conn.execute(select(users.c.id, users.c.display_name).where(users.c.id.in_(ids)))
    return {str(r.id): r.display_name for r in rows}


def person_ids_in(view: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    """Every registered person a view shows (for the audit log)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in ("person", "found_person", "household_of"):
                person = value.get(key)
                if isinstance(person, dict) and "id" in person:
                    found.append(person["id"])
            if "found_person_id" in value and value["found_person_id"]:
                found.append(value["found_person_id"])
            for v in value.values():
                if isinstance(v, dict | list):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(view)
    return list(dict.fromkeys(found))


def hide_detention_sites(view: Any) -> Any:
    """``view`` with every detention site blanked (PROTECTION.md 4: detention sites are
    for protection roles). Returns the same object, changed in place."""
    for holder in list(detention.site_holders(view)):
        if holder["site"].get("kind") == detention.KIND:
            # Every key of the site blanked (a case's has no locality, the enquirer
            # view's has): nothing of the facility is left, only why.
            holder["site"] = {**dict.fromkeys(holder["site"]), "hidden": "detention site"}
    return view


def _enquiry_row(conn: Connection, enquiry_id: str) -> Any:
    e = (
        conn.execute(select(tracing_enquiries).where(tracing_enquiries.c.id == enquiry_id))
        .mappings()
        .first()
    )
    if e is None:
        raise NotFound("enquiry")
    return e


def _summaries(conn: Connection, ids: Iterable[str], today: date) -> dict[str, dict[str, Any]]:
    """Registered persons as an officer sees them in a case: who, where now, and the
    unaccompanied/separated flag that puts them first."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    today_rows = conn.execute(
        select(
            persons,
            person_locations.c.site_id.label("at_site_id"),
            person_locations.c.state.label("at_state"),
            sites.c.name.label("at"),
            sites.c.kind.label("at_kind"),
        )
        .outerjoin(person_locations, person_locations.c.person_id == persons.c.id)
        .outerjoin(sites, sites.c.id == person_locations.c.site_id)
        .where(persons.c.id.in_(wanted))
    ).mappings()
    out = {}
    for row in today_rows:
        summary = queries.person_summary(row, today)
        if row["anonymised_at"] is not None:
            # Erased (at their request, or by retention): a case that found them keeps
            # that it did, not where they are now nor that they travel alone. Before,
            # the officer read an erased girl's camp and "unaccompanied" on her case.
            summary.update(uasc=None, deceased=False, site={**_NO_SITE, "hidden": ERASED_SITE})
            out[row["id"]] = summary
            continue
        summary["uasc"] = row["uasc"]
        summary["deceased"] = row["at_state"] == "deceased"
        summary["site"] = {"id": row["at_site_id"], "name": row["at"], "kind": row["at_kind"]}
        out[row["id"]] = summary
    return out


# Where an erased candidate is, as a case shows it: nowhere, and why.
_NO_SITE = {"id": None, "name": None, "kind": None}
ERASED_SITE = "anonymised"


def _matches(
    conn: Connection,
    case_ids: list[str],
    today: date,
    proposed_only: bool = False,
    vault: FieldVault | None = None,
    scope: Sites = None,
    *,
    calibration: Calibration,
) -> dict[str, list[dict[str, Any]]]:
    """The cases' candidates, best first; for a holder of ``scope``, those in scope only,
    and a household named only where its head is in scope.

    Each candidate's probability counts only the candidates of its case that the
    reader sees (``shown_probabilities``): the engine ranks an enquiry's candidates
    against each other, so the probability it stored counts candidates at sites out of
    the reader's scope, and persons who since refused tracing or were merged away. Shown
    as stored, 50% for a name that agrees in every part told an officer of one site
    that a second candidate, hidden from them, was there."""
    q = select(tracing_matches).where(
        tracing_matches.c.case_id.in_(case_ids), offered_or_decided()
    )
    if scope is not None:
        in_scope = select(persons.c.id).where(queries.person_scope(scope))
        q = q.where(tracing_matches.c.person_id.in_(in_scope))
    q = q.order_by(tracing_matches.c.id)  # in the order proposed
    shown = list(conn.execute(q).mappings())
    probability = shown_probabilities(conn, shown, calibration)
    rows = [m for m in shown if not proposed_only or m["status"] == "proposed"]
    # Best first; equal probabilities in the order proposed (the same on every database
    # and every read: a list's first candidate is not left to the query plan).
    rows.sort(key=lambda m: -probability[m["id"]])
    people = _summaries(conn, [m["person_id"] for m in rows], today)
    heads = persons_in_scope(conn, (m["household_of"] for m in rows), scope)
    households = _names(conn, heads, today)
    officers = _user_names(conn, {m["proposed_by"] for m in rows if m["proposed_by"]})
    opener = None
    if vault is not None:
        v = vault

        def opener(token: str) -> str | None:
            return v.open(TRACING_KEY, EXPLANATION_FIELD, token)

    out: dict[str, list[dict[str, Any]]] = {}
    for m in rows:
        out.setdefault(m["case_id"], []).append(
            {
                "id": m["id"],
                "person": people[m["person_id"]],
                "probability": probability[m["id"]],
                "weight": m["weight"],
                "explanation": stored_explanation(m["explanation"], opener),
                "found_by": m["found_by"],
                "proposed_by": m["proposed_by"],
                "proposed_by_name": officers.get(m["proposed_by"]),
                "household_of": households.get(m["household_of"]),
                "status": m["status"],
                "reason": log_reason("match", None, m["reason"]),
                "decided_by": m["decided_by"],
                "decided_at": m["decided_at"].isoformat() if m["decided_at"] else None,
                "proposed_at": m["created_at"].isoformat(),
            }
        )
    return out


def shown_probabilities(
    conn: Connection, rows: list[Any], calibration: Calibration
) -> dict[str, float]:
    """match id -> the probability of the candidate among the candidates of its case in
    ``rows`` (those a reader sees), from their stored weights: as the engine ranks
    them (``Calibration.probabilities``, the registry's size now), over those alone."""
    population = conn.execute(
        select(match_key_counts.c.n).where(match_key_counts.c.key == POPULATION_KEY)
    ).scalar()
    by_case: dict[str, list[Any]] = {}
    for m in rows:
        by_case.setdefault(m["case_id"], []).append(m)
    out: dict[str, float] = {}
    for matches in by_case.values():
        weights = [float(m["weight"]) for m in matches]
        for m, p in zip(
            matches, calibration.probabilities(weights, int(population or 0)), strict=True
        ):
            out[m["id"]] = round(p, 4)
    return out


def tracing_consented(person_id: Any) -> Any:
    """A condition: the person (a column or an id) consents to tracing now (PROTECTION.md
    2: a person who refused tracing is never offered)."""
    return exists(
        select(persons.c.id).where(
            persons.c.id == person_id, persons.c.consent_tracing.is_(True)
        )
    )


def withdrew_tracing(conn: Connection, person_ids: Iterable[str]) -> set[str]:
    """Those of ``person_ids`` who no longer consent to tracing (withdrawn since), or whose
    record was erased or anonymised: a found person the enquirer is told of as a refusal
    (``enquirer_view``), and whose family a case may no longer be recorded as informed
    or reunited with (``TracingService.transition``)."""
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return set()
    consenting = conn.execute(
        select(persons.c.id).where(
            persons.c.id.in_(ids),
            tracing_consented(persons.c.id),
            persons.c.anonymised_at.is_(None),
        )
    ).scalars()
    return set(ids) - set(consenting)


def offered_or_decided() -> Any:
    """The matches a view shows: every decided one (the case's record), and a proposed
    one only while its person consents to tracing and is a record of their own. A
    person who withdrew their consent after being proposed is no longer offered: left
    out of every view, and ``confirm`` finds no such match (an anonymised candidate
    stays, its explanation blanked: docs/tracing.md, "Retention"). Nor is
    a record merged into another while proposed for a case its survivor was proposed
    for too (the merge leaves that match where it is): the survivor is the candidate,
    once; an unmerge offers it again. A candidate the system set aside when they
    withdrew their consent (``retention.set_aside_proposed``) stays out of sight too:
    the case's record does not name a person who no longer agrees to be traced."""
    withdrew = and_(
        tracing_matches.c.decided_by == SYSTEM, tracing_matches.c.reason == WITHDREW
    )
    return or_(
        and_(tracing_matches.c.status != "proposed", ~withdrew),
        and_(
            tracing_matches.c.status == "proposed",
            tracing_consented(tracing_matches.c.person_id),
            tracing_matches.c.person_id.not_in(select(merged_persons.c.person_id)),
        ),
    )


def _names(conn: Connection, ids: set[str], today: date) -> dict[str, dict[str, Any]]:
    """Registered persons named beside a candidate (the confirmed person whose household
    the candidate is in): id, name and registration number only."""
    if not ids:
        return {}
    rows = conn.execute(select(persons).where(persons.c.id.in_(sorted(ids)))).mappings()
    out = {}
    for row in rows:
        summary = queries.person_summary(row, today)
        out[row["id"]] = {k: summary[k] for k in ("id", "name", "registration_number")}
    return out


def _decided_by_child_rule(conn: Connection, case_ids: list[str]) -> set[str]:
    """The cases whose disclosure a protection officer decided for a child (the case
    log's last disclosure entry says so)."""
    if not case_ids:
        return set()
    rows = conn.execute(
        select(tracing_case_events.c.case_id, tracing_case_events.c.by_child_rule)
        .where(
            tracing_case_events.c.case_id.in_(case_ids),
            tracing_case_events.c.kind == "disclosure",
        )
        .order_by(tracing_case_events.c.seq)
    )
    last: dict[str, bool] = {}
    for case_id, child in rows:
        last[str(case_id)] = bool(child)
    return {c for c, child in last.items() if child}


def deceased(conn: Connection, person_ids: Iterable[str]) -> set[str]:
    """Those of ``person_ids`` whose movement log ends in a recorded death."""
    wanted = [p for p in person_ids if p]
    if not wanted:
        return set()
    return set(
        conn.execute(
            select(person_locations.c.person_id).where(
                person_locations.c.person_id.in_(wanted),
                person_locations.c.state == "deceased",
            )
        ).scalars()
    )


def _erased(conn: Connection, person_id: str) -> bool:
    """Whether the person was anonymised (erased at their request, or by retention)."""
    at = conn.execute(select(persons.c.anonymised_at).where(persons.c.id == person_id)).first()
    return at is not None and at.anonymised_at is not None


def _site_of(conn: Connection, person_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(sites.c.id, sites.c.name, sites.c.locality, sites.c.kind)
        .join(person_locations, person_locations.c.site_id == sites.c.id)
        .where(person_locations.c.person_id == person_id)
    ).first()
    if row is None:
        return None
    return {"id": row.id, "name": row.name, "locality": row.locality, "kind": row.kind}
