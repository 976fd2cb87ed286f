"""Persons as a table (CSV or XLSX) for partners: the benchmark's person columns plus
Corridor's ids.

Columns (any may be empty): ``record_id`` (Corridor's person id on export; on import a
Corridor id updates that person, anything else is the partner's own id), ``registration_number``,
``site_id``, ``household_id``, then the person CSV columns of the matching benchmark,
then ``changed_at`` (when the person last changed in Corridor, on export; on import, a
row older than the person's last change overwrites nothing changed since).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from corridor.formats import _csv, _xlsx, sheets
from corridor.formats._zip import check_unpacked
from corridor.formats.cells import neutralise, restore, rounded
from corridor.formats.records import Issue, Parsed, Record, UnreadableFile, decode_text, split_chain
from corridor.formats.registry import Format, ReadContext, SheetWriter, WriteContext, Writer
from corridor.text import N_

CORRIDOR_COLUMNS = ("record_id", "registration_number", "site_id", "household_id")
PERSON_COLUMNS = (
    "full_name",
    "given_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "name_original_script",
    "sex",
    "birth_year",
    "nationality",
    "place_of_birth",
    "mother_name",
)
# When the person last changed in Corridor, as exported (ISO 8601, UTC): a row read
# back later writes no field the person's record changed since (``imports``).
CHANGED_AT = "changed_at"
COLUMNS = CORRIDOR_COLUMNS + PERSON_COLUMNS + (CHANGED_AT,)
NAME_PARTS = ("given_name", "father_name", "grandfather_name", "family_name")
SEXES = {"m": "m", "male": "m", "f": "f", "female": "f"}


def read_csv(data: bytes) -> Parsed:
    """Persons from a UTF-8, comma-separated file with a header row."""
    text = decode_text(data)
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    return _read_rows("csv", _csv.rows(text, delimiter))


def read_xlsx(data: bytes) -> Parsed:
    """Persons from the first sheet of a workbook, header in row 1, read as the sheet
    shows them (``_xlsx.ShownRows``); other sheets holding data are named in a warning."""
    book = open_workbook(data)
    try:
        if not book.worksheets:
            raise UnreadableFile("the workbook has no sheet")
        sheet = book.worksheets[0]
        rows = _xlsx.ShownRows(sheet)
        parsed = _read_rows("xlsx", iter(rows), _xlsx.letters)
        _report(rows, parsed)
        others = [ws.title for ws in book.worksheets[1:] if _holds_data(ws)]
    finally:
        book.close()
    if others:
        parsed.issues.append(
            Issue(
                None,
                None,
                N_(
                    "only the first sheet ({sheet}) is read; these sheets also hold data, "
                    "which is not imported (import each as a file of its own): {others}",
                    sheet=repr(sheet.title),
                    others=", ".join(map(repr, others)),
                ),
                fatal=False,
            )
        )
    return parsed


def open_workbook(data: bytes) -> Any:
    """A workbook to read (read-only, values), refused as a whole when it is not one or
    would unpack to more than ``_zip.MAX_UNPACKED``."""
    from openpyxl import load_workbook

    try:
        check_unpacked(zipfile.ZipFile(io.BytesIO(data)))
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UnreadableFile:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise UnreadableFile(f"not an XLSX workbook ({type(exc).__name__})") from exc


def _holds_data(sheet: Any) -> bool:
    return any(v not in (None, "") for row in sheet.iter_rows(values_only=True) for v in row)


def _report(rows: _xlsx.ShownRows, parsed: Parsed) -> None:
    """Add what the sheet hides (``_xlsx.ShownRows``) in the table's columns to
    ``parsed``; an error in the header leaves no record."""
    names = [h.strip().lower() for h in rows.header]
    known = {n: name for n, name in enumerate(names, start=1) if name in COLUMNS}
    issues = [
        Issue(f.row, known.get(f.column) if f.column else None, f.reason, f.fatal)
        for f in rows.findings(known)
    ]
    parsed.issues.extend(issues)
    if any(i.fatal and i.line == 1 for i in issues):
        parsed.records.clear()  # the header itself cannot be read as it shows


def _read_rows(
    source: str, rows: Iterator[tuple[int, list[str]]], label: Callable[[int], str] = str
) -> Parsed:
    """The records of a table's rows; ``label`` names a column by its number (1: the
    first) in a warning."""
    parsed = Parsed(source)
    try:
        _, header = next(rows)
    except StopIteration:
        parsed.issues.append(Issue(None, None, "the file is empty"))
        return parsed
    names = [h.strip().lower() for h in header]
    twice = _given_twice(names)
    if twice:
        # Which of the two cells is meant cannot be known: the file is not read.
        parsed.issues.extend(Issue(1, name, reason) for name, reason in twice)
        return parsed
    unknown = [h for h in names if h and h not in COLUMNS and h != "query_id"]
    for h in unknown:
        parsed.issues.append(Issue(1, h, "unknown column, ignored", fatal=False))
    if not set(names) & {"full_name", *NAME_PARTS, "name_original_script"}:
        parsed.issues.append(Issue(1, None, "no name column (full_name, given_name...)"))
        return parsed
    seen: dict[str, int] = {}
    unnamed = {n for n, name in enumerate(names) if not name}
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names):
            parsed.issues.append(Issue(line, None, f"{len(cells)} cells for {len(names)} columns"))
            continue
        for n in sorted(n for n in unnamed if cells[n].strip()):
            # Typed under no header: said once per column, with the first row that does.
            unnamed.discard(n)
            reason = N_("column {column} has no header: its cells are ignored", column=label(n + 1))
            parsed.issues.append(Issue(line, None, reason, fatal=False))
        if len(cells) < len(names) and any(names[len(cells) :]):
            # A comma left out shifts every later cell: said, since it cannot be told
            # from a writer that leaves trailing empty cells out.
            reason = N_(
                "{cells} cells for {columns} columns: the last columns are read as empty",
                cells=len(cells),
                columns=len(names),
            )
            parsed.issues.append(Issue(line, None, reason, fatal=False))
        row = {n: restore(c.strip()) for n, c in zip(names, cells, strict=False) if n}
        for name in CORRIDOR_COLUMNS:
            if shown := rounded(row.get(name, "")):
                parsed.issues.append(Issue(line, name, shown))
        record = row_record(line, row, parsed.issues)
        if record.key:
            if record.key in seen:
                parsed.issues.append(
                    Issue(line, "record_id", f"duplicate id, first on line {seen[record.key]}")
                )
                continue
            seen[record.key] = line
        parsed.records.append(record)
    return parsed


def _given_twice(names: Sequence[str]) -> list[tuple[str, str]]:
    """Each column named more than once, with where (columns counted from 1)."""
    places: dict[str, list[int]] = {}
    for n, name in enumerate(names, start=1):
        if name:
            places.setdefault(name, []).append(n)
    return [
        (name, f"the column is given twice (columns {' and '.join(map(str, at))})")
        for name, at in places.items()
        if len(at) > 1
    ]


def row_record(line: int, row: Mapping[str, str], issues: list[Issue]) -> Record:
    """One table row as a record (problems of shape go to ``issues``)."""
    person: dict[str, Any] = {p: row[p] for p in NAME_PARTS if row.get(p)}
    full = row.get("full_name", "")
    if full and not person:
        person.update(split_chain(full))
    elif full:
        chain = " ".join(person.get(p, "") for p in NAME_PARTS).split()
        if full.split() != chain:
            person["alternate_names"] = [full]
    original = row.get("name_original_script", "")
    if original:
        person.update({f"{k}_original": v for k, v in split_chain(original).items()})
    sex = row.get("sex", "").lower()
    if sex:
        if sex in SEXES:
            person["sex"] = SEXES[sex]
        else:
            issues.append(Issue(line, "sex", f"use m or f (got {sex!r})"))
    year = row.get("birth_year", "")
    if year:
        if year.isdigit() and len(year) == 4:
            person["birth_date"] = year
        else:
            issues.append(Issue(line, "birth_year", f"a four-digit year (got {year!r})"))
    if row.get("nationality"):
        person["nationality"] = row["nationality"].upper()
    if row.get("place_of_birth"):
        person["origin_locality"] = row["place_of_birth"]
    if row.get("mother_name"):
        person["mother_name"] = row["mother_name"]
    record_id = row.get("record_id") or None
    changed_at = _moment(row.get(CHANGED_AT, ""), line, issues)
    return Record(
        line=line,
        person=person,
        key=record_id,
        corridor_id=record_id,
        site_id=row.get("site_id") or None,
        household=row.get("household_id") or None,
        registration_number=row.get("registration_number") or None,
        changed_at=changed_at,
    )


def _moment(text: str, line: int, issues: list[Issue]) -> datetime | None:
    """A ``changed_at`` cell: an ISO 8601 date and time (UTC unless it says)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        reason = N_(
            "not a date and time as Corridor exports it (2026-12-07T09:30:00+00:00): "
            "got {text}; empty the cell to apply the row as a partner's",
            text=repr(text),
        )
        issues.append(Issue(line, CHANGED_AT, reason))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def export_row(person: Mapping[str, Any]) -> dict[str, Any]:
    """A stored person (the ``persons`` row, with ``registration_number`` formatted) as
    a table row. Fields the table has no column for are not exported."""
    latin = " ".join(person[p] for p in NAME_PARTS if person.get(p))
    original = " ".join(person[f"{p}_original"] for p in NAME_PARTS if person.get(f"{p}_original"))
    birth = person.get("birth_date")
    return {
        "record_id": person["id"],
        "registration_number": person.get("registration_number") or "",
        "site_id": person.get("site_id") or "",
        "household_id": person.get("household_id") or "",
        "full_name": latin,
        **{p: person.get(p) or "" for p in NAME_PARTS},
        "name_original_script": original,
        "sex": person.get("sex") or "",
        "birth_year": str(birth.year) if birth else "",
        "nationality": person.get("nationality") or "",
        "place_of_birth": person.get("origin_locality") or "",
        "mother_name": person.get("mother_name") or "",
        CHANGED_AT: _stamp(person.get("updated_at")),
    }


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def write_csv(rows: Iterable[Mapping[str, Any]], out: io.TextIOBase | Any) -> int:
    """Write rows (``export_row`` shapes) as CSV, formulas neutralised; the number written."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([neutralise(row.get(c, "")) for c in COLUMNS])
        n += 1
    return n


def write_xlsx(
    rows: Sequence[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    provenance: str | None = None,
) -> bytes:
    """The same table as a workbook; every cell is text, formulas neutralised;
    ``provenance`` (who exported it, when) in the workbook's description."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    if provenance:
        book.properties.description = provenance
        book.properties.creator = "Corridor"
    sheet = book.create_sheet("persons")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([neutralise(str(row.get(c, "") or "")) for c in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _read_csv(data: bytes, _: ReadContext) -> Parsed:
    return read_csv(data)


def _read_xlsx(data: bytes, _: ReadContext) -> Parsed:
    return read_xlsx(data)


def _write_csv(rows: Sequence[Mapping[str, Any]], _: WriteContext) -> bytes:
    out = io.StringIO()
    write_csv(rows, out)
    return out.getvalue().encode("utf-8")


def _write_xlsx(rows: Sequence[Mapping[str, Any]], context: WriteContext) -> bytes:
    return write_xlsx(rows, context.provenance)


XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = (
    Format(
        "csv",
        "persons, one a row (person CSV columns plus Corridor ids)",
        _read_csv,
        (".csv",),
        Writer(
            "table",
            _write_csv,
            N_("the partner person table (docs/formats.md), CSV"),
            "text/csv",
        ),
        id_space="table",
        sheet=SheetWriter(sheets.csv_bytes, "text/csv; charset=utf-8", ".csv"),
    ),
    Format(
        "xlsx",
        "the same table as a workbook (first sheet)",
        _read_xlsx,
        (".xlsx",),
        Writer(
            "table",
            _write_xlsx,
            N_("the partner person table (docs/formats.md), XLSX"),
            XLSX_MEDIA,
        ),
        id_space="table",
        sheet=SheetWriter(sheets.xlsx_bytes, XLSX_MEDIA, ".xlsx"),
    ),
)
