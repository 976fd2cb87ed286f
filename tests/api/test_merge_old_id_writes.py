"""Writes sent to a merged person's old id land on the survivor (issue 15, for issue 16).

A tablet that was offline, or a second desk, keeps the id it had. Two persons are
merged; then every person write of the route table (API routes and page forms) is sent
with the old id: it answers 2xx, the write is the survivor's (its audit event names the
survivor), and nothing is stored or audited under the old id. After an unmerge, what was
written through the old id while merged stays with the survivor ("what was recorded
about the survivor after the merge stays with it", docs/api.md). Generated from the
route table: a new person write route fails ``test_every_person_write_is_covered`` until
it is given a case here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from corridor.security.tables import audit_events
from corridor.storage import Database
from corridor.storage.tables import manifest_items, movements, persons, relationships
from corridor.storage.tracing_tables import tracing_matches
from corridor.web import create_app
from tests.api.helpers import register, site
from tests.conftest import make_client
from tests.support.route_table import route_cases
from tests.web.conftest import page_client

# Person writes that act on the id given, not on its survivor, or that are reads.
NOT_LED: dict[str, str] = {
    "POST /api/persons/{person_id}/unmerge": "acts on the merged id itself",
    "POST /persons/{person_id}/unmerge": "acts on the merged id itself",
    "POST /api/persons/{person_id}/merge": "a merge of an old id is refused (409)",
    "POST /persons/{person_id}/merge": "a merge of an old id is refused (409)",
    "POST /api/persons/{person_id}/not-duplicate": "a decision about the pair itself",
    "POST /persons/{person_id}/not-duplicate": "a decision about the pair itself",
    "POST /api/persons/{person_id}/resolve-conflict": "a decision about a sync conflict of "
    "the id's own record: a merged-away person's conflicts leave the queue (404)",
    "POST /persons/{person_id}/resolve-conflict": "a decision about a sync conflict of the "
    "id's own record: a merged-away person's conflicts leave the queue (404)",
    "POST /api/persons/{person_id}/resolve-hold": "a decision about an erasure received "
    "for the id's own record: a merged-away person's leave the queue (404)",
    "POST /persons/{person_id}/resolve-hold": "a decision about an erasure received for the "
    "id's own record: a merged-away person's leave the queue (404)",
    "POST /api/persons/search": "a read",
    "POST /dpo/audit": "a read (who opened a record)",
    "POST /dpo/holds": "by registration number, the officer's own look-up",
}


def person_writes() -> list[str]:
    """The write routes of the route table that name a person (path or body)."""
    out = []
    for c in route_cases(create_app()):
        if c.reads:
            continue
        text = json.dumps(c.body, default=str)
        if "person_id" in c.params or "{person_id}" in text or "{registration_number}" in text:
            out.append(c.key)
    return out


class World:
    def __init__(self, database: Database, clock: Any) -> None:
        self.db = database
        self.api = make_client(database, clock)
        self.camp = site(self.api, "Camp A")
        self.hospital = site(self.api, "Hospital H", "hospital")
        self.survivor = register(self.api, self.camp, given_name="Hassan", family_name="Jabbouri")
        old = register(self.api, self.camp, given_name="Hassan", family_name="Jabouri")
        self.old, self.old_number = old["id"], old["registration_number"]
        relative = register(self.api, self.camp, given_name="Omar", family_name="Jabbouri")
        self.relative, self.relative_number = relative["id"], relative["registration_number"]
        r = self.api.post(
            "/api/tracing/enquiries",
            json={
                "enquirer": {"name": "Amira Haddad", "contact": "+49 151 2345 6789",
                             "relationship": "sibling", "location": "Berlin", "country": "DEU"},
                "sought": [{"given_name": "Zeynep", "family_name": "Nobody",
                            "enquirer_is": "sibling"}],
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        self.case = r.json()["cases"][0]["id"]
        self.survivor_id = self.survivor["id"]
        self.own = self.stored_under(self.old)  # its rows before the merge (its registration)
        r = self.api.post(
            f"/api/persons/{self.survivor_id}/merge", json={"other_person_id": self.old}
        )
        assert r.status_code == 201, r.text
        self.pages = page_client(database, clock)
        self.pages.page(f"/persons/{self.survivor_id}")
        self.manifest = ""
        self.link_id = ""

    def draft(self, with_survivor: bool = False) -> str:
        r = self.api.post(
            "/api/manifests",
            json={"vehicle": "truck", "from_site_id": self.camp, "to_site_id": self.hospital},
        )
        assert r.status_code == 201, r.text
        self.manifest = r.json()["id"]
        if with_survivor:
            r = self.api.post(
                f"/api/manifests/{self.manifest}/persons",
                json={"person_ids": [self.survivor_id]},
            )
            assert r.status_code == 200, r.text
        return self.manifest

    def dispatched(self) -> str:
        self.draft(with_survivor=True)
        r = self.api.post(f"/api/manifests/{self.manifest}/dispatch")
        assert r.status_code == 200, r.text
        return self.manifest

    def form(self, url: str, data: dict[str, str]) -> Any:
        body = {"idempotency_key": str(uuid.uuid4()), **data}
        return self.pages.submit(url, body, follow_redirects=False)

    def count(self, table: Any, *where: Any) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())

    def person(self, person_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return dict(
                conn.execute(select(persons).where(persons.c.id == person_id)).mappings().one()
            )

    def shows(self, person_id: str, text: str) -> bool:
        """Whether the person's record (as the API answers it) holds ``text``."""
        r = self.api.get(f"/api/persons/{person_id}")
        assert r.status_code == 200, r.text
        assert r.json()["id"] == person_id
        return text in r.text

    def stored_under(self, person_id: str) -> int:
        """Rows naming ``person_id`` (movements, links, manifests, tracing matches)."""
        return (
            self.count(movements, movements.c.person_id == person_id)
            + self.count(
                relationships,
                or_(
                    relationships.c.person_id == person_id,
                    relationships.c.other_person_id == person_id,
                ),
            )  # fmt: skip
            + self.count(manifest_items, manifest_items.c.person_id == person_id)
            + self.count(tracing_matches, tracing_matches.c.person_id == person_id)
        )

    def audited(self, person_id: str) -> int:
        return self.count(
            audit_events, audit_events.c.person_id == person_id, audit_events.c.outcome == "allowed"
        )


def _moved(w: World, kind: str) -> int:
    return w.count(movements, movements.c.person_id == w.survivor_id, movements.c.kind == kind)


def _cousin(w: World) -> int:
    return w.count(
        relationships,
        relationships.c.person_id == w.survivor_id,
        relationships.c.other_person_id == w.relative,
        relationships.c.kind == "cousin",
        relationships.c.removed_at.is_(None),
    )


def _cousin_link(w: World) -> None:
    r = w.api.post(
        "/api/relationships",
        json={"person_id": w.survivor_id, "other_person_id": w.relative, "kind": "cousin"},
    )
    assert r.status_code == 201, r.text
    w.link_id = r.json()["id"]


def _cousin_removed(w: World) -> bool:
    return _cousin(w) == 0 and w.count(
        relationships,
        relationships.c.id == w.link_id,
        relationships.c.removed_at.is_not(None),
    ) == 1


def _on_board(w: World) -> int:
    return w.count(
        manifest_items,
        manifest_items.c.manifest_id == w.manifest,
        manifest_items.c.person_id == w.survivor_id,
    )


def _matched(w: World) -> int:
    return w.count(
        tracing_matches,
        tracing_matches.c.case_id == w.case,
        tracing_matches.c.person_id == w.survivor_id,
    )


# Per route: set up (what the write needs), the write with the old id, and whether the
# survivor holds it (asked after the write, and again after the unmerge).
Setup = Callable[[World], None]
Write = Callable[[World], Any]
Holds = Callable[[World], bool]
CASES: dict[str, tuple[Setup, Write, Holds]] = {
    "PATCH /api/persons/{person_id}": (
        lambda w: None,
        lambda w: w.api.patch(f"/api/persons/{w.old}", json={"note": "seen at the gate"}),
        lambda w: w.shows(w.survivor_id, "seen at the gate"),
    ),
    "POST /api/persons/{person_id}/events": (
        lambda w: None,
        lambda w: w.api.post(
            f"/api/persons/{w.old}/events", json={"kind": "hospitalised", "to_site_id": w.hospital}
        ),
        lambda w: _moved(w, "hospitalised") == 1,
    ),
    "POST /api/relationships": (
        lambda w: None,
        lambda w: w.api.post(
            "/api/relationships",
            json={"person_id": w.old, "other_person_id": w.relative, "kind": "cousin"},
        ),
        lambda w: _cousin(w) == 1,
    ),
    "POST /api/manifests/{manifest_id}/persons": (
        lambda w: w.draft() and None,
        lambda w: w.api.post(f"/api/manifests/{w.manifest}/persons", json={"person_ids": [w.old]}),
        lambda w: _on_board(w) == 1,
    ),
    "DELETE /api/manifests/{manifest_id}/persons/{person_id}": (
        lambda w: w.draft(with_survivor=True) and None,
        lambda w: w.api.delete(f"/api/manifests/{w.manifest}/persons/{w.old}"),
        lambda w: _on_board(w) == 0,
    ),
    "POST /api/manifests/{manifest_id}/check-ins": (
        lambda w: w.dispatched() and None,
        lambda w: w.api.post(f"/api/manifests/{w.manifest}/check-ins", json={"person_id": w.old}),
        lambda w: _moved(w, "arrived") == 1,
    ),
    "POST /api/tracing/cases/{case_id}/candidates": (
        lambda w: None,
        lambda w: w.api.post(f"/api/tracing/cases/{w.case}/candidates", json={"person_id": w.old}),
        lambda w: _matched(w) == 1,
    ),
    "POST /api/persons/{person_id}/erasure": (
        lambda w: None,
        lambda w: w.api.post(
            f"/api/persons/{w.old}/erasure", json={"ground": "consent_withdrawn", "confirm": True}
        ),
        lambda w: w.person(w.survivor_id)["anonymised_at"] is not None,
    ),
    "POST /api/persons/{person_id}/renumber": (
        lambda w: setattr(w, "number_before", w.person(w.survivor_id)["registration_number"]),
        lambda w: w.api.post(f"/api/persons/{w.old}/renumber", json={"reason": "given twice"}),
        lambda w: w.person(w.survivor_id)["registration_number"] != w.number_before,
    ),
    "POST /persons/{person_id}/events": (
        lambda w: None,
        lambda w: w.form(
            f"/persons/{w.old}/events", {"kind": "hospitalised", "to_site_id": w.hospital}
        ),
        lambda w: _moved(w, "hospitalised") == 1,
    ),
    "POST /persons/{person_id}/health": (
        lambda w: None,
        lambda w: w.form(
            f"/persons/{w.old}/health", {"muac_mm": "", "medical_note": "seen at the gate"}
        ),
        lambda w: w.shows(w.survivor_id, "seen at the gate"),
    ),
    "POST /persons/{person_id}/links": (
        lambda w: None,
        lambda w: w.form(
            f"/persons/{w.old}/links",
            {"registration_number": w.relative_number, "link_kind": "cousin"},
        ),
        lambda w: _cousin(w) == 1,
    ),
    "POST /persons/{person_id}/links/{link_id}/remove": (
        _cousin_link,
        lambda w: w.form(
            f"/persons/{w.old}/links/{w.link_id}/remove", {"reason": "not his cousin"}
        ),
        _cousin_removed,
    ),
    "POST /manifests/{manifest_id}/persons": (
        lambda w: w.draft() and None,
        lambda w: w.form(
            f"/manifests/{w.manifest}/persons",
            {"registration_numbers": w.old_number, "separation_reason": ""},
        ),
        lambda w: _on_board(w) == 1,
    ),
    "POST /manifests/{manifest_id}/remove": (
        lambda w: w.draft(with_survivor=True) and None,
        lambda w: w.form(f"/manifests/{w.manifest}/remove", {"person_id": w.old}),
        lambda w: _on_board(w) == 0,
    ),
    "POST /manifests/{manifest_id}/check-in": (
        lambda w: w.dispatched() and None,
        lambda w: w.form(f"/manifests/{w.manifest}/check-in", {"person_id": w.old}),
        lambda w: _moved(w, "arrived") == 1,
    ),
    "POST /tracing/cases/{case_id}/candidates": (
        lambda w: None,
        lambda w: w.form(f"/tracing/cases/{w.case}/candidates", {"person_id": w.old}),
        lambda w: _matched(w) == 1,
    ),
}


def test_every_person_write_is_covered() -> None:
    """Each person write of the route table is led to the survivor here, or says why not."""
    writes = person_writes()
    assert writes, "the route table lists no person write"
    missing = sorted(set(writes) - set(CASES) - set(NOT_LED))
    assert not missing, f"person writes with no old-id case: {missing}"
    assert not set(CASES) - set(writes), "a case for a route the table does not list"


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_write_to_an_old_id_lands_on_the_survivor(database, clock, key: str) -> None:
    setup, write, holds = CASES[key]
    w = World(database, clock)
    setup(w)
    before = (w.stored_under(w.old), w.audited(w.old), w.audited(w.survivor_id))
    assert not holds(w), "the survivor held the write before it was made"
    r = write(w)
    assert r.status_code < 400, (r.status_code, r.text[:500])
    if r.status_code in (303, 302):  # a page form: back to a page, not to an error
        assert "error" not in r.headers.get("location", ""), r.headers
    assert holds(w), "the write sent to the old id is not the survivor's"
    # Nothing stored, nothing audited under the old id; the survivor's event is there.
    assert w.stored_under(w.old) == before[0]
    # An erasure of the survivor erases the record merged into it as well (the same
    # person's data), and audits that record's erasure under its own id, once.
    erased_too = 1 if key == "POST /api/persons/{person_id}/erasure" else 0
    assert w.audited(w.old) == before[1] + erased_too
    assert w.audited(w.survivor_id) > before[2]
    # An unmerge leaves what was written through the old id with the survivor.
    r = w.api.post(f"/api/persons/{w.old}/unmerge", json={"reason": "two men"})
    if erased_too:
        # Both records erased: undoing the merge would bring back what followed the
        # survivor (tests/api/test_erasure_leaves_nothing.py), so it is refused.
        assert r.status_code == 409 and "erased" in r.text, r.text
        assert w.stored_under(w.old) == before[0]
        return
    assert r.status_code == 200, r.text
    assert holds(w), "the unmerge took the write away from the survivor"
    assert w.stored_under(w.old) == w.own  # its own rows back, none of the write's
    assert not w.shows(w.old, "seen at the gate")
