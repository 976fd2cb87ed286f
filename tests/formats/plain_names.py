"""A format that exists only in the tests: one family name a line, to show that a new
format is one module plus one line in the registry (tests/formats/test_registry.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corridor.formats.registry import Format, WriteContext, Writer


def _write(rows: Sequence[Mapping[str, Any]], context: WriteContext) -> bytes:
    lines = [f"# {context.provenance}"] + [str(r.get("family_name") or "") for r in rows]
    return "\n".join(lines).encode("utf-8")


FORMATS = (
    Format(
        "names",
        "family names, one a line",
        write=Writer("table", _write, "family names of the partner table", "text/plain"),
    ),
)
