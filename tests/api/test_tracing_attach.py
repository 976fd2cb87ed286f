"""Issue 13: an officer attaches a person found by a search to a case, and once a sought
person is confirmed the members of their household are offered for the other persons
of the same enquiry. Through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from corridor.errors import NotFound
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services.protection.accounts import Caller, Principal
from corridor.settings import Settings
from corridor.storage.tables import person_locations, persons
from corridor.storage.tracing_tables import tracing_case_events, tracing_matches
from corridor.tracing_schemas import CandidateIn, MatchDecisionIn
from corridor.web import create_app
from tests.api.helpers import register, site, work_at
from tests.conftest import MASTER_KEY, make_client

ENQUIRER = {
    "name": "Fatima Hoesein",
    "contact": "+31 6 1234 5678",
    "relationship": "sibling",
    "location": "Utrecht",
    "country": "NLD",
}


def household(client: TestClient, camp: str, tracing: bool = True) -> dict[str, str]:
    """Rania with her twin daughters and her son, registered as one household."""
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": {"tracing": tracing, "share_with": []},
            "purpose": "registration and family tracing",
            "legal_basis": "vital_interest",
            "head": {
                "given_name": "Rania",
                "father_name": "Hussein",
                "family_name": "al-Khatib",
                "given_name_original": "رانيا",
                "father_name_original": "حسين",
                "family_name_original": "الخطيب",
                "sex": "f",
                "estimated_age": 34,
            },
            "members": [
                {
                    "relationship": "child",
                    "given_name": n,
                    "father_name": "Omar",
                    "family_name": "al-Khatib",
                    "sex": sex,
                    "estimated_age": age,
                }
                for n, sex, age in (("Amina", "f", 6), ("Amira", "f", 6), ("Yusuf", "m", 12))
            ],
        },
    )
    assert r.status_code == 201, r.text
    return {m["name"].split()[0]: m["id"] for m in r.json()["members"]}


def tracer_of(database, clock, admin: TestClient) -> TestClient:
    tracer = make_client(database, clock, (Role.TRACING_OFFICER,))
    work_at(tracer, *admin.get("/api/auth/me").json()["site_ids"], admin=admin)
    return tracer


def enquire(client: TestClient, *sought: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/tracing/enquiries", json={"enquirer": ENQUIRER, "sought": list(sought)})
    assert r.status_code == 201, r.text
    return dict(r.json())


# The enquirer knows the mother only by her kunya and the twins by their pet names: the
# engine has nothing to link them by, a search by what a neighbour said does.
MOTHER = {"full_name": "Umm Amina", "sex": "f", "age": 34}
TWINS = (
    {"full_name": "Mimi", "sex": "f", "age": 6, "enquirer_is": "uncle_aunt"},
    {"full_name": "Lulu", "sex": "f", "age": 6, "enquirer_is": "uncle_aunt"},
)


def search(client: TestClient, name: str) -> list[dict[str, Any]]:
    r = client.post("/api/persons/match", json={"full_name": name, "purpose": "tracing"})
    assert r.status_code == 200, r.text
    return list(r.json())


def attach(client: TestClient, case_id: str, person_id: str, **extra: Any):
    body = {"person_id": person_id, **extra}
    return client.post(f"/api/tracing/cases/{case_id}/candidates", json=body)


def audited(database, action: str, person_id: str, outcome: str = "allowed") -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(audit_events)
                .where(
                    audit_events.c.action == action,
                    audit_events.c.person_id == person_id,
                    audit_events.c.outcome == outcome,
                )
            ).scalar_one()
        )


def test_an_officer_attaches_a_person_found_by_search_with_the_engines_explanation(
    client, database, clock
):
    camp = site(client, "Camp A")
    household(client, camp)
    tracer = tracer_of(database, clock, client)
    me = tracer.get("/api/auth/me").json()["user_id"]
    case = enquire(tracer, MOTHER)["cases"][0]
    assert case["matches"] == [] and case["state"] == "open"
    found = search(tracer, "Rania Hussein al-Khatib")
    rania = found[0]["person"]
    assert rania["name"].startswith("Rania")
    before = audited(database, "tracing.write", rania["id"])

    r = attach(tracer, case["id"], rania["id"], reason="a neighbour named her")
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["state"] == "possible_match"
    [m] = after["matches"]
    assert m["person"]["id"] == rania["id"] and m["status"] == "proposed"
    assert m["found_by"] == "search" and m["proposed_by"] == me
    assert m["proposed_by_name"] == "Test officer" and m["household_of"] is None
    # The engine's own score and explanation of this pair, as for its own candidates.
    assert {"sex", "birth year"} <= {e["field"] for e in m["explanation"]}
    assert all(e["text"] for e in m["explanation"])
    assert 0 <= m["probability"] < 0.3  # it would not have proposed her itself
    last = after["history"][-1]
    assert (last["kind"], last["to_state"], last["by"], last["role"]) == (
        "match_proposed",
        "possible_match",
        me,
        "tracing_officer",
    )
    assert last["reason"] == "a neighbour named her"
    assert audited(database, "tracing.write", rania["id"]) == before + 1

    # Attaching her again changes nothing (and says what the case is).
    again = attach(tracer, case["id"], rania["id"])
    assert again.status_code == 200 and again.json()["matches"] == after["matches"]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(tracing_matches)).scalar_one() == 1
        proposed = conn.execute(
            select(func.count())
            .select_from(tracing_case_events)
            .where(tracing_case_events.c.kind == "match_proposed")
        ).scalar_one()
    assert proposed == 1
    # The same request with the same idempotency key answers the same.
    key = {"Idempotency-Key": "attach-rania-1"}
    first = tracer.post(
        f"/api/tracing/cases/{case['id']}/candidates", json={"person_id": rania["id"]}, headers=key
    )
    second = tracer.post(
        f"/api/tracing/cases/{case['id']}/candidates", json={"person_id": rania["id"]}, headers=key
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["matches"] == second.json()["matches"]


def test_a_person_who_refused_tracing_is_neither_found_nor_attached(client, database, clock):
    camp = site(client, "Camp A")
    refusing = register(
        client,
        camp,
        given_name="Rania",
        father_name="Hussein",
        family_name="al-Khatib",
        sex="f",
        estimated_age=34,
        consent={"tracing": False, "share_with": []},
    )
    tracer = tracer_of(database, clock, client)
    case = enquire(tracer, MOTHER)["cases"][0]
    assert refusing["id"] not in str(search(tracer, "Rania Hussein al-Khatib"))
    r = attach(tracer, case["id"], refusing["id"])
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    # The same answer as for nobody at all: no oracle of who refused.
    nobody = attach(tracer, case["id"], "0190a000-0000-7000-8000-000000000000")
    assert nobody.status_code == 404 and nobody.json()["message"] == r.json()["message"]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(tracing_matches)).scalar_one() == 0
    assert audited(database, "tracing.write", refusing["id"], "denied") == 1
    assert audited(database, "tracing.write", refusing["id"]) == 0
    # Roles without tracing.write may not attach (403, audited by the role gate).
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=client)
    assert attach(protection, case["id"], refusing["id"]).status_code == 403


def test_attaching_is_refused_for_a_rejected_person_and_a_case_no_longer_searching(
    client, database, clock
):
    camp = site(client, "Camp A")
    kids = household(client, camp)
    tracer = tracer_of(database, clock, client)
    case = enquire(tracer, MOTHER)["cases"][0]
    rania = search(tracer, "Rania Hussein al-Khatib")[0]["person"]["id"]
    [m] = attach(tracer, case["id"], kids["Yusuf"]).json()["matches"]
    r = tracer.post(f"/api/tracing/matches/{m['id']}/reject", json={"reason": "a boy"})
    assert r.status_code == 200 and r.json()["state"] == "open"
    r = attach(tracer, case["id"], kids["Yusuf"])
    assert r.status_code == 409 and "already rejected" in r.json()["message"]
    matches = attach(tracer, case["id"], rania).json()["matches"]
    [mine] = [x for x in matches if x["person"]["id"] == rania]
    r = tracer.post(f"/api/tracing/matches/{mine['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200 and r.json()["state"] == "verified"
    r = attach(tracer, case["id"], kids["Amina"])
    assert r.status_code == 409 and "searching" in r.json()["message"]


def test_confirming_the_mother_offers_her_household_for_the_other_persons_sought(
    client, database, clock
):
    camp = site(client, "Camp A")
    kids = household(client, camp)
    tracer = tracer_of(database, clock, client)
    enquiry = enquire(tracer, MOTHER, *TWINS)
    mother_case, *twin_cases = enquiry["cases"]
    assert all(c["matches"] == [] for c in twin_cases)  # the engine links nobody
    rania = search(tracer, "Rania Hussein al-Khatib")[0]["person"]["id"]
    [m] = attach(tracer, mother_case["id"], rania).json()["matches"]
    before = {k: audited(database, "tracing.write", pid) for k, pid in kids.items()}

    r = tracer.post(f"/api/tracing/matches/{m['id']}/confirm", json={"reason": "in person"})
    assert r.status_code == 200, r.text
    view = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}").json()
    for case in view["cases"][1:]:
        assert case["state"] == "possible_match"
        offered = {x["person"]["id"]: x for x in case["matches"]}
        # Both girls of six for each girl of six sought; not the boy of twelve.
        assert set(offered) == {kids["Amina"], kids["Amira"]}
        for x in offered.values():
            assert x["found_by"] == "household" and x["status"] == "proposed"
            assert x["household_of"]["id"] == rania
            assert x["household_of"]["name"].startswith("Rania")
            assert x["proposed_by"] is None  # offered by Corridor, not typed by anyone
            assert {"sex", "birth year"} <= {e["field"] for e in x["explanation"]}
        log = [h for h in case["history"] if h["kind"] == "match_proposed"]
        assert [h["by"] for h in log] == ["system", "system"]
        assert log[0]["reason"] == "in the household of the person confirmed for this enquiry"
    # Written about the twins, and audited as such; the boy was not touched.
    assert audited(database, "tracing.write", kids["Amina"]) == before["Amina"] + 1
    assert audited(database, "tracing.write", kids["Amira"]) == before["Amira"] + 1
    assert audited(database, "tracing.write", kids["Yusuf"]) == before["Yusuf"]
    # The enquirer learns nothing of it: the twins are still searched for.
    told = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()
    by_case = {s["case_id"]: s for s in told["sought"]}
    for case in twin_cases:
        seen = by_case[case["id"]]
        assert seen["status"] == "searching" and "site" not in seen
    assert by_case[mother_case["id"]]["status"] == "checking"
    assert "Camp A" not in json.dumps(told)


def test_a_household_member_who_refused_tracing_is_not_offered(client, database, clock):
    camp = site(client, "Camp A")
    kids = household(client, camp)
    r = client.patch(f"/api/persons/{kids['Amira']}", json={"consent": {"tracing": False}})
    assert r.status_code == 200, r.text
    tracer = tracer_of(database, clock, client)
    enquiry = enquire(tracer, MOTHER, *TWINS)
    rania = search(tracer, "Rania Hussein al-Khatib")[0]["person"]["id"]
    [m] = attach(tracer, enquiry["cases"][0]["id"], rania).json()["matches"]
    tracer.post(f"/api/tracing/matches/{m['id']}/confirm", json={"reason": "in person"})
    view = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}").json()
    for case in view["cases"][1:]:
        assert [x["person"]["id"] for x in case["matches"]] == [kids["Amina"]]
    assert kids["Amira"] not in json.dumps(view)
    assert audited(database, "tracing.write", kids["Amira"]) == 0


def test_a_twin_the_engine_proposed_already_is_marked_not_doubled(client, database, clock):
    camp = site(client, "Camp A")
    kids = household(client, camp)
    tracer = tracer_of(database, clock, client)
    named = {"full_name": "Amina Omar al-Khatib", "sex": "f", "age": 6}
    enquiry = enquire(tracer, MOTHER, named)
    proposed = {x["person"]["id"]: x for x in enquiry["cases"][1]["matches"]}
    assert kids["Amina"] in proposed and proposed[kids["Amina"]]["found_by"] == "enquiry"
    rania = search(tracer, "Rania Hussein al-Khatib")[0]["person"]["id"]
    [m] = attach(tracer, enquiry["cases"][0]["id"], rania).json()["matches"]
    tracer.post(f"/api/tracing/matches/{m['id']}/confirm", json={"reason": "in person"})
    case = tracer.get(f"/api/tracing/cases/{enquiry['cases'][1]['id']}").json()
    amina = [x for x in case["matches"] if x["person"]["id"] == kids["Amina"]]
    assert len(amina) == 1
    assert amina[0]["found_by"] == "enquiry" and amina[0]["household_of"]["id"] == rania


def _own_site_tracing(tmp_path) -> str:
    """The shipped matrix, the tracing officer confined to their own sites."""
    raw = json.loads(
        resources.files("corridor.security").joinpath("data/authorisation.json").read_text()
    )
    allow = raw["roles"]["tracing_officer"]["allow"]
    for action in ("person.search", "tracing.read", "tracing.write"):
        allow[action] = "own_site"
    path = tmp_path / "own-site-tracing.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_attaching_and_offering_stay_inside_the_officers_tracing_scope(
    client, database, clock, tmp_path
):
    """Under a policy that confines tracing to an officer's own sites, a person of
    another site is not found for attaching (404), and a household member at another
    site is not offered."""
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    kids = household(client, camp_a)
    elsewhere = register(
        client,
        camp_b,
        given_name="Rania",
        father_name="Hussein",
        family_name="Khatib",
        sex="f",
        estimated_age=34,
    )
    # Amira's record belongs to Camp B (as an import from Camp B's registry would have
    # it): outside the scope of an officer of Camp A.
    with database.transaction() as conn:
        conn.execute(update(persons).where(persons.c.id == kids["Amira"]).values(site_id=camp_b))
        conn.execute(
            update(person_locations)
            .where(person_locations.c.person_id == kids["Amira"])
            .values(site_id=camp_b)
        )
    settings = Settings(
        database_url=str(database.url),
        master_key=MASTER_KEY,
        authorisation_file=_own_site_tracing(tmp_path),
    )
    svc = create_app(settings, database=database, clock=clock).state.services
    user, _ = svc.accounts.create(
        "tracer-a",
        "Tracer of A",
        "a long test password",
        [Role.TRACING_OFFICER],
        [camp_a],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )
    who = Caller(
        Principal(user, frozenset({Role.TRACING_OFFICER}), frozenset({camp_a})),
        True,
        scope=frozenset({camp_a}),
        matrix=svc.matrix,
    )
    hook = svc.audit.hook(who, "tracing.write")
    enquiry = enquire(client, MOTHER, *TWINS)
    mother_case = enquiry["cases"][0]["id"]
    with pytest.raises(NotFound):
        svc.tracing.attach_candidate(
            mother_case, CandidateIn(person_id=elsewhere["id"]), who, audit=hook
        )
    rania = next(
        c["person"]["id"]
        for c in search(client, "Rania Hussein al-Khatib")
        if c["person"]["id"] != elsewhere["id"]
    )
    case = svc.tracing.attach_candidate(mother_case, CandidateIn(person_id=rania), who, audit=hook)
    [m] = case["matches"]
    svc.tracing.confirm_match(m["id"], MatchDecisionIn(reason="in person"), who, audit=hook)
    for twin_case in enquiry["cases"][1:]:
        offered = svc.tracing.views.case(twin_case["id"])["matches"]
        assert [x["person"]["id"] for x in offered] == [kids["Amina"]]


def test_a_detained_household_member_is_offered_without_the_place_of_detention(
    client, database, clock
):
    """Detention is a location, so that a family can learn where a relative is held: a
    detained member is offered like any other, and the place stays blanked for the
    roles outside the detention group (the tracing officer), shown to protection."""
    camp, prison = site(client, "Camp A"), site(client, "Prison Canary", "detention")
    kids = household(client, camp)
    r = client.post(
        f"/api/persons/{kids['Amina']}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    tracer = tracer_of(database, clock, client)
    enquiry = enquire(tracer, MOTHER, TWINS[0])
    rania = search(tracer, "Rania Hussein al-Khatib")[0]["person"]["id"]
    [m] = attach(tracer, enquiry["cases"][0]["id"], rania).json()["matches"]
    r = tracer.post(f"/api/tracing/matches/{m['id']}/confirm", json={"reason": "in person"})
    assert r.status_code == 200, r.text
    twin_case = enquiry["cases"][1]["id"]
    seen = tracer.get(f"/api/tracing/cases/{twin_case}").json()
    [amina] = [x for x in seen["matches"] if x["person"]["id"] == kids["Amina"]]
    assert amina["person"]["site"] == {
        "id": None,
        "name": None,
        "kind": None,
        "hidden": "detention site",
    }
    assert "Prison Canary" not in json.dumps(seen)
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, camp, prison, admin=client)
    seen = protection.get(f"/api/tracing/cases/{twin_case}").json()
    [amina] = [x for x in seen["matches"] if x["person"]["id"] == kids["Amina"]]
    assert amina["person"]["site"]["name"] == "Prison Canary"
