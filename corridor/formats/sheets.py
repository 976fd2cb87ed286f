"""Any table as a file: a header row, then rows of text (a list that names nobody, such
as the manifests list). Cells that a spreadsheet program would run as formulas are
neutralised (``cells.neutralise``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from corridor.formats.cells import neutralise


def _cell(value: Any) -> str:
    return "" if value is None else str(neutralise(str(value)))


def csv_bytes(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], provenance: str | None
) -> bytes:
    """UTF-8 CSV with a header row (``provenance`` is kept out: a CSV has no place for it
    that every program skips)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], provenance: str | None
) -> bytes:
    """A workbook of one sheet, every cell text; ``provenance`` in its description."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    if provenance:
        book.properties.description = provenance
        book.properties.creator = "Corridor"
    sheet = book.create_sheet("list")
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
