"""A person table is imported as the registrar sees it, or refused with the row, the
column and the reason, and nothing written (``POST /api/imports/{csv,xlsx}``).

The stories (each read silently before): a formula saved by a program with no computed
value came in as an empty cell; the rows of a range merged down (a family name over a
household's rows) came in empty but the first; hidden and filtered-out rows, hidden
columns, a second sheet and a column with no header were taken in or dropped without a
word; a long number had been rounded by the spreadsheet and a zero-padded one lost its
zeros; rows sharing a ``household_id`` were registered as strangers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.helpers import site
from tests.api.test_bad_input import row_counts
from tests.formats.test_import_bad_files import upload

HEADER = ["given_name", "family_name", "sex", "birth_year"]
FAMILY = [
    ["Hamid", "Sarir", "m", 1965],
    ["Mustafa", "Sarir", "m", 2008],
    ["Salma", "Sarir", "f", 2011],
]


@pytest.fixture
def camp(client) -> str:
    return site(client, "Camp A")


def workbook(
    rows: list[list[Any]], edit: Callable[[Any, Any], None] | None = None, header=HEADER
) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "persons"
    for row in [header, *rows]:
        sheet.append(row)
    if edit:
        edit(book, sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_cached_values(data: bytes, value: str) -> bytes:
    """The workbook as a spreadsheet program saves it: each formula with its value."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                part = part.replace(b"<v />", f"<v>{value}</v>".encode())
            target.writestr(item, part)
    return out.getvalue()


def answer(client, data: bytes, camp: str, fmt: str = "xlsx", **params) -> dict[str, Any]:
    r = upload(client, fmt, data, f"people.{fmt}", site_id=camp, **params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def found(body: dict[str, Any], fatal: bool) -> list[tuple[Any, Any, str]]:
    return [(p["line"], p["field"], p["reason"]) for p in body["problems"] if p["fatal"] is fatal]


def refused_unwritten(client, database, data: bytes, camp: str, fmt: str = "xlsx"):
    """The fatal problems of a file, checked to write nothing, dry run or not."""
    before = row_counts(database)
    seen = []
    for dry_run in (True, False):
        body = answer(client, data, camp, fmt, dry_run=dry_run)
        assert not body["written"] and body["person_ids"] == []
        seen.append(found(body, fatal=True))
    assert row_counts(database) == before
    assert seen[0] == seen[1] and seen[0]
    return seen[0]


def names(client, body: dict[str, Any]) -> list[tuple[str, str | None]]:
    out = []
    for pid in body["person_ids"]:
        r = client.get(f"/api/persons/{pid}")
        assert r.status_code == 200, r.text
        person = r.json()
        out.append((person["names"]["given_name"], person["names"]["family_name"]))
    return sorted(out)


# -- formulas ----------------------------------------------------------------------------


def test_a_formula_with_no_computed_value_is_an_error_on_its_row_and_column(client, database, camp):
    rows = [["Hamid", "Sarir", "m", 1965], ["Mustafa", "=B2", "m", "=1965+43"]]
    problems = refused_unwritten(client, database, workbook(rows), camp)
    reason = (
        "cell {} holds a formula with no computed value: open and save the file in a "
        "spreadsheet program, or paste values"
    )
    assert problems == [
        (3, "family_name", reason.format("B3")),
        (3, "birth_year", reason.format("D3")),
    ]


def test_a_formula_with_its_computed_value_imports_the_value(client, camp):
    data = with_cached_values(workbook([["Hamid", "Sarir", "m", "=1900+65"]]), "1965")
    body = answer(client, data, camp)
    assert body["written"] and not found(body, fatal=True)
    r = client.get(f"/api/persons/{body['person_ids'][0]}")
    assert r.json()["birth_date"].startswith("1965")


def test_a_formula_in_an_ignored_column_is_no_error(client, camp):
    rows = [["Hamid", "Sarir", "m", 1965, "=1+1"]]
    body = answer(client, workbook(rows, header=[*HEADER, "remarks"]), camp)
    assert body["written"] and body["created"] == 1


# -- merged cells ------------------------------------------------------------------------


def test_a_range_merged_down_gives_its_value_to_each_row_with_a_warning(client, camp):
    rows = [
        [given, None if n else "Sarir", sex, year] for n, (given, _, sex, year) in enumerate(FAMILY)
    ]
    data = workbook(rows, lambda _, sheet: sheet.merge_cells("B2:B4"))
    body = answer(client, data, camp)
    assert body["written"] and body["created"] == 3
    assert names(client, body) == [("Hamid", "Sarir"), ("Mustafa", "Sarir"), ("Salma", "Sarir")]
    assert found(body, fatal=False) == [
        (
            2,
            "family_name",
            "cells B2:B4 are merged: the value of B2 is taken for each of rows 2 to 4",
        )
    ]


@pytest.mark.parametrize(
    ("merge", "expected"),
    [
        (
            "A3:B3",
            [(3, "given_name", "cells A3:B3 are merged across columns: unmerge them")],
        ),
        (
            "A3:B4",
            [
                (3, "given_name", "cells A3:B4 are merged across columns: unmerge them"),
                (4, "given_name", "cells A3:B4 are merged across columns: unmerge them"),
                (4, "given_name", "a person needs at least one name"),  # B4 shows none
            ],
        ),
        (
            "B1:B2",
            [(1, "family_name", "cells B1:B2 merge the header with rows below: unmerge them")],
        ),
    ],
)
def test_a_range_merged_across_columns_or_with_the_header_is_an_error(
    client, database, camp, merge, expected
):
    data = workbook(FAMILY, lambda _, sheet: sheet.merge_cells(merge))
    assert refused_unwritten(client, database, data, camp) == expected


# -- hidden rows, columns, other sheets, unnamed columns -------------------------------------


def test_hidden_and_filtered_out_rows_and_hidden_columns_are_imported_and_named(client, camp):
    def hide(_, sheet):
        sheet.auto_filter.ref = "A1:D4"
        sheet.row_dimensions[3].hidden = True
        sheet.row_dimensions[4].hidden = True
        sheet.column_dimensions["D"].hidden = True

    body = answer(client, workbook(FAMILY, hide), camp)
    assert body["written"] and body["created"] == 3
    assert found(body, fatal=False) == [
        (
            3,
            None,
            "rows 3 to 4 are hidden in the spreadsheet (or filtered out): imported like the others",
        ),
        (
            1,
            "birth_year",
            "the column is hidden in the spreadsheet: it is imported like the others",
        ),
    ]


def test_a_second_sheet_holding_data_is_named(client, camp):
    def second(book, _):
        book.create_sheet("camp B").append(["given_name"])
        book.create_sheet("empty")

    body = answer(client, workbook(FAMILY, second), camp, dry_run=True)
    assert found(body, fatal=False) == [
        (
            None,
            None,
            "only the first sheet ('persons') is read; these sheets also hold data, which is "
            "not imported (import each as a file of its own): 'camp B'",
        )
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cells_under_no_header_are_named(client, camp, fmt):
    header = ["given_name", "", "family_name"]
    rows = [["Hamid", "", "Sarir"], ["Mustafa", "+963 944 000 000", "Sarir"]]
    if fmt == "csv":
        data = "\n".join(",".join(r) for r in [header, *rows]).encode()
    else:
        data = workbook(rows, header=header)
    body = answer(client, data, camp, fmt, dry_run=True)
    column = "B" if fmt == "xlsx" else "2"
    assert found(body, fatal=False) == [
        (3, None, f"column {column} has no header: its cells are ignored")
    ]


# -- numbers -----------------------------------------------------------------------------


def test_a_zero_padded_number_keeps_its_zeros_and_a_whole_number_its_digits(client, camp):
    def pad(_, sheet):
        sheet["E2"].number_format = "000000"

    rows = [["Hamid", "Sarir", "m", 1965.0, 123]]
    data = workbook(rows, pad, header=[*HEADER, "record_id"])
    first = answer(client, data, camp)
    assert first["written"] and first["created"] == 1
    # The id read is 000123 (as shown): a CSV naming it so is the same record.
    csv = b"record_id,given_name,family_name,sex,birth_year\n000123,Hamid,Sarir,m,1965\n"
    again = answer(client, csv, camp, "csv")
    assert (again["created"], again["unchanged"]) == (0, 1)


# -- households --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_rows_sharing_a_household_are_refused_not_registered_apart(client, database, camp, fmt):
    header = ["record_id", "household_id", *HEADER]
    rows = [[f"P-{n}", "H-1", *person] for n, person in enumerate(FAMILY)]
    rows.append(["P-9", "", "Zahra", "Mousa", "f", 1990])
    if fmt == "csv":
        data = "\n".join(",".join(map(str, r)) for r in [header, *rows]).encode()
    else:
        data = workbook(rows, header=header)
    reason = (
        "3 rows of the file share household H-1, and an import of the person table cannot "
        "register a household (it has no column for how members are related): register "
        "the household on its page or through the Kobo form, or empty household_id to "
        "register each person alone"
    )
    assert refused_unwritten(client, database, data, camp, fmt) == [
        (line, "household_id", reason) for line in (2, 3, 4)
    ]


def test_a_household_id_no_other_row_shares_is_named_and_a_reimport_doubles_nothing(
    client, database, camp
):
    data = b"record_id,household_id,given_name,family_name\nP-1,H-7,Zahra,Mousa\n"
    first = answer(client, data, camp, "csv")
    assert first["written"] and first["created"] == 1
    assert found(first, fatal=False) == [
        (
            2,
            "household_id",
            "registered alone: household_id H-7 is not kept (no other row shares it)",
        )
    ]
    before = row_counts(database)
    again = answer(client, data, camp, "csv")
    assert (again["created"], again["unchanged"]) == (0, 1)
    after = row_counts(database)
    assert (after["persons"], after["households"]) == (before["persons"], before["households"])


def test_a_corridor_persons_row_naming_another_household_says_it_is_not_applied(client, camp):
    first = answer(client, b"given_name,family_name\nZahra,Mousa\n", camp, "csv")
    [pid] = first["person_ids"]
    household = client.get(f"/api/persons/{pid}").json().get("household_id") or ""
    row = f"record_id,household_id,given_name,family_name\n{pid},{household},Zahra,Mousa\n"
    same = answer(client, row.encode(), camp, "csv")
    assert same["written"] and not same["problems"]
    moved = row.replace(f"{pid},{household},", f"{pid},H-other,")
    body = answer(client, moved.encode(), camp, "csv")
    assert found(body, fatal=False) == [
        (
            2,
            "household_id",
            "an import does not move a person to another household: household_id H-other "
            "is not applied",
        )
    ]


# -- CSV cells a spreadsheet or a hand changed -------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_id_saved_as_a_rounded_number_is_an_error(client, database, camp, fmt):
    header = ["record_id", "given_name", "family_name"]
    rows = [["NGO-1", "Hamid", "Sarir"], ["1.23457E+16", "Mustafa", "Sarir"]]
    if fmt == "csv":
        data = "\n".join(",".join(r) for r in [header, *rows]).encode()
    else:  # the number itself, as a spreadsheet keeps it (shown as 1.23457E+16)
        rows[1][0] = 12345678901234567.0
        data = workbook(rows, header=header)
    shown = "1.23457E+16" if fmt == "csv" else "1.23456789012346E+16"
    assert refused_unwritten(client, database, data, camp, fmt) == [
        (
            3,
            "record_id",
            f"{shown} is a number as a spreadsheet shows it, rounded: format the column "
            "as text and type it again",
        )
    ]


def test_a_csv_row_with_fewer_cells_than_columns_is_named(client, camp):
    data = b"given_name,family_name,sex\nHamid,Sarir,m\nMustafa Sarir,m\n"
    body = answer(client, data, camp, "csv", dry_run=True)
    assert found(body, fatal=False) == [
        (3, None, "2 cells for 3 columns: the last columns are read as empty")
    ]


# -- registration numbers ------------------------------------------------------------------


def _registered(client, camp: str, given: str = "Zahra") -> dict[str, Any]:
    # (A row with no id imported again is the same person: another name for another.)
    body = answer(client, f"given_name,family_name\n{given},Mousa\n".encode(), camp, "csv")
    [pid] = body["person_ids"]
    return dict(client.get(f"/api/persons/{pid}").json())


def test_a_row_naming_a_registration_number_updates_that_person_not_a_new_one(
    client, database, camp
):
    zahra = _registered(client, camp)
    number = zahra["registration_number"].replace("-", "").lower()  # as typed by hand
    data = f"registration_number,given_name,family_name,sex\n{number},Zahra,Mousa,f\n"
    before = row_counts(database)["persons"]
    body = answer(client, data.encode(), camp, "csv")
    assert body["written"] and body["created"] == 0 and body["person_ids"] == [zahra["id"]]
    # And again: nothing doubled, nothing written (she holds what the row says).
    body = answer(client, data.encode(), camp, "csv")
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 1)
    assert row_counts(database)["persons"] == before
    assert client.get(f"/api/persons/{zahra['id']}").json()["sex"] == "f"


def test_a_registration_number_nobody_here_holds_is_an_error(client, database, camp):
    from corridor.domain.ids import new_registration_number

    data = f"registration_number,given_name\n{new_registration_number()},Omar\n".encode()
    assert refused_unwritten(client, database, data, camp, "csv") == [
        (
            2,
            "registration_number",
            "no person registered here has this number: empty the cell to register the row "
            "as a new person",
        )
    ]


def test_a_registration_number_of_another_person_than_the_rows_id_is_an_error(
    client, database, camp
):
    zahra, omar = _registered(client, camp), _registered(client, camp, "Omar")
    row = f"{zahra['id']},{omar['registration_number']},Zahra"
    data = f"record_id,registration_number,given_name\n{row}\n"
    assert refused_unwritten(client, database, data.encode(), camp, "csv") == [
        (
            2,
            "registration_number",
            "the row's record_id and registration_number name two different persons",
        )
    ]


def test_a_malformed_registration_number_is_named_and_ignored(client, camp):
    data = b"registration_number,given_name\nNGO-77,Omar\n"
    body = answer(client, data, camp, "csv", dry_run=True)
    assert body["created"] == 1
    [(line, field, reason)] = found(body, fatal=False)
    assert (line, field) == (2, "registration_number")
    assert reason.startswith("not a registration number (") and reason.endswith("): ignored")
