"""A person erased at their request (PROTECTION.md line 11) is gone from every place that
held them, not only from their own row: the search index's counts, the tracing cases that
proposed them, and the files exported after the erasure. Run on SQLite and PostgreSQL.

On the code before: the index's counts kept a row per key of the erased person, count 0,
whose text is their name (``t:hamid``, ``p:...``) and old registration number; an open
tracing case still proposed the erased person (probability, "same name" levels), and an
officer could confirm them as found; and every export written after the erasure (CSV,
XLSX, JSON lines, PFIF to public registries) still held them under their old id, which
ties the file to the name an earlier file gave that id."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from corridor.security import export_file
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.merge_tables import person_merges
from corridor.storage.metadata import metadata
from corridor.storage.tables import match_key_counts, person_documents, person_match_keys, persons
from corridor.storage.tracing_tables import tracing_cases, tracing_matches
from tests.api.helpers import register, site, work_at
from tests.api.test_export_after_merge import PASSPHRASE, _export, _text
from tests.api.test_tracing import adult_sought, case_of, enquire, register_khalid, verified_case
from tests.conftest import make_client

ERASE = {"ground": "consent_withdrawn", "confirm": True}
SOUGHT = {"given_name": "Zubayrat", "family_name": "Qarnawiyya"}
NAME = {"given_name": "Zubayrat", "family_name": "Qarnawiyya", "sex": "f", "birth_date": "1981"}


def _erase(officer: Any, person_id: str) -> None:
    r = officer.post(f"/api/persons/{person_id}/erasure", json=ERASE)
    assert r.status_code == 200, r.text


def _officer(database: Any, clock: Any, admin: Any, camp: str) -> Any:
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=admin)
    return protection


def test_an_erased_person_leaves_no_key_of_theirs_in_the_search_index(client, database, clock):
    camp = site(client, "Camp A")
    person = register(client, camp, **NAME, phone="+963 944 551 203")
    other = register(client, camp, given_name="Hamid", family_name="Barakzawi", sex="m")
    number = "rn:" + person["registration_number"].replace("-", "").upper()
    with database.read() as conn:
        keys = set(
            conn.execute(
                select(person_match_keys.c.key).where(person_match_keys.c.person_id == person["id"])
            ).scalars()
        )
        before = dict(conn.execute(select(match_key_counts.c.key, match_key_counts.c.n)).all())
    # The keys that are the person's alone: their names', their phone's, their number's.
    own = {k for k in keys if before[k] == 1}
    assert number in own and any(k.startswith("t:") for k in own), own
    _erase(_officer(database, clock, client, camp), person["id"])
    with database.read() as conn:
        counts = dict(conn.execute(select(match_key_counts.c.key, match_key_counts.c.n)).all())
        left = set(conn.execute(select(person_match_keys.c.key)).scalars())
    assert own.isdisjoint(counts), sorted(own & set(counts))
    assert not [k for k, n in counts.items() if n <= 0], counts
    # What others hold is counted as before: the other person is found as ever.
    assert {k for k in left} <= set(counts)
    r = client.post("/api/persons/match", json={"given_name": "Hamid", "family_name": "Barakzawi"})
    assert [m["person"]["id"] for m in r.json()] == [other["id"]]
    r = client.post("/api/persons/match", json=SOUGHT)
    assert r.status_code == 200 and r.json() == []


def test_an_erased_person_is_no_candidate_of_any_tracing_case(client, database, clock):
    camp = site(client, "Camp A")
    person = register_khalid(client, camp)
    enquiry = enquire(client, adult_sought())
    [match] = case_of(enquiry)["matches"]
    assert match["person"]["id"] == person["id"] and case_of(enquiry)["state"] == "possible_match"
    _erase(_officer(database, clock, client, camp), person["id"])
    case = client.get(f"/api/tracing/cases/{case_of(enquiry)['id']}").json()
    # Set aside by the system and logged; the case is open again, offering nobody.
    assert case["state"] == "open", case
    [shown] = case["matches"]
    assert shown["status"] == "rejected" and shown["reason"] == "the candidate's record was erased"
    last = case["history"][-1]
    assert (last["kind"], last["to_state"]) == ("match_rejected", "open"), last
    queue = client.get("/api/tracing/queue").json()
    assert person["id"] not in json.dumps(queue)
    r = client.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "it is him"})
    assert r.status_code == 409, r.text
    with database.read() as conn:
        found = conn.execute(select(tracing_cases.c.found_person_id)).scalars().all()
        statuses = conn.execute(select(tracing_matches.c.status)).scalars().all()
    assert found == [None] and statuses == ["rejected"]
    # Sought again: nobody is proposed.
    again = enquire(client, adult_sought())
    assert case_of(again)["matches"] == [] and case_of(again)["state"] == "open"


def test_the_enquirer_is_not_told_where_an_erased_found_person_is(client, database, clock):
    camp = site(client, "Camp Hol")
    enquiry, case, person = verified_case(client, camp)
    r = client.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "agreed in person"},
    )
    assert r.status_code == 200, r.text
    view_url = f"/api/tracing/enquiries/{enquiry['id']}/enquirer-view"
    [seen] = client.get(view_url).json()["sought"]
    assert seen["site"]["name"] == "Camp Hol"
    _erase(_officer(database, clock, client, camp), person["id"])
    r = client.get(view_url)
    [seen] = r.json()["sought"]
    assert "site" not in seen and "found_person_id" not in seen
    assert "Camp Hol" not in r.text and person["id"] not in r.text


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl", "pfif"])
def test_an_export_approved_before_the_erasure_leaves_the_erased_person_out(
    client, database, clock, fmt
):
    camp = site(client, "Camp A")
    person = register(client, camp, **NAME, phone="+963 944 551 203")
    kept = register(client, camp, given_name="Layla", family_name="Haddouri", sex="f")
    officer = _officer(database, clock, client, camp)
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(manager, camp, admin=client)
    story = {"officer": officer, "manager": manager}
    before = _text(fmt, _export(story, fmt))
    assert person["id"] in before and kept["id"] in before  # the file ties id and name
    # Asked for and approved, not yet downloaded, when the person is erased.
    r = officer.post("/api/exports", json={"reason": "monthly list", "format": fmt})
    export_id = r.json()["id"]
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    _erase(officer, person["id"])
    r = officer.post(f"/api/exports/{export_id}/download", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    after = _text(fmt, export_file.open_file(r.content, PASSPHRASE)[1])
    assert person["id"] not in after and kept["id"] in after
    if fmt == "csv":
        assert [row["record_id"] for row in csv.DictReader(io.StringIO(after))] == [kept["id"]]
    # The erased person is not audited as exported either: they are not in the file.
    with database.read() as conn:
        exported = conn.execute(
            select(audit_events.c.person_id).where(
                audit_events.c.action == "export.bulk", audit_events.c.seq > _seq_of_erasure(conn)
            )
        ).scalars().all()
    assert exported == [kept["id"]]


def _seq_of_erasure(conn: Any) -> int:
    return int(
        conn.execute(
            select(audit_events.c.seq).where(
                audit_events.c.purpose == "data-subject erasure request"
            )
        ).scalar_one()
    )


def test_nothing_personal_is_written_onto_an_erased_record_again(client, database, clock):
    """A correction, a family link or a merge naming the erased record is refused (409,
    nothing written): on the code before, a correction put a name and a phone back onto
    the erased record, which stayed marked erased and so could never be erased again."""
    camp = site(client, "Camp A")
    person = register(client, camp, **NAME)
    relative = register(client, camp, given_name="Hamid", family_name="Qarnawiyya", sex="m")
    twin = register(client, camp, **NAME)  # the same woman registered twice
    officer = _officer(database, clock, client, camp)
    _erase(officer, person["id"])
    before = _stored(database, person["id"])
    r = client.patch(f"/api/persons/{person['id']}", json={"given_name": "Zubayrat",
                                                          "phone": "+963 944 551 203"})  # fmt: skip
    assert r.status_code == 409 and "erased" in r.text, r.text
    for body in (
        {"person_id": relative["id"], "other_person_id": person["id"], "kind": "sibling"},
        {"person_id": person["id"], "other_person_id": relative["id"], "kind": "sibling"},
    ):
        r = client.post("/api/relationships", json=body)
        assert r.status_code == 409 and "erased" in r.text, r.text
    for survivor, other in ((twin["id"], person["id"]), (person["id"], twin["id"])):
        r = officer.post(
            f"/api/persons/{survivor}/merge", json={"other_person_id": other, "reason": "same"}
        )
        assert r.status_code == 409 and "erased" in r.text, r.text
    assert _stored(database, person["id"]) == before
    r = client.post("/api/persons/match", json=SOUGHT)
    found = [m["person"]["id"] for m in r.json()]
    assert twin["id"] in found and person["id"] not in found
    # The duplicates queue no longer offers the erased record beside her other one.
    r = officer.get("/api/duplicates")
    assert r.status_code == 200 and person["id"] not in r.text, r.text[:300]


def test_a_file_imported_again_brings_nothing_back_onto_an_erased_record(client, database, clock):
    camp = site(client, "Camp A")
    data = "record_id,given_name,family_name,sex,birth_year\nP-77,Zubayrat,Qarnawiyya,f,{year}\n"
    r = client.post(
        "/api/imports/csv", params={"site_id": camp},
        files={"file": ("f.csv", data.format(year=1981).encode())},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    with database.read() as conn:
        [pid] = conn.execute(select(persons.c.id)).scalars().all()
    _erase(_officer(database, clock, client, camp), pid)
    before = _stored(database, pid)
    # The partner sends the record again, edited since (another birth year).
    r = client.post(
        "/api/imports/csv", params={"site_id": camp},
        files={"file": ("f.csv", data.format(year=1980).encode())},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["updated"] == 0 and report["created"] == 0, report
    assert any("erased" in p["reason"] for p in report["problems"]), report
    assert _stored(database, pid) == before
    r = client.post("/api/persons/match", json=SOUGHT)
    assert r.json() == []


def _stored(database: Any, person_id: str) -> dict[str, Any]:
    with database.read() as conn:
        row = conn.execute(select(persons).where(persons.c.id == person_id)).mappings().one()
    return dict(row)


def test_no_table_keeps_a_name_a_number_or_a_note_of_the_erased_person(client, database, clock):
    """Every row of every table, after the erasure of a man who was registered twice
    (merged, with a reason naming him), renumbered, found by a tracing case and asked
    about disclosure (the officers' notes naming him): nothing of his own names, numbers
    or of the notes about him is left in the clear. What the enquirer told of the man
    they seek (another spelling here) is the enquirer's and stays. On the code before,
    the merge's and the pair's reasons, the tracing decisions' notes and the numbers he
    held before the renumbering stayed."""
    camp = site(client, "Camp A")
    enquiry, case, person = verified_case(client, camp, phone="+963 944 551 203")
    twin = register_khalid(client, camp)
    officer = _officer(database, clock, client, camp)
    r = officer.post(
        f"/api/persons/{person['id']}/merge",
        json={"other_person_id": twin["id"], "reason": "Cnyzubnote1 Khaled's second card"},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/api/persons/{person['id']}/renumber", json={"reason": "given twice"})
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/tracing/cases/{case['id']}/disclosure",
        json={"decision": "agreed", "reason": "Cnyzubnote2 Khaled agreed in person"},
    )
    assert r.status_code == 200, r.text
    numbers = {
        n.replace("-", "")
        for n in (person["registration_number"], twin["registration_number"],
                  r.json()["found_person"]["registration_number"])
    }  # fmt: skip
    _erase(officer, person["id"])
    canaries = ("Khaled", "Cnyzubnote", *numbers)
    left = []
    with database.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                text = json.dumps(dict(row), default=str).replace("-", "")
                left += [(table.name, c) for c in canaries if c.lower() in text.lower()]
    assert left == []
    page = client.get(f"/persons/{person['id']}")
    assert page.status_code == 200 and not any(c in page.text.replace("-", "") for c in canaries)


def test_a_correction_asked_by_the_person_leaves_no_key_of_the_old_name(client, database):
    """The person's correction (PROTECTION.md line 11) is audited and re-indexed: found by
    the new name, not by the old, whose keys leave the index's counts too (on the code
    before they stayed, count 0, holding the old name)."""
    camp = site(client, "Camp A")
    person = register(client, camp, **NAME)
    r = client.patch(f"/api/persons/{person['id']}", json={"given_name": "Zaynabiyya"})
    assert r.status_code == 200, r.text
    with database.read() as conn:
        counts = dict(conn.execute(select(match_key_counts.c.key, match_key_counts.c.n)).all())
        events = conn.execute(
            select(audit_events.c.action).where(audit_events.c.person_id == person["id"])
        ).scalars().all()
    assert not [k for k in counts if "zubayr" in k.lower()], counts
    assert not [k for k, n in counts.items() if n <= 0], counts
    assert events.count("person.write") == 2  # the registration and the correction
    r = client.post("/api/persons/match", json={**SOUGHT, "given_name": "Zaynabiyya"})
    assert [m["person"]["id"] for m in r.json()][:1] == [person["id"]]


def test_an_erased_merge_is_not_undone_and_keeps_no_document(client, database, clock):
    """The records merged into an erased person are erased with them; the merge's own
    record of the documents that followed the survivor loses their numbers too, and an
    unmerge, which would put them back, is refused (409). On the code before, the merge
    kept the sealed number and its lookup hash, and the unmerge brought the erased
    person's document back onto the record merged away."""
    camp = site(client, "Camp A")
    person = register(client, camp, **NAME)
    document = {"type": "national_id", "number": "ZQ7731904"}
    twin = register(client, camp, **NAME, documents=[document])
    officer = _officer(database, clock, client, camp)
    r = officer.post(
        f"/api/persons/{person['id']}/merge", json={"other_person_id": twin["id"], "reason": "same"}
    )
    assert r.status_code == 201, r.text
    _erase(officer, person["id"])
    with database.read() as conn:
        [moved] = conn.execute(select(person_merges.c.moved)).scalars().all()
    assert moved["documents"] and all(
        d["number"] is None and d["number_key"] is None for d in moved["documents"]
    ), moved
    r = officer.post(f"/api/persons/{twin['id']}/unmerge", json={"reason": "not the same"})
    assert r.status_code == 409 and "erased" in r.text, r.text
    with database.read() as conn:
        assert conn.execute(select(person_documents.c.id)).first() is None
    r = client.post("/api/persons/search", json={"document_number": "ZQ7731904"})
    assert r.status_code == 200 and r.json() == []


def test_a_person_who_withdraws_consent_to_tracing_is_no_candidate_any_more(client, database):
    """PROTECTION.md line 2 once the consent is withdrawn (the ground of many erasure
    requests, and asked before one): on the code before, the case kept proposing them
    and an officer could confirm them as found."""
    camp = site(client, "Camp A")
    person = register_khalid(client, camp)
    enquiry = enquire(client, adult_sought())
    [match] = case_of(enquiry)["matches"]
    r = client.patch(
        f"/api/persons/{person['id']}", json={"consent": {"tracing": False, "share_with": []}}
    )
    assert r.status_code == 200, r.text
    # Set aside by the system (the case open again, nothing left to decide) and out of
    # sight: the case's record names nobody who no longer agrees to be traced.
    case = client.get(f"/api/tracing/cases/{case_of(enquiry)['id']}").json()
    assert case["state"] == "open", case
    assert case["matches"] == []
    with database.read() as conn:
        stored = conn.execute(
            select(tracing_matches.c.status, tracing_matches.c.reason).where(
                tracing_matches.c.id == match["id"]
            )
        ).one()
    assert tuple(stored) == ("rejected", "the candidate withdrew their consent to tracing")
    r = client.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "it is him"})
    assert r.status_code == 404, r.text
