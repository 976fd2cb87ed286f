"""A family link recorded wrongly can be removed (both directions at once), for a
reason, and the correct link then recorded: before, nothing removed a link, and since a
contradicting link is refused (409), one wrong link (a sister recorded as the mother)
blocked the correction for ever. The rows are kept, marked removed (who, when, why);
every reader of links leaves them out. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.tables import relationships
from tests.api.helpers import register, site, work_at
from tests.api.test_bad_input import row_counts
from tests.conftest import make_client

CONTRADICTS = "contradicts the family links recorded already between these persons"


def link(client, person, other, kind, **headers):
    body = {"person_id": person, "other_person_id": other, "kind": kind}
    return client.post("/api/relationships", json=body, headers=headers)


def remove(client, link_id, reason="a sister, recorded as the mother", **headers):
    body = {} if reason is None else {"reason": reason}
    return client.post(f"/api/relationships/{link_id}/remove", json=body, headers=headers)


def link_rows(database, *person_ids):
    with database.read() as conn:
        rows = conn.execute(
            select(relationships).where(relationships.c.person_id.in_(person_ids))
        ).mappings()
        return sorted((dict(r) for r in rows), key=lambda r: (r["created_at"], r["kind"]))


def writes_audited(database, after_seq=0):
    with database.read() as conn:
        return conn.execute(
            select(audit_events.c.person_id, audit_events.c.outcome)
            .where(audit_events.c.action == "person.write", audit_events.c.seq > after_seq)
            .order_by(audit_events.c.seq)
        ).all()


def last_seq(database):
    with database.read() as conn:
        return conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq.desc())).scalar()


@pytest.fixture
def family(client):
    camp = site(client, "Camp A")
    return [register(client, camp, given_name=n)["id"] for n in ("Amal", "Basma")]


def test_a_sister_recorded_as_the_mother_is_corrected_through_the_api(client, database, family):
    a, b = family
    wrong = link(client, a, b, "parent")  # Basma recorded as Amal's mother
    assert wrong.status_code == 201, wrong.text
    refused = link(client, a, b, "sibling")
    assert refused.status_code == 409 and refused.json()["errors"][0]["reason"] == CONTRADICTS
    seq = last_seq(database)
    r = remove(client, wrong.json()["id"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == wrong.json()["id"] and r.json()["kind"] == "parent"
    # Both directions marked removed, kept, with who, when and why.
    rows = link_rows(database, a, b)
    assert [(x["kind"], x["removed_reason"]) for x in rows] == [
        ("child", "a sister, recorded as the mother"),
        ("parent", "a sister, recorded as the mother"),
    ]
    assert all(x["removed_at"] is not None and x["removed_by"] for x in rows)
    # One event for each person, allowed.
    assert sorted(writes_audited(database, seq)) == sorted([(a, "allowed"), (b, "allowed")])
    # The relatives read no more of it, and the correct link is recorded.
    assert client.get(f"/persons/{a}.json").json()["relatives"] == []
    right = link(client, a, b, "sibling")
    assert right.status_code == 201, right.text
    [relative] = client.get(f"/persons/{a}.json").json()["relatives"]
    assert (relative["kind"], relative["link_id"]) == ("sibling", right.json()["id"])
    # The wrong link is refused now; removed again, each link is a row of its own.
    assert link(client, b, a, "child").status_code == 409  # sister, not mother
    assert remove(client, right.json()["id"]).status_code == 200
    again = link(client, a, b, "parent")
    assert again.status_code == 201 and again.json()["id"] != wrong.json()["id"]
    assert len(link_rows(database, a, b)) == 6


def test_removing_twice_is_a_conflict_and_a_retry_answers_the_same(client, database, family):
    a, b = family
    link_id = link(client, a, b, "parent").json()["id"]
    seq = last_seq(database)
    first = remove(client, link_id, **{"Idempotency-Key": "unlink-1"})
    retried = remove(client, link_id, **{"Idempotency-Key": "unlink-1"})
    assert (first.status_code, retried.status_code) == (200, 200)
    assert retried.json() == first.json()
    assert len(writes_audited(database, seq)) == 2  # removed once
    before = row_counts(database)
    twice = remove(client, link_id)
    assert twice.status_code == 409, twice.text
    assert twice.json()["errors"] == [
        {"field": "link_id", "reason": "this family link was removed already"}
    ]
    assert row_counts(database) == before
    # The inverse's id names the same link: removed already too.
    inverse = next(r["id"] for r in link_rows(database, b) if r["person_id"] == b)
    assert remove(client, inverse).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 4001}, "reason"),
        ({"reason": "ok", "removed_by": "someone"}, "removed_by"),
    ],
)
def test_a_removal_without_a_good_reason_is_refused(client, database, family, body, field):
    a, b = family
    link_id = link(client, a, b, "parent").json()["id"]
    before = row_counts(database)
    r = client.post(f"/api/relationships/{link_id}/remove", json=body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert row_counts(database) == before
    assert all(x["removed_at"] is None for x in link_rows(database, a, b))


def test_a_link_to_a_person_of_another_site_is_not_found(client, database, clock):
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    own = register(client, camp_a, given_name="Amal")["id"]
    other = register(client, camp_b, given_name="Basma")["id"]
    elsewhere = register(client, camp_b, given_name="Dalia")["id"]
    across = link(client, own, other, "parent").json()["id"]
    apart = link(client, other, elsewhere, "sibling").json()["id"]
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp_a, admin=client)
    before = row_counts(database)
    unknown = remove(registrar, "0190aaaa-0000-7000-8000-000000000000")
    assert unknown.status_code == 404
    for link_id in (across, apart):
        r = remove(registrar, link_id)
        assert (r.status_code, r.json()) == (404, unknown.json())
    # Nothing removed; the denials audited (the out-of-scope person named).
    assert {k: v for k, v in row_counts(database).items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
    assert all(x["removed_at"] is None for x in link_rows(database, own, other, elsewhere))
    denied = [p for p, outcome in writes_audited(database) if outcome == "denied"]
    assert other in denied and own not in denied
    # A role that may not write persons: 403 from the role gate, before any look-up.
    reader = make_client(database, clock, roles=(Role.DATA_PROTECTION_OFFICER,))
    assert remove(reader, across).status_code == 403


def test_the_person_page_removes_a_wrong_link_and_records_the_right_one(
    client, database, clock, family
):
    from tests.web.conftest import page_client

    a, b = family
    wrong = link(client, a, b, "parent").json()["id"]
    officer = page_client(database, clock, name="page-officer")
    html = officer.page(f"/persons/{a}")
    assert f'action="/persons/{a}/links/{wrong}/remove"' in html
    r = officer.submit(f"/persons/{a}/links/{wrong}/remove", {"reason": " "})
    assert r.status_code == 422 and f'id="unlink-{wrong}"' in r.text
    assert all(x["removed_at"] is None for x in link_rows(database, a, b))
    officer.page(f"/persons/{a}")
    r = officer.submit(f"/persons/{a}/links/{wrong}/remove", {"reason": "his sister"})
    assert r.status_code == 200 and "No family link recorded." in r.text  # followed
    assert all(x["removed_reason"] == "his sister" for x in link_rows(database, a, b))
    number = client.get(f"/api/persons/{b}").json()["registration_number"]
    officer.page(f"/persons/{a}")
    r = officer.submit(
        f"/persons/{a}/links", {"registration_number": number, "link_kind": "sibling"}
    )
    assert r.status_code == 200, r.text[:300]
    assert [x["kind"] for x in client.get(f"/persons/{a}.json").json()["relatives"]] == [
        "sibling"
    ]
    # A link of another person, sent from this person's page: not found.
    c = register(client, site(client, "Camp C"), given_name="Dalia")["id"]
    other = link(client, b, c, "sibling").json()["id"]
    officer.page(f"/persons/{a}")
    r = officer.submit(f"/persons/{a}/links/{other}/remove", {"reason": "not hers"})
    assert r.status_code == 404


def test_readers_leave_a_removed_link_out(client, database, family):
    """The matching engine's family evidence and the subject access answer."""
    from corridor.services.search.match_index import person_record, with_relatives
    from corridor.storage.tables import persons

    a, b = family
    link_id = link(client, a, b, "parent").json()["id"]

    def family_evidence():
        with database.read() as conn:
            row = conn.execute(select(persons).where(persons.c.id == a)).mappings().one()
            [rec] = with_relatives(conn, [person_record(row)])
        return f"{rec.mother_name} {' '.join(rec.relatives_names)}"

    assert "Basma" in family_evidence()
    assert remove(client, link_id).status_code == 200
    assert "Basma" not in family_evidence()
    access = client.get(f"/api/persons/{a}/access-request").json()
    assert [(r["relationship"], r["removed_at"] is not None) for r in access["relatives"]] == [
        ("parent", True)
    ]
