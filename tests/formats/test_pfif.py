"""PFIF 1.1-1.4 in, 1.4 out: persons, notes, expiry, ids, malformed files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from corridor.formats import UnreadableFile, pfif
from corridor.schemas import MatchQueryIn
from corridor.storage.import_tables import pfif_notes
from corridor.storage.tables import persons
from tests.formats.helpers import count_persons, fixture, make_site, parse, run

NOBODY = lambda conn, ids: None  # noqa: E731
NOW = datetime(2019, 3, 10, tzinfo=UTC)


def _notes(services) -> list[dict]:
    with services.db.read() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(pfif_notes).order_by(pfif_notes.c.note_record_id)
            ).mappings()
        ]


@pytest.mark.parametrize(
    ("name", "given", "family"),
    [
        ("pfif-1.1.xml", "Khaled", "Othman"),
        ("pfif-1.2-notes.xml", "Bilal", "Haddad"),
        ("pfif-1.3.xml", "Noor", "Salim"),
        ("pfif-1.4.xml", "Ahmed", None),
    ],
)
def test_every_version_is_read(name, given, family):
    parsed = pfif.parse(fixture(name), NOW)
    assert not [i for i in parsed.issues if i.fatal]
    person = parsed.records[0].person
    assert person["given_name"] == given and person.get("family_name") == family


def test_pfif_1_4_names_age_and_expiry():
    parsed = pfif.parse(fixture("pfif-1.4.xml"), NOW)
    ahmed, expired = parsed.records
    assert (ahmed.person["father_name"], ahmed.person["grandfather_name"]) == ("Mohammed", "Ali")
    assert ahmed.person["given_name_original"] == "أحمد"
    assert ahmed.person["alternate_names"] == ["Abu Khalil"]
    assert ahmed.person["birth_date"] == "1979-05" and ahmed.person["sex"] == "m"
    assert ahmed.notes[0]["status"] == "believed_missing"
    assert ahmed.notes[0]["author_made_contact"] is False
    assert expired.expired and expired.person == {}
    bilal = pfif.parse(fixture("pfif-1.2-notes.xml"), NOW).records[0]
    assert bilal.person["estimated_age"] == 9  # "8-10" in 2019


def test_import_keeps_notes_nested_and_top_level(services):
    site = make_site(services)
    report = run(services, "pfif", fixture("pfif-1.1.xml"), site_id=site)
    assert report.created == 1 and report.notes == 1
    report = run(services, "pfif", fixture("pfif-1.2-notes.xml"), site_id=site)
    assert report.created == 1 and report.notes == 2
    notes = _notes(services)
    assert [n["note_record_id"] for n in notes] == [
        "tracing.example.org/note.111",
        "tracing.example.org/note.121",
        "tracing.example.org/note.122",
    ]
    assert all(n["person_id"] for n in notes)
    assert notes[0]["author_made_contact"] is True  # "found" in PFIF 1.1
    assert notes[1]["status"] == "information_sought"
    assert notes[2]["linked_person_record_id"] == "tracing.example.org/person.11"
    assert notes[2]["case_id"] is None  # for the tracing work to take up


def test_a_note_before_its_person_is_linked_when_the_person_comes(services):
    site = make_site(services)
    notes_only = (
        fixture("pfif-1.2-notes.xml")
        .replace(b"<pfif:person>", b"<pfif:skip>")
        .replace(b"</pfif:person>", b"</pfif:skip>")
    )
    run(services, "pfif", notes_only, site_id=site)
    assert [n["person_id"] for n in _notes(services)] == [None, None]
    run(services, "pfif", fixture("pfif-1.2-notes.xml"), site_id=site)
    assert all(n["person_id"] for n in _notes(services))


def test_expired_records_are_not_imported_and_empty_an_earlier_import(services):
    site = make_site(services)
    report = run(services, "pfif", fixture("pfif-1.4.xml"), site_id=site)
    assert (report.created, report.expired) == (1, 0)
    assert count_persons(services) == 1
    expired = fixture("pfif-1.4.xml").replace(
        b"<pfif:person_record_id>tracing.example.org/person.14</pfif:person_record_id>",
        b"<pfif:person_record_id>tracing.example.org/person.14</pfif:person_record_id>"
        b"<pfif:expiry_date>2019-03-09T00:00:00Z</pfif:expiry_date>",
    )
    report = run(services, "pfif", expired, site_id=site)
    assert report.expired == 1 and report.written
    with services.db.read() as conn:
        row = conn.execute(select(persons)).mappings().one()
    assert row["given_name"] is None and row["alternate_names"] == [] and row["birth_date"] is None
    assert _notes(services) == []


def test_reimport_is_idempotent_and_newer_records_update(services):
    site = make_site(services)
    run(services, "pfif", fixture("pfif-1.3.xml"), site_id=site)
    again = run(services, "pfif", fixture("pfif-1.3.xml"), site_id=site)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    newer = (
        fixture("pfif-1.3.xml")
        .replace(b"2019-03-05T08", b"2019-03-07T08")
        .replace(b"<pfif:date_of_birth>1988", b"<pfif:date_of_birth>1987")
    )
    report = run(services, "pfif", newer, site_id=site)
    assert report.updated == 1 and count_persons(services) == 1
    with services.db.read() as conn:
        assert conn.execute(select(persons.c.birth_date)).scalar_one().year == 1987


def test_alternate_names_feed_matching(services):
    site = make_site(services)
    run(services, "pfif", fixture("pfif-1.4.xml"), site_id=site, consent_tracing=True)
    found = services.person_search.search(MatchQueryIn(full_name="Abu Khalil"))
    assert found and found[0]["person"]["name"].startswith("Ahmed Mohammed Ali")


def test_export_1_4_uses_the_instance_domain_and_round_trips(services):
    site = make_site(services)
    run(
        services,
        "csv",
        b"given_name,father_name,family_name,sex,birth_year\nLayla,Omar,Haddad,f,1990\n",
        site_id=site,
        consent_tracing=True,
    )
    run(services, "pfif", fixture("pfif-1.1.xml"), site_id=site, consent_tracing=True)
    xml = services.partner_exports.pfif(None, "corridor.example.org", audit=NOBODY)
    parsed = pfif.parse(xml, NOW)
    assert not parsed.issues
    ids = sorted(r.key for r in parsed.records)
    assert ids[0].startswith("corridor.example.org/person.")
    assert ids[1] == "tracing.example.org/person.11"  # another repository's id is kept
    layla = next(r for r in parsed.records if r.key == ids[0])
    assert layla.person["given_name"] == "Layla" and layla.person["family_name"] == "Haddad"
    assert layla.person["birth_date"] == "1990" and layla.person["sex"] == "f"
    khaled = next(r for r in parsed.records if r.key == ids[1])
    assert [n["note_record_id"] for n in khaled.notes] == ["tracing.example.org/note.111"]
    # Importing our own export is no new person.
    report = run(services, "pfif", xml, site_id=site, instance_domain="corridor.example.org")
    assert report.created == 0 and count_persons(services) == 2


def test_persons_without_tracing_consent_are_not_exported(services):
    site = make_site(services)
    run(services, "csv", b"given_name\nLayla\n", site_id=site, consent_tracing=False)
    assert pfif.parse(services.partner_exports.pfif(None, "c.org", audit=NOBODY), NOW).records == []


def test_unknown_version_is_a_fatal_problem(services):
    parsed = pfif.parse(fixture("pfif-unknown-version.xml"), NOW)
    assert parsed.records == [] and parsed.issues[0].fatal
    assert "unknown PFIF version" in parsed.issues[0].reason


def test_bad_records_are_listed_with_their_line(services):
    site = make_site(services)
    report = run(services, "pfif", fixture("pfif-bad-records.xml"), site_id=site)
    problems = {(p.line, p.field) for p in report.fatal}
    assert problems == {
        (8, "person_record_id"),  # missing
        (12, "person_record_id"),  # duplicate
        (17, "source_date"),  # missing
        (21, "person"),  # another version's namespace
    }
    assert count_persons(services) == 0
    report = run(
        services, "pfif", fixture("pfif-bad-records.xml"), site_id=site, skip_bad_rows=True
    )
    assert report.created == 1


@pytest.mark.parametrize("name", ["pfif-broken.xml", "pfif-entities.xml"])
def test_broken_xml_and_entities_are_refused(services, name):
    with pytest.raises(UnreadableFile):
        parse(services, "pfif", fixture(name))


def test_a_file_in_another_encoding_than_it_declares_is_refused():
    data = fixture("pfif-1.3.xml").replace(b"Noor", "No\u00efr".encode("latin-1"))
    with pytest.raises(UnreadableFile, match="broken XML"):
        pfif.parse(data, NOW)
