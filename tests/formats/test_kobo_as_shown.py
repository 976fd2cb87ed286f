"""Kobo and ODK Central exports as a registration team imports them
(``POST /api/imports/kobo``): read as the sheets show them, as the person table is, and
refused with the sheet, row, field and reason, nothing written, where they cannot be read.

The stories (each taken in silently before): a formula with no computed value, a range
merged over a household's rows, hidden rows, an id a spreadsheet rounded; a repeat row
naming no submission was dropped; a repeat whose name Kobo cut to 31 characters, or
the mapping spelled in another case, lost every member; a mapped column missing from
the file left that answer out of every person; a CSV (which holds no repeat) registered
the heads and lost their households; a submission rejected in Kobo's review was
registered; one edited after its import was overwritten (alone) or registered twice (its
new uuid); "n/a" became a name or a document number; a start date in the future passed
the dry run and failed the import with a 422 naming no row."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from corridor.formats.kobo import KoboMapping
from tests.api.helpers import site
from tests.api.test_bad_input import row_counts
from tests.formats.helpers import FIXTURES, KOBO_MAIN, KOBO_MEMBERS, kobo_xlsx

UUID_1 = "aa11aa11-0000-4000-8000-000000000001"
# KOBO_MAIN's columns, and KOBO_MEMBERS', by name.
MAIN = {name: n for n, name in enumerate(KOBO_MAIN[0])}
MEMBER = {name: n for n, name in enumerate(KOBO_MEMBERS[0])}
FORMULA = (
    "cell {} holds a formula with no computed value: open and save the file in a "
    "spreadsheet program, or paste values"
)


@pytest.fixture
def camp(client) -> str:
    return site(client, "Camp A")


def upload(client, data: bytes, name: str, mapping: dict[str, Any] | None, **params):
    files: dict[str, Any] = {"file": (name, data)}
    if mapping is not None:
        files["mapping"] = ("mapping.json", json.dumps(mapping).encode())
    return client.post("/api/imports/kobo", params=params, files=files)


def answer(
    client, data: bytes, camp: str, name: str = "export.xlsx", mapping=None, **params
) -> dict[str, Any]:
    r = upload(client, data, name, mapping, site_id=camp, **params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def found(body: dict[str, Any], fatal: bool) -> list[tuple[Any, Any, str]]:
    return [(p["line"], p["field"], p["reason"]) for p in body["problems"] if p["fatal"] is fatal]


def refused_unwritten(
    client, database, data: bytes, camp: str, name: str = "export.xlsx", mapping=None
) -> list[tuple[Any, Any, str]]:
    """The fatal problems of a file, checked to write nothing, dry run or not."""
    before = row_counts(database)
    seen = []
    for dry_run in (True, False):
        body = answer(client, data, camp, name, mapping, dry_run=dry_run)
        assert not body["written"] and body["person_ids"] == []
        seen.append(found(body, fatal=True))
    assert row_counts(database) == before
    assert seen[0] == seen[1] and seen[0]
    return seen[0]


def refused_whole(
    client, database, data: bytes, camp: str, name: str = "export.xlsx", mapping=None
):
    """Refused as a whole: skipping bad rows writes nothing either."""
    problems = refused_unwritten(client, database, data, camp, name, mapping)
    before = row_counts(database)
    body = answer(client, data, camp, name, mapping, skip_bad_rows=True)
    assert not body["written"] and row_counts(database) == before
    return problems


def persons(client, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The persons an import wrote, by given name."""
    out = {}
    for pid in body["person_ids"]:
        r = client.get(f"/api/persons/{pid}")
        assert r.status_code == 200, r.text
        out[r.json()["names"]["given_name"]] = r.json()
    return out


def rows(table: list[list[Any]], edit: Callable[[list[list[Any]]], None]) -> list[list[Any]]:
    copy = [row[:] for row in table]
    edit(copy)
    return copy


# -- as the sheets show ----------------------------------------------------------------------


def _formula_in_main(book) -> None:
    book.worksheets[0]["D2"] = '="Ha"&"mid"'


def _formula_in_members(book) -> None:
    book["members"]["A3"] = "=UPPER(A2)"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_formula_in_main, [(2, "head/given_name", FORMULA.format("D2"))]),
        (
            _formula_in_members,
            [(2, "members/m_given_name", "sheet 'members': " + FORMULA.format("A3"))],
        ),
    ],
)
def test_a_formula_with_no_computed_value_is_an_error_naming_sheet_and_cell(
    client, database, camp, edit, expected
):
    assert refused_unwritten(client, database, kobo_xlsx(camp, edit=edit), camp) == expected


def test_a_formula_in_a_column_the_mapping_does_not_read_is_no_error(client, camp):
    def remark(book):
        sheet = book.worksheets[0]
        sheet.cell(1, sheet.max_column + 1, "remarks")
        sheet.cell(2, sheet.max_column, "=1+1")

    body = answer(client, kobo_xlsx(camp, edit=remark), camp)
    assert body["written"] and body["created"] == 2 and not body["problems"]


def test_a_range_merged_down_the_members_gives_each_its_value_with_a_warning(client, camp):
    members = rows(KOBO_MEMBERS, lambda t: t[2].__setitem__(MEMBER["members/m_father_name"], None))
    body = answer(client, kobo_xlsx(camp, members=members, edit=_merge("members", "B2:B3")), camp)
    assert body["written"] and body["created"] == 2
    people = persons(client, body)
    assert people["Salma"]["names"]["father_name"] == "Hamid"  # B3 shows B2's value
    assert found(body, fatal=False) == [
        (
            2,
            "members/m_father_name",
            "sheet 'members': cells B2:B3 are merged: the value of B2 is taken for each "
            "of rows 2 to 3",
        )
    ]


def _merge(sheet: str, cells: str) -> Callable[[Any], None]:
    return lambda book: (book.worksheets[0] if sheet == "main" else book[sheet]).merge_cells(cells)


@pytest.mark.parametrize(
    ("sheet", "cells", "expected"),
    [
        (
            "main",
            "D3:E3",
            [(3, "head/given_name", "cells D3:E3 are merged across columns: unmerge them")],
        ),
        (
            "main",
            "B1:B2",
            [(1, "site_id", "cells B1:B2 merge the header with rows below: unmerge them")],
        ),
        (
            "members",
            "A4:B4",
            [
                (
                    3,
                    "members/m_given_name",
                    "sheet 'members': cells A4:B4 are merged across columns: unmerge them",
                )
            ],
        ),
    ],
)
def test_a_range_merged_across_columns_or_with_the_header_is_an_error(
    client, database, camp, sheet, cells, expected
):
    data = kobo_xlsx(camp, edit=_merge(sheet, cells))
    assert refused_unwritten(client, database, data, camp) == expected


def test_hidden_rows_and_columns_are_imported_and_named(client, camp):
    def hide(book):
        book.worksheets[0].row_dimensions[3].hidden = True
        book.worksheets[0].column_dimensions["D"].hidden = True
        book["members"].row_dimensions[2].hidden = True

    body = answer(client, kobo_xlsx(camp, edit=hide), camp)
    assert body["written"] and body["created"] == 2
    assert len(persons(client, body)) == 5
    hidden = "{} is hidden in the spreadsheet (or filtered out): imported like the others"
    assert found(body, fatal=False) == [
        (3, None, hidden.format("row 3")),
        (
            1,
            "head/given_name",
            "the column is hidden in the spreadsheet: it is imported like the others",
        ),
        (2, None, "sheet 'members': " + hidden.format("row 2")),
    ]


@pytest.mark.parametrize("shape", ["xlsx", "csv"])
def test_a_uuid_a_spreadsheet_rounded_is_an_error(client, database, camp, shape):
    main = rows(KOBO_MAIN, lambda t: t[2].__setitem__(MAIN["_uuid"], 12345678901234567.0))
    singles = _singles()
    if shape == "xlsx":
        data, name, shown = kobo_xlsx(camp, main), "export.xlsx", "1.23456789012346E+16"
    else:
        main[2][MAIN["_uuid"]] = shown = "1.23457E+16"
        data, name = _kobo_csv(camp, main), "export.csv"
    assert refused_unwritten(client, database, data, camp, name, singles) == [
        (
            3,
            "_uuid",
            f"{shown} is a number as a spreadsheet shows it, rounded: format the column as "
            "text and type it again",
        )
    ]


def test_leading_zeros_a_sheet_shows_are_kept_and_a_whole_number_loses_its_point(client, camp):
    def pad(book):
        sheet = book.worksheets[0]
        column = [c.value for c in sheet[1]].index("head/national_id") + 1
        sheet.cell(2, column, 102030405).number_format = "0000000000"

    main = rows(KOBO_MAIN, lambda t: t[1].__setitem__(MAIN["head/birth_date"], 1965.0))
    body = answer(client, kobo_xlsx(camp, main, edit=pad), camp)
    assert body["written"] and not body["problems"]
    hamid = persons(client, body)["Hamid"]
    assert hamid["documents"] == [
        {"type": "national_id", "number": "0102030405", "issuing_country": None}
    ]
    assert hamid["birth_date"] == "1965"


# -- repeat rows and their submissions -------------------------------------------------------


def test_a_repeat_row_naming_no_submission_is_an_error_and_nothing_is_written(
    client, database, camp
):
    stray = ["Omar", "Ali", "m", 4, "child", "none", 4, "Corridor household registration", 9, 19]
    members = [*KOBO_MEMBERS, [*stray, "aa11aa11-0000-4000-8000-000000000009"]]
    data = kobo_xlsx(camp, members=members)
    assert refused_whole(client, database, data, camp) == [
        (
            None,
            "_parent_index",
            "sheet 'members' row 5: _parent_index '9' names no submission of the file",
        )
    ]


def test_a_repeat_row_whose_index_and_uuid_name_two_submissions_is_an_error(
    client, database, camp
):
    members = rows(KOBO_MEMBERS, lambda t: t[3].__setitem__(MEMBER["_parent_index"], 1))
    assert refused_whole(client, database, kobo_xlsx(camp, members=members), camp) == [
        (
            None,
            "_parent_index",
            "sheet 'members' row 4: _parent_index '1' and _submission__uuid "
            "'aa11aa11-0000-4000-8000-000000000002' name two different submissions",
        )
    ]


def test_an_odk_repeat_row_naming_no_submission_is_an_error(client, database, camp):
    stray = lambda text: text.replace("uuid:7d2e0c1a-aaaa", "uuid:00000000-aaaa", 1)  # noqa: E731
    data = _odk(camp, members=stray)
    [(line, field, reason)] = refused_whole(client, database, data, camp, "odk.zip")
    assert (line, field) == (None, "PARENT_KEY")
    assert reason == (
        "file 'corridor_registration-members.csv' row 2: PARENT_KEY "
        "'uuid:00000000-aaaa-4f00-9000-000000000001' names no submission of the file"
    )


def test_the_same_uuid_twice_keeps_the_first_with_its_own_members(client, database, camp):
    """Skipping the second, the first was written without its members (they were
    linked by uuid to the last row holding it)."""
    copy = rows(KOBO_MAIN, lambda t: t.append(t[1][:]))
    copy[3][MAIN["_index"]] = 3
    body = answer(client, kobo_xlsx(camp, copy), camp, skip_bad_rows=True)
    assert found(body, fatal=True) == [(4, "_uuid", "duplicate submission, first on line 2")]
    assert body["written"] and body["created"] == 2
    assert sorted(persons(client, body)) == ["Hamid", "Mustafa", "Salma", "Yara", "Zahra"]


# -- the repeat's sheet or file --------------------------------------------------------------


LONG = "household_members_information_list"


def _long_repeat(book) -> None:
    book["members"].title = "household_members_informatio..."
    for cell in book["household_members_informatio..."][1]:
        if str(cell.value).startswith("members/"):
            cell.value = cell.value.replace("members/", f"{LONG}/")


def _long_mapping(**extra: Any) -> dict[str, Any]:
    default = KoboMapping.default()
    member = {k.replace("members/", f"{LONG}/"): v for k, v in default.member.items()}
    return {
        "submission": default.submission,
        "member": member,
        "repeat": LONG,
        "values": default.values,
        **extra,
    }


def test_a_repeat_whose_sheet_kobo_cut_to_31_characters_is_read(client, camp):
    body = answer(client, kobo_xlsx(camp, edit=_long_repeat), camp, mapping=_long_mapping())
    assert body["written"] and body["created"] == 2 and not body["problems"]
    assert len(persons(client, body)) == 5


def test_two_repeats_cut_to_one_name_are_told_apart_by_their_columns_or_refused(
    client, database, camp
):
    def two(book, group_names: bool = True):
        _long_repeat(book)
        other = book.create_sheet("household_members_inform... (1)")
        other.append([f"{LONG}_2/pet" if group_names else "pet", "_parent_index"])
        other.append(["cat", 1])
        if not group_names:
            for cell in book["household_members_informatio..."][1]:
                cell.value = str(cell.value).replace(f"{LONG}/", "")

    body = answer(client, kobo_xlsx(camp, edit=two), camp, mapping=_long_mapping())
    assert body["written"] and len(persons(client, body)) == 5
    assert found(body, fatal=False) == [
        (
            None,
            None,
            f"only the repeat '{LONG}' is read: the rows of these sheets are not imported: "
            "'household_members_inform... (1)'",
        )
    ]
    data = kobo_xlsx(camp, edit=lambda book: two(book, group_names=False))
    assert refused_whole(client, database, data, camp, mapping=_long_mapping()) == [
        (
            None,
            "repeat",
            "sheets 'household_members_informatio...', 'household_members_inform... (1)' may "
            f"each hold the repeat '{LONG}' (Kobo cuts a sheet's name to 31 characters): "
            "name the repeat's sheet in the mapping's repeat",
        )
    ]


def test_a_repeat_named_in_another_case_is_read_from_an_odk_zip(client, camp):
    default = KoboMapping.default()
    mapping = {
        "submission": default.submission,
        "member": default.member,
        "repeat": "Members",
        "values": default.values,
    }
    body = answer(client, _odk(camp), camp, "odk.zip", mapping=mapping)
    assert body["written"] and len(persons(client, body)) == 3 and not body["problems"]


def test_a_repeat_the_export_does_not_hold(client, database, camp):
    # Kobo writes a repeat's sheet only when a submission has rows in it: said.
    data = kobo_xlsx(camp, edit=lambda book: book.remove(book["members"]))
    body = answer(client, data, camp)
    assert body["written"] and body["created"] == 2
    assert found(body, fatal=False) == [
        (
            None,
            "repeat",
            "no sheet holds the repeat 'members' that the mapping names (sheets: 'Corridor "
            "household registration'): the submissions are read without members (Kobo "
            "writes a repeat's sheet only when a submission has rows in it)",
        )
    ]
    # A CSV never holds one, and ODK Central writes every repeat's file: refused.
    csv = _kobo_csv(camp, KOBO_MAIN)
    assert refused_whole(client, database, csv, camp, "export.csv") == [
        (
            None,
            "repeat",
            "a CSV file holds no repeat: the members of the repeat 'members' are not in it; "
            "import Kobo's XLSX export or ODK Central's zip (or use a mapping without a "
            "repeat, to register each submission as one person)",
        )
    ]
    no_file = _odk(camp, repeat=False)
    [(line, field, reason)] = refused_whole(client, database, no_file, camp, "odk.zip")
    assert (line, field) == (None, "repeat")
    assert reason.startswith("the zip has no file for the repeat 'members' that the mapping names")


# -- the mapping ----------------------------------------------------------------------------


def test_a_mapped_column_missing_from_the_file_is_an_error_naming_it(client, database, camp):
    default = KoboMapping.default()
    mapping = {
        "submission": {**default.submission, "head/mobile": "phone"},
        "member": default.member,
        "repeat": "members",
    }
    data = kobo_xlsx(camp)
    assert refused_whole(client, database, data, camp, mapping=mapping) == [
        (
            None,
            "head/mobile",
            "sheet 'Corridor household registration' has no column head/mobile, which the "
            "mapping reads: check the mapping (or export with the form's field names, not "
            "its labels)",
        )
    ]


def test_a_mapped_column_two_columns_may_be_is_an_error(client, database, camp):
    mapping = {"submission": {"name": "given_name", "site_id": "site_id"}}
    data = f'"head/name";"spouse/name";"site_id";"_uuid"\n"Omar";"Huda";"{camp}";"u-1"\n'
    assert refused_whole(client, database, data.encode(), camp, "k.csv", mapping) == [
        (
            None,
            "name",
            "the file has 2 columns that may be the mapping's name (head/name, spouse/name): "
            "give the mapping its whole path",
        )
    ]


def test_a_mapped_column_given_twice_is_an_error(client, database, camp):
    """The last of the two was read, unsaid."""
    mapping = {"submission": {"head/given_name": "given_name", "site_id": "site_id"}}
    data = f'"head/given_name";"site_id";"head/given_name";"_uuid"\n"Omar";"{camp}";"";"u-1"\n'
    assert refused_whole(client, database, data.encode(), camp, "k.csv", mapping) == [
        (
            None,
            "head/given_name",
            "the file has the column head/given_name twice (columns 1 and 3): which one the "
            "mapping reads cannot be known",
        )
    ]


# -- what a submission says ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "imported"),
    [("validation_status_not_approved", False), ("Not approved", False), ("On hold", True)],
)
def test_a_submission_rejected_in_kobos_review_is_not_imported(client, camp, status, imported):
    main = [[*row, None] for row in KOBO_MAIN]
    main[0][-1], main[1][-1] = "_validation_status", status
    body = answer(client, kobo_xlsx(camp, main), camp)
    assert body["written"] and not found(body, fatal=True)
    names = sorted(persons(client, body))
    hamid = ["Hamid", "Mustafa", "Salma"] if imported else []
    assert names == sorted([*hamid, "Yara", "Zahra"])
    verdict = "it is imported like the others" if imported else "it is not imported"
    wording = (
        f"is {status} in its review: {verdict}"
        if imported
        else f"is rejected in its review ({status}): {verdict}"
    )
    assert found(body, fatal=False) == [(2, "_validation_status", f"submission {UUID_1} {wording}")]


def test_a_submission_rejected_in_odk_centrals_review_is_not_imported(client, camp):
    rejected = lambda text: text.replace(",0,0,,,collect:", ",0,0,,rejected,collect:")  # noqa: E731
    data = _odk(camp, main=rejected)
    body = answer(client, data, camp, "odk.zip")
    assert body["written"] is False and body["created"] == 0 and not found(body, fatal=True)
    [(line, field, reason)] = found(body, fatal=False)[:1]
    assert (line, field) == (2, "reviewstate") and "is rejected in its review (rejected)" in reason


def test_a_submission_odk_central_could_not_decrypt_is_named(client, database, camp):
    """Its row holds no answer: it was refused as "a person needs at least one name"."""

    def undecrypted(text: str) -> str:
        header, row = text.rstrip("\n").split("\n")
        cells = row.split(",")
        names = header.split(",")
        kept = {"SubmissionDate", "meta-instanceID", "KEY", "Status", "FormVersion"}
        cells = [c if n in kept else "" for n, c in zip(names, cells, strict=True)]
        cells[names.index("Status")] = "not decrypted"
        return f"{header}\n{','.join(cells)}\n"

    data = _odk(camp, main=undecrypted, members=lambda text: text.split("\n")[0] + "\n")
    assert refused_unwritten(client, database, data, camp, "odk.zip") == [
        (2, "status", "the export holds none of this submission's data (not decrypted)")
    ]


def test_na_is_read_as_no_answer_never_as_a_name_or_a_document(client, camp):
    main = rows(KOBO_MAIN, lambda t: t[1].__setitem__(MAIN["head/father_name"], "N/A"))

    def national_id(book):
        sheet = book.worksheets[0]
        column = [c.value for c in sheet[1]].index("head/national_id") + 1
        sheet.cell(2, column, "n/a")

    body = answer(client, kobo_xlsx(camp, main, edit=national_id), camp)
    assert body["written"] and body["created"] == 2
    hamid = persons(client, body)["Hamid"]
    assert hamid["names"]["father_name"] is None and hamid["documents"] == []
    assert found(body, fatal=False) == [
        (2, "father_name", "'N/A' is read as no answer (form field head/father_name)"),
        (2, "documents.national_id", "'n/a' is read as no answer (form field head/national_id)"),
    ]


def test_select_multiple_choices_are_each_mapped(client, camp):
    mapping = {
        "submission": {"name": "given_name", "langs": "languages", "site_id": "site_id"},
        "values": {"languages": {"arabic": "ar", "kurdish": "ku"}},
    }
    data = f'"name";"langs";"site_id";"_uuid"\n"Omar";"arabic kurdish";"{camp}";"u-1"\n'
    body = answer(client, data.encode(), camp, "k.csv", mapping)
    assert body["written"] and not body["problems"]
    assert persons(client, body)["Omar"]["languages"] == ["ar", "ku"]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (
            "start",
            "2031-01-01T09:00:00",
            [
                (2, f"{who}.registered_at", "is in the future")
                for who in ("head", "members[0]", "members[1]")
            ],
        ),
        (
            "head/birth_date",
            "2019-03-09",  # after the submission's start (8 March), before today
            [(2, "head.birth_date", "is in the future (2019-03-09 after 2019-03-08)")],
        ),
    ],
)
def test_what_registration_refuses_is_named_by_row_before_anything_is_written(
    client, database, camp, column, value, expected
):
    """The dry run found nothing; the import then failed whole with a 422 naming a
    position in a batch ("[0].head.registered_at"), no row."""
    main = rows(KOBO_MAIN, lambda t: t[1].__setitem__(MAIN[column], value))
    assert refused_unwritten(client, database, kobo_xlsx(camp, main), camp) == expected


# -- a submission imported again ---------------------------------------------------------------


def test_a_single_submission_edited_since_its_import_is_left_as_it_was_and_named(client, camp):
    mapping = {"submission": {"name": "given_name", "family": "family_name", "site_id": "site_id"}}
    first = f'"name";"family";"site_id";"_uuid"\n"Walid";"Ali";"{camp}";"u-1"\n'
    body = answer(client, first.encode(), camp, "k.csv", mapping)
    [pid] = body["person_ids"]
    edited = answer(client, first.replace("Ali", "Alawi").encode(), camp, "k.csv", mapping)
    assert (edited["created"], edited["updated"], edited["unchanged"]) == (0, 0, 1)
    assert found(edited, fatal=False) == [
        (
            2,
            "_uuid",
            "submission u-1 was imported before with other content (it was edited since): "
            "what was registered from it is left as it was; correct the persons in Corridor "
            "where needed (conflict)",
        )
    ]
    assert client.get(f"/api/persons/{pid}").json()["names"]["family_name"] == "Ali"


def test_a_submission_edited_in_kobo_keeps_its_root_uuid_and_is_not_registered_twice(
    client, database, camp
):
    """Kobo gives an edited submission a new ``_uuid``; ``meta/rootUuid`` keeps the first."""
    first = answer(client, kobo_xlsx(camp), camp)
    assert first["created"] == 2
    before = row_counts(database)["persons"]
    main = [[*row, "meta/rootUuid"] for row in KOBO_MAIN]
    for row in main[1:]:
        row[-1] = "uuid:" + row[MAIN["_uuid"]]
    edited = "bb22bb22-0000-4000-8000-000000000001"
    main[1][MAIN["_uuid"]] = edited  # and its repeat rows name it so
    members = [[edited if v == UUID_1 else v for v in row] for row in KOBO_MEMBERS]
    again = answer(client, kobo_xlsx(camp, main, members), camp)
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert row_counts(database)["persons"] == before


def test_a_submission_edited_in_odk_central_keeps_its_key_and_is_not_registered_twice(
    client, database, camp
):
    """ODK Central gives an edit a new ``meta-instanceID``; ``KEY`` stays the first."""
    first = answer(client, _odk(camp), camp, "odk.zip")
    assert first["created"] == 1
    before = row_counts(database)["persons"]

    def edit(text: str) -> str:
        head, row = text.split("\n", 1)
        new = row.replace(
            "uuid:7d2e0c1a-aaaa-4f00-9000-000000000001,uuid:",
            "uuid:7d2e0c1a-bbbb-4f00-9000-000000000001,uuid:",
        )
        return head + "\n" + new.replace(",0,2026112301", ",1,2026112301")

    again = answer(client, _odk(camp, main=edit), camp, "odk.zip")
    assert (again["created"], again["unchanged"]) == (0, 1)
    assert row_counts(database)["persons"] == before


# -- builders -------------------------------------------------------------------------------


def _singles() -> dict[str, Any]:
    """The default mapping without its repeat: each submission one person."""
    return {"submission": KoboMapping.default().submission}


def _kobo_csv(camp: str, main: list[list[Any]]) -> bytes:
    from tests.formats.helpers import KOBO_UNANSWERED

    lines = []
    for n, row in enumerate(main):
        cells = [camp if v == "SITE" else v for v in row]
        cells += KOBO_UNANSWERED if n == 0 else [""] * len(KOBO_UNANSWERED)
        lines.append(";".join(f'"{"" if v is None else v}"' for v in cells))
    return ("\n".join(lines) + "\n").encode()


def _odk(
    camp: str,
    main: Callable[[str], str] = str,
    members: Callable[[str], str] = str,
    repeat: bool = True,
) -> bytes:
    """ODK Central's zip of the fixture files, each changed by its function."""
    folder = FIXTURES / "odk"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        text = (folder / "corridor_registration.csv").read_text("utf-8").replace("SITE", camp)
        z.writestr("corridor_registration.csv", main(text))
        if repeat:
            text = (folder / "corridor_registration-members.csv").read_text("utf-8")
            z.writestr("corridor_registration-members.csv", members(text))
    return buffer.getvalue()
