"""The tracing workflow through the API: enquiries, matches proposed on their own,
officers' decisions, the case log, consent before disclosure, children first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import tracing_case_events, tracing_cases, tracing_enquiries
from tests.api.helpers import errors, register, site, work_at
from tests.conftest import make_client

ENQUIRER = {
    "name": "Amira Saleh Haddad",
    "contact": "+49 151 2345 6789",
    "relationship": "mother",
    "location": "Berlin, Germany",
    "country": "DEU",
}


def enquire(client, *sought, enquirer=None):
    r = client.post(
        "/api/tracing/enquiries",
        json={"enquirer": enquirer or ENQUIRER, "sought": list(sought)},
    )
    assert r.status_code == 201, r.text
    return r.json()


def adult_sought():
    return {
        "given_name": "Khalid",
        "father_name": "Ibrahim",
        "family_name": "al-Obeidi",
        "sex": "m",
        "age": 34,
        "enquirer_is": "sibling",
        "last_seen_place": "Baghouz",
        "last_seen_date": "2019-02-20",
    }


def register_khalid(client, camp, **extra):
    return register(
        client,
        camp,
        given_name="Khaled",
        father_name="Ibrahim",
        family_name="Obeidi",
        sex="m",
        estimated_age=34,
        **extra,
    )


def case_of(enquiry, i=0):
    return enquiry["cases"][i]


def verified_case(client, camp, **extra):
    """An enquiry for Khalid, his registration proposed and confirmed."""
    person = register_khalid(client, camp, **extra)
    enquiry = enquire(client, adult_sought())
    case = case_of(enquiry)
    [match] = [m for m in case["matches"] if m["person"]["id"] == person["id"]]
    r = client.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    return enquiry, r.json(), person


def test_an_enquiry_proposes_the_right_person_with_an_explanation(client):
    camp = site(client, "Camp A")
    khalid = register_khalid(client, camp)
    register(client, camp, given_name="Fatima", father_name="Ali", family_name="Haddad", sex="f")
    register(client, camp, given_name="Mahmoud", father_name="Saleh", family_name="Jabouri")
    enquiry = enquire(client, adult_sought())
    assert enquiry["enquirer"]["location"] == "Berlin, Germany"
    case = case_of(enquiry)
    assert case["state"] == "possible_match"
    best = case["matches"][0]
    assert best["person"]["id"] == khalid["id"]
    assert best["status"] == "proposed" and best["found_by"] == "enquiry"
    assert best["probability"] >= 0.5
    fields = {e["field"] for e in best["explanation"]}
    assert {"given name", "family name", "sex"} <= fields
    assert all(set(e) == {"field", "level", "weight", "text"} for e in best["explanation"])
    assert [m["person"]["id"] for m in case["matches"]].count(khalid["id"]) == 1
    kinds = [(h["kind"], h["to_state"]) for h in case["history"]]
    assert kinds[:2] == [("opened", "open"), ("match_proposed", "possible_match")]


def test_a_registration_after_the_enquiry_appears_in_the_queue(client):
    camp = site(client, "Camp A")
    enquiry = enquire(client, adult_sought())
    assert case_of(enquiry)["state"] == "open" and case_of(enquiry)["matches"] == []
    person = register_khalid(client, camp)
    queue = client.get("/api/tracing/queue").json()
    [item] = [i for i in queue if i["case_id"] == case_of(enquiry)["id"]]
    assert item["state"] == "possible_match"
    [m] = item["proposed_matches"]
    assert m["person"]["id"] == person["id"] and m["found_by"] == "registration"
    assert m["explanation"]


def test_an_arrival_is_checked_against_open_enquiries(client, database):
    exit_point, camp = site(client, "Exit", "exit_point"), site(client, "Camp A")
    person = register_khalid(client, exit_point, consent={"tracing": False, "share_with": []})
    enquiry = enquire(client, adult_sought())
    case = case_of(enquiry)
    assert case["matches"] == []  # no consent: never offered
    # Consent recorded outside the API (an import, say): the next arrival finds him.
    with database.transaction() as conn:
        conn.execute(
            update(persons).where(persons.c.id == person["id"]).values(consent_tracing=True)
        )
    trip = {"vehicle": "Truck 1", "from_site_id": exit_point, "to_site_id": camp}
    m = client.post("/api/manifests", json=trip).json()["id"]
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [person["id"]]})
    client.post(f"/api/manifests/{m}/dispatch")
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": person["id"]})
    assert r.status_code == 200, r.text
    after = client.get(f"/api/tracing/cases/{case['id']}").json()
    [match] = after["matches"]
    assert match["person"]["id"] == person["id"] and match["found_by"] == "arrival"
    assert match["person"]["site"]["name"] == "Camp A"
    # A second check-in of the same person proposes nothing twice.
    client.post(f"/api/manifests/{m}/check-ins", json={"person_id": person["id"]})
    assert len(client.get(f"/api/tracing/cases/{case['id']}").json()["matches"]) == 1


def test_consent_given_later_proposes_the_person(client):
    camp = site(client, "Camp A")
    person = register_khalid(client, camp, consent={"tracing": False, "share_with": []})
    enquiry = enquire(client, adult_sought())
    assert case_of(enquiry)["matches"] == []
    client.patch(f"/api/persons/{person['id']}", json={"consent": {"tracing": True}})
    case = client.get(f"/api/tracing/cases/{case_of(enquiry)['id']}").json()
    assert [m["person"]["id"] for m in case["matches"]] == [person["id"]]


def test_confirm_and_reject_keep_the_reason_and_who_and_when(client, clock):
    camp = site(client, "Camp A")
    khalid = register_khalid(client, camp)
    other = register(
        client,
        camp,
        given_name="Khalil",
        father_name="Ibrahim",
        family_name="Obeidi",
        sex="m",
        estimated_age=30,
    )
    case = case_of(enquire(client, adult_sought()))
    by_person = {m["person"]["id"]: m for m in case["matches"]}
    assert khalid["id"] in by_person
    if other["id"] in by_person:
        clock.advance(minutes=5)
        r = client.post(
            f"/api/tracing/matches/{by_person[other['id']]['id']}/reject",
            json={"reason": "brother says Khalil is a cousin"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "possible_match"  # Khalid still waits
    clock.advance(minutes=5)
    r = client.post(
        f"/api/tracing/matches/{by_person[khalid['id']]['id']}/confirm",
        json={"reason": "scar on the left hand, as described"},
    )
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["state"] == "verified" and case["found_person"]["id"] == khalid["id"]
    decided = {m["person"]["id"]: m for m in case["matches"]}
    assert decided[khalid["id"]]["status"] == "confirmed"
    assert decided[khalid["id"]]["reason"] == "scar on the left hand, as described"
    assert decided[khalid["id"]]["decided_by"]
    assert all(m["status"] != "proposed" for m in case["matches"])
    last = case["history"][-1]
    assert last["kind"] == "match_confirmed" and last["to_state"] == "verified"
    assert last["by"] == decided[khalid["id"]]["decided_by"] and last["role"]
    assert last["at"] == clock().isoformat()
    # Deciding twice is a conflict.
    again = client.post(
        f"/api/tracing/matches/{by_person[khalid['id']]['id']}/reject", json={"reason": "x"}
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_rejecting_every_candidate_reopens_the_case(client):
    camp = site(client, "Camp A")
    register_khalid(client, camp)
    case = case_of(enquire(client, adult_sought()))
    for m in case["matches"]:
        r = client.post(f"/api/tracing/matches/{m['id']}/reject", json={"reason": "not him"})
        assert r.status_code == 200
    assert r.json()["state"] == "open"
    assert r.json()["history"][-1]["from_state"] == "possible_match"


def test_the_whole_path_to_reunited_and_invalid_moves(client):
    camp = site(client, "Camp A")
    enquiry, case, _ = verified_case(client, camp)
    cid = case["id"]
    r = client.post(f"/api/tracing/cases/{cid}/transitions", json={"to": "reunited"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "state"
    r = client.post(
        f"/api/tracing/cases/{cid}/disclosure",
        json={"decision": "agreed", "reason": "Khalid wants his sister to know"},
    )
    assert r.status_code == 200, r.text
    for target in ("family_informed", "reunited"):
        r = client.post(f"/api/tracing/cases/{cid}/transitions", json={"to": target})
        assert r.status_code == 200, r.text
    states = [h["to_state"] for h in r.json()["history"]]
    assert states == [
        "open",
        "possible_match",
        "verified",
        "found_person_consulted",
        "family_informed",
        "reunited",
    ]
    r = client.post(
        f"/api/tracing/cases/{cid}/transitions", json={"to": "closed", "close_reason": "deceased"}
    )
    assert r.status_code == 409


def test_closing_needs_a_reason_and_not_found_needs_months(client, clock):
    enquiry = enquire(client, adult_sought())
    cid = case_of(enquiry)["id"]
    r = client.post(f"/api/tracing/cases/{cid}/transitions", json={"to": "closed"})
    assert r.status_code == 422 and "close_reason" in errors(r)
    r = client.post(
        f"/api/tracing/cases/{cid}/transitions", json={"to": "closed", "close_reason": "not_found"}
    )
    assert r.status_code == 409 and "6 months" in errors(r)["close_reason"]
    clock.advance(days=190)
    r = client.post(
        f"/api/tracing/cases/{cid}/transitions",
        json={"to": "closed", "close_reason": "not_found", "reason": "no trace in any camp"},
    )
    assert r.status_code == 200 and r.json()["close_reason"] == "not_found"
    view = client.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()
    assert view["sought"][0]["status"] == "closed"


def test_the_case_log_is_append_only(client, database):
    enquire(client, adult_sought())
    with pytest.raises(Exception, match="append-only"), database.transaction() as conn:
        conn.execute(text("UPDATE tracing_case_events SET reason = 'edited'"))


def test_the_enquirer_learns_found_but_not_the_site_until_the_adult_agrees(database, clock):
    client = make_client(database, clock)
    camp = site(client, "Camp Hol")
    enquiry, case, person = verified_case(client, camp)
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    [seen] = client.get(view_url).json()["sought"]
    # Verified by an officer, not yet asked: a possible match is being checked, never
    # "found" before the found person was consulted.
    assert seen["status"] == "checking" and seen["message_can_be_passed"] is True
    assert seen["text"] == "A possible match is being checked." and "found" not in seen["text"]
    assert "site" not in seen and "Camp Hol" not in str(client.get(view_url).json())
    assert person["id"] not in str(client.get(view_url).json())
    # A protection officer does not record an adult's answer: the tracing officer does.
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    r = protection.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "x"},
    )
    assert r.status_code == 403
    tracer = make_client(database, clock, (Role.TRACING_OFFICER,))
    work_at(tracer, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    r = tracer.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "Khalid agreed on 12 March, in person"},
    )
    assert r.status_code == 200, r.text
    last = r.json()["history"][-1]
    assert last["kind"] == "disclosure" and last["disclosure"] == "agreed"
    assert last["role"] == "tracing_officer"
    [seen] = tracer.get(view_url).json()["sought"]
    assert seen["site"]["name"] == "Camp Hol" and seen["status"] == "found"
    assert seen["text"] == "The person has been found and agreed that you learn where they are."


def test_a_refusal_keeps_the_site_hidden_for_good(client):
    camp = site(client, "Camp Hol")
    enquiry, case, _ = verified_case(client, camp)
    client.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "refused", "reason": "wishes no contact"},
    )
    for target in ({"to": "family_informed"},):
        assert client.post(f"/api/tracing/cases/{case['id']}/transitions", json=target).is_success
    [seen] = client.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()["sought"]
    assert "site" not in seen and seen["message_can_be_passed"] is False
    r = client.post(f"/api/tracing/cases/{case['id']}/transitions", json={"to": "reunited"})
    assert r.status_code == 409


def child_enquiry(client, camp):
    child = register(
        client,
        camp,
        given_name="Yusuf",
        father_name="Omar",
        family_name="Haddad",
        sex="m",
        estimated_age=9,
        mother_name="Amira",
        vulnerabilities={"uasc": "separated"},
    )
    enquiry = enquire(
        client,
        {"given_name": "Youssef", "father_name": "Omar", "family_name": "al-Haddad", "age": 9},
    )
    return child, enquiry


def test_a_child_is_proposed_through_the_mothers_name(client):
    camp = site(client, "Camp A")
    child, enquiry = child_enquiry(client, camp)
    [match] = case_of(enquiry)["matches"]
    assert match["person"]["id"] == child["id"]
    mother = {e["field"]: e for e in match["explanation"]}["mother's name"]
    assert "Amira" in mother["text"] and mother["weight"] > 0


def test_only_a_protection_officer_decides_for_a_child(database, clock):
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    child, enquiry = child_enquiry(client, camp)
    case = case_of(enquiry)
    client.post(f"/api/tracing/matches/{case['matches'][0]['id']}/confirm", json={"reason": "ok"})
    tracer = make_client(database, clock, (Role.TRACING_OFFICER,))
    work_at(tracer, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    url = f"/api/tracing/cases/{case['id']}/disclosure"
    r = tracer.post(url, json={"decision": "agreed", "reason": "the boy asked for his mother"})
    assert r.status_code == 403 and "by a protection officer" in r.json()["message"]
    with database.read() as conn:
        denied = (
            conn.execute(select(audit_events.c.person_id).where(audit_events.c.outcome == "denied"))
            .scalars()
            .all()
        )
    assert denied == [child["id"]]
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    assert "site" not in tracer.get(view_url).json()["sought"][0]
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    r = protection.post(url, json={"decision": "agreed", "reason": "best interests assessed"})
    assert r.status_code == 200, r.text
    last = r.json()["history"][-1]
    assert last["role"] == "protection_officer" and last["disclosure"] == "agreed"
    assert tracer.get(view_url).json()["sought"][0]["site"]["name"] == "Camp A"


def test_separated_children_lead_the_queue(client, clock):
    camp = site(client, "Camp A")
    register_khalid(client, camp)
    adult = enquire(client, adult_sought())
    clock.advance(hours=1)
    _, child = child_enquiry(client, camp)
    queue = client.get("/api/tracing/queue").json()
    order = [i["case_id"] for i in queue]
    assert order.index(case_of(child)["id"]) < order.index(case_of(adult)["id"])
    assert queue[0]["priority"] == "uasc"


def test_wrong_roles_get_403_and_the_denial_is_audited(database, clock):
    client = make_client(database, clock)
    enquiry = enquire(client, adult_sought())
    registrar = make_client(database, clock, (Role.REGISTRAR,))
    work_at(registrar, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    body = {"enquirer": ENQUIRER, "sought": [adult_sought()]}
    assert registrar.post("/api/tracing/enquiries", json=body).status_code == 403
    assert registrar.get("/api/tracing/queue").status_code == 403
    assert registrar.get(f"/api/tracing/enquiries/{enquiry['id']}").status_code == 403
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    assert protection.post("/api/tracing/enquiries", json=body).status_code == 403
    assert protection.get("/api/tracing/queue").status_code == 200


def test_bad_input_names_every_field_and_writes_nothing(client, database, clock):
    r = client.post(
        "/api/tracing/enquiries",
        json={
            "enquirer": ENQUIRER,
            "sought": [
                {"sex": "m", "age": 30},
                {"given_name": "Omar", "last_seen_date": str(clock().date() + timedelta(days=3))},
            ],
        },
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid"
    problems = errors(r)
    assert "at least one name" in problems["sought[0].full_name"]
    assert "future" in problems["sought[1].last_seen_date"]
    r = client.post(
        "/api/tracing/enquiries",
        json={"enquirer": {**ENQUIRER, "relationship": "landlord"}, "sought": []},
    )
    assert r.status_code == 422
    assert {"enquirer.relationship", "sought"} <= set(errors(r))
    with database.read() as conn:
        for table in (tracing_enquiries, tracing_cases, tracing_case_events):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_reads_of_a_case_are_audited(client, database):
    camp = site(client, "Camp A")
    khalid = register_khalid(client, camp)
    case = case_of(enquire(client, adult_sought()))
    with database.read() as conn:
        before = conn.execute(
            select(func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.action == "tracing.read", audit_events.c.person_id == khalid["id"]
            )
        ).scalar()
    client.get(f"/api/tracing/cases/{case['id']}")
    with database.read() as conn:
        after = conn.execute(
            select(func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.action == "tracing.read", audit_events.c.person_id == khalid["id"]
            )
        ).scalar()
    assert after == before + 1


def test_unknown_ids_are_404(client):
    assert client.get("/api/tracing/cases/nope").status_code == 404
    assert client.get("/api/tracing/enquiries/nope/enquirer-view").status_code == 404
    r = client.post("/api/tracing/matches/nope/confirm", json={"reason": "x"})
    assert r.status_code == 404


def test_the_household_tells_who_the_mother_is(client):
    """A child registered with his mother in one household: her name (from the household
    link, not typed again) agrees with the enquirer's, and the explanation says so."""
    camp = site(client, "Camp A")
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": {"tracing": True, "share_with": []},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "head": {
                "given_name": "Layla",
                "father_name": "Hassan",
                "sex": "f",
                "estimated_age": 60,
            },
            "members": [
                {
                    "relationship": "child",
                    "given_name": "Sami",
                    "father_name": "Omar",
                    "family_name": "al-Khatib",
                    "sex": "m",
                    "estimated_age": 30,
                },
            ],
        },
    )
    assert r.status_code == 201, r.text
    sami = r.json()["members"][1]["id"]
    enquirer = {**ENQUIRER, "name": "Layla Hassan"}
    case = case_of(enquire(client, {"full_name": "Sami Omar Khatib", "age": 30}, enquirer=enquirer))
    [match] = [m for m in case["matches"] if m["person"]["id"] == sami]
    mother = {e["field"]: e for e in match["explanation"]}["mother's name"]
    assert "Layla" in mother["text"] and mother["weight"] > 0


def test_a_detention_site_is_shown_to_protection_roles_only(database, clock):
    client = make_client(database, clock)
    camp, prison = site(client, "Camp A"), site(client, "Prison", "detention")
    khalid = register_khalid(client, camp)
    r = client.post(
        f"/api/persons/{khalid['id']}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    case = case_of(enquire(client, adult_sought()))
    tracer = make_client(database, clock, (Role.TRACING_OFFICER,))
    work_at(tracer, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    seen = tracer.get(f"/api/tracing/cases/{case['id']}").json()
    assert seen["matches"][0]["person"]["site"]["name"] is None
    assert "Prison" not in str(tracer.get("/api/tracing/queue").json())
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, *client.get("/api/auth/me").json()["site_ids"], admin=client)
    seen = protection.get(f"/api/tracing/cases/{case['id']}").json()
    assert seen["matches"][0]["person"]["site"]["name"] == "Prison"


def test_the_list_of_enquiries_children_first_filtered_paged_and_scoped(database, clock):
    """Every enquiry in the caller's scope: a child concerned first, then open before
    closed; filtered by state, a page at a time, and nothing of another site's."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    register_khalid(client, camp)
    adult = enquire(client, adult_sought())
    clock.advance(hours=1)
    _, child = child_enquiry(client, camp)
    r = client.get("/api/tracing/enquiries")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["id"] for i in body["items"]] == [child["id"], adult["id"]]
    assert (body["total"], body["page"], body["pages"], body["state"]) == (2, 1, 1, None)
    first = body["items"][0]
    assert set(first) == {
        "id", "created_at", "enquirer_name", "enquirer_relationship", "state", "priority",
        "sought", "open_cases", "anonymised",
    }
    assert (first["priority"], first["state"], first["sought"], first["open_cases"]) == (
        "uasc", "open", 1, 1,
    )
    assert first["enquirer_relationship"] == "mother"
    r = client.post(
        f"/api/tracing/cases/{case_of(adult)['id']}/transitions",
        json={"to": "closed", "close_reason": "deceased"},
    )
    assert r.status_code == 200, r.text
    closed = client.get("/api/tracing/enquiries?state=closed").json()
    assert [(i["id"], i["open_cases"]) for i in closed["items"]] == [(adult["id"], 0)]
    still = client.get("/api/tracing/enquiries?state=open").json()
    assert [i["id"] for i in still["items"]] == [child["id"]]
    assert client.get("/api/tracing/enquiries?state=lost").status_code == 422
    assert client.get("/api/tracing/enquiries?page=0").status_code == 422
    beyond = client.get("/api/tracing/enquiries?page=2").json()
    assert beyond["items"] == [] and beyond["total"] == 2
    views = client.app.state.services.tracing.views
    one = views.enquiries(page=2, per_page=1)
    assert ([i["id"] for i in one["items"]], one["pages"]) == ([adult["id"]], 2)
    # A protection officer (own sites) of another camp sees none of them.
    elsewhere = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(elsewhere, site(client, "Camp B"), admin=client)
    r = elsewhere.get("/api/tracing/enquiries")
    assert r.status_code == 200 and r.json()["items"] == [] and "Amira" not in r.text
    work_at(elsewhere, camp, admin=client)
    assert elsewhere.get("/api/tracing/enquiries").json()["total"] == 2
