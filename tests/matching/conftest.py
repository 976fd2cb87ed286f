"""Fixtures shared by the matching tests."""

from __future__ import annotations

import pytest

from corridor.matching.compare import UnitComparator
from corridor.matching.variants import VariantTable


@pytest.fixture(scope="session")
def comparator() -> UnitComparator:
    """The engine's unit comparator with the shipped variant table (it caches levels)."""
    return UnitComparator(VariantTable.default())
