"""A list exported as a file (a list that names nobody: the manifests), for the API and
the pages alike: the format path parameter, offered from the format registry's table
formats, and the answer to be saved."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from fastapi.responses import Response

from corridor.formats.registry import sheets
from corridor.services.protection.gate import ListFile

SHEETS = [f.name for f in sheets()]
SHEET_MEDIA = sorted({f.sheet.media_type for f in sheets() if f.sheet})
SheetFormat = Annotated[
    str,
    Path(
        pattern=f"^(?:{'|'.join(map(re.escape, SHEETS))})$",
        json_schema_extra={"enum": SHEETS},
        description="A table format of the format registry",
    ),
]


def list_file(table: ListFile, name: str) -> Response:
    """The file, to be saved (never cached); its rows in ``X-Total-Count``."""
    return Response(
        table.content,
        media_type=table.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="corridor-{name}{table.extension}"',
            "Cache-Control": "no-store",
            "X-Total-Count": str(table.rows),
        },
    )
