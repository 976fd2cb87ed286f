"""Persons in and out as CSV and XLSX: round trip, problems, dry run, idempotence, formulas."""

from __future__ import annotations

import csv
import io

import pytest

from corridor.formats import UnreadableFile
from corridor.formats.cells import neutralise
from corridor.formats.person_table import read_xlsx, write_csv, write_xlsx
from corridor.schemas import ConsentIn, PersonIn
from tests.formats.helpers import count_persons, fixture, make_site, parse, run

NOBODY = lambda conn, ids: None  # noqa: E731  (exports need an audit hook)


def _export_csv(services) -> list[dict[str, str]]:
    out = io.StringIO()
    write_csv(services.partner_exports.table(None, audit=NOBODY), out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_csv_round_trip(services):
    site = make_site(services)
    report = run(services, "csv", fixture("persons.csv"), site_id=site)
    assert report.written and report.created == 3 and not report.fatal
    rows = _export_csv(services)
    by_name = {r["full_name"]: r for r in rows}
    hassan = by_name["Hassan Hamid Sarir"]
    assert hassan["name_original_script"] == "حسن حميد سرير"
    assert (hassan["sex"], hassan["birth_year"], hassan["nationality"]) == ("m", "1980", "SYR")
    assert hassan["place_of_birth"] == "Baghouz" and hassan["mother_name"] == "Fatima"
    assert hassan["site_id"] == site and hassan["registration_number"]
    # The export read back into Corridor names Corridor's ids: nothing new, nothing changed.
    out = io.StringIO()
    write_csv(services.partner_exports.table(None, audit=NOBODY), out)
    again = run(services, "csv", out.getvalue().encode(), site_id=site)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert count_persons(services) == 3
    assert _export_csv(services) == rows


def test_reimporting_a_partner_file_changes_nothing(services):
    site = make_site(services)
    run(services, "csv", fixture("persons.csv"), site_id=site)
    again = run(services, "csv", fixture("persons.csv"), site_id=site)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert count_persons(services) == 3


def test_every_problem_is_listed_with_line_and_field_and_nothing_is_written(services):
    site = make_site(services)
    report = run(services, "csv", fixture("persons_bad.csv"), site_id=site)
    problems = {(p.line, p.field) for p in report.fatal}
    assert (3, "given_name") in problems  # no name at all
    assert {(4, "sex"), (4, "birth_year")} <= problems
    assert (5, "record_id") in problems  # B-1 again
    assert (6, "nationality") in problems and (6, "birth_date") in problems
    assert all(p.reason for p in report.fatal)
    assert not report.written and count_persons(services) == 0


def test_skip_bad_rows_writes_the_good_ones(services):
    site = make_site(services)
    report = run(services, "csv", fixture("persons_bad.csv"), site_id=site, skip_bad_rows=True)
    assert report.written and report.created == 1 and report.skipped == 4
    assert count_persons(services) == 1


def test_dry_run_writes_nothing(services):
    site = make_site(services)
    report = run(services, "csv", fixture("persons.csv"), site_id=site, dry_run=True)
    assert report.created == 3 and not report.written
    assert count_persons(services) == 0
    with services.db.read() as conn:
        from sqlalchemy import func, select

        from corridor.storage.import_tables import imported_records

        assert conn.execute(select(func.count()).select_from(imported_records)).scalar() == 0


def test_unknown_site_and_missing_site_are_problems(services):
    report = run(services, "csv", fixture("persons.csv"), site_id="no-such-site")
    assert {p.reason for p in report.fatal} == {"unknown site 'no-such-site'"}
    report = run(services, "csv", fixture("persons.csv"))
    assert {p.field for p in report.fatal} == {"site_id"} and len(report.fatal) == 3


def test_wrong_encoding_is_refused():
    data = "given_name,family_name\nJos\u00e9,Ha\u00efdar\n".encode("latin-1")
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        from corridor.formats.person_table import read_csv

        read_csv(data)


def test_a_file_without_a_name_column_is_refused(services):
    parsed = parse(services, "csv", b"record_id,sex\n1,m\n")
    assert [str(i) for i in parsed.issues] == [
        "line 1: no name column (full_name, given_name...) (error)"
    ]


def test_suspected_duplicates_come_from_the_matching_engine(services):
    site = make_site(services)
    services.registration.register_person(
        PersonIn(
            site_id=site,
            given_name="Hassan",
            father_name="Hamid",
            grandfather_name="Sarir",
            given_name_original="حسن",
            father_name_original="حميد",
            grandfather_name_original="سرير",
            sex="m",
            birth_date="1980",
            nationality="SYR",
            consent=ConsentIn(tracing=True),
            purpose="registration",
            legal_basis="vital_interest",
        ),
        audit=services.audit.operator_hook("test", "person.write"),
    )
    report = run(services, "csv", fixture("persons.csv"), site_id=site, dry_run=True)
    assert [d["line"] for d in report.duplicates] == [2]
    assert report.duplicates[0]["probability"] >= 0.5


@pytest.mark.parametrize("value", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"])
def test_exported_cells_cannot_run_as_formulas(value):
    row = {"record_id": "x", "given_name": value, "full_name": value}
    out = io.StringIO()
    write_csv([row], out)
    cells = list(csv.DictReader(io.StringIO(out.getvalue())))[0]
    assert cells["given_name"] == "'" + value
    book = read_xlsx(write_xlsx([row]))
    assert book.records[0].person["given_name"] == value  # restored on import
    assert neutralise("Hassan") == "Hassan"


def test_formula_names_survive_a_round_trip(services):
    site = make_site(services)
    data = b'given_name,family_name\n=HYPERLINK("x"),@Sarir\n'
    run(services, "csv", data, site_id=site)
    [row] = _export_csv(services)
    assert row["given_name"] == '\'=HYPERLINK("x")' and row["family_name"] == "'@Sarir"
    out = io.StringIO()
    write_csv(services.partner_exports.table(None, audit=NOBODY), out)
    again = run(services, "csv", out.getvalue().encode(), site_id=site)
    assert again.unchanged == 1 and count_persons(services) == 1
    [row] = _export_csv(services)
    assert row["given_name"] == '\'=HYPERLINK("x")'


def test_xlsx_round_trip(services):
    site = make_site(services)
    run(services, "csv", fixture("persons.csv"), site_id=site)
    book = write_xlsx(services.partner_exports.table(None, audit=NOBODY))
    parsed = read_xlsx(book)
    assert len(parsed.records) == 3 and not parsed.issues
    report = run(services, "xlsx", book, site_id=site)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)


def test_a_file_that_is_no_workbook_is_refused(services):
    with pytest.raises(UnreadableFile):
        parse(services, "xlsx", b"not a workbook")


def test_progress_is_reported_while_checking_and_matching(services):
    site = make_site(services)
    seen: list[tuple[str, int, int]] = []
    run(services, "csv", fixture("persons.csv"), site_id=site, progress=lambda *a: seen.append(a))
    assert ("checking", 3, 3) in seen and ("matching", 3, 3) in seen


def test_a_concurrent_import_of_the_same_records_writes_nothing(services, monkeypatch):
    from corridor.errors import Conflict

    site = make_site(services)
    run(services, "csv", fixture("persons.csv"), site_id=site)
    # As if the first import had committed after the second one checked the registry.
    monkeypatch.setattr(
        services.imports, "_known", lambda *a: {"earlier": {}, "persons": {}, "own": "-"}
    )
    with pytest.raises(Conflict):
        run(services, "csv", fixture("persons.csv"), site_id=site, check_duplicates=False)
    assert count_persons(services) == 3
