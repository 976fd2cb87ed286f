"""An export of Corridor's own, read back after a registrar corrected a person in it
(no merge involved), in every format Corridor both writes and reads, through every
entry point: the correction stands, the file's older value is named in a warning on
its line and field, and nothing is written. Before, the file's Monday values silently
replaced Tuesday's correction (counted "updated")."""

from __future__ import annotations

import pytest

from corridor.security.roles import Role
from tests.api.helpers import work_at
from tests.conftest import make_client
from tests.formats.helpers import make_site
from tests.formats.helpers import run as run_service
from tests.formats.test_every_format_every_entry import (
    BOTH,
    ENTRIES,
    GOOD_ROWS,
    SAMPLES,
    Entry,
    _counts,
    _export,
)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("fmt", BOTH)
def test_a_stale_export_read_back_keeps_a_later_correction(
    fmt, entry, database, services, clock, tmp_path
):
    camp = make_site(services)
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    first = run_service(
        services, fmt, sample.build(camp, GOOD_ROWS), sample.name, site_id=camp,
        consent_tracing=True,
    )
    run = Entry(entry, database, services, clock, camp)
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    for client in (officer, manager):
        work_at(client, camp, admin=admin)
    if entry == "api":
        registrar = run.client  # the importing registrar corrects the person, too
    else:
        registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
        work_at(registrar, camp, admin=admin)
    monday = _export(database, clock, officer, manager, fmt)
    clock.advance(days=1)  # Tuesday: a registrar corrects the family name of one
    hassan = next(
        pid for pid in first.person_ids
        if registrar.get(f"/api/persons/{pid}").json()["names"]["given_name"] == "Hassan"
    )
    r = registrar.patch(f"/api/persons/{hassan}", json={"family_name": "Darweesh"})
    assert r.status_code == 200, r.text
    clock.advance(days=1)  # Wednesday: Monday's file is read back
    services.registration.vault.prepare(camp)
    before = _counts(database)
    report = run(sample, monday, tmp_path)
    assert not [p for p in report["problems"] if p["fatal"]], report
    assert (report["created"], report["updated"], report["unchanged"]) == (
        0, 0, len(GOOD_ROWS)
    ), report
    assert _counts(database) == before  # nothing written, in any table
    names = registrar.get(f"/api/persons/{hassan}").json()["names"]
    assert names["family_name"] == "Darweesh"
    warned = [(p["field"], p["fatal"]) for p in report["problems"] if p["line"]]
    assert warned == [("family_name", False)], report


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_changed_at_that_is_no_date_is_an_error_on_its_row(
    entry, database, services, clock, tmp_path
):
    camp = make_site(services)
    sample = SAMPLES["csv:persons.csv"]
    data = f"site_id,given_name,family_name,changed_at\n{camp},Omar,Saleh,last Monday\n"
    run = Entry(entry, database, services, clock, camp)
    before = _counts(database)
    report = run(sample, data.encode(), tmp_path)
    assert not report["written"] and _counts(database) == before, report
    fatal = [(p["line"], p["field"]) for p in report["problems"] if p["fatal"]]
    assert fatal == [(2, "changed_at")], report


def test_a_row_without_changed_at_keeps_todays_rules(database, services, clock, tmp_path):
    """A partner's table naming a Corridor person, with no ``changed_at``: applied as
    before, after a correction too."""
    camp = make_site(services)
    sample = SAMPLES["csv:persons.csv"]
    first = run_service(services, "csv", sample.build(camp, GOOD_ROWS[:1]), sample.name,
                        site_id=camp)  # fmt: skip
    [pid] = first.person_ids
    clock.advance(days=1)
    data = f"record_id,given_name,family_name\n{pid},Hassan,Darweesh\n".encode()
    report = run_service(services, "csv", data, sample.name, site_id=camp)
    assert (report.updated, report.unchanged) == (1, 0), report
    assert services.registration.get_person(pid)["names"]["family_name"] == "Darweesh"
