"""The figures routes of the route table, and what an answer of theirs calls a count.

Shared by the checks generated from the route table: small counts withheld
(tests/api/test_route_table_protection.py) and no withheld count worked out by comparing
answers (tests/api/test_figures_differencing.py).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from fastapi import FastAPI

from tests.support.route_table import RouteCase, all_routes

# Routes of ``figures.read`` that count no persons (every other one is checked).
NOT_PERSON_COUNTS = {
    "GET /api/sites": "the sites' details: a capacity, no count of persons",
    "GET /api/sites/{site_id}": "a site's details: a capacity, no count of persons",
}
# What an answer of figures calls a count: numbers of its JSON (but a site's details and
# the dates), of a page's figures, table cells and chart labels, and a CSV's count columns.
NOT_COUNTS = {"site", "suppressed_below", "as_of", "from", "to", "date"}
PAGE_COUNTS = (
    re.compile(r"<td>([\d,]+)</td>"),
    re.compile(r'<td data-figure="[^"]*">([\d,]+)</td>'),
    re.compile(r'<strong data-figure="[^"]*">([\d,]+)</strong>'),
    re.compile(r"<text[^>]*>([\d,]+)</text>"),
    re.compile(r"<title>[^<]*: ([\d,]+)</title>"),
)
HXL_FIRST_COUNT = 7  # the "Total" column (corridor/formats/hxl.py HEADER)


def figure_routes(cases: list[RouteCase]) -> list[RouteCase]:
    """The routes of ``figures.read`` that read counts of persons."""
    return [
        c
        for c in cases
        if c.action == "figures.read" and c.reads and c.key not in NOT_PERSON_COUNTS
    ]


def query_params(app: FastAPI, case: RouteCase) -> tuple[str, ...]:
    """The query parameters (as sent: their aliases) a route takes."""
    for route in all_routes(app):
        if route.path == case.path and case.method in (route.methods or ()):
            return tuple(q.alias for q in route.dependant.query_params)
    raise AssertionError(f"{case.key} is not in the app's route table")


def counts(text: str, data: Any) -> list[int]:
    """The counts of a figures answer: ``data`` its JSON (None: a page or a CSV file)."""
    if data is not None:
        out: list[int] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    if k not in NOT_COUNTS:
                        walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, int) and not isinstance(value, bool):
                out.append(value)

        walk(data)
        return out
    if text.lstrip().startswith("<"):
        return [int(n.replace(",", "")) for rx in PAGE_COUNTS for n in rx.findall(text)]
    rows = list(csv.reader(io.StringIO(text)))[2:]  # a header row, a row of hashtags
    return [int(v) for row in rows for v in row[HXL_FIRST_COUNT:] if v.isdigit()]
