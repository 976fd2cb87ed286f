"""An erased person's import records keep no hash of what the file said of them.

``imported_records`` stays after an erasure so that a re-import cannot bring the person
back (docs/formats.md). Its ``content_hash`` was a plain SHA-256 of the record's content
(names, birth date, site, notes): anyone holding the table and a guess of a person's
details could confirm that the erased person had been taken in from a file. An erasure
now overwrites it; the record's key (a partner's id, or a keyed fingerprint) stays and
still turns the re-import away."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from corridor.storage.import_tables import imported_records
from tests.formats.test_every_format_every_entry import GOOD_ROWS, SAMPLES, Entry

ROWS = [GOOD_ROWS[0], {**GOOD_ROWS[0], "record_id": ""}]  # a partner's id, and none


@pytest.fixture
def camp(services):
    from tests.formats.helpers import make_site

    return make_site(services)


def _records(database, person_id: str) -> list[dict]:
    with database.read() as conn:
        rows = conn.execute(
            select(imported_records).where(imported_records.c.person_id == person_id)
        ).mappings()
        return [dict(r) for r in rows]


@pytest.mark.parametrize("row", ROWS, ids=["with_id", "without_id"])
def test_an_erasure_leaves_no_hash_of_the_imported_content(
    row, database, services, clock, camp, tmp_path
):
    sample = SAMPLES["csv:persons.csv"]
    run = Entry("service", database, services, clock, camp)
    first = run(sample, sample.build(camp, [row]), tmp_path)
    assert first["created"] == 1, first
    [taken] = [r for r in _records_all(database)]
    person_id, before = taken["person_id"], taken["content_hash"]
    services.retention.erase(
        person_id, "objection", audit=services.audit.operator_hook("test", "person.export")
    )
    [kept] = _records(database, person_id)
    assert kept["external_id"] == taken["external_id"]  # the key stays: a re-import is turned away
    assert kept["content_hash"] != before
    assert not _is_sha256_of_json(kept["content_hash"])
    again = run(sample, sample.build(camp, [row]), tmp_path)
    assert again["created"] == 0 and again["updated"] == 0, again


def _records_all(database) -> list[dict]:
    with database.read() as conn:
        return [dict(r) for r in conn.execute(select(imported_records)).mappings()]


def _is_sha256_of_json(value: str) -> bool:
    """Whether ``value`` still looks like a content digest (64 hex digits that are not
    all one digit)."""
    return len(value) == 64 and len(set(value)) > 1 and all(c in "0123456789abcdef" for c in value)


def test_the_digest_helper_tells_a_digest() -> None:
    digest = hashlib.sha256(json.dumps({"a": 1}).encode()).hexdigest()
    assert _is_sha256_of_json(digest) and not _is_sha256_of_json("0" * 64)
