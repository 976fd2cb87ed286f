"""An expired PFIF record clears what it gave its person, and nothing staff added here.

A PFIF record's ``expiry_date`` in the past says the repository it comes from holds only
its id and dates now (docs/formats.md, "PFIF"): the person taken in from it loses what it
gave. Before, the person was emptied whole: the phone, documents, kunya and mother's
name a registrar added here afterwards (PFIF carries none of them), a note staff wrote
over the record's description, a name corrected here, and the PFIF notes of other
records. Now what each record wrote is fingerprinted when it is taken in
(``imported_records.fields``, migration 0043, keyed hashes) and only a field still
holding that value is cleared. Through every entry point that takes a file.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from corridor.schemas import PersonPatch
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.tables import person_documents, persons
from tests.formats.helpers import make_site
from tests.formats.test_every_format_every_entry import ENTRIES, SAMPLES, Entry

SAMPLE = SAMPLES["pfif:persons.xml"]
KEYS = ("partner.example.org/p.1", "partner.example.org/p.2")


def _pfif(expired: bool = False) -> bytes:
    people = []
    for n, key in enumerate(KEYS, start=1):
        expiry = "<pfif:expiry_date>2019-03-09T00:00:00Z</pfif:expiry_date>" if expired else ""
        people.append(f"""  <pfif:person>
    <pfif:person_record_id>{key}</pfif:person_record_id>
    {expiry}
    <pfif:source_date>2019-03-06T08:00:00Z</pfif:source_date>
    <pfif:full_name>Hassan{n} Hamid Sarir Darwish</pfif:full_name>
    <pfif:alternate_names>Abu Khalil{n}</pfif:alternate_names>
    <pfif:sex>male</pfif:sex>
    <pfif:date_of_birth>1980</pfif:date_of_birth>
    <pfif:home_city>Hajin</pfif:home_city>
    <pfif:description>seen at the gate {n}</pfif:description>
    <pfif:note>
      <pfif:note_record_id>{key}.note</pfif:note_record_id>
      <pfif:person_record_id>{key}</pfif:person_record_id>
      <pfif:author_name>Volunteer</pfif:author_name>
      <pfif:source_date>2019-03-06T08:00:00Z</pfif:source_date>
      <pfif:text>asked about at the camp</pfif:text>
    </pfif:note>
  </pfif:person>""")
    body = "\n".join(people)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">\n{body}\n</pfif:pfif>\n'
    ).encode()


def _stored(database: Any, person_id: str) -> dict[str, Any]:
    with database.read() as conn:
        row = dict(conn.execute(select(persons).where(persons.c.id == person_id)).mappings().one())
        row["documents"] = conn.execute(
            select(func.count()).select_from(person_documents).where(
                person_documents.c.person_id == person_id
            )
        ).scalar_one()
    return row


@pytest.mark.parametrize("entry", ENTRIES)
def test_an_expired_record_clears_only_what_it_wrote(
    entry, database, services, clock, tmp_path
):
    camp = make_site(services)
    run = Entry(entry, database, services, clock, camp)
    first = run(SAMPLE, _pfif(), tmp_path)
    assert first["written"] and first["created"] == 2, first
    corrected, untouched = first["person_ids"]
    audit = services.audit.operator_hook("test", "person.write")
    added = {"phone": "+963944123456", "kunya": "Abu Omar", "mother_name": "Fatima",
             "documents": [{"type": "national_id", "number": "SY-77"}]}  # fmt: skip
    for pid in (corrected, untouched):  # what a registrar adds here: PFIF carries none
        services.registration.update_person(pid, PersonPatch(**added), audit=audit)
    # Staff correct one person's family name and write their own note over the record's.
    services.registration.update_person(
        corrected, PersonPatch(family_name="Darwish-Ali", note="met her brother"), audit=audit
    )
    second = run(SAMPLE, _pfif(expired=True), tmp_path)
    assert second["written"] and second["expired"] == 2, second
    for pid in (corrected, untouched):
        row = _stored(database, pid)
        # What the record gave, still as it gave it: cleared.
        assert row["given_name"] is None and row["father_name"] is None, row
        assert row["alternate_names"] == [] and row["birth_date"] is None, row
        assert row["origin_locality"] is None, row
        # What staff added here: kept.
        assert row["kunya"] == "Abu Omar" and row["mother_name"] == "Fatima", row
        assert row["phone"] is not None and row["documents"] == 1, row
    opened = services.registration.get_person(corrected)
    assert opened["names"]["family_name"] == "Darwish-Ali"  # corrected here: kept
    assert opened["note"] == "met her brother"  # written here: kept
    assert opened["phone"] == "+963944123456"
    plain = services.registration.get_person(untouched)
    assert plain["note"] is None and plain["names"]["family_name"] is None
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(pfif_notes)).scalar_one() == 0


def test_a_record_taken_in_before_its_fingerprint_keeps_what_pfif_cannot_carry(
    database, services
):
    """A record taken in before migration 0043 (no fingerprint): its expiry clears the
    fields PFIF carries, and still never a phone, documents, a kunya or a mother's name."""
    from tests.formats.helpers import run

    camp = make_site(services)
    report = run(services, "pfif", _pfif(), "persons.xml", site_id=camp)
    pid = report.person_ids[0]
    audit = services.audit.operator_hook("test", "person.write")
    services.registration.update_person(
        pid, PersonPatch(phone="+963944123456", kunya="Abu Omar", mother_name="Fatima",
                         note="met her brother"), audit=audit)  # fmt: skip
    with services.db.transaction() as conn:
        conn.execute(imported_records.update().values(fields=None))
    run(services, "pfif", _pfif(expired=True), "persons.xml", site_id=camp)
    row = _stored(database, pid)
    assert row["given_name"] is None and row["note"] is None
    assert (row["kunya"], row["mother_name"]) == ("Abu Omar", "Fatima")
    assert row["phone"] is not None
