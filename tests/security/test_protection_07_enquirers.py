"""PROTECTION.md line 7 for relatives abroad: what identifies a tracing enquirer (name,
contact, location, the enquiry's note) is sealed at rest under the tracing key, read
back for the tracing officer, unreadable for good once that key is destroyed (the
enquiry and its cases still work), and removed by retention."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text

from corridor.storage.tracing_tables import tracing_enquiries
from tests.api.helpers import register, site
from tests.conftest import make_client

# The tracing key's name, as `corridor keys destroy --site tracing` takes it.
TRACING_KEY = "tracing"
NAME = "Canarya Zenobia Haddad"
PHONE = "+49 151 7777 31337"
CITY = "Canaryburg, Lower Saxony"
NOTE = "CANARY-NOTE call after 18:00, her husband must not know"
CANARIES = (NAME, "Canarya", "Zenobia", "31337", "Canaryburg", "CANARY-NOTE")


def _enquiry_body(**enquirer: str) -> dict[str, object]:
    return {
        "enquirer": {
            "name": NAME,
            "contact": PHONE,
            "relationship": "sibling",
            "location": CITY,
            "country": "DEU",
            **enquirer,
        },
        "note": NOTE,
        "sought": [
            {
                "given_name": "Khalid",
                "father_name": "Ibrahim",
                "family_name": "al-Obeidi",
                "sex": "m",
                "age": 34,
                "enquirer_is": "sibling",
            }
        ],
    }


def _enquire(client, **enquirer: str) -> dict[str, object]:
    r = client.post("/api/tracing/enquiries", json=_enquiry_body(**enquirer))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _khalid(client, camp: str) -> dict[str, object]:
    return register(
        client,
        camp,
        given_name="Khaled",
        father_name="Ibrahim",
        family_name="Obeidi",
        sex="m",
        estimated_age=34,
        phone="+963 944 12 34 56",  # sealed: the camp has a key
    )


def _every_enquiry_value(conn) -> str:
    """Every value of every enquiry row, as the database holds it (raw SQL)."""
    rows = conn.execute(text("SELECT * FROM tracing_enquiries")).all()
    return "\n".join(str(v) for row in rows for v in row)


def _shown(enquiry: dict) -> tuple:
    who = enquiry["enquirer"]
    return who["name"], who["contact"], who["location"], enquiry["note"]


def test_protection_07_a_raw_read_shows_no_enquirer_in_clear(database, clock):
    with make_client(database, clock) as client:
        camp = site(client, "Camp Canary")
        _khalid(client, camp)
        enquiry = _enquire(client)
        # The tracing officer sees the plain values, in the API and on the pages.
        assert _shown(enquiry) == (NAME, PHONE, CITY, NOTE)
        r = client.get(f"/api/tracing/enquiries/{enquiry['id']}")
        assert r.status_code == 200 and _shown(r.json()) == (NAME, PHONE, CITY, NOTE)
        assert r.json()["enquirer"]["country"] == "DEU"
        listed = client.get("/api/tracing/enquiries").json()["items"]
        assert [i["enquirer_name"] for i in listed] == [NAME]
        told = client.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view").json()
        assert told["enquirer_name"] == NAME
        page = client.get(f"/tracing/enquiries/{enquiry['id']}")
        assert page.status_code == 200 and NAME in page.text and "31337" in page.text
        assert NAME in client.get("/tracing/enquiries").text
    with database.read() as conn:
        dump = _every_enquiry_value(conn)
    assert "DEU" in dump  # the dump is real: the country stays for the figures
    for canary in CANARIES:
        assert canary not in dump, canary
    with database.read() as conn:
        [stored] = conn.execute(text("SELECT sealed FROM tracing_enquiries")).scalars()
        scopes = set(conn.execute(text("SELECT site_id FROM site_keys")).scalars())
    assert stored.startswith("enc:v1:")
    assert TRACING_KEY in scopes  # sealed under the tracing key, not a camp's
    if database.is_sqlite:
        path = Path(database.url.database)
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert b"Khalid" in raw  # the sought person's description is there
        for canary in CANARIES:
            assert canary.encode() not in raw, canary


def test_protection_07_destroying_the_tracing_key_leaves_a_working_enquiry(database, clock):
    with make_client(database, clock) as client:
        svc = client.app.state.services
        camp = site(client, "Camp A")
        person = _khalid(client, camp)
        enquiry = _enquire(client)
        [case] = enquiry["cases"]
        [match] = case["matches"]
        assert match["person"]["id"] == person["id"]
        # A camp's evacuation drill leaves enquirers readable: they are at no camp.
        assert svc.keys.destroy_site(camp, "cli:test") >= 1
        r = client.get(f"/api/tracing/enquiries/{enquiry['id']}")
        assert _shown(r.json()) == (NAME, PHONE, CITY, NOTE)

        assert svc.keys.destroy_site(TRACING_KEY, "cli:test") == 1
        r = client.get(f"/api/tracing/enquiries/{enquiry['id']}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert _shown(body) == (None, None, None, None)
        assert body["enquirer"]["unavailable"] is True
        assert body["enquirer"]["relationship"] == "sibling"
        assert [c["id"] for c in body["cases"]] == [case["id"]]
        assert body["cases"][0]["sought"]["given_name"] == "Khalid"
        for canary in CANARIES:
            assert canary not in r.text
        listed = client.get("/api/tracing/enquiries").json()["items"]
        assert [(i["id"], i["enquirer_name"]) for i in listed] == [(enquiry["id"], None)]
        told = client.get(f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view")
        assert told.status_code == 200 and told.json()["enquirer_name"] is None
        # The pages say the details are unavailable; none fails.
        for path in (
            f"/tracing/enquiries/{enquiry['id']}",
            "/tracing/enquiries",
            f"/tracing/enquiries/{enquiry['id']}/enquirer-view",
            "/tracing",
        ):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text)
            assert "None" not in page.text.replace("display: none", "")
        assert (
            "The key for this data is not available"
            in client.get(f"/tracing/enquiries/{enquiry['id']}").text
        )
        # The case still moves on.
        r = client.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "verified"
        # A registration is still checked against the open cases (the worker reads the
        # enquiry without its enquirer), and a new enquiry gets a new tracing key.
        _khalid(client, camp)
        again = _enquire(client, name="Second Enquirer")
        assert again["enquirer"]["name"] == "Second Enquirer"
        r = client.get(f"/api/tracing/enquiries/{enquiry['id']}")
        assert r.json()["enquirer"]["unavailable"] is True
    with database.read() as conn:
        dump = _every_enquiry_value(conn)
    for canary in CANARIES:
        assert canary not in dump


def test_protection_07_rotating_the_tracing_key_moves_every_enquirer(services, database):
    from corridor.tracing_schemas import EnquiryIn

    first = services.tracing.create_enquiry(
        EnquiryIn.model_validate(_enquiry_body()),
        audit=services.audit.operator_hook("test", "tracing.write"),
    )
    with database.read() as conn:
        before = conn.execute(select(tracing_enquiries.c.sealed)).scalar_one()
    rotation = services.keys.rotate_site(TRACING_KEY, "cli:test")
    assert rotation.reencrypted == 1
    with database.read() as conn:
        after = conn.execute(select(tracing_enquiries.c.sealed)).scalar_one()
        states = dict(
            conn.execute(
                text("SELECT state, count(*) FROM site_keys WHERE site_id = :s GROUP BY state"),
                {"s": TRACING_KEY},
            ).all()
        )
    assert after != before and rotation.key_id in after
    assert states == {"active": 1, "retired": 1}
    assert _shown(services.tracing.views.enquiry(first["id"])) == (NAME, PHONE, CITY, NOTE)
    assert services.keys.count_plaintext() == 0


def test_protection_07_match_explanations_quote_no_enquirer_in_clear(database, clock):
    """The engine's explanation quotes the enquirer's name (a mother's name agrees): the
    officer reads it, the database holds it sealed, and it goes with the tracing key."""
    with make_client(database, clock) as client:
        svc = client.app.state.services
        camp = site(client, "Camp A")
        child = register(
            client,
            camp,
            given_name="Yusuf",
            father_name="Omar",
            family_name="Haddad",
            sex="m",
            estimated_age=9,
            mother_name="Canarya Haddad",
        )
        body = _enquiry_body(relationship="mother")
        body["sought"] = [
            {"given_name": "Youssef", "father_name": "Omar", "family_name": "al-Haddad", "age": 9}
        ]
        r = client.post("/api/tracing/enquiries", json=body)
        assert r.status_code == 201, r.text
        enquiry = r.json()
        [match] = enquiry["cases"][0]["matches"]
        assert match["person"]["id"] == child["id"]
        mother = {e["field"]: e for e in match["explanation"]}["mother's name"]
        assert NAME in mother["text"] and mother["weight"] > 0
        ar = client.get(f"/tracing/enquiries/{enquiry['id']}", headers={"accept-language": "ar"})
        assert ar.status_code == 200 and NAME in ar.text  # the message, translated
        with database.read() as conn:
            rows = conn.execute(text("SELECT * FROM tracing_matches")).all()
        raw = "\n".join(str(v) for row in rows for v in row)
        assert "weight" in raw and "enc:v1:" in raw
        for canary in CANARIES:
            assert canary not in raw, canary

        # Sealed before 0013 in the clear: `corridor keys seal` seals it.
        with database.transaction() as conn:
            plain = [{**e, "text": e["text"], "sealed": None} for e in match["explanation"]]
            conn.execute(text("UPDATE tracing_matches SET explanation = :e"), {"e": _json(plain)})
        assert svc.keys.count_plaintext() == 1
        assert svc.keys.seal_plaintext("cli:test") == 1 and svc.keys.count_plaintext() == 0
        case = client.get(f"/api/tracing/cases/{enquiry['cases'][0]['id']}").json()
        again = {e["field"]: e for e in case["matches"][0]["explanation"]}["mother's name"]
        assert NAME in again["text"]

        assert svc.keys.destroy_site(TRACING_KEY, "cli:test") == 1
        r = client.get(f"/api/tracing/cases/{enquiry['cases'][0]['id']}")
        assert r.status_code == 200, r.text
        [gone] = r.json()["matches"]
        assert [(e["field"], e["weight"]) for e in gone["explanation"]] == [
            (e["field"], e["weight"]) for e in match["explanation"]
        ]
        assert all(e["text"] == "" for e in gone["explanation"])
        assert client.get(f"/tracing/enquiries/{enquiry['id']}").status_code == 200


def _json(value: object) -> str:
    import json

    return json.dumps(value)
