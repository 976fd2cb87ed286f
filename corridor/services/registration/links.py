"""Removing a family link recorded wrongly (B recorded as A's mother when she is A's
aunt): the link and its inverse are marked removed, with who removed them, when and
why (migration 0035); nothing is deleted. Every reader of links reads the live ones
only (``queries.LIVE_LINK``), so the removed link no longer blocks the correct one
(``RegistrationService._check_generations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from corridor.errors import Conflict, NotFound
from corridor.services.base import AuditHook, live_id
from corridor.storage import locations, queries
from corridor.storage.queries import LIVE_LINK, Sites
from corridor.storage.tables import persons, relationships
from corridor.text import N_

# "other is person's <kind>" read from the other end.
INVERSE_LINK = {
    "spouse": "spouse",
    "child": "parent",
    "parent": "child",
    "sibling": "sibling",
    "twin": "twin",
    "grandchild": "grandparent",
    "grandparent": "grandchild",
    "cousin": "cousin",
    "uncle_aunt": "nephew_niece",
    "nephew_niece": "uncle_aunt",
    "other_relative": "other_relative",
}


class LinkNotFound(NotFound):
    """No such link, or one of its persons is outside the caller's sites (the same
    answer: no existence oracle). ``refused``: the persons out of reach, whose denial
    the write's gate records (``web/writes.py``)."""

    def __init__(self, refused: list[str] | None = None) -> None:
        super().__init__("link")
        self.refused = refused or []


def remove_link(
    conn: Connection,
    link_id: str,
    *,
    reason: str,
    removed_by: str,
    now: datetime,
    scope: Sites,
    audit: AuditHook,
    person_id: str | None = None,
) -> dict[str, Any]:
    """Mark the link ``link_id`` and its inverse removed, in the caller's transaction;
    audited once for each of its two persons. ``person_id``: the person whose page the
    request came from; the link must be theirs (a merged id names its survivor).
    Unknown, out of scope or not this person's: ``LinkNotFound``; removed already:
    ``Conflict`` (409)."""
    row = _link(conn, link_id)
    if row is None:
        raise LinkNotFound()
    ends = [str(row["person_id"]), str(row["other_person_id"])]
    if person_id is not None and live_id(conn, person_id) not in ends:
        raise LinkNotFound()
    # Both persons' row locks (as recording a link takes them): a removal and a link of
    # the same persons at once run one after the other.
    locations.lock_persons(conn, ends)
    found = set(
        conn.execute(
            select(persons.c.id).where(persons.c.id.in_(ends), queries.person_scope(scope))
        ).scalars()
    )
    if len(found) < 2:
        raise LinkNotFound([p for p in ends if p not in found])
    row = _link(conn, link_id)  # read again behind the locks
    if row is None:  # erased while this waited on the locks (erasure deletes the links)
        raise LinkNotFound()
    if row["removed_at"] is not None:
        raise Conflict(N_("this family link was removed already"), field="link_id")
    inverse = conn.execute(
        select(relationships.c.id).where(
            relationships.c.person_id == row["other_person_id"],
            relationships.c.other_person_id == row["person_id"],
            relationships.c.kind == INVERSE_LINK.get(str(row["kind"]), str(row["kind"])),
            LIVE_LINK,
        )
    ).scalar()
    ids = [link_id] + ([str(inverse)] if inverse is not None else [])
    conn.execute(
        update(relationships)
        .where(relationships.c.id.in_(ids), LIVE_LINK)
        .values(removed_at=now, removed_by=removed_by, removed_reason=reason)
    )
    audit(conn, ends)
    return removed_view(conn, link_id)


def _link(conn: Connection, link_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(relationships).where(relationships.c.id == link_id)).mappings()
    found = row.first()
    return dict(found) if found is not None else None


def removed_view(conn: Connection, link_id: str) -> dict[str, Any]:
    """The removed link as answered: ids, kind and when (no free text: a retry answers
    the same from what the idempotency key's row kept)."""
    row = _link(conn, link_id)
    if row is None or row["removed_at"] is None:
        raise LinkNotFound()
    return {
        "id": row["id"],
        "person_id": row["person_id"],
        "other_person_id": row["other_person_id"],
        "kind": row["kind"],
        "removed_at": row["removed_at"],
    }
