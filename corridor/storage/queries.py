"""Read queries, shaped for output. No commits here: callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, or_, select, true

from corridor.domain.birth import age_bracket, age_on, format_birth_date
from corridor.domain.ids import format_registration_number
from corridor.domain.names import NAME_PARTS
from corridor.errors import NotFound
from corridor.storage.merge_tables import merged_ids, merged_persons
from corridor.storage.security_tables import disposal_log
from corridor.storage.tables import (
    households,
    person_documents,
    person_locations,
    persons,
    relationships,
    sites,
)

NAME_COLUMNS = NAME_PARTS


def site_out(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    return {
        k: row.get(k)
        for k in (
            "id",
            "name",
            "kind",
            "pcode",
            "locality",
            "latitude",
            "longitude",
            "capacity",
            "closed_at",
        )
    }


def list_sites(conn: Connection) -> list[dict[str, Any]]:
    return [site_out(r) for r in conn.execute(select(sites).order_by(sites.c.name)).mappings()]


def get_site(conn: Connection, site_id: str) -> dict[str, Any]:
    row = conn.execute(select(sites).where(sites.c.id == site_id)).mappings().first()
    if row is None:
        raise NotFound("site")
    return site_out(row)


def site_names(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(select(sites.c.id, sites.c.name)).all())


# A site scope: the ids of the sites whose records a caller may touch, or None for every
# site (internal callers, and roles the matrix grants an action on any site).
Sites = Collection[str] | None

# The family links in force: a link removed (migration 0035) keeps its row, marked, and
# every reader of links leaves it out.
LIVE_LINK: ColumnElement[bool] = relationships.c.removed_at.is_(None)


def person_scope(sites: Sites) -> ColumnElement[bool]:
    """Persons a holder of ``sites`` may see: registered at one of them, or now at one of
    them, or travelling to or from one. The condition goes into the query itself, so an
    out-of-scope person is simply not there (404, never 403: no existence oracle). A
    person merged into another is not there either: its id leads to the survivor
    (services/registration/merges.py ``resolve``)."""
    live = persons.c.id.not_in(select(merged_persons.c.person_id))
    return and_(live, reachable(sites))


def reachable(sites: Sites) -> ColumnElement[bool]:
    """``person_scope`` less the merges: the persons of ``sites``, merged or not (a merge
    and an unmerge check both persons' scope with it)."""
    if sites is None:
        return true()
    wanted = sorted(sites)
    here = select(person_locations.c.person_id).where(
        or_(
            person_locations.c.site_id.in_(wanted),
            person_locations.c.destination_site_id.in_(wanted),
        )
    )
    return or_(persons.c.site_id.in_(wanted), persons.c.id.in_(here))


def in_person_scope(row: RowMapping | dict[str, Any], sites: Sites) -> bool:
    """``person_scope`` for a row already read (its ``site_id``, and its location's
    ``loc_site`` and ``destination_site_id``): for lists that have read these anyway."""
    if sites is None:
        return True
    return bool({row["site_id"], row["loc_site"], row["destination_site_id"]} & set(sites))


def survivors(conn: Connection, person_ids: Iterable[str], max_chain: int = 50) -> list[str]:
    """The ids these lead to through the merges in force (a merged person's id leads to
    its survivor, through merges of merges), each once, in order."""
    out: dict[str, None] = {}
    pending = list(dict.fromkeys(person_ids))
    for _ in range(max_chain):
        if not pending:
            break
        found = dict(
            conn.execute(
                select(merged_persons.c.person_id, merged_persons.c.survivor_id)
                .where(merged_persons.c.person_id.in_(pending))
                .union_all(  # an old id whose own record is not held here (a node)
                    select(merged_ids.c.person_id, merged_ids.c.survivor_id).where(
                        merged_ids.c.person_id.in_(pending)
                    )
                )
            ).all()
        )
        for pid in pending:
            if pid not in found:
                out[pid] = None
        pending = list(dict.fromkeys(found.values()))
    if pending:
        raise RuntimeError("a chain of merges too long to follow")
    return list(out)


def merged_away(conn: Connection, person_ids: Iterable[str]) -> set[str]:
    """The ids of ``person_ids`` merged into another person (``merged_persons``, or at a
    site node ``merged_ids``: an old id whose own record it never held)."""
    ids = sorted(set(person_ids))
    if not ids:
        return set()
    return set(
        conn.execute(
            select(merged_persons.c.person_id)
            .where(merged_persons.c.person_id.in_(ids))
            .union_all(select(merged_ids.c.person_id).where(merged_ids.c.person_id.in_(ids)))
        ).scalars()
    )


def by_number(conn: Connection, number: str) -> str | None:
    """The person a (normalised) registration number names here: a person held, or an
    old id merged elsewhere whose own record is not held here (``merged_ids``: it then
    leads to its survivor through ``survivors``)."""
    pid = conn.execute(select(persons.c.id).where(persons.c.registration_number == number)).scalar()
    if pid is None:
        pid = conn.execute(
            select(merged_ids.c.person_id).where(merged_ids.c.registration_number == number)
        ).scalar()
    return None if pid is None else str(pid)


def merged_into(conn: Connection, person_id: str) -> list[str]:
    """Every id that leads to ``person_id`` through the merges in force (not itself)."""
    out: list[str] = []
    frontier = [person_id]
    while frontier and len(out) < 10_000:
        found = list(
            conn.execute(
                select(merged_persons.c.person_id).where(merged_persons.c.survivor_id.in_(frontier))
            ).scalars()
        )
        out.extend(found)
        frontier = found
    return out


def site_scope(column: ColumnElement[Any], sites: Sites) -> ColumnElement[bool]:
    """Rows whose site ``column`` is in scope."""
    return true() if sites is None else column.in_(sorted(sites))


def person_row(conn: Connection, person_id: str, sites: Sites = None) -> RowMapping:
    row = (
        conn.execute(select(persons).where(persons.c.id == person_id, person_scope(sites)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("person")
    return row


def require_persons(conn: Connection, person_ids: Collection[str], sites: Sites) -> None:
    """NotFound unless every one of ``person_ids`` exists within the scope."""
    if sites is None or not person_ids:
        return
    found = set(
        conn.execute(
            select(persons.c.id).where(persons.c.id.in_(list(person_ids)), person_scope(sites))
        ).scalars()
    )
    if set(person_ids) - found:
        raise NotFound("person")


def get_person(
    conn: Connection, person_id: str, today: date, sites: Sites = None
) -> dict[str, Any]:
    return person_out(conn, person_row(conn, person_id, sites), today)


def display_name(row: RowMapping | dict[str, Any]) -> str:
    """Latin chain if any, else the original-script chain, else a kunya or alias."""
    latin = " ".join(
        row[f] for f in ("given_name", "father_name", "grandfather_name", "family_name") if row[f]
    )
    original = " ".join(
        row[f]
        for f in (
            "given_name_original",
            "father_name_original",
            "grandfather_name_original",
            "family_name_original",
        )
        if row[f]
    )
    if latin and original:
        return f"{latin} ({original})"
    return latin or original or row["kunya"] or (row["alternate_names"] or ["?"])[0]


def person_summary(row: RowMapping | dict[str, Any], today: date) -> dict[str, Any]:
    age = age_on(row["birth_date"], row["birth_precision"], today)
    return {
        "id": row["id"],
        "registration_number": format_registration_number(row["registration_number"]),
        "name": display_name(row),
        "sex": row["sex"],
        "age": age,
        "age_bracket": age_bracket(age),
    }


def person_out(conn: Connection, row: RowMapping, today: date) -> dict[str, Any]:
    """A person with documents and current location, as the API shows it."""
    return persons_out(conn, [row], today)[0]


def persons_out(conn: Connection, rows: Sequence[RowMapping], today: date) -> list[dict[str, Any]]:
    """Several persons at once: three queries whatever their number."""
    ids = [r["id"] for r in rows]
    docs: dict[str, list[dict[str, Any]]] = {pid: [] for pid in ids}
    for d in conn.execute(
        select(person_documents)
        .where(person_documents.c.person_id.in_(ids))
        .order_by(person_documents.c.id)
    ).mappings():
        docs[d["person_id"]].append(
            {"type": d["doc_type"], "number": d["number"], "issuing_country": d["issuing_country"]}
        )
    locs = {
        loc["person_id"]: loc
        for loc in conn.execute(
            select(person_locations).where(person_locations.c.person_id.in_(ids))
        ).mappings()
    }
    return [_person_dict(row, docs[row["id"]], locs.get(row["id"]), today) for row in rows]


def person_from(
    row: RowMapping | dict[str, Any], docs: list[dict[str, Any]], today: date
) -> dict[str, Any]:
    """A person row held elsewhere than the table (a sync change's state), shaped as
    ``person_out`` shapes a stored one (no location)."""
    return _person_dict(row, docs, None, today)


def _person_dict(
    row: RowMapping | dict[str, Any],
    docs: list[dict[str, Any]],
    loc: RowMapping | None,
    today: date,
) -> dict[str, Any]:
    names = {f: row[f] for f in NAME_COLUMNS}
    names.update(
        alternate_names=row["alternate_names"], kunya=row["kunya"], mother_name=row["mother_name"]
    )
    age = age_on(row["birth_date"], row["birth_precision"], today)
    estimated = (
        age_on(row["birth_date"], "day", row["registered_at"].date())
        if row["birth_precision"] == "estimated"
        else None
    )
    return {
        "id": row["id"],
        "registration_number": format_registration_number(row["registration_number"]),
        "site_id": row["site_id"],
        "household_id": row["household_id"],
        "relationship_to_head": row["relationship_to_head"],
        "name": display_name(row),
        "names": names,
        "sex": row["sex"],
        "birth_date": format_birth_date(row["birth_date"], row["birth_precision"]),
        "birth_precision": row["birth_precision"],
        "estimated_age_at_registration": estimated,
        "age": age,
        "age_bracket": age_bracket(age),
        "nationality": row["nationality"],
        "origin": {"pcode": row["origin_pcode"], "locality": row["origin_locality"]},
        "languages": row["languages"],
        "phone": row["phone"],
        "medical": row["medical"],
        "documents": docs,
        "vulnerabilities": {
            "uasc": row["uasc"],
            # muac_mm, oedema, washington_group and medical_note: sealed in "medical",
            # filled in when the field vault opens it.
            "muac_status": row["muac_status"],
            "disabled": row["disabled"],
            "pregnant_lactating": row["pregnant_lactating"],
            "serious_medical_condition": row["serious_medical_condition"],
            "injury": row["injury"],
            "elderly_alone": row["elderly_alone"],
        },
        "consent": {"tracing": row["consent_tracing"], "share_with": row["consent_share_with"]},
        "purpose": row["purpose"],
        "legal_basis": row["legal_basis"],
        "note": row["note"],
        # Not shown: the gate reads it to tell whose group the note is, then drops it.
        "note_roles": row.get("note_roles"),
        "biometric_reference": row["biometric_reference"],
        "location": location_out(loc),
        "registered_at": row["registered_at"],
        "updated_at": row["updated_at"],
    }


def location_out(loc: RowMapping | None) -> dict[str, Any]:
    if loc is None:
        return {"site_id": None, "state": "unknown", "since": None}
    return {
        "site_id": loc["site_id"],
        "state": loc["state"],
        "since": loc["since"],
        "manifest_id": loc["manifest_id"],
        "destination_site_id": loc["destination_site_id"],
    }


def household_out(
    conn: Connection, household_id: str, today: date, sites: Sites = None
) -> dict[str, Any]:
    """A household with the members in scope (none in scope: NotFound)."""
    hh = conn.execute(select(households).where(households.c.id == household_id)).mappings().first()
    if hh is None:
        raise NotFound("household")
    rows = (
        conn.execute(
            select(persons)
            .where(persons.c.household_id == household_id, person_scope(sites))
            .order_by(persons.c.id)
        )
        .mappings()
        .all()
    )
    if not rows:
        raise NotFound("household")
    members = persons_out(conn, rows, today)
    members.sort(key=lambda p: (p["id"] != hh["head_person_id"], p["id"]))
    return {
        "id": hh["id"],
        "site_id": hh["site_id"],
        "head_person_id": hh["head_person_id"],
        "members": members,
    }


def last_disposals(conn: Connection, record_ids: Collection[str]) -> dict[str, str]:
    """The category of the last disposal of each of ``record_ids`` that has one
    (``disposal_log``: an erasure, a retention run, a node's forget)."""
    if not record_ids:
        return {}
    last: dict[str, str] = {}
    for rid, category in conn.execute(
        select(disposal_log.c.record_id, disposal_log.c.category)
        .where(disposal_log.c.record_id.in_(sorted(record_ids)))
        .order_by(disposal_log.c.id)
    ):
        last[str(rid)] = str(category)
    return last
