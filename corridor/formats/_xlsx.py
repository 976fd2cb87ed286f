"""What a workbook's sheet holds beyond its cells' values, read from the sheet's XML
(openpyxl's read-only mode, which keeps memory low, gives values only): the merged
ranges (only the top-left cell holds the value), the hidden rows and columns (a filter
hides rows too), and the formulas that carry no computed value (a file written by a
program and never opened in a spreadsheet: openpyxl reads them as empty cells).

Also: one cell's value as the text a person typed (``text``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from corridor.formats.records import UnreadableFile

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CELL = re.compile(r"^([A-Z]{1,3})([0-9]+)$")
# Spreadsheets keep 15 significant digits of a number: a longer one was rounded.
EXACT_DIGITS = 15


@dataclass
class Layout:
    """One sheet's merged ranges (first column, first row, last column, last row),
    hidden rows and columns (numbered from 1), and the cells (row, column) holding a
    formula with no computed value."""

    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)
    unvalued: list[tuple[int, int]] = field(default_factory=list)


def layout(sheet: Any) -> Layout:
    """The layout of a read-only openpyxl worksheet, from its XML in one streaming pass."""
    out = Layout()
    if not _marked(sheet):
        return out
    try:
        with sheet._get_source() as source:
            row_number = 0
            rows: Any = None  # sheetData: each row is dropped from it once read
            for event, element in iterparse(source, events=("start", "end"), forbid_dtd=True):
                tag = element.tag
                if event == "start":
                    if tag == f"{_NS}sheetData":
                        rows = element
                elif tag == f"{_NS}row":
                    row_number = int(element.get("r") or row_number + 1)
                    if _true(element.get("hidden")):
                        out.hidden_rows.add(row_number)
                    _formulas(element, row_number, out.unvalued)
                    element.clear()
                    if rows is not None:
                        rows.remove(element)
                elif tag == f"{_NS}col" and _true(element.get("hidden")):
                    low, high = int(element.get("min", 0)), int(element.get("max", 0))
                    out.hidden_columns.update(range(low, min(high, 16384) + 1))
                elif tag == f"{_NS}mergeCell":
                    out.merged.append(_bounds(element.get("ref", "")))
    except (DefusedXmlException, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"not an XLSX workbook ({type(exc).__name__})") from exc
    return out


# What a sheet's XML holds only when it has a formula, a hidden row or column, or a
# merged range (an element's name may carry a prefix: ``<x:f>``).
_MARKS = re.compile(rb"<(?:[A-Za-z0-9_]+:)?f[\s>/]|hidden|mergeCell")
_CHUNK = 1 << 20


def _marked(sheet: Any) -> bool:
    """Whether the sheet's XML may hold anything ``layout`` looks for: a scan of its
    bytes, much faster than parsing them, for the sheets (most) that hold none."""
    tail = b""
    with sheet._get_source() as source:
        while chunk := source.read(_CHUNK):
            if _MARKS.search(tail + chunk):
                return True
            tail = chunk[-32:]
    return False


def _formulas(row: Any, number: int, into: list[tuple[int, int]]) -> None:
    column = 0
    for cell in row.iter(f"{_NS}c"):
        place = _CELL.match(cell.get("r") or "")
        column = _column(place.group(1)) if place else column + 1
        if cell.find(f"{_NS}f") is None:
            continue
        # No value, or an empty one where the formula's type is not text (openpyxl
        # writes ``<v/>``; a spreadsheet writes ``t="str"`` and an empty value for "").
        value = cell.find(f"{_NS}v")
        if value is None or (not value.text and cell.get("t") != "str"):
            into.append((number, column))


def _true(value: str | None) -> bool:
    return value in ("1", "true")


def _column(letters: str) -> int:
    n = 0
    for char in letters:
        n = n * 26 + ord(char) - ord("A") + 1
    return n


def _bounds(ref: str) -> tuple[int, int, int, int]:
    first, _, last = ref.upper().partition(":")
    a, b = _CELL.match(first), _CELL.match(last or first)
    if not a or not b:
        raise ValueError(ref)
    return _column(a.group(1)), int(a.group(2)), _column(b.group(1)), int(b.group(2))


def letters(column: int) -> str:
    """A column's letters (1 is A, 27 is AA)."""
    out = ""
    while column:
        column, rest = divmod(column - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def cell_name(column: int, row: int) -> str:
    return f"{letters(column)}{row}"


def range_name(bounds: tuple[int, int, int, int]) -> str:
    c1, r1, c2, r2 = bounds
    return f"{cell_name(c1, r1)}:{cell_name(c2, r2)}"


def text(value: Any, number_format: str = "General") -> str:
    """A cell's value as the text it shows: a whole number without ``.0``, its leading
    zeros kept when its format shows them (``000123`` typed into a cell formatted
    ``000000``); a date as ``YYYY-MM-DD``.

    >>> text(1980.0), text(123, "000000"), text(datetime(1980, 5, 1)), text(None)
    ('1980', '000123', '1980-05-01', '')
    >>> text(12345678901234567.0)
    '1.23456789012346E+16'

    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and abs(value) >= 10**EXACT_DIGITS:
        return f"{value:.{EXACT_DIGITS}G}"  # as a spreadsheet shows it: rounded
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and number_format and set(number_format) == {"0"}:
        return str(value).zfill(len(number_format))
    return str(value)
