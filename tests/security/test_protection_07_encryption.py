"""PROTECTION.md line 7: sensitive fields are encrypted at rest with keys per site, held
outside the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from corridor.schemas import (
    ManifestIn,
    ManifestPersonsIn,
    PersonIn,
    PersonPatch,
    PersonSearchIn,
    SiteIn,
    StatusEventIn,
)
from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage.tables import (
    manifest_items,
    movements,
    person_documents,
    person_match_keys,
    persons,
)
from tests.api.helpers import register, site
from tests.conftest import MASTER_KEY, make_client

PHONE = "+963 944 55 66 77"
PHONE_DIGITS = "963944556677"
DOCUMENT = "N0-CANARY-7731"
NOTE = "CANARY-NOTE shrapnel wound, insulin dependent"
MEDICAL = "CANARY-MED type 1 diabetes, insulin twice a day"
MOVE_NOTE = "CANARY-MOVE taken to the clinic after the checkpoint beating"
APART = "CANARY-APART her husband is held at the checkpoint"
CANARIES = (
    PHONE_DIGITS,
    "944556677",
    "CANARY7731",
    "N0-CANARY-7731",
    "CANARY-NOTE",
    "CANARY-MED",
    "CANARY-MOVE",
    "CANARY-APART",
)


def _every_text_value(conn) -> str:
    """Every value of every row of the person tables, as text."""
    out = []
    for table in (persons, person_documents, person_match_keys, movements, manifest_items):
        for row in conn.execute(select(table)):
            out.extend(str(v) for v in row)
    return "\n".join(out)


def test_a_raw_database_dump_shows_ciphertext(database, clock):
    with make_client(database, clock) as client:
        camp = site(client, "Camp Canary")
        person = register(
            client,
            camp,
            given_name="Khalid",
            phone=PHONE,
            documents=[{"type": "national_id", "number": DOCUMENT, "issuing_country": "SYR"}],
            note=NOTE,
            vulnerabilities={
                "muac_mm": 117,
                "washington_group": {"walking": 3},
                "medical_note": MEDICAL,
            },
        )
        # The API still shows the values: reads open the sealed fields.
        v = person["vulnerabilities"]
        assert (v["muac_mm"], v["washington_group"]["walking"], v["medical_note"]) == (
            117,
            3,
            MEDICAL,
        )
        # The triage categories stay in the clear for figures.
        assert (v["muac_status"], v["disabled"]) == ("MAM", True)
        assert person["phone"] == "+" + PHONE_DIGITS
        assert person["documents"][0]["number"] == DOCUMENT
        assert person["note"] == NOTE
        # ...and exact search by phone or document number still finds the person.
        for query in ({"phone": "00963944556677"}, {"document_number": "n0canary7731"}):
            r = client.post("/api/persons/search", json=query)
            assert r.status_code == 200, r.text
            assert [p["id"] for p in r.json()] == [person["id"]]
        # The matching engine finds and compares by phone through the hashed index key.
        r = client.post("/api/persons/match", json={"given_name": "Khaled", "phone": PHONE})
        assert r.status_code == 200, r.text
        [match] = r.json()
        assert match["person"]["id"] == person["id"]
        assert "phone" in {e["field"] for e in match["explanation"]}
        # A movement's note and why a person travels apart: shown, stored sealed.
        clinic = site(client, "Clinic Canary", kind="hospital")
        r = client.post(
            f"/api/persons/{person['id']}/events",
            json={"kind": "hospitalised", "to_site_id": clinic, "note": MOVE_NOTE},
        )
        assert r.status_code == 201, r.text
        assert r.json()["note"] == MOVE_NOTE
        log = client.get(f"/api/persons/{person['id']}/movements").json()
        assert [e["note"] for e in log if e["kind"] == "hospitalised"] == [MOVE_NOTE]
        sister = register(client, camp, given_name="Huda")["id"]
        other = site(client, "Camp Onward")
        m = client.post(
            "/api/manifests", json={"vehicle": "truck 3", "from_site_id": camp, "to_site_id": other}
        ).json()
        r = client.post(
            f"/api/manifests/{m['id']}/persons",
            json={"person_ids": [sister], "separation_reason": APART},
        )
        assert r.status_code in (200, 201), r.text
        [item] = client.get(f"/api/manifests/{m['id']}").json()["persons"]
        assert item["separation_reason"] == APART
    with database.read() as conn:
        notes = list(conn.execute(select(movements.c.note).where(movements.c.note.is_not(None))))
        assert notes and all(n.startswith("enc:v1:") for (n,) in notes)
        [reason] = conn.execute(select(manifest_items.c.separation_reason)).scalars()
        assert reason.startswith("enc:v1:")
        stored = conn.execute(select(persons).where(persons.c.id == person["id"])).mappings().one()
        assert stored["phone"].startswith("enc:v1:") and stored["note"].startswith("enc:v1:")
        assert stored["medical"].startswith("enc:v1:") and "muac_mm" not in stored
        assert (stored["muac_status"], stored["disabled"]) == ("MAM", True)
        assert stored["phone_hash"] and PHONE_DIGITS not in stored["phone_hash"]
        doc = conn.execute(select(person_documents)).mappings().one()
        assert doc["number"].startswith("enc:v1:")
        dump = _every_text_value(conn)
        keys = [k for (k,) in conn.execute(text("SELECT key FROM person_match_keys"))]
    assert any(k.startswith("ph:") for k in keys) and any(k.startswith("id:") for k in keys)
    for canary in CANARIES:
        assert canary not in dump
    if database.is_sqlite:
        # The raw bytes of the database file and its write-ahead log.
        path = Path(database.url.database)
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert b"Khalid" in raw  # the dump is real: unsealed fields are there
        for canary in CANARIES:
            assert canary.encode() not in raw


def _person(svc: Services, site_id: str, name: str, phone: str, doc: str) -> str:
    body = PersonIn.model_validate(
        {
            "site_id": site_id,
            "consent": {"tracing": True},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "given_name": name,
            "family_name": "Haddad",
            "phone": phone,
            "documents": [{"type": "national_id", "number": doc}],
            "note": f"note of {name}",
            "vulnerabilities": {"muac_mm": 120, "medical_note": f"asthma ({name})"},
        }
    )
    return str(
        svc.registration.register_person(
            body, audit=svc.audit.operator_hook("test", "person.write")
        )["id"]
    )


def _noted_event(svc: Services, pid: str, to_site: str) -> None:
    name = svc.registration.get_person(pid)["names"]["given_name"]
    svc.movements.record(
        pid,
        StatusEventIn(kind="transferred", to_site_id=to_site, note=f"moved on ({name})"),
        audit=svc.audit.operator_hook("test", "movement.write"),
    )


def _noted(svc: Services, pid: str) -> list[dict]:
    return [e for e in svc.movements.history(pid) if e["kind"] == "transferred"]


def _apart(svc: Services, pid: str, here: str, there: str) -> str:
    """A draft truck from where the person now is, with why they travel apart."""
    name = svc.registration.get_person(pid)["names"]["given_name"]
    hook = svc.audit.operator_hook("test", "manifest.write")
    m = svc.manifests.create(ManifestIn(vehicle="truck", from_site_id=there, to_site_id=here),
                             audit=hook)  # fmt: skip
    svc.manifests.add_persons(
        m["id"],
        ManifestPersonsIn(person_ids=[pid], separation_reason=f"apart ({name})"),
        audit=hook,
    )
    return str(m["id"])


def test_destroying_site_a_key_makes_only_site_a_fields_unreadable(services):
    a = services.sites.create(
        SiteIn(name="Site A", kind="camp"),
        audit=services.audit.operator_hook("test", "sites.admin"),
    )["id"]
    b = services.sites.create(
        SiteIn(name="Site B", kind="camp"),
        audit=services.audit.operator_hook("test", "sites.admin"),
    )["id"]
    in_a = _person(services, a, "Amina", "+963933000111", "A-111111")
    in_b = _person(services, b, "Bushra", "+963933000222", "B-222222")
    truck = {}
    for pid, here, there in ((in_a, a, b), (in_b, b, a)):
        _noted_event(services, pid, there)
        truck[pid] = _apart(services, pid, here, there)

    assert services.keys.destroy_site(a, "cli:test") >= 1

    [gone_event] = _noted(services, in_a)
    assert gone_event["note"] is None and gone_event["note_unavailable"] is True
    [kept_event] = _noted(services, in_b)
    assert kept_event["note"] == "moved on (Bushra)" and "note_unavailable" not in kept_event
    [item] = services.manifests.get(truck[in_a])["persons"]
    assert item["separation_reason"] is None and item["separation_reason_unavailable"]
    [item] = services.manifests.get(truck[in_b])["persons"]
    assert item["separation_reason"] == "apart (Bushra)"
    assert not item["separation_reason_unavailable"]

    gone = services.registration.get_person(in_a)
    assert gone["phone"] is None and gone["note"] is None
    assert [d["number"] for d in gone["documents"]] == [None]
    assert gone["vulnerabilities"]["muac_mm"] is None
    assert gone["vulnerabilities"]["medical_note"] is None
    assert gone["vulnerabilities"]["muac_status"] == "MAM"  # still counted in figures
    assert gone["names"]["given_name"] == "Amina"  # only the sealed fields are lost
    kept = services.registration.get_person(in_b)
    assert kept["phone"] == "+963933000222" and kept["note"] == "note of Bushra"
    assert [d["number"] for d in kept["documents"]] == ["B-222222"]
    assert kept["vulnerabilities"]["medical_note"] == "asthma (Bushra)"

    # Search keeps working for site B, and no longer confirms site A's numbers.
    def found(**query: str) -> list[str]:
        return [p["id"] for p in services.registration.search(PersonSearchIn(**query))]

    assert found(phone="+963933000222") == [in_b]
    assert found(document_number="B-222222") == [in_b]
    assert found(phone="+963933000111") == []
    assert found(document_number="A-111111") == []

    # A process that started afterwards (no cached key) cannot read site A either.
    fresh = Services(services.db, services.clock, services.vault.master)
    assert fresh.registration.get_person(in_a)["phone"] is None
    assert fresh.registration.get_person(in_b)["phone"] == "+963933000222"


def test_another_master_key_reads_nothing_and_no_key_refuses_to_write(services):
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    pid = _person(services, camp, "Huda", "+963933000333", "C-333333")
    stranger = Services(services.db, services.clock, MasterKey.generate())
    assert stranger.registration.get_person(pid)["phone"] is None
    keyless = Services(services.db, services.clock)
    assert keyless.registration.get_person(pid)["phone"] is None
    from corridor.security.errors import KeyUnavailable

    with pytest.raises(KeyUnavailable):
        _person(keyless, camp, "Rana", "+963933000444", "D-444444")


def test_rotating_a_site_key_reencrypts_its_fields(services):
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    pid = _person(services, camp, "Layla", "+963933000555", "E-555555")
    with services.db.read() as conn:
        before = conn.execute(select(persons.c.phone).where(persons.c.id == pid)).scalar_one()
    other = services.sites.create(
        SiteIn(name="Camp 2", kind="camp"),
        audit=services.audit.operator_hook("test", "sites.admin"),
    )["id"]
    _noted_event(services, pid, other)
    truck = _apart(services, pid, camp, other)
    with services.db.read() as conn:
        noted = select(movements.c.note).where(movements.c.note.is_not(None))
        note_before = conn.execute(noted).scalar_one()
    rotation = services.keys.rotate_site(camp, "cli:test")
    # phone, note, medical details, one document, a movement's note, a separation reason
    assert rotation.reencrypted == 6
    with services.db.read() as conn:
        note_after = conn.execute(noted).scalar_one()
    assert rotation.key_id in note_after and rotation.key_id not in note_before
    assert [e["note"] for e in _noted(services, pid)] == ["moved on (Layla)"]
    [item] = services.manifests.get(truck)["persons"]
    assert item["separation_reason"] == "apart (Layla)"
    with services.db.read() as conn:
        after = conn.execute(select(persons.c.phone).where(persons.c.id == pid)).scalar_one()
    assert rotation.key_id in after and rotation.key_id not in before
    assert services.registration.get_person(pid)["phone"] == "+963933000555"


def test_a_key_destroyed_by_another_process_is_dropped_at_the_next_request(services):
    """The evacuation drill runs from the command line while servers keep running: a
    server that has the site's key cached stops using it at once, for reads and writes."""
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    pid = _person(services, camp, "Nour", "+963933000666", "F-666666")
    assert services.registration.get_person(pid)["phone"] == "+963933000666"  # key cached

    drill = Services(services.db, services.clock, services.vault.master)  # another process
    assert drill.keys.destroy_site(camp, "cli:test") >= 1

    assert services.registration.get_person(pid)["phone"] is None
    # A later registration seals under a new key, which later reads can open.
    later = _person(services, camp, "Rima", "+963933000777", "G-777777")
    assert services.registration.get_person(later)["phone"] == "+963933000777"
    assert services.registration.get_person(pid)["phone"] is None
    # Rotation by another process: this one moves to the new key for new writes.
    rotation = drill.keys.rotate_site(camp, "cli:test")
    third = _person(services, camp, "Sara", "+963933000888", "H-888888")
    with services.db.read() as conn:
        token = conn.execute(select(persons.c.phone).where(persons.c.id == third)).scalar_one()
    assert rotation.key_id in token


def test_a_write_sealed_under_a_key_destroyed_meanwhile_is_refused_whole(services):
    """Sealing happens before the writer's lock; the transaction checks the key is still
    live, so nothing is ever stored under a destroyed key (it would be lost with it)."""
    from corridor.security.errors import KeyUnavailable

    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    first = _person(services, camp, "Nour", "+963933000666", "F-666666")
    _person(services, camp, "Huda", "+963933000555", "E-555555")  # the key is cached now
    drill = Services(services.db, services.clock, services.vault.master)
    drill.keys.destroy_site(camp, "cli:test")
    with services.db.read() as conn:
        before = conn.execute(text("SELECT count(*) FROM persons")).scalar_one()
    with pytest.raises(KeyUnavailable, match="send it again"):
        _person(services, camp, "Rima", "+963933000777", "G-777777")
    with services.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM persons")).scalar_one() == before
    # A correction checks the keys before sealing, so it goes to the new key directly.
    fixed = services.registration.update_person(
        first,
        PersonPatch(phone="+963933000999"),
        audit=services.audit.operator_hook("test", "person.write"),
    )
    assert fixed["phone"] == "+963933000999"
    # Sent again, it is sealed under the site's new key and reads back.
    again = _person(services, camp, "Rima", "+963933000777", "G-777777")
    assert services.registration.get_person(again)["phone"] == "+963933000777"


PRISON = {
    "name": "CANARY-PRISON Sina'a",
    "kind": "detention",
    "pcode": "SY08",
    "locality": "CANARY-LOCALITY Ghwayran",
    "latitude": 36.4903,
    "longitude": 40.7391,
}


def test_where_a_detention_site_is_is_sealed_under_its_own_key(database, clock):
    """Detention is a location (movements and figures count it), so the site stays; what
    says where it is (name, P-code, locality, coordinates) is sealed under its own key."""
    from corridor.security.roles import Role
    from tests.api.helpers import work_at

    with make_client(database, clock) as client:  # every role, protection officer included
        r = client.post("/api/sites", json=PRISON)
        assert r.status_code == 201, r.text
        created = r.json()
        prison = created["id"]
        work_at(client, prison)
        assert created["name"].startswith("Detention facility ") and created["pcode"] is None
        # The same facility cannot be added twice, however it is spelt.
        again = client.post("/api/sites", json={**PRISON, "name": " canary-prison  SINA'A"})
        assert again.status_code == 409
        # A protection officer sees where it is; a coordinator sees its label only.
        shown = client.get(f"/api/sites/{prison}").json()
        assert (shown["name"], shown["locality"], shown["latitude"]) == (
            PRISON["name"],
            PRISON["locality"],
            PRISON["latitude"],
        )
        coordinator = make_client(database, clock, roles=(Role.COORDINATOR,))
        listed = {s["id"]: s for s in coordinator.get("/api/sites").json()}
        assert listed[prison]["name"] == created["name"] and listed[prison]["locality"] is None
        assert "CANARY" not in str(coordinator.get(f"/api/sites/{prison}").json())
        # A detainee's location still counts in the facility's figures.
        camp = site(client, "Camp Canary")
        person = register(client, camp, given_name="Yasser", estimated_age=30)
        r = client.post(
            f"/api/persons/{person['id']}/events", json={"kind": "detained", "to_site_id": prison}
        )
        assert r.status_code == 201, r.text
        figures = coordinator.get(f"/api/sites/{prison}/figures").json()
        # ... which a coordinator reads as aggregates only: one man held is withheld.
        assert figures["present"]["total"] is None and figures["suppressed_below"] == 5
    with database.read() as conn:
        row = conn.execute(text("SELECT * FROM sites WHERE id = :id"), {"id": prison}).mappings()
        stored = row.one()
    assert stored["sealed"].startswith("enc:v1:") and stored["locality"] is None
    assert stored["latitude"] is None and stored["pcode"] is None
    if database.is_sqlite:
        path = Path(database.url.database)
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert b"Camp Canary" in raw and b"CANARY-PRISON" not in raw
        assert b"CANARY-LOCALITY" not in raw

    # The evacuation drill for the facility: where it was can no longer be read by anyone.
    services = Services(database, clock, MasterKey.from_text(MASTER_KEY))
    assert services.keys.destroy_site(prison, "cli:test") >= 1
    gone = services.sites.get(prison, reveal=True)
    assert gone["name"] == created["name"] and gone["locality"] is None
    assert services.figures.site_figures(prison)["present"]["total"] == 1
