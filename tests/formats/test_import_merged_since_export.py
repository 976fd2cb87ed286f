"""An export taken before a merge, read back after it, through every format Corridor
both writes and reads and every entry point that takes a file.

The row of the person merged away names their old id (``record_id``, Corridor's own PFIF
``person_record_id``, or their registration number alone): every write follows that id
to the survivor, so before, the import wrote the merged-away record's details (another
spelling, another birth year: the details the merge decided against) onto the survivor,
silently, counted ``updated``. Now the row is read against the survivor's current
details: left out, with a warning on its line and field, unless it says what the
survivor holds; the survivor is never named (they may be at another site).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.storage.tables import persons
from tests.formats.helpers import run as run_service
from tests.formats.test_every_format_every_entry import (
    BOTH,
    ENTRIES,
    GOOD_ROWS,
    SAMPLES,
    Entry,
    _counts,
)

MERGED_REASON = "merged with another record since the file was made"


def _export(services: Any, fmt: str, camp: str) -> bytes:
    """The file an officer holding every role would take of the camp (the gate's)."""
    return services.gate.export_file(
        fmt,
        [r.value for r in Role],
        [camp],
        exported_by="test",
        domain="corridor.local",
        audit=services.audit.operator_hook("test", "export.bulk"),
    ).content


def _details(database: Any, person_id: str) -> tuple[Any, ...]:
    with database.read() as conn:
        row = conn.execute(
            select(persons.c.given_name, persons.c.family_name, persons.c.birth_date).where(
                persons.c.id == person_id
            )
        ).one()
    return tuple(row)


def _registered(services: Any, camp: str) -> list[str]:
    """Two persons registered in Corridor (their records are Corridor's own: a file names
    them by Corridor's id), with a given and a family name (as PFIF's full name has them)."""
    from corridor.schemas import PersonIn

    audit = services.audit.operator_hook("test", "person.write")
    out = []
    for row in GOOD_ROWS:
        data = PersonIn(site_id=camp, given_name=row["given_name"], family_name=row["family_name"],
                        sex=row["sex"], birth_date=row["birth_year"], purpose="registration",
                        legal_basis="vital_interest",
                        consent={"tracing": True, "share_with": []})  # fmt: skip
        out.append(services.registration.register_person(data, audit=audit)["id"])
    return out


# Where the persons came from: registered in Corridor, or taken in from a file of the
# format (a PFIF file's records keep their own ids, and read back unchanged they are
# ``unchanged`` by their content before anything else is looked at).
ORIGINS = ("corridor", "file")


# Every entry point for Corridor's own records; the service alone for a file's own.
CASES = [(f, e, "corridor") for f in BOTH for e in ENTRIES] + [(f, "service", "file") for f in BOTH]


@pytest.mark.parametrize(("fmt", "entry", "origin"), CASES, ids=["-".join(c) for c in CASES])
def test_a_row_of_a_person_merged_since_never_overwrites_the_survivor(
    fmt, entry, origin, database, services, clock, tmp_path
):
    from tests.formats.helpers import make_site

    camp = make_site(services)
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    if origin == "file":
        report = run_service(services, fmt, sample.build(camp, GOOD_ROWS), sample.name,
                             site_id=camp, consent_tracing=True)  # fmt: skip
        survivor, merged = report.person_ids
    else:
        survivor, merged = _registered(services, camp)
    content = _export(services, fmt, camp)  # taken before the merge
    services.merges.merge(survivor, merged, "the same person", "test",
                          audit=services.audit.operator_hook("test", "person.merge"))  # fmt: skip
    kept = _details(database, survivor)
    run = Entry(entry, database, services, clock, camp)
    before = _counts(database)
    done = run(sample, content, tmp_path)
    assert not [p for p in done["problems"] if p["fatal"]], done["problems"]
    assert _details(database, survivor) == kept  # Amina Mousa's row left Hassan as he was
    assert (done["created"], done["updated"]) == (0, 0), done
    warned = [p for p in done["problems"] if MERGED_REASON in p["reason"]]
    if fmt == "pfif" and origin == "file":
        assert not warned and done["unchanged"] == 2, done  # the partner's record as taken in
    else:
        assert len(warned) == 1 and warned[0]["line"] is not None and warned[0]["field"], warned
        assert survivor not in warned[0]["reason"]
    assert _counts(database) == before  # nothing written, in any table


def test_a_row_of_a_person_merged_since_that_says_what_the_survivor_holds_is_unchanged(
    database, services
):
    """The merged-away record's row giving the survivor's own details: nothing to warn
    about, nothing written (read against the survivor)."""
    from tests.formats.helpers import make_site

    camp = make_site(services)
    twin = {**GOOD_ROWS[0], "record_id": "P-9"}
    data = SAMPLES["csv:persons.csv"].build(camp, [GOOD_ROWS[0], twin])
    report = run_service(services, "csv", data, "persons.csv", site_id=camp)
    survivor, merged = report.person_ids
    content = _export(services, "csv", camp)
    services.merges.merge(survivor, merged, "registered twice", "test",
                          audit=services.audit.operator_hook("test", "person.merge"))  # fmt: skip
    done = run_service(services, "csv", content, "persons.csv", site_id=camp)
    assert (done.created, done.updated, done.unchanged) == (0, 0, 2), done
    assert not [p for p in done.problems if MERGED_REASON in p.reason]


def test_a_row_naming_a_merged_person_by_number_alone_is_left_out(database, services):
    """A partner file keeping the registration numbers and not the ids: the number of
    the person merged away names them as ``record_id`` would; the warning is on it."""
    import csv
    import io

    from tests.formats.helpers import make_site

    camp = make_site(services)
    survivor, merged = _registered(services, camp)
    content = _export(services, "csv", camp).decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[f for f in rows[0] if f != "record_id"])
    writer.writeheader()
    writer.writerows({k: v for k, v in r.items() if k != "record_id"} for r in rows)
    services.merges.merge(survivor, merged, "the same person", "test",
                          audit=services.audit.operator_hook("test", "person.merge"))  # fmt: skip
    kept = _details(database, survivor)
    done = run_service(services, "csv", out.getvalue().encode(), "persons.csv", site_id=camp)
    assert (done.created, done.updated) == (0, 0), done
    assert _details(database, survivor) == kept
    warned = [p for p in done.problems if MERGED_REASON in p.reason]
    assert [(p.field, p.fatal) for p in warned] == [("registration_number", False)], done.problems
