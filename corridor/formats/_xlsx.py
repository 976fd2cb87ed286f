"""What a workbook's sheet holds beyond its cells' values, read from the sheet's XML
(openpyxl's read-only mode, which keeps memory low, gives values only): the merged
ranges (only the top-left cell holds the value), the hidden rows and columns (a filter
hides rows too), and the formulas that carry no computed value (a file written by a
program and never opened in a spreadsheet: openpyxl reads them as empty cells).

Also: one cell's value as the text a person typed (``text``), and a sheet's rows as a
person sees them with what they hide (``ShownRows``), which every XLSX importer reads
(the person table, Kobo exports)."""

from __future__ import annotations

import re
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from corridor.formats.records import UnreadableFile
from corridor.text import N_

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


@dataclass(frozen=True)
class Finding:
    """What a sheet shows that its values alone hide, at a row and column (numbered from
    1; column None: the whole row). ``fatal``: the row cannot be read as it shows."""

    row: int
    column: int | None
    reason: str
    fatal: bool


class ShownRows:
    """A sheet's rows as a person sees them on screen, and what the values alone hide:

    - a formula with no computed value (a file written by a program, never opened in
      a spreadsheet) is an error on its row and column, not an empty cell;
    - a range merged down one column (a family name or household id over the rows of a
      household) gives its value to each of its rows, as it shows, with a warning; one
      merged across columns, or with the header, is an error on each of its rows (which
      column the value is meant for cannot be known);
    - hidden or filtered-out rows are read like the others, and named in a warning, as
      are hidden columns;
    - a number of more than 15 digits, which a spreadsheet has rounded, reads as it
      shows (``1.23456789012346E+16``: ``cells.rounded`` names it); whole numbers lose
      their ``.0``, and a format of zeros keeps leading zeros.

    Iterate it for (row number, cells); then ``findings`` says what was found in the
    columns the importer reads (problems elsewhere are left out).
    """

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.shape = layout(sheet)
        self.header: list[str] = []
        # (row, column, reason, fatal).
        self.found: list[tuple[int, int, str, bool]] = []
        self.hidden: list[int] = []
        self.down: dict[tuple[int, int], tuple[int, int]] = {}
        for bounds in self.shape.merged:
            c1, r1, c2, r2 = bounds
            cells = range_name(bounds)
            if c1 != c2 or r1 == 1 < r2:
                reason = (
                    N_("cells {cells} are merged across columns: unmerge them", cells=cells)
                    if c1 != c2
                    else N_(
                        "cells {cells} merge the header with rows below: unmerge them", cells=cells
                    )
                )
                # The header's problem stops the file: said once, on line 1.
                last = r1 if r1 == 1 else r2
                self.found += [(r, c1, reason, True) for r in range(r1, last + 1)]
            elif r2 > r1:
                self.down.update({(r, c1): (r1, r2) for r in range(r1, r2 + 1)})
        for row, column in self.shape.unvalued:
            reason = N_(
                "cell {cell} holds a formula with no computed value: open and save the "
                "file in a spreadsheet program, or paste values",
                cell=cell_name(column, row),
            )
            self.found.append((row, column, reason, True))

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        tops: dict[tuple[int, int], str] = {}
        down = self.down
        for line, row in enumerate(self.sheet.iter_rows(), start=1):
            cells = []
            for column, cell in enumerate(row, start=1):
                value = cell.value
                if isinstance(value, str):
                    shown = value
                elif isinstance(value, int):  # its format may show leading zeros
                    shown = text(value, getattr(cell, "number_format", "") or "")
                else:
                    shown = text(value)
                if down:
                    merged = down.get((line, column))
                    if merged and merged[0] == line:
                        tops[(line, column)] = shown
                    elif merged:
                        shown = tops.get((merged[0], column), "")
                cells.append(shown)
            if line == 1:
                self.header = cells
            elif line in self.shape.hidden_rows and any(c.strip() for c in cells):
                self.hidden.append(line)
            yield line, cells

    def findings(self, read: Container[int]) -> list[Finding]:
        """What was found in the header and in the columns ``read`` (numbered from 1):
        errors by row and column, then merged ranges, hidden rows, hidden columns."""
        out = [
            Finding(row, column, reason, fatal)
            for row, column, reason, fatal in sorted(self.found, key=lambda f: f[:2])
            if row == 1 or column in read
        ]
        for c1, r1, c2, r2 in self.shape.merged:
            if c1 == c2 and r2 > r1 > 1 and c1 in read:
                reason = N_(
                    "cells {cells} are merged: the value of {cell} is taken for each of "
                    "rows {first} to {last}",
                    cells=range_name((c1, r1, c2, r2)),
                    cell=cell_name(c1, r1),
                    first=r1,
                    last=r2,
                )
                out.append(Finding(r1, c1, reason, False))
        for first, last in runs(self.hidden):
            hidden = (
                N_("row {row} is hidden in the spreadsheet (or filtered out)", row=first)
                if first == last
                else N_(
                    "rows {first} to {last} are hidden in the spreadsheet (or filtered out)",
                    first=first,
                    last=last,
                )
            )
            reason = N_("{hidden}: imported like the others", hidden=hidden)
            out.append(Finding(first, None, reason, False))
        for column in sorted(c for c in self.shape.hidden_columns if c in read):
            reason = N_("the column is hidden in the spreadsheet: it is imported like the others")
            out.append(Finding(1, column, reason, False))
        return out


def runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive numbers as (first, last) runs.

    >>> runs([3, 4, 5, 9])
    [(3, 5), (9, 9)]
    """
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out
