"""Purpose comes from the role, not the body (issue 11, item 2).

``POST /api/persons/match`` takes a purpose, but the caller's roles decide whom it reaches:
deduplication reaches the persons the caller could open (``person.read``: their sites);
tracing reaches only persons who consented to tracing, within the caller's scope for
``tracing.read``. A purpose whose action the caller's roles lack is 403, and choosing a
purpose never widens anything.
"""

from __future__ import annotations

import pytest

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.api.test_audit_trail import events
from tests.conftest import make_client

PURPOSES = ("tracing", "deduplication", None)


def ids(response):
    assert response.status_code == 200, response.text
    return [c["person"]["id"] for c in response.json()]


def match(client, query, purpose):
    body = dict(query) if purpose is None else {**query, "purpose": purpose}
    return client.post("/api/persons/match", json=body)


@pytest.fixture
def world(database, clock):
    """Camps A and B. At each, a woman who refused tracing and a man who consented, each
    with a given name nobody else bears."""
    admin = make_client(database, clock)
    a, b = site(admin, "Camp A"), site(admin, "Camp B")
    people = {}
    for camp, tag in ((a, "a"), (b, "b")):
        people[f"refused_{tag}"] = register(
            admin,
            camp,
            given_name="Zahra" if tag == "a" else "Nisreen",
            father_name="Hamid",
            family_name="Obeidi" if tag == "a" else "Jubouri",
            sex="f",
            birth_date="1990",
            consent={"tracing": False, "share_with": []},
        )
        people[f"consented_{tag}"] = register(
            admin,
            camp,
            given_name="Yassin" if tag == "a" else "Bilal",
            father_name="Karim",
            family_name="Obeidi" if tag == "a" else "Jubouri",
            sex="m",
            birth_date="1985",
        )
    queries = {
        key: {
            "given_name": p["names"]["given_name"],
            "father_name": p["names"]["father_name"],
            "family_name": p["names"]["family_name"],
        }
        for key, p in people.items()
    }
    return admin, {"a": a, "b": b}, people, queries


def officer(database, clock, admin, role, *sites):
    client = make_client(database, clock, roles=(role,))
    if sites:
        work_at(client, *sites, admin=admin)
    return client


def assert_absent(response, person):
    assert person["id"] not in response.text
    assert person["registration_number"] not in response.text
    if response.status_code == 200:  # the query's own names are echoed in explanations
        shown = [c["person"]["name"] for c in response.json()]
        assert not [n for n in shown if person["names"]["given_name"] in n], shown


def test_a_tracing_officer_with_no_site_gets_no_refused_woman_by_asking_for_deduplication(
    database, clock, world
):
    # The story of issue 11: deduplication named the woman who refused tracing (name,
    # wristband number, age) to a tracing officer who holds no site at all.
    admin, _, people, queries = world
    tracer = officer(database, clock, admin, Role.TRACING_OFFICER)
    refused = people["refused_a"]
    for purpose in PURPOSES:
        r = match(tracer, queries["refused_a"], purpose)
        assert r.status_code == 200, (purpose, r.text)
        assert_absent(r, refused)
    # Deduplication reaches only the persons he could open: at no site, nobody.
    assert ids(match(tracer, queries["consented_a"], "deduplication")) == []
    # Tracing still finds those who consented, at every site (tracing.read: any site).
    assert people["consented_a"]["id"] in ids(match(tracer, queries["consented_a"], "tracing"))
    assert people["consented_b"]["id"] in ids(match(tracer, queries["consented_b"], None))


def test_a_registrar_of_site_a_reaches_no_site_b_person_through_either_purpose(
    database, clock, world
):
    admin, sites, people, queries = world
    registrar = officer(database, clock, admin, Role.REGISTRAR, sites["a"])
    for key in ("refused_b", "consented_b"):
        dedupe = match(registrar, queries[key], "deduplication")
        assert dedupe.status_code == 200
        assert_absent(dedupe, people[key])
        # A registrar does not trace (no tracing.read): the purpose is refused outright,
        # whatever the record, so it says nothing of who exists.
        tracing = match(registrar, queries[key], "tracing")
        assert (tracing.status_code, tracing.json()["code"]) == (403, "forbidden")
        assert_absent(tracing, people[key])
        default = match(registrar, queries[key], None)
        assert default.status_code == 200
        assert_absent(default, people[key])
    # Her own site's persons she finds for deduplication, tracing consent or not.
    assert people["refused_a"]["id"] in ids(match(registrar, queries["refused_a"], None))
    assert people["refused_a"]["id"] in ids(match(registrar, queries["refused_a"], "deduplication"))
    # The refused purpose is audited as a denial.
    me = registrar.get("/api/auth/me").json()["user_id"]
    denied = [
        e
        for e in events(database)
        if e["user_id"] == me and e["action"] == "person.search" and e["outcome"] != "allowed"
    ]
    assert len(denied) == 2


def test_tracing_is_confined_to_the_tracing_scope_of_the_roles(database, clock, world):
    admin, sites, people, queries = world
    protection = officer(database, clock, admin, Role.PROTECTION_OFFICER, sites["a"])
    # tracing.read is own_site for a protection officer: site A's consenting man, not B's.
    assert people["consented_a"]["id"] in ids(match(protection, queries["consented_a"], None))
    for purpose in PURPOSES:
        r = match(protection, queries["consented_b"], purpose)
        assert r.status_code == 200
        assert_absent(r, people["consented_b"])


@pytest.mark.parametrize(
    "roles",
    [
        (Role.TRACING_OFFICER,),
        (Role.PROTECTION_OFFICER,),
        (Role.PROTECTION_OFFICER, Role.TRACING_OFFICER, Role.REGISTRAR),
    ],
    ids=lambda roles: "+".join(r.value for r in roles),
)
def test_tracing_never_returns_a_person_who_refused_tracing(database, clock, world, roles):
    admin, sites, people, queries = world
    tracer = make_client(database, clock, roles=roles)
    work_at(tracer, sites["a"], sites["b"], admin=admin)
    for key in ("refused_a", "refused_b"):
        for purpose in ("tracing", None):  # a caller who traces traces by default
            r = match(tracer, queries[key], purpose)
            assert r.status_code == 200
            assert_absent(r, people[key])
        # She is there: deduplication at her site finds her (the test is not vacuous).
        assert people[key]["id"] in ids(match(tracer, queries[key], "deduplication"))


def test_a_role_without_the_search_gets_403_for_every_purpose(database, clock, world):
    admin, sites, people, queries = world
    dpo = officer(database, clock, admin, Role.DATA_PROTECTION_OFFICER, sites["a"])
    for purpose in PURPOSES:
        r = match(dpo, queries["consented_a"], purpose)
        assert r.status_code == 403
        assert_absent(r, people["consented_a"])
