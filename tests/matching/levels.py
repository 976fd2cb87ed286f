"""Checks shared by the spelling tables of the matching tests: the level of two
one-unit names, and an enquiry that must find its person first."""

from __future__ import annotations

from corridor.matching import MemoryIndex, PersonRecord
from corridor.matching.compare import SAME, SCRIPT, SPELLING, UnitComparator
from corridor.matching.normalise import parse_name

SAME_NAME = {SAME, SPELLING, SCRIPT}


def level(comparator: UnitComparator, a: str, b: str) -> str:
    """The comparator's level for ``a`` and ``b``, each parsed as exactly one unit."""
    ua, ub = parse_name(a), parse_name(b)
    assert len(ua) == 1 and len(ub) == 1, (a, [u.parts for u in ua], b, [u.parts for u in ub])
    return comparator.level(ua[0], ub[0])


def found_first(registry: list[PersonRecord], query: PersonRecord, expected: str) -> set[str]:
    """Assert that ``query`` finds ``expected`` first in ``registry``, likely (p >= 0.5)
    and ahead of every other candidate; return the levels of its explanation."""
    matches = MemoryIndex(registry).search(query, top=3)
    assert matches and matches[0].record_id == expected, [
        (m.record_id, m.probability) for m in matches]
    assert matches[0].probability >= 0.5
    assert all(m.probability < matches[0].probability for m in matches[1:])
    return {str(e.level) for e in matches[0].explanation}
