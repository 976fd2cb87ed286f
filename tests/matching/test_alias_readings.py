"""Alias forms written in other Latin orthographies (issue 14, names-dev recall).

Somali writes the Arabic h (ح) as x and the ain (ع) as c before a vowel (Xasan,
Maxamed, Cabdi, Cumar); Indonesian and Malay write sh as sy (Rasyid, Hisyam) and, in
the spelling before 1972, ch as tj. Each row is a pair that must (1) compare as the
same name and (2) share a key a search fetches, so that a person registered under one
spelling is a candidate for a search with the other. Keys come only from names: the
last test checks that the new readings add no key of anything else.
"""

from __future__ import annotations

import pytest

from corridor.matching import MemoryIndex, PersonRecord
from corridor.matching.blocking import blocking_keys
from corridor.matching.candidates import FETCHED_PREFIXES
from corridor.matching.compare import DIFFERENT, SAME, SCRIPT, SIMILAR, SPELLING, UnitComparator
from corridor.matching.normalise import parse_name
from corridor.matching.variants import VariantTable

SAME_NAME = {SAME, SPELLING, SCRIPT}


@pytest.fixture(scope="module")
def comparator() -> UnitComparator:
    return UnitComparator(VariantTable.default())


def level(comparator: UnitComparator, a: str, b: str) -> str:
    ua, ub = parse_name(a), parse_name(b)
    assert len(ua) == 1 and len(ub) == 1, (a, [u.parts for u in ua], b, [u.parts for u in ub])
    return comparator.level(ua[0], ub[0])


def name_keys(name: str, query: bool) -> set[str]:
    keys = blocking_keys(PersonRecord("x", full_name=name), query=query)
    return {k for k in keys if k.startswith(FETCHED_PREFIXES)}


# Somali: x = h (ح), c = ain (ع) before a vowel.
SOMALI = [
    ("Xasan", "Hassan"),
    ("Xasan", "حسن"),
    ("Xuseen", "حسين"),
    ("Maxamed", "Mohamed"),
    ("Maxamed", "محمد"),
    ("Xirsi", "Hirsi"),
    ("Xaliimo", "Halima"),
    ("Cali", "Ali"),
    ("Cali", "علي"),
    ("Cumar", "Omar"),
    ("Cumar", "عمر"),
    ("Cusmaan", "Osman"),
    ("Cabdi", "Abdi"),
    ("Faadumo", "Fadumo"),
]
# Indonesian/Malay: sy = sh, tj = ch (old spelling).
INDONESIAN = [
    ("Rasyid", "Rashid"),
    ("Rasyid", "رشيد"),
    ("Hisyam", "Hisham"),
    ("Hisyam", "هشام"),
    ("Basyir", "Bashir"),
    ("Syarif", "Sharif"),
    ("Syarif", "شريف"),
    ("Musyarafah", "Musharafa"),
]
SAME_PAIRS = SOMALI + INDONESIAN

# Spellings these readings must not make one name.
NEAR_MISSES = [
    ("Xasan", "Qasim"),
    ("Cali", "Khalil"),
    ("Maxamed", "Mahmoud"),
    ("Syarif", "Saif"),
]


@pytest.mark.parametrize(("a", "b"), SAME_PAIRS)
def test_same_name(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), SAME_PAIRS)
def test_spellings_share_a_fetched_key(a: str, b: str) -> None:
    assert name_keys(a, query=True) & name_keys(b, query=False)
    assert name_keys(b, query=True) & name_keys(a, query=False)


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES)
def test_near_misses_are_not_the_same_name(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in (SIMILAR, DIFFERENT)
    assert level(comparator, b, a) in (SIMILAR, DIFFERENT)


@pytest.mark.parametrize(
    ("query", "registered"),
    [
        ("Maxamed Cumar Xirsi", "Mohamed Omar Hirsi"),
        ("Xirsi Cabdi Faarax", "Hirsi Abdi Farah"),
        ("Abdul Rasyid Basyir", "Abdul Rashid Bashir"),
        ("Hisyam Syarif", "Hisham Sharif"),
    ],
)
def test_a_search_in_another_orthography_finds_the_person_first(
    query: str, registered: str
) -> None:
    """In a registry where the person's names are all common, the alias spelt the
    Somali or Indonesian way still finds them first, by name alone."""
    idx = MemoryIndex()
    idx.add(PersonRecord("target", full_name=registered))
    first = registered.split()[0]
    others = ["Ahmed", "Yusuf", "Ibrahim", "Khalid", "Saleh", "Omar", "Ali", "Nur"]
    n = 0
    for a in others:
        for b in others:
            if a != b:
                n += 1
                idx.add(PersonRecord(f"o{n}", full_name=f"{first} {a} {b}"))
    found = idx.search(PersonRecord("q", full_name=query), top=3)
    assert found and found[0].record_id == "target"


def test_readings_add_only_name_keys() -> None:
    """A person's nationality, birth year and sex bring no key, whatever the readings."""
    rec = PersonRecord(
        "x", full_name="Maxamed Cabdi Rasyid", nationality="SOM", birth_year=1980, sex="m"
    )
    for key in blocking_keys(rec, query=True):
        assert key.startswith(("n:", "s:", "t:", "p:")), key
