"""Registration submissions from KoboToolbox and ODK Central exports, through a mapping.

Three shapes of the same data come in:

- Kobo XLSX: the first sheet holds submissions (``_uuid``, ``_index``); each repeat has
  its own sheet (name cut to 31 characters) whose rows point back with ``_parent_index``
  and ``_submission__uuid``.
- Kobo CSV: ``;``-separated, fully quoted, group paths joined with ``/`` (or ``.``);
  repeats are not in it.
- ODK Central CSV zip: ``<form>.csv`` plus ``<form>-<repeat>.csv``, group paths joined with
  ``-``, repeats linked by ``PARENT_KEY`` to the submission's ``KEY``.

Column names are read as paths whatever the separator, and matched to the mapping by
name (column order changes between form versions): the whole path first, else the last
part when only one column ends so. A submission with repeat rows is a household (the
submission's fields are the head); its uuid is its id, so importing it again changes
nothing.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from corridor.formats import _csv
from corridor.formats._zip import MAX_UNPACKED, TOO_LARGE, check_unpacked
from corridor.formats.kobo_mapping import KoboMapping, Submission, path, records
from corridor.formats.person_table import open_workbook
from corridor.formats.records import Parsed, UnreadableFile, decode_text
from corridor.formats.registry import Format, ReadContext

__all__ = ["FORMATS", "KoboMapping", "path", "read_kobo_csv", "read_kobo_xlsx", "read_odk_zip"]

UUID_COLUMNS = ("_uuid", "meta/instanceid", "instanceid", "key", "_submission__uuid")


# -- reading the three shapes ---------------------------------------------------------------


def read_kobo_xlsx(data: bytes, repeat: str | None) -> list[Submission]:

    book = open_workbook(data)
    sheets = [(ws.title, list(_sheet_rows(ws))) for ws in book.worksheets]
    book.close()
    if not sheets:
        raise UnreadableFile("the workbook has no sheet")
    _, main = sheets[0]
    subs = _submissions(main)
    if repeat:
        wanted = repeat[:31].lower()
        for title, rows in sheets[1:]:
            if title.lower() == wanted:
                _attach_by_index(subs, rows)
    return subs


def _sheet_rows(ws: Any) -> Iterator[list[str]]:
    for row in ws.iter_rows(values_only=True):
        yield [_cell(v) for v in row]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table(rows: list[list[str]]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if not rows:
        return [], []
    header = [path(h) for h in rows[0]]
    body = []
    for n, cells in enumerate(rows[1:], start=2):
        if any(c.strip() for c in cells):
            body.append((n, {h: c.strip() for h, c in zip(header, cells, strict=False) if h}))
    return header, body


def _uuid(row: Mapping[str, str]) -> str | None:
    for column in UUID_COLUMNS:
        if row.get(column):
            return row[column].removeprefix("uuid:")
    return None


def _submissions(rows: list[list[str]]) -> list[Submission]:
    _, body = _table(rows)
    return [Submission(line, _uuid(row), row) for line, row in body]


def _attach_by_index(subs: list[Submission], rows: list[list[str]]) -> None:
    by_index = {s.fields.get("_index"): s for s in subs}
    by_uuid = {s.uuid: s for s in subs if s.uuid}
    _, body = _table(rows)
    for line, row in body:
        parent = by_uuid.get(row.get("_submission__uuid", "")) or by_index.get(
            row.get("_parent_index")
        )
        if parent is not None:
            parent.members.append((line, row))


def read_kobo_csv(data: bytes) -> list[Submission]:
    text = decode_text(data)
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    return _submissions([cells for _, cells in _csv.rows(text, delimiter)])


def read_odk_zip(data: bytes, repeat: str | None) -> list[Submission]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("not a zip file") from exc
    names = sorted(n for n in archive.namelist() if n.lower().endswith(".csv"))
    if not names:
        raise UnreadableFile("no CSV file in the zip")
    check_unpacked(archive, names)
    stems = {PurePosixPath(n).stem: n for n in names}
    main_name = min(stems, key=len)
    subs = _submissions(_csv_rows(_unpack(archive, stems[main_name])))
    if repeat:
        repeat_file = stems.get(f"{main_name}-{repeat}")
        if repeat_file:
            by_key = {s.fields.get("key"): s for s in subs}
            _, body = _table(_csv_rows(_unpack(archive, repeat_file)))
            for line, row in body:
                parent = by_key.get(row.get("parent_key"))
                if parent is not None:
                    parent.members.append((line, row))
    return subs


def _unpack(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as member:
            data = member.read(MAX_UNPACKED + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # corrupt, or not its stated size
        raise UnreadableFile(f"{name} in the zip cannot be unpacked ({exc})") from exc
    if len(data) > MAX_UNPACKED:
        raise UnreadableFile(TOO_LARGE)
    return data


def _csv_rows(data: bytes) -> list[list[str]]:
    return [cells for _, cells in _csv.rows(decode_text(data))]


# -- the registry entry -----------------------------------------------------------------------


def _read(data: bytes, context: ReadContext) -> Parsed:
    mapping = context.mapping if isinstance(context.mapping, KoboMapping) else KoboMapping.default()
    name = context.filename.lower()
    if name.endswith(".zip") or data[:2] == b"PK" and not name.endswith(".xlsx"):
        if not name.endswith(".zip") and _is_xlsx(data):
            return records(read_kobo_xlsx(data, mapping.repeat), mapping, "kobo")
        return records(read_odk_zip(data, mapping.repeat), mapping, "odk")
    if name.endswith(".xlsx"):
        return records(read_kobo_xlsx(data, mapping.repeat), mapping, "kobo")
    return records(read_kobo_csv(data), mapping, "kobo")


def _is_xlsx(data: bytes) -> bool:
    try:
        return "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False


FORMATS = (
    Format(
        "kobo",
        "KoboToolbox XLSX or CSV export, or ODK Central CSV zip, through a mapping",
        _read,
        (".xlsx", ".csv", ".zip"),
        sources=("odk",),
    ),
)
