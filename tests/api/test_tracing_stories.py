"""Tracing as a family and its officers live it, end to end (the maintainers' stories):
a detained relative found, a found person who withdraws, an enquiry's faults."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.storage import Database
from corridor.storage.security_tables import audit_events
from corridor.storage.tracing_tables import tracing_case_events
from tests.api.helpers import errors, site, work_at
from tests.api.test_tracing import adult_sought, enquire, register_khalid
from tests.conftest import Clock, make_client


def _officer(database: Database, clock: Clock, admin: TestClient, role: Role) -> TestClient:
    officer = make_client(database, clock, (role,))
    work_at(officer, *admin.get("/api/auth/me").json()["site_ids"], admin=admin)
    return officer


def test_a_detained_persons_place_is_told_by_protection_roles_only(database, clock):
    """A detained adult found and agreeing: the enquirer may learn where he is held
    (PROTECTION.md 2), but the place of detention is for protection roles (line 4). The
    tracing officer's enquirer view (API and page) says he is held, without the place;
    the protection officer's gives it. On the code before, the tracing officer's
    enquirer view named the facility, its locality and its id."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    r = client.post(
        "/api/sites",
        json={"name": "Qalaat Canary Prison", "kind": "detention", "pcode": "SY08",
              "locality": "Wadi Canaria"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    prison = str(r.json()["id"])
    work_at(client, prison)
    khalid = register_khalid(client, camp)
    r = client.post(
        f"/api/persons/{khalid['id']}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    enquiry = enquire(client, adult_sought())
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == khalid["id"]]
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    r = tracer.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    r = tracer.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "he asked us to tell his sister"},
    )
    assert r.status_code == 200, r.text
    for secret in ("Qalaat", "Canaria", prison):
        assert secret not in r.text
    told = tracer.get(view_url)
    assert told.status_code == 200, told.text
    [news] = told.json()["sought"]
    assert news["status"] == "found" and news["found_person_id"] == khalid["id"]
    assert news["site"] == {
        "id": None, "name": None, "locality": None, "kind": None, "hidden": "detention site"
    }  # fmt: skip
    page = tracer.get(f"/tracing/enquiries/{enquiry['id']}/enquirer-view")
    assert page.status_code == 200, page.text
    assert "Where: detention site (hidden)" in page.text
    for text in (told.text, page.text):
        for secret in ("Qalaat", "Canaria", prison):
            assert secret not in text
    protection = _officer(database, clock, client, Role.PROTECTION_OFFICER)
    [news] = protection.get(view_url).json()["sought"]
    assert (news["site"]["id"], news["site"]["name"], news["site"]["locality"]) == (
        prison, "Qalaat Canary Prison", "Wadi Canaria",
    )  # fmt: skip
    page = protection.get(f"/tracing/enquiries/{enquiry['id']}/enquirer-view").text
    assert "Qalaat Canary Prison" in page and "Wadi Canaria" in page


def _found_and_agreed(tracer: TestClient, match_id: str, case_id: str) -> None:
    """The match confirmed, and the found adult's agreement that the enquirer may learn
    where they are recorded (each write answered 200)."""
    r = tracer.post(f"/api/tracing/matches/{match_id}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    r = tracer.post(
        f"/api/tracing/cases/{case_id}/disclosure",
        json={"decision": "agreed", "reason": "asked him"},
    )
    assert r.status_code == 200, r.text


def _withdraw_tracing(client: TestClient, person_id: str) -> None:
    r = client.patch(
        f"/api/persons/{person_id}", json={"consent": {"tracing": False, "share_with": []}}
    )
    assert r.status_code == 200, r.text


def _khalid_proposed(database: Database, clock: Clock) -> tuple[Any, ...]:
    """Khalid registered at Camp A and proposed for an enquiry; a tracing officer: the
    desk's client, the camp, Khalid, the enquiry, its case, his match, the officer."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    khalid = register_khalid(client, camp)
    enquiry = enquire(client, adult_sought())
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == khalid["id"]]
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    return client, camp, khalid, enquiry, case, match, tracer


def test_a_person_who_withdraws_consent_is_no_longer_offered(database, clock):
    """Proposed for an enquiry, then the person withdraws their consent to tracing: no
    view offers them any more (case, queue, enquiry, their pages), the match cannot be
    confirmed (404, as a match nobody has), and the enquirer is told the search goes on.
    On the code before, the tracing officer still saw and confirmed them, and the
    enquirer learnt where they were (PROTECTION.md 2)."""
    client, camp, khalid, enquiry, case, match, tracer = _khalid_proposed(database, clock)
    _withdraw_tracing(client, khalid["id"])
    shown = [
        f"/api/tracing/cases/{case['id']}",
        f"/api/tracing/enquiries/{enquiry['id']}",
        "/api/tracing/queue",
        f"/tracing/cases/{case['id']}",
        f"/tracing/enquiries/{enquiry['id']}",
        "/tracing",
    ]
    for url in shown:
        r = tracer.get(url)
        assert r.status_code == 200, (url, r.status_code)
        assert khalid["id"] not in r.text and "Khaled" not in r.text, url
    r = tracer.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 404, r.text
    [news] = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()["sought"]
    assert (news["status"], "site" in news) == ("searching", False)
    # A protection officer of the camp: the case was theirs by that candidate alone.
    protection = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=client)
    for url in (f"/api/tracing/cases/{case['id']}", f"/api/tracing/enquiries/{enquiry['id']}"):
        assert protection.get(url).status_code == 404, url
    assert protection.get("/api/tracing/enquiries").json()["total"] == 0


def test_a_found_person_who_withdraws_consent_is_no_longer_located(database, clock):
    """Found, agreed that the enquirer learns where he is, then withdrew his consent to
    tracing: the enquirer view no longer gives the place nor the person, and says no
    further information can be shared. On the code before, it gave the camp."""
    client, camp, khalid, enquiry, case, match, tracer = _khalid_proposed(database, clock)
    _found_and_agreed(tracer, match["id"], case["id"])
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    [news] = tracer.get(view_url).json()["sought"]
    assert news["site"]["id"] == camp  # agreed: the place may be told
    _withdraw_tracing(client, khalid["id"])
    told = tracer.get(view_url)
    [news] = told.json()["sought"]
    assert news["status"] == "found"
    assert news["text"] == "The person has been found. No further information can be shared."
    assert "site" not in news and "found_person_id" not in news
    assert camp not in told.text and khalid["id"] not in told.text
    page = tracer.get(f"/tracing/enquiries/{enquiry['id']}/enquirer-view").text
    assert "Camp A" not in page


def _case_log(database: Database, case_id: str) -> list[tuple[Any, ...]]:
    with database.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(tracing_case_events.c.kind, tracing_case_events.c.to_state)
                .where(tracing_case_events.c.case_id == case_id)
                .order_by(tracing_case_events.c.seq)
            )
        ]


def _denials(database: Database, person_id: str) -> list[tuple[Any, ...]]:
    with database.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(audit_events.c.action, audit_events.c.purpose)
                .where(audit_events.c.person_id == person_id, audit_events.c.outcome == "denied")
                .order_by(audit_events.c.seq)
            )
        ]


@pytest.mark.parametrize("withdrawn_at", ["found_person_consulted", "family_informed"])
def test_a_family_is_not_told_of_a_found_person_who_withdrew(database, clock, withdrawn_at):
    """Found and agreeing, then the found person withdraws their consent to tracing
    (before the family is told, or after, before the reunion): recording the case as
    "family informed" or "reunited" is refused (409 ``consent_withdrawn``, naming why),
    audited as a denial about the found person, and nothing is written (state, case
    log); the enquirer is still told that no further information can be shared, and the
    case can be closed as no contact wished. On the code before, the officer recorded
    the family as informed and the case as reunited (PROTECTION.md 2)."""
    client, camp, khalid, enquiry, case, match, tracer = _khalid_proposed(database, clock)
    url = f"/api/tracing/cases/{case['id']}"
    _found_and_agreed(tracer, match["id"], case["id"])
    if withdrawn_at == "family_informed":
        r = tracer.post(f"{url}/transitions", json={"to": "family_informed"})
        assert r.status_code == 200, r.text
    assert tracer.get(url).json()["found_person_withdrew"] is False
    _withdraw_tracing(client, khalid["id"])
    log, denied = _case_log(database, case["id"]), _denials(database, khalid["id"])
    target = {"found_person_consulted": "family_informed", "family_informed": "reunited"}
    for _sent in range(2):  # each refusal audited
        r = tracer.post(
            f"{url}/transitions", json={"to": target[withdrawn_at], "reason": "told his sister"}
        )
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "consent_withdrawn"
        assert "withdrew their consent to tracing" in r.json()["message"]
        assert [e["field"] for e in r.json()["errors"]] == ["to"]
    shown = tracer.get(url).json()
    assert (shown["state"], shown["found_person_withdrew"]) == (withdrawn_at, True)
    assert _case_log(database, case["id"]) == log
    assert _denials(database, khalid["id"])[len(denied):] == [
        ("tracing.write", "consent to tracing withdrawn")
    ] * 2
    [news] = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()["sought"]
    assert news["text"] == "The person has been found. No further information can be shared."
    assert "site" not in news
    r = tracer.post(
        f"{url}/transitions", json={"to": "closed", "close_reason": "no_contact_wished"}
    )
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text


def test_blank_names_in_an_enquiry_are_refused_and_nothing_is_written(client):
    """An enquiry whose only names are blank alternate names, or with a blank relative's
    name: 422 naming each field and why, nothing written. On the code before, a list
    of blank alternate names passed for a name: the case sought a person named ""."""
    bodies = [
        ({"alternate_names": ["", "  "]}, {
            "sought[0].alternate_names[0]", "sought[0].alternate_names[1]", "sought[0].full_name",
        }),
        ({"given_name": "Rima", "relatives_names": ["Hamid", " "]}, {
            "sought[0].relatives_names[1]",
        }),
    ]  # fmt: skip
    enquirer = {"name": "Amira Haddad", "contact": "+49 151 2345 6789",
                "relationship": "sibling", "location": "Berlin"}  # fmt: skip
    for sought, fields in bodies:
        r = client.post("/api/tracing/enquiries", json={"enquirer": enquirer, "sought": [sought]})
        assert r.status_code == 422, r.text
        errors = r.json()["errors"]
        assert {e["field"] for e in errors} == fields, errors
        assert all(e["reason"] for e in errors)
    assert client.get("/api/tracing/enquiries").json()["total"] == 0


def test_a_family_split_between_two_camps_is_read_per_site(database, clock):
    """A relative abroad asks by phone for a mother and her two children, spelling the
    names the European way: the mother is at camp A, a child at camp B (separated at the
    corridor), the other child not registered. A protection officer of A reads the
    enquiry and the enquirer view with the mother's case only: nothing of the child at
    B, even once a protection officer decided the family may learn where he is. On the
    code before, the enquiry gave the child at B (name, id, camp) to the officer of A."""
    from tests.api.helpers import register

    client = make_client(database, clock)
    a, b = site(client, "Camp Alpha"), site(client, "Camp Bravo")
    mother = register(client, a, given_name="Fatima", father_name="Hussein",
                      family_name="al-Khatib", sex="f", birth_date="1988", mother_name="Zainab")
    child = register(client, b, given_name="Yusuf", father_name="Omar", family_name="al-Khatib",
                     sex="m", estimated_age=7, mother_name="Fatima")  # fmt: skip
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    enquirer = {"name": "Leila Hoesein", "contact": "+31 6 1234 5678",
                "relationship": "sibling", "location": "Rotterdam", "country": "NLD"}
    sought = [
        {"given_name": "Fatma", "father_name": "Hoesein", "family_name": "El Chatib",
         "sex": "f", "birth_year": 1988, "mother_name": "Zeinab", "relatives_names": ["Leila"]},
        {"given_name": "Joesoef", "family_name": "El Chatib", "sex": "m", "age": 7,
         "mother_name": "Fatma", "enquirer_is": "uncle_aunt"},
        {"given_name": "Mariam", "family_name": "El Chatib", "sex": "f", "age": 4,
         "mother_name": "Fatma", "enquirer_is": "uncle_aunt"},
    ]  # fmt: skip
    r = tracer.post("/api/tracing/enquiries", json={"enquirer": enquirer, "sought": sought})
    assert r.status_code == 201, r.text
    enquiry = r.json()
    found = {}
    for case, person in zip(enquiry["cases"][:2], (mother, child), strict=True):
        [match] = [m for m in case["matches"] if m["person"]["id"] == person["id"]]
        r = tracer.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "call"})
        assert r.status_code == 200, r.text
        found[person["id"]] = case["id"]
    assert enquiry["cases"][2]["matches"] == []  # Mariam is registered nowhere
    r = client.post(  # the child's: a protection officer (of B) decides
        f"/api/tracing/cases/{found[child['id']]}/disclosure",
        json={"decision": "agreed", "reason": "in the child's interest"},
    )
    assert r.status_code == 200, r.text
    officer_a = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(officer_a, a, admin=client)
    assert officer_a.get("/api/auth/me").json()["site_ids"] == [a]
    for url in (
        f"/api/tracing/enquiries/{enquiry['id']}",
        f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view",
        f"/tracing/enquiries/{enquiry['id']}",
        f"/tracing/enquiries/{enquiry['id']}.json",
        f"/tracing/enquiries/{enquiry['id']}/enquirer-view",
    ):
        r = officer_a.get(url)
        assert r.status_code == 200, (url, r.text)
        for secret in (child["id"], "Camp Bravo", b, "Yusuf", found[child["id"]]):
            assert secret not in r.text, (url, secret)
        assert "Fatma Hoesein El Chatib" in r.text, url  # the mother sought is there
    assert officer_a.get(f"/api/tracing/cases/{found[child['id']]}").status_code == 404
    # The list counts what the enquiry shows them: one person sought, her case open.
    [item] = officer_a.get("/api/tracing/enquiries").json()["items"]
    assert (item["id"], item["sought"], item["open_cases"]) == (enquiry["id"], 1, 1)
    [item] = tracer.get("/api/tracing/enquiries").json()["items"]
    assert (item["sought"], item["open_cases"]) == (3, 3)


def test_a_candidate_merged_into_another_is_offered_once(database, clock):
    """Two records of one man, both proposed for the case; they are merged: the case
    offers the survivor once, the merged record's id is no candidate (confirming its
    match is a 404), and an unmerge offers it again. On the code before, the case
    offered both, and confirming the merged record made an id that leads elsewhere the
    person found."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    first = register_khalid(client, camp)
    enquiry = enquire(client, adult_sought())
    [case] = enquiry["cases"]
    second = register_khalid(client, camp, phone="+963 944 111 222")
    url = f"/api/tracing/cases/{case['id']}"
    matches = {m["person"]["id"]: m for m in client.get(url).json()["matches"]}
    assert {first["id"], second["id"]} <= set(matches)
    r = client.post(f"/api/persons/{first['id']}/merge", json={"other_person_id": second["id"]})
    assert r.status_code == 201, r.text
    survivor, merged = r.json()["survivor_id"], r.json()["merged_id"]
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    for seen in (client.get(url).json(), tracer.get(url).json()):
        ids = [m["person"]["id"] for m in seen["matches"]]
        assert ids.count(survivor) == 1 and merged not in ids, ids
    queue = tracer.get("/api/tracing/queue").json()
    assert merged not in str(queue) and survivor in str(queue)
    r = tracer.post(
        f"/api/tracing/matches/{matches[merged]['id']}/confirm", json={"reason": "photo"}
    )
    assert r.status_code == 404, r.text
    r = client.post(f"/api/persons/{merged}/unmerge", json={"reason": "two brothers"})
    assert r.status_code in (200, 201), r.text
    ids = [m["person"]["id"] for m in tracer.get(url).json()["matches"]]
    assert survivor in ids and merged in ids


def test_a_case_with_candidates_at_two_camps_shows_each_officer_their_own(database, clock):
    """One person sought, two namesakes registered: one at camp A, one at camp B. The
    case is in camp A's scope by its candidate there, and a protection officer of A used
    to read all of it: the candidate at B too (id, number, name, age), in the enquiry,
    the case, the queue and the pages. Now each candidate is read where it may be. Once
    the candidate at B is confirmed (A's set aside), the found person at B is not A's to
    read either, nor where they are in the enquirer view. (The route table found it when
    its writes ran in another order: tests/api/test_route_table_protection.py.)"""
    client = make_client(database, clock)
    a, b = site(client, "Camp Alpha"), site(client, "Camp Bravo")
    here = register_khalid(client, a)
    there = register_khalid(client, b, phone="+963944111222")
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    enquiry = enquire(tracer, adult_sought())
    case = enquiry["cases"][0]
    assert {m["person"]["id"] for m in case["matches"]} == {here["id"], there["id"]}
    officer_a = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(officer_a, a, admin=client)
    reads = (
        f"/api/tracing/enquiries/{enquiry['id']}",
        f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view",
        f"/api/tracing/cases/{case['id']}",
        "/api/tracing/queue",
        f"/tracing/enquiries/{enquiry['id']}",
        f"/tracing/enquiries/{enquiry['id']}.json",
        f"/tracing/cases/{case['id']}",
        "/tracing",
        "/tracing.json",
    )

    def read_all() -> dict[str, str]:
        texts = {}
        for url in reads:
            r = officer_a.get(url)
            assert r.status_code == 200, (url, r.text)
            texts[url] = r.text
        return texts

    for url, text in read_all().items():
        for secret in (there["id"], there["registration_number"], "Camp Bravo", b):
            assert secret not in text, (url, secret)
        if "enquirer-view" in url:
            continue
        if url == f"/tracing/enquiries/{enquiry['id']}":  # the page counts candidates
            assert "1 candidate<" in text, url
        elif url != "/tracing":  # (the queue's page names a candidate by name only)
            # Their own candidate is there (a page shows the number, JSON the id too).
            assert here["registration_number"] in text, url
    [match_b] = [m for m in case["matches"] if m["person"]["id"] == there["id"]]
    [match_a] = [m for m in case["matches"] if m["person"]["id"] == here["id"]]
    r = tracer.post(f"/api/tracing/matches/{match_a['id']}/reject", json={"reason": "no"})
    assert r.status_code == 200, r.text
    _found_and_agreed(tracer, match_b["id"], case["id"])
    assert tracer.get(f"/api/tracing/cases/{case['id']}").json()["found_person"]["id"] == (
        there["id"]
    )
    reads = reads[:3] + reads[4:7]  # the queues hold the case no more
    for url, text in read_all().items():
        for secret in (there["id"], there["registration_number"], "Camp Bravo", b):
            assert secret not in text, (url, secret)


def test_a_found_person_who_withdrew_cannot_be_recorded_as_agreeing(database, clock):
    """Confirmed as found, then the found person withdraws their consent to tracing
    before anyone asked them: their answer cannot be recorded as "agreed" (409
    ``consent_withdrawn`` on ``decision``, audited as a denial about them, nothing
    written). "Refused" still can, and the case be closed. On the code before, "agreed"
    was recorded for a person whose record says they withdrew."""
    client, camp, khalid, enquiry, case, match, tracer = _khalid_proposed(database, clock)
    url = f"/api/tracing/cases/{case['id']}"
    r = tracer.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    _withdraw_tracing(client, khalid["id"])
    log, denied = _case_log(database, case["id"]), _denials(database, khalid["id"])
    r = tracer.post(f"{url}/disclosure", json={"decision": "agreed", "reason": "asked him"})
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "consent_withdrawn"
    assert [e["field"] for e in r.json()["errors"]] == ["decision"]
    assert tracer.get(url).json()["state"] == "verified"
    assert _case_log(database, case["id"]) == log
    assert _denials(database, khalid["id"])[len(denied):] == [
        ("tracing.write", "consent to tracing withdrawn")
    ]
    r = tracer.post(f"{url}/disclosure", json={"decision": "refused", "reason": "asked him"})
    assert r.status_code == 200 and r.json()["disclosure"] == "refused", r.text


def _dies_in_hospital(client: TestClient, clock: Clock, person_id: str, hospital: str) -> None:
    clock.advance(hours=1)
    r = client.post(
        f"/api/persons/{person_id}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    clock.advance(hours=1)
    r = client.post(
        f"/api/persons/{person_id}/events", json={"kind": "deceased", "note": "died of wounds"}
    )
    assert r.status_code == 201, r.text


def test_a_found_person_who_died_in_hospital_is_told_by_an_officer(database, clock):
    """An adult dies in the field hospital; his sister's enquiry finds him. The tracing
    officer's case (API and page) says he is recorded as deceased; a dead man's "answer"
    cannot be recorded (409 on ``decision``, nothing written) and the enquirer view
    offers no message to pass and no place. Only the officer closing the case with the
    reason ``deceased`` tells the family. On the code before, the case showed him "at
    Hospital" like anyone alive, the enquirer view said a message could be passed, and
    the officer could record that he agreed: the family was then told "found and agreed
    that you learn where they are", with the hospital's name."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    hospital = site(client, "Field hospital", "hospital")
    khalid = register_khalid(client, camp)
    _dies_in_hospital(client, clock, khalid["id"], hospital)
    enquiry = enquire(client, adult_sought())
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == khalid["id"]]
    assert match["person"]["deceased"] is True
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    r = tracer.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    assert r.json()["found_person"]["deceased"] is True
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    [news] = tracer.get(view_url).json()["sought"]
    assert (news["status"], news["message_can_be_passed"]) == ("checking", False)
    assert "site" not in news and khalid["id"] not in str(news)
    before = tracer.get(f"/api/tracing/cases/{case['id']}").json()
    r = tracer.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "asked his brother"},
    )
    assert r.status_code == 409, r.text
    assert "deceased" in errors(r)["decision"]
    assert tracer.get(f"/api/tracing/cases/{case['id']}").json() == before
    page = tracer.get(f"/tracing/cases/{case['id']}").text
    assert "recorded as deceased" in page and 'name="decision"' not in page
    r = tracer.post(
        f"/api/tracing/cases/{case['id']}/transitions",
        json={"to": "closed", "close_reason": "deceased", "reason": "told his sister"},
    )
    assert r.status_code == 200, r.text
    [news] = tracer.get(view_url).json()["sought"]
    assert (news["status"], news["text"]) == ("closed", "We are sorry: the person sought has died.")


def test_a_death_recorded_after_the_found_person_agreed(database, clock):
    """He agreed that his sister learns where he is, then died in hospital: the enquirer
    view no longer gives the place nor offers a message, and the case cannot be marked
    reunited (409 on ``state``). On the code before, it still told the family he was
    found and agreed, at the hospital, and "reunited" was accepted."""
    client = make_client(database, clock)
    camp = site(client, "Camp A")
    hospital = site(client, "Field hospital", "hospital")
    khalid = register_khalid(client, camp)
    enquiry = enquire(client, adult_sought())
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == khalid["id"]]
    tracer = _officer(database, clock, client, Role.TRACING_OFFICER)
    case_url = f"/api/tracing/cases/{case['id']}"
    for url, body in (
        (f"/api/tracing/matches/{match['id']}/confirm", {"reason": "photo"}),
        (f"{case_url}/disclosure", {"decision": "agreed", "reason": "he asked us to"}),
        (f"{case_url}/transitions", {"to": "family_informed"}),
    ):
        r = tracer.post(url, json=body)
        assert r.status_code == 200, r.text
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    [news] = tracer.get(view_url).json()["sought"]
    assert news["site"]["id"] == camp and news["message_can_be_passed"] is True
    _dies_in_hospital(client, clock, khalid["id"], hospital)
    [news] = tracer.get(view_url).json()["sought"]
    assert news["message_can_be_passed"] is False
    assert "site" not in news and "found_person_id" not in news
    assert "agreed" not in news["text"] and "Field hospital" not in str(news)
    r = tracer.post(f"{case_url}/transitions", json={"to": "reunited"})
    assert r.status_code == 409, r.text
    assert "deceased" in errors(r)["state"]
    assert tracer.get(case_url).json()["state"] == "family_informed"
