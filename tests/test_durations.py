"""The suite's files run longest first (tests/support/durations.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import durations


@dataclass
class Item:
    nodeid: str


def test_files_run_longest_first_each_whole_and_in_its_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files by their measured seconds, longest first; a file not measured reckoned at
    ``PER_TEST`` a test; each file's tests together, in their own order."""
    monkeypatch.setattr(durations, "measured", lambda: {"a.py": 1.0, "b.py": 50.0})
    monkeypatch.setattr(durations, "PER_TEST", 0.3)
    names = ("a.py::t1", "b.py::t1", "a.py::t2", "c.py::t1", "b.py::t2", "c.py::t2", "c.py::t3",
             "c.py::t4")  # fmt: skip
    items: list[Any] = [Item(n) for n in names]
    durations.longest_first(items)
    assert [i.nodeid for i in items] == [
        "b.py::t1", "b.py::t2",  # 50 s
        "c.py::t1", "c.py::t2", "c.py::t3", "c.py::t4",  # not measured: 4 x 0.3 s
        "a.py::t1", "a.py::t2",  # 1 s
    ]  # fmt: skip
