"""Bad files through ``POST /api/imports/{fmt}``: each is named by line, field and
reason, nothing is written, and nothing is a 500. Run on SQLite and PostgreSQL (where
a NUL or an id longer than its column made the write fail with a 500).

The stories: a CSV quote left open (it swallowed every later row into one name), a
cell longer than Python's CSV field limit (a 500), a column given twice (the second
silently won), text with a NUL, partner ids and PFIF note fields longer than the
columns that keep them, an ODK zip that unpacks to far more than an upload may be
(a zip bomb: it was read whole into memory)."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.api.helpers import site
from tests.api.test_bad_input import row_counts


@pytest.fixture
def camp(client) -> str:
    return site(client, "Camp A")


def upload(client, fmt: str, data: bytes, name: str, **params):
    return client.post(f"/api/imports/{fmt}", params=params, files={"file": (name, data)})


def problems(response) -> list[tuple[int | None, str | None, str]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["written"] and body["person_ids"] == []
    return [(p["line"], p["field"], p["reason"]) for p in body["problems"] if p["fatal"]]


def refused(response) -> str:
    """The reason a file refused as a whole is given (422, field ``file``)."""
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "file"
    return str(error["reason"])


@pytest.mark.parametrize("fmt", ["csv", "kobo"])
def test_a_quote_left_open_names_the_line_it_opens_on(client, database, camp, fmt):
    rows = b"".join(b"Sara%d,Ali\n" % i for i in range(20000))  # past the field limit too
    for tail in (b"Sara,Ali\nHuda,Ali\n", rows):
        before = row_counts(database)
        data = b'given_name,family_name\nOmar,Ali\n"Khalid,Ali\n' + tail
        reason = refused(upload(client, fmt, data, "people.csv", site_id=camp))
        assert reason == "line 3: a quoted cell is never closed"
        assert row_counts(database) == before


@pytest.mark.parametrize("fmt", ["csv", "kobo"])
def test_a_cell_too_long_to_be_read_is_named(client, database, camp, fmt):
    before = row_counts(database)
    data = b"given_name,family_name\nOmar,Ali\nKhalid," + b"x" * 200_000 + b"\n"
    reason = refused(upload(client, fmt, data, "people.csv", site_id=camp))
    assert reason == "line 3: a cell longer than 131072 characters"
    assert row_counts(database) == before


def test_a_column_given_twice_is_named_and_nothing_is_read(client, database, camp):
    before = row_counts(database)
    data = b"given_name,family_name,given_name\nOmar,Ali,Khalid\n"
    r = upload(client, "csv", data, "people.csv", site_id=camp)
    assert problems(r) == [(1, "given_name", "the column is given twice (columns 1 and 3)")]
    assert row_counts(database) == before


def test_a_nul_in_a_cell_is_named_by_line_and_field(client, database, camp):
    before = row_counts(database)
    data = b"given_name,family_name\nOmar,Ali\nKha\x00lid,Ali\n"
    r = upload(client, "csv", data, "people.csv", site_id=camp)
    assert problems(r) == [(3, "given_name", "holds a control character (U+0000)")]
    assert row_counts(database) == before


@pytest.mark.parametrize(
    ("record_id", "reason"),
    [
        ("p" * 251, "longer than 250 characters"),
        ("p\x00q", "holds a control character (U+0000)"),
    ],
)
def test_a_partner_id_that_cannot_be_kept_is_named(client, database, camp, record_id, reason):
    before = row_counts(database)
    data = f"record_id,given_name\nok-1,Omar\n{record_id},Khalid\n".encode()
    r = upload(client, "csv", data, "people.csv", site_id=camp)
    assert problems(r) == [(3, "record_id", reason)]
    assert row_counts(database) == before


PFIF = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
<pfif:person>
<pfif:person_record_id>{person_id}</pfif:person_record_id>
<pfif:source_date>2019-01-01T00:00:00Z</pfif:source_date>
<pfif:full_name>Omar Ali</pfif:full_name>
<pfif:note>
<pfif:note_record_id>{note_id}</pfif:note_record_id>
<pfif:author_name>{author}</pfif:author_name>
<pfif:source_date>2019-01-01T00:00:00Z</pfif:source_date>
<pfif:text>Seen at the clinic</pfif:text>
</pfif:note>
</pfif:person>
</pfif:pfif>
"""


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"person_id": "example.org/" + "p" * 240}, (3, "person_record_id")),
        ({"note_id": "example.org/" + "n" * 240}, (7, "note_record_id")),
        ({"author": "a" * 201}, (7, "author_name")),
    ],
)
def test_pfif_ids_and_authors_longer_than_kept_are_named(client, database, camp, fields, where):
    values = {"person_id": "example.org/p1", "note_id": "example.org/n1", "author": "Amira"}
    values.update(fields)
    before = row_counts(database)
    r = upload(client, "pfif", PFIF.format(**values).encode(), "people.xml", site_id=camp)
    [(line, field, reason)] = problems(r)
    assert (line, field) == where
    assert reason in ("longer than 250 characters", "longer than 200 characters")
    assert row_counts(database) == before
    # Bad records skipped: the bad note is left out (and its person only if the
    # person's own id is bad).
    data = PFIF.format(**values).encode()
    r = upload(client, "pfif", data, "people.xml", site_id=camp, skip_bad_rows=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notes"] == 0
    assert body["created"] == (0 if "person_id" in fields else 1)


def test_an_odk_zip_that_unpacks_past_the_limit_is_refused_unread(client, database, camp):
    from corridor.formats._zip import MAX_UNPACKED

    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("form.csv", "w") as out,
    ):
        out.write(b"given_name,KEY\n")
        line = b"Omar,uuid:1\n" * 100_000
        for _ in range(MAX_UNPACKED // len(line) + 1):
            out.write(line)
    data = buffer.getvalue()
    assert len(data) < MAX_UNPACKED // 100  # a small upload
    before = row_counts(database)
    reason = refused(upload(client, "kobo", data, "odk.zip", site_id=camp))
    assert reason == f"the zip unpacks to more than {MAX_UNPACKED // 2**20} MB: split it"
    assert row_counts(database) == before


@pytest.mark.parametrize("fmt", ["xlsx", "kobo"])
def test_a_workbook_that_unpacks_past_the_limit_is_refused_unread(client, database, camp, fmt):
    """A workbook is a zip too: openpyxl reads its shared strings whole."""
    from openpyxl import Workbook

    from corridor.formats._zip import MAX_UNPACKED

    book = Workbook()
    book.active.append(["given_name"])
    book.active.append(["Omar"])
    buffer = io.BytesIO()
    book.save(buffer)
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/padding.bin", "w") as out,
    ):
        block = b"\0" * 2**20
        for _ in range(MAX_UNPACKED // len(block) + 1):
            out.write(block)
    data = buffer.getvalue()
    assert len(data) < MAX_UNPACKED // 100
    before = row_counts(database)
    reason = refused(upload(client, fmt, data, "people.xlsx", site_id=camp))
    assert reason == f"the zip unpacks to more than {MAX_UNPACKED // 2**20} MB: split it"
    assert row_counts(database) == before


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        (b"[]", "a mapping file is a JSON object (submission, member, repeat, values)"),
        (b'{"submission": 5}', "submission: an object of form field -> Corridor field (text)"),
        (b'{"member": {"m/name": 7}}', "member: an object of form field -> Corridor field (text)"),
        (b'{"repeat": 5}', "repeat: the name of the members' repeat (text)"),
        (b'{"values": []}', "values: an object of form field -> {choice: Corridor value}"),
    ],
)
def test_a_mapping_file_of_another_shape_is_named(client, database, camp, mapping, reason):
    """It was a 500 (an AttributeError reading it), and a traceback in the CLI."""
    before = row_counts(database)
    r = client.post(
        "/api/imports/kobo",
        params={"site_id": camp},
        files={
            "file": ("k.csv", b"head/given_name,_uuid\nOmar,u1\n"),
            "mapping": ("m.json", mapping),
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "mapping", "reason": reason}]
    assert row_counts(database) == before


@pytest.mark.parametrize("fmt", ["csv", "kobo"])
def test_a_file_with_a_header_and_no_record_writes_nothing_and_says_so(client, database, camp, fmt):
    """A header and no row (an export taken before any registration): it was answered
    ``written: true`` and left a site key made for nothing."""
    before = row_counts(database)
    header = "given_name,family_name"
    if fmt == "kobo":  # the columns of Corridor's form, which the default mapping reads
        from corridor.formats.kobo import KoboMapping

        header = ";".join(f'"{c}"' for c in [*KoboMapping.default().submission, "_uuid"])
    r = upload(client, fmt, f"{header}\r\n".encode(), "people.csv", site_id=camp)
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body["written"] and body["created"] == 0
    assert [(p["line"], p["reason"], p["fatal"]) for p in body["problems"]] == [
        (None, "the file holds no record: nothing to write", False)
    ]
    assert row_counts(database) == before
