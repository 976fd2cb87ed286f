"""Rows with no id of their own (a partner's plain table, a Kobo/ODK export without
submission uuids), through every format that can carry them and every entry point:
imported again they change nothing, and a partner's cumulative file (yesterday's rows
and today's) registers only today's, a namesake among them. Before, every import of
such a file registered its persons again (docs/formats.md: "importing it twice
registers it twice")."""

from __future__ import annotations

import pytest

from tests.formats.test_every_format_every_entry import (
    ENTRIES,
    GOOD_ROWS,
    SAMPLES,
    Entry,
    _counts,
)

# Every sample: a format that requires an id of each record (PFIF's
# ``person_record_id``, a Kobo XLSX export's ``_uuid``) refuses the rows, naming them.
NO_ID = list(SAMPLES)
ID_FIELDS = {"record_id", "person_record_id", "_uuid", "KEY", "key", "uuid", "instanceID"}
ROWS = [{**r, "record_id": ""} for r in GOOD_ROWS]
# Today's new rows: a namesake of yesterday's first person (born another year), and
# another person.
NEW = [
    {**ROWS[0], "birth_year": "1990"},
    {**ROWS[1], "given_name": "Salma", "birth_year": "1985"},
]


@pytest.fixture
def camp(services):
    from tests.formats.helpers import make_site

    return make_site(services)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("key", NO_ID)
def test_rows_without_ids_are_taken_in_once(
    key, entry, database, services, clock, camp, tmp_path
):
    sample = SAMPLES[key]
    run = Entry(entry, database, services, clock, camp)
    before = _counts(database)
    first = run(sample, sample.build(camp, ROWS), tmp_path)
    if _refused(first, database, before):
        return
    assert first["written"] and first["created"] == len(ROWS), first
    after = _counts(database)
    assert after["persons"] == before["persons"] + len(ROWS)
    again = run(sample, sample.build(camp, ROWS), tmp_path)
    assert (again["created"], again["unchanged"]) == (0, len(ROWS)), again
    assert _counts(database) == after  # nothing doubled, in any table
    # Yesterday's rows (re-ordered, one typed with other spacing and case) and today's.
    retyped = {**ROWS[1], "given_name": "  amina ", "family_name": "MOUSA"}
    data = sample.build(camp, [*NEW, retyped, ROWS[0]])
    cumulative = run(sample, data, tmp_path)
    assert (cumulative["created"], cumulative["unchanged"]) == (len(NEW), len(ROWS)), cumulative
    assert _counts(database)["persons"] == after["persons"] + len(NEW)
    # The namesake still goes to the matching engine as a suspected duplicate of the
    # person registered yesterday.
    lines = {d["line"] for d in cumulative["suspected_duplicates"]}
    assert sample.line(data, 0) in lines, cumulative


@pytest.mark.parametrize("key", NO_ID)
def test_two_alike_rows_in_one_file_are_two_persons_once(
    key, database, services, clock, camp, tmp_path
):
    sample = SAMPLES[key]
    run = Entry("service", database, services, clock, camp)
    data = sample.build(camp, [ROWS[0], ROWS[0]])
    before = _counts(database)
    first = run(sample, data, tmp_path)
    if _refused(first, database, before):
        return
    assert first["created"] == 2, first
    again = run(sample, data, tmp_path)
    assert (again["created"], again["unchanged"]) == (0, 2), again
    # A third alike row later is a third person.
    more = run(sample, sample.build(camp, [ROWS[0], ROWS[0], ROWS[0]]), tmp_path)
    assert (more["created"], more["unchanged"]) == (1, 2), more


def _refused(report: dict, database, before: dict) -> bool:
    """Whether the format refused the rows for want of an id: each named by line and
    its id field, and nothing written."""
    fatal = [p for p in report["problems"] if p["fatal"]]
    if not fatal:
        return False
    assert not report["written"] and _counts(database) == before, report
    assert all(p["line"] and p["field"] in ID_FIELDS for p in fatal), fatal
    return True
