"""Family links that contradict the links recorded: B recorded as A's parent and then A
as B's parent, a loop of parents, a parent recorded as a sibling too. They were all
stored (and the tracing work reads these links); now each is refused (409, field
``kind``) and nothing is written. Links that agree, and those that say no generation
(a spouse who is a cousin), are kept. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from corridor.security.tables import audit_events
from tests.api.helpers import register, site
from tests.api.test_bad_input import row_counts

REASON = "contradicts the family links recorded already between these persons"


@pytest.fixture
def family(client):
    camp = site(client, "Camp A")
    return [register(client, camp, given_name=n)["id"] for n in ("Adil", "Badr", "Dalia")]


def link(client, person, other, kind):
    body = {"person_id": person, "other_person_id": other, "kind": kind}
    return client.post("/api/relationships", json=body)


@pytest.mark.parametrize(
    "contradiction",
    [
        [("a", "b", "parent"), ("b", "a", "parent")],  # each the other's parent
        [("a", "b", "parent"), ("a", "b", "sibling")],  # a parent and a sibling
        [("a", "b", "parent"), ("b", "c", "parent"), ("c", "a", "parent")],  # a loop
        [("a", "b", "grandparent"), ("b", "c", "child"), ("c", "a", "parent")],
        [("a", "b", "twin"), ("b", "c", "parent"), ("a", "c", "grandparent")],
    ],
)
def test_a_link_the_recorded_links_contradict_is_refused(client, database, family, contradiction):
    ids = dict(zip("abc", family, strict=True))
    *agreed, last = contradiction
    for person, other, kind in agreed:
        assert link(client, ids[person], ids[other], kind).status_code == 201
    before = row_counts(database)
    person, other, kind = last
    r = link(client, ids[person], ids[other], kind)
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "kind", "reason": REASON}]
    assert row_counts(database) == before


def test_links_that_agree_or_say_no_generation_are_kept(client, family):
    a, b, c = family
    assert link(client, b, a, "parent").status_code == 201  # a is b's parent
    assert link(client, b, c, "sibling").status_code == 201
    assert link(client, c, a, "parent").status_code == 201  # so a is c's parent too
    assert link(client, a, c, "child").status_code == 409  # recorded already (inverse)
    assert link(client, b, c, "spouse").status_code == 201  # no generation: not checked
    assert link(client, c, a, "other_relative").status_code == 201


@pytest.mark.parametrize(
    ("lang", "reason"),
    [("ar", "يناقض صلات القرابة المسجلة من قبل بين هذين الشخصين"), ("en", REASON)],
)
def test_the_person_page_says_why_in_the_readers_language(
    client, database, clock, family, lang, reason
):
    from corridor.web.i18n import LANG_COOKIE
    from tests.web.conftest import page_client

    a, b, _ = family
    assert link(client, a, b, "parent").status_code == 201  # b is a's parent: not his child
    number = client.get(f"/api/persons/{a}").json()["registration_number"]
    officer = page_client(database, clock, name="page-officer")
    officer.cookies.set(LANG_COOKIE, lang)
    officer.page(f"/persons/{b}")
    before = row_counts(database)
    r = officer.submit(
        f"/persons/{b}/links", {"registration_number": number, "link_kind": "parent"}
    )
    assert r.status_code == 422, r.text[:300]
    assert reason in r.text
    after = row_counts(database)
    # The page shown again reads the person (audited as a read); nothing is written.
    assert {**after, "audit_events": 0} == {**before, "audit_events": 0}
    with database.read() as conn:
        actions = conn.execute(
            select(audit_events.c.action)
            .order_by(audit_events.c.seq.desc())
            .limit(after["audit_events"] - before["audit_events"])
        ).scalars()
        assert "person.write" not in set(actions)
