"""Corridor's own records as JSON lines: one person a line, as the exporter may see them.

Write only: the rows are the gate's read models (withheld fields are ``null`` and named
in ``withheld``), so the file holds nothing its exporter could not open on a page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from corridor.formats.registry import Format, WriteContext, Writer
from corridor.text import N_


def write(persons: Sequence[Mapping[str, Any]], _: WriteContext) -> bytes:
    """One JSON object a line, UTF-8, scripts kept as written."""
    return "\n".join(json.dumps(p, ensure_ascii=False) for p in persons).encode("utf-8")


FORMATS = (
    Format(
        "jsonl",
        "Corridor's own records, one JSON object a line",
        extensions=(".jsonl",),
        write=Writer(
            "shown",
            write,
            N_("persons as Corridor shows them to the exporter, one JSON object a line"),
            "application/jsonl",
        ),
    ),
)
