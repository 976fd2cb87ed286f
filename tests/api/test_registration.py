from __future__ import annotations

from tests.api.helpers import BASIS, CONSENT, errors, register, site


def test_register_a_person_with_every_detail(client):
    exit_point = site(client, "Exit", "exit_point", "SY09")
    r = client.post(
        "/api/persons",
        json={
            "site_id": exit_point,
            "consent": {"tracing": True, "share_with": ["ICRC"]},
            "purpose": "registration and tracing",
            "legal_basis": "vital_interest",
            "given_name": "Mohammed",
            "father_name": "Ahmed",
            "grandfather_name": "Ali",
            "family_name": "al-Obeidi",
            "given_name_original": "محمد",
            "father_name_original": "أحمد",
            "grandfather_name_original": "علي",
            "family_name_original": "العبيدي",
            "alternate_names": ["Muhammad Ahmad"],
            "kunya": "Abu Omar",
            "mother_name": "Khadija",
            "sex": "m",
            "birth_date": "1985-06",
            "nationality": "irq",
            "origin_pcode": "IQG15",
            "origin_locality": "Tal Afar",
            "languages": ["ar", "tr"],
            "documents": [
                {"type": "national_id", "number": "ab-123 456", "issuing_country": "IRQ"}
            ],
            "phone": "+964 770 123 4567",
            "vulnerabilities": {"washington_group": {"walking": 4, "seeing": 1}, "injury": True},
            "note": "lost his left leg",
        },
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["names"]["given_name_original"] == "محمد"
    assert p["birth_date"] == "1985-06" and p["birth_precision"] == "month"
    assert p["nationality"] == "IRQ"
    assert p["phone"] == "+9647701234567"
    assert p["vulnerabilities"]["disabled"] is True
    assert p["location"]["site_id"] == exit_point and p["location"]["state"] == "present"
    assert p["consent"] == {"tracing": True, "share_with": ["ICRC"]}
    assert len(p["id"]) == 36 and p["id"][14] == "7"  # UUIDv7

    # Search finds them by the wristband number however it is typed, by phone, by document.
    number = p["registration_number"]
    for typed in (number, number.lower(), number.replace("-", "")):
        found = client.post("/api/persons/search", json={"registration_number": typed}).json()
        assert [f["id"] for f in found] == [p["id"]]
    assert (
        client.post("/api/persons/search", json={"phone": "00964 7701234567"}).json()[0]["id"]
        == p["id"]
    )
    assert (
        client.post("/api/persons/search", json={"document_number": "AB123456"}).json()[0]["id"]
        == p["id"]
    )


def test_a_mistyped_registration_number_is_caught_by_its_check_character(client):
    camp = site(client, "Camp")
    number = register(client, camp)["registration_number"]
    wrong = ("1" if number[0] != "1" else "2") + number[1:]
    r = client.post("/api/persons/search", json={"registration_number": wrong})
    assert r.status_code == 422
    assert "check character" in errors(r)["registration_number"]


def test_group_pre_registration_then_details_later(client):
    camp = site(client, "Camp")
    p = register(client, camp, given_name="Hamid", estimated_age=40)
    assert p["estimated_age_at_registration"] == 40 and p["birth_precision"] == "estimated"
    r = client.patch(
        f"/api/persons/{p['id']}",
        json={
            "father_name": "Saleh",
            "sex": "m",
            "documents": [{"type": "family_book", "number": "77"}],
            "consent": {"tracing": False, "share_with": []},
        },
    )
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["names"]["given_name"] == "Hamid" and q["names"]["father_name"] == "Saleh"
    assert q["estimated_age_at_registration"] == 40  # untouched
    assert q["documents"] == [{"type": "family_book", "number": "77", "issuing_country": None}]
    assert q["consent"]["tracing"] is False
    assert q["registration_number"] == p["registration_number"]
    r = client.patch(f"/api/persons/{p['id']}", json={"birth_date": "1979"})
    assert r.json()["birth_precision"] == "year"
    r = client.patch(f"/api/persons/{p['id']}", json={"birth_date": "2999"})
    assert r.status_code == 422 and "future" in errors(r)["birth_date"]
    r = client.patch(f"/api/persons/{p['id']}", json={"site_id": "elsewhere"})
    assert r.status_code == 422 and "site_id" in errors(r)


def test_household_links_and_later_links(client):
    camp = site(client, "Camp")
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Aisha", "sex": "f", "estimated_age": 30},
            "members": [
                {"relationship": "child", "given_name": "Hassan", "birth_date": "2018-09"},
                {
                    "relationship": "child",
                    "given_name": "Hussein",
                    "birth_date": "2018-09",
                    "consent": {"tracing": False},
                },
            ],
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    hh = client.get(f"/api/households/{created['id']}").json()
    assert [m["id"] for m in hh["members"]] == [m["id"] for m in created["members"]]
    assert [m["registration_number"] for m in hh["members"]] == [
        m["registration_number"] for m in created["members"]
    ]
    head, hassan, hussein = hh["members"]
    assert head["relationship_to_head"] == "head" and hh["head_person_id"] == head["id"]
    assert {m["household_id"] for m in hh["members"]} == {hh["id"]}
    assert hussein["consent"]["tracing"] is False and hassan["consent"]["tracing"] is True
    r = client.post(
        "/api/relationships",
        json={"person_id": hassan["id"], "other_person_id": hussein["id"], "kind": "twin"},
    )
    assert r.status_code == 201
    r = client.post(
        "/api/relationships",
        json={"person_id": hassan["id"], "other_person_id": hussein["id"], "kind": "twin"},
    )
    assert r.status_code == 409
    cousin = register(client, camp, given_name="Mustafa")
    r = client.post(
        "/api/relationships",
        json={"person_id": cousin["id"], "other_person_id": "ghost", "kind": "cousin"},
    )
    assert errors(r) == {"other_person_id": "person not found"}


def test_openapi_and_index(client):
    spec = client.get("/openapi.json").json()
    assert (
        "/api/households" in spec["paths"]
        and "/api/manifests/{manifest_id}/check-ins" in spec["paths"]
    )
    page = client.get("/")
    assert page.status_code == 200 and 'href="/docs"' in page.text


def test_every_members_details_are_kept_whatever_the_heads_lack(client):
    """A head registered with a name only must not make the members' ages, documents or
    phones vanish (they once did: the insert took its columns from the first person)."""
    s = site(client, "Camp A")
    r = client.post(
        "/api/households",
        json={
            "site_id": s,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Amal"},
            "members": [
                {"relationship": "child", "given_name": "Ziad", "estimated_age": 6},
                {"relationship": "child", "given_name": "Rana", "birth_date": "2015-04"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    head, ziad, rana = (client.get(f"/api/persons/{m['id']}").json() for m in r.json()["members"])
    assert head["birth_date"] is None and head["age"] is None
    assert ziad["birth_precision"] == "estimated" and ziad["estimated_age_at_registration"] == 6
    assert rana["birth_date"] == "2015-04" and rana["birth_precision"] == "month"


def test_a_patch_of_one_vulnerability_keeps_the_others(client):
    """A health worker adding a MUAC reading must not wipe the child's unaccompanied flag,
    the injury recorded at the gate or an earlier functioning answer."""
    camp = site(client, "Camp")
    child = register(
        client,
        camp,
        given_name="Ziad",
        estimated_age=4,
        vulnerabilities={
            "uasc": "unaccompanied",
            "injury": True,
            "washington_group": {"seeing": 3},
            "medical_note": "burn on the left arm",
        },
    )
    r = client.patch(
        f"/api/persons/{child['id']}",
        json={"vulnerabilities": {"muac_mm": 112, "washington_group": {"hearing": 2}}},
    )
    assert r.status_code == 200, r.text
    v = r.json()["vulnerabilities"]
    assert (v["muac_mm"], v["muac_status"]) == (112, "SAM")
    assert v["uasc"] == "unaccompanied" and v["injury"] is True
    assert v["washington_group"]["seeing"] == 3 and v["washington_group"]["hearing"] == 2
    assert v["medical_note"] == "burn on the left arm"
    # A value given as null is cleared; a flag given false is unset.
    r = client.patch(
        f"/api/persons/{child['id']}",
        json={"vulnerabilities": {"medical_note": None, "injury": False}},
    )
    v = r.json()["vulnerabilities"]
    assert v["medical_note"] is None and v["injury"] is False and v["muac_mm"] == 112
