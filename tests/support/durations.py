"""The order the suite's files run in: the longest first.

``make test`` shares the suite out a file at a time (``--dist loadfile``: a file's tests
share their world) and hands a worker its next file as it finishes one, in the order of
the collection (``--no-loadscope-reorder``; xdist's own order, by number of tests, put
the files of a few long tests, such as the evacuation drill over every route, last,
leaving one core idle for minutes at the end). Longest first, the last files to start
are short ones, and the workers end together.

``tests/durations.json`` holds each file's seconds, measured (``python -m
tests.support.durations REPORT.xml`` writes it from a junit report of a whole run:
``pytest --junitxml REPORT.xml``); a file not in it is reckoned at ``PER_TEST`` seconds
a test.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

FILE = Path(__file__).parent.parent / "durations.json"
PER_TEST = 0.2


def measured() -> dict[str, float]:
    """Each file's seconds (its path from the repository's root), as last measured."""
    return json.loads(FILE.read_text()) if FILE.exists() else {}


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` in place: files by their seconds, longest first; a file's tests
    together and in their order."""
    seconds = measured()
    files: dict[str, list[pytest.Item]] = defaultdict(list)
    for item in items:
        files[item.nodeid.split("::", 1)[0]].append(item)

    def cost(path: str) -> float:
        return seconds.get(path, PER_TEST * len(files[path]))

    items[:] = [item for path in sorted(files, key=lambda p: -cost(p)) for item in files[path]]


def from_junit(report: Path) -> dict[str, float]:
    """Each test file's seconds in a junit report (its cases' times, setup included)."""
    out: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname") or ""
        path = module.replace(".", "/") + ".py"
        while "/" in path and not Path(path).exists():
            # A test class: tests/api/test_x/TestY.py -> tests/api/test_x.py
            path = path.rsplit("/", 1)[0] + ".py"
        out[path] += float(case.get("time") or 0)
    return {p: round(s, 1) for p, s in sorted(out.items()) if Path(p).exists()}


if __name__ == "__main__":
    FILE.write_text(json.dumps(from_junit(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")
