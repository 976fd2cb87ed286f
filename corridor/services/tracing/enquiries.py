"""The list of every enquiry a caller may see, children first, a page at a time.

An enquiry has no site of its own: it is in a caller's scope when one of its cases is
(a candidate or the found person is in scope), the same rule as for one enquiry
(``TracingViews.enquiry``). Out-of-scope enquiries are simply not in the list.

A row says what an officer needs to pick an enquiry: when, who asks (the name, opened
from its seal for the page shown only: null when it cannot be read) and what they are
to the persons sought, how many are sought and how many of those cases are still open,
and whether a child is concerned. The persons sought and the candidates are on the
enquiry's own page (read there, audited there).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from corridor.domain.tracing import CaseState, queue_priority
from corridor.errors import Problem, ValidationFailed
from corridor.services.protection.field_vault import FieldVault
from corridor.services.tracing import enquirer as enquirer
from corridor.storage.queries import Sites
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import tracing_cases, tracing_enquiries, tracing_matches
from corridor.text import N_

__all__ = ["ENQUIRY_STATES", "PER_PAGE", "enquiry_list"]

# "open": at least one of its cases is still to act on; "closed": every case is
# reunited or closed.
ENQUIRY_STATES = ("open", "closed")
PER_PAGE = 50
PRIORITIES = ("uasc", "child", "adult")
_FINAL = (CaseState.REUNITED.value, CaseState.CLOSED.value)


def enquiry_list(
    conn: Connection,
    today: date,
    scope: Sites,
    visible_cases: set[str] | None,
    state: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    vault: FieldVault | None = None,
) -> dict[str, Any]:
    """One page of the enquiries whose cases include one of ``visible_cases`` (every
    enquiry when ``scope`` is None), children first, then open before closed, oldest
    first."""
    problems = []
    if state is not None and state not in ENQUIRY_STATES:
        problems.append(Problem("state", N_("must be open or closed")))
    if page < 1:
        problems.append(Problem("page", N_("must be at least {n}", n=1)))
    if problems:
        raise ValidationFailed(problems)
    cases = list(
        conn.execute(
            select(
                tracing_cases.c.id,
                tracing_cases.c.enquiry_id,
                tracing_cases.c.state,
                tracing_cases.c.birth_year,
                tracing_cases.c.found_person_id,
            )
        ).mappings()
    )
    if scope is not None:
        # Only the cases in scope, as the enquiry itself shows them: what is counted
        # (persons sought, cases open) and the priority are of those alone.
        cases = [c for c in cases if c["id"] in (visible_cases or set())]
    uasc = _cases_with_uasc(conn, [c["id"] for c in cases])
    by_enquiry: dict[str, dict[str, Any]] = {}
    for c in cases:
        e = by_enquiry.setdefault(c["enquiry_id"], {"sought": 0, "open": 0, "priority": 2})
        e["sought"] += 1
        if c["state"] not in _FINAL:
            e["open"] += 1
        age = today.year - c["birth_year"] if c["birth_year"] else None
        e["priority"] = min(e["priority"], queue_priority(c["id"] in uasc, age))
    rows = _enquiry_rows(conn, list(by_enquiry))
    items = []
    for r in rows:
        e = by_enquiry[r["id"]]
        e_state = "open" if e["open"] else "closed"
        if state is not None and e_state != state:
            continue
        items.append(
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "enquirer_name": None,  # opened below, for the page shown
                "_row": r,
                "enquirer_relationship": r["enquirer_relationship"],
                "anonymised": r["anonymised_at"] is not None,
                "state": e_state,
                "priority": PRIORITIES[e["priority"]],
                "sought": e["sought"],
                "open_cases": e["open"],
                "_order": (e["priority"], e_state != "open", r["created_at"], r["id"]),
            }
        )
    items.sort(key=lambda i: i["_order"])
    total = len(items)
    pages = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    shown_items = items[start : start + per_page]
    # Only the enquirers of the page shown are opened (one check of the keys); a name
    # that cannot be read (the tracing key destroyed) is null.
    names = enquirer.open_rows(vault, conn, [i["_row"] for i in shown_items])
    for i in shown_items:
        del i["_order"]
        row = i.pop("_row")
        i["created_at"] = _iso(i["created_at"])
        i["enquirer_name"] = names[row["id"]]["name"]
    return {
        "items": shown_items,
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "state": state,
    }


def _cases_with_uasc(conn: Connection, case_ids: list[str]) -> set[str]:
    """Cases whose waiting candidate or found person is an unaccompanied or separated
    child (they come first, as in the queue)."""
    if not case_ids:
        return set()
    child = select(persons.c.id).where(persons.c.uasc.in_(("unaccompanied", "separated")))
    by_match = select(tracing_matches.c.case_id).where(
        tracing_matches.c.case_id.in_(case_ids),
        tracing_matches.c.status == "proposed",
        tracing_matches.c.person_id.in_(child),
    )
    by_found = select(tracing_cases.c.id).where(
        tracing_cases.c.id.in_(case_ids), tracing_cases.c.found_person_id.in_(child)
    )
    return {str(c) for c in conn.execute(by_match.union(by_found)).scalars()}


def _enquiry_rows(conn: Connection, ids: list[str]) -> list[Any]:
    if not ids:
        return []
    return list(
        conn.execute(
            select(
                tracing_enquiries.c.id,
                tracing_enquiries.c.created_at,
                tracing_enquiries.c.sealed,
                tracing_enquiries.c.enquirer_relationship,
                tracing_enquiries.c.anonymised_at,
            ).where(tracing_enquiries.c.id.in_(ids))
        ).mappings()
    )


def _iso(value: datetime | str) -> str:
    return value if isinstance(value, str) else value.isoformat()
