"""Reading CSV text strictly: a quote left open or a cell too long to read refuses the
file with the line it starts on, instead of swallowing every later row into one cell
(Python's lenient reader) or failing with the ``csv`` module's own error."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import islice

from corridor.formats.records import UnreadableFile


def rows(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted cell may hold line breaks).

    >>> list(rows('a,b\\n"x\\ny",z\\nc,d\\n'))
    [(1, ['a', 'b']), (2, ['x\\ny', 'z']), (4, ['c', 'd'])]
    >>> list(rows('a,b\\n"x,y\\nc,d\\n'))
    Traceback (most recent call last):
    ...
    corridor.formats.records.UnreadableFile: line 2: a quoted cell is never closed
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableFile(f"line {start}: {_reason(str(exc), text, start)}") from exc
        yield start, record


def _reason(message: str, text: str, line: int) -> str:
    if message.startswith("unexpected end of data"):
        return "a quoted cell is never closed"
    if message.startswith("field larger than field limit"):
        # A quote left open reads on until the limit, when the file is long enough.
        first = next(islice(io.StringIO(text, newline=""), line - 1, None), "")
        if first.count('"') % 2:
            return "a quoted cell is never closed"
        return f"a cell longer than {csv.field_size_limit()} characters"
    if "expected after '\"'" in message:
        return "text after the closing quote of a cell (a quote inside a cell is written twice)"
    return f"not readable as CSV ({message})"
