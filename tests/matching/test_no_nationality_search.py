"""No search by nationality (issue 11, item 3): a name that belongs to nobody, with a
rare nationality and any birth year, brings in no candidate.

A candidate must share a name (any script or spelling) or an identifier with the query;
nationality, birth year, sex and origin only weigh a candidate found that way. The
registry below holds persons of several rare nationalities born every year from 1940 to
2010 among Syrians and Iraqis, as a real registry would; the queries walk every
nationality and every year with names that are nobody's.
"""

from __future__ import annotations

import random

import pytest

from corridor.matching import CandidatePolicy, MemoryIndex, PersonRecord, blocking_key_groups
from corridor.matching.blocking import blocking_keys
from corridor.matching.candidates import EXACT_PREFIXES, NAME_PREFIXES

YEARS = range(1940, 2011)
# Nationalities that are rare among registrants in north-east Syria (ISO 3166-1 alpha-3),
# each with names its nationals bear.
RARE = {
    "GBR": (["John", "Thomas", "Jack", "Oliver", "Sally"], ["Letts", "Cooper", "Walsh", "Morgan"]),
    "RUS": (["Ivan", "Sergei", "Olga", "Dmitri", "Ruslan"], ["Petrov", "Volkov", "Sokolov"]),
    "LBY": (["Salem", "Faraj", "Nouri", "Milad", "Aisha"], ["Zlitni", "Warfalli", "Misrati"]),
    "AFG": (["Gulbuddin", "Zabihullah", "Naqibullah", "Shah"], ["Wardak", "Popalzai", "Niazi"]),
    "FRA": (["Lionel", "Christophe", "Amandine", "Pierre"], ["Dumont", "Caze", "Lefebvre"]),
    "KOR": (["Jin-ho", "Min-seo", "Seo-yeon", "Ji-hoon"], ["Kim", "Park", "Choi"]),
}
_GIVEN = [
    "Mohammed",
    "Ahmed",
    "Ali",
    "Hassan",
    "Hussein",
    "Omar",
    "Khaled",
    "Youssef",
    "Ibrahim",
    "Mahmoud",
    "Hamza",
    "Abdullah",
    "Mustafa",
    "Saleh",
    "Tariq",
    "Fatima",
    "Aisha",
    "Zainab",
    "Maryam",
    "Khadija",
]
_FAMILY = [
    "Haddad",
    "Khatib",
    "Najjar",
    "Jabbouri",
    "Tikriti",
    "Hamdan",
    "Darwish",
    "Masri",
    "Halabi",
    "Shami",
    "Obeidi",
    "Dulaimi",
    "Ani",
    "Zoubi",
]


def registry() -> list[PersonRecord]:
    """About 3,300 Syrians and Iraqis, and for each rare nationality one person born in
    each year from 1940 to 2010 (some years two), with names, sex and origin."""
    recs: list[PersonRecord] = []
    rng = random.Random(11)
    for i in range(2800):
        recs.append(
            PersonRecord(
                f"d{i}",
                given_name=rng.choice(_GIVEN),
                father_name=rng.choice(_GIVEN),
                family_name=rng.choice(_FAMILY),
                sex=rng.choice("mf"),
                birth_year=rng.randint(1940, 2015),
                nationality=rng.choice(["SYR", "SYR", "IRQ"]),
                place_of_origin=rng.choice(["Baghouz", "Hajin", "Mosul", "Raqqa"]),
            )
        )
    for code, (given, family) in RARE.items():
        for n, year in enumerate(list(YEARS) + list(YEARS[::7])):
            recs.append(
                PersonRecord(
                    f"{code}-{n}",
                    given_name=given[n % len(given)],
                    family_name=family[(n // len(given)) % len(family)],
                    sex="mf"[n % 2],
                    birth_year=year,
                    nationality=code,
                    place_of_origin="Baghouz",
                )
            )
    return recs


def names_of_nobody(records: list[PersonRecord], count: int) -> list[str]:
    """Generated names whose units share no name key with any registered person (the
    name evidence is nil: whatever comes back, came by something else)."""
    taken = {k for r in records for k in blocking_keys(r) if k.startswith(NAME_PREFIXES)}
    rng = random.Random(7)
    letters, vowels = "bcdfghjklmnpqrstvwxz", "aeiou"
    out: list[str] = []
    while len(out) < count:
        parts = [
            "".join(
                rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(3, 4))
            ).capitalize()
            for _ in range(2)
        ]
        name = " ".join(parts)
        keys = blocking_keys(PersonRecord("q", full_name=name), query=True)
        if keys and not keys & taken:
            out.append(name)
    return out


@pytest.fixture(scope="module")
def index() -> MemoryIndex:
    return MemoryIndex(registry())


def test_a_name_of_nobody_with_a_rare_nationality_and_any_birth_year_finds_nobody(
    index: MemoryIndex,
) -> None:
    records = list(index.records.values())
    names = names_of_nobody(records, 12)
    brought_in: dict[str, set[str]] = {}
    for code in RARE:
        for year in YEARS:
            for sex in ("m", "f", None):
                name = names[(year + len(code) + (sex == "m")) % len(names)]
                query = PersonRecord(
                    "q",
                    full_name=name,
                    nationality=code,
                    birth_year=year,
                    sex=sex,
                    birth_year_tolerance=3,
                    place_of_origin="Baghouz",
                )
                found = set(index.candidates(query)) | {m.record_id for m in index.search(query)}
                if found:
                    brought_in.setdefault(code, set()).update(found)
    counts = {code: len(ids) for code, ids in brought_in.items()}
    assert counts == {}, f"persons brought in by nationality and birth year: {counts}"


def test_the_same_registry_finds_those_persons_by_their_names(index: MemoryIndex) -> None:
    # Not a vacuous registry: each rare national is found by name, and nationality and
    # birth year then weigh the candidate (the right one first).
    for code, (given, family) in RARE.items():
        query = PersonRecord(
            "q", given_name=given[1], family_name=family[0], nationality=code, birth_year=1941
        )
        found = index.search(query, 10)
        assert found and found[0].record_id == f"{code}-1", (code, found[:1])
        assert any(e.field == "nationality" and e.weight > 0 for e in found[0].explanation)


def test_no_key_of_nationality_or_birth_year_is_stored_or_searched() -> None:
    rec = PersonRecord(
        "r",
        full_name="Lionel Dumont",
        birth_year=1971,
        nationality="FRA",
        sex="m",
        place_of_origin="Roubaix",
    )
    fetchable = (*NAME_PREFIXES, *EXACT_PREFIXES)
    for groups in (blocking_key_groups(rec), blocking_key_groups(rec, query=True)):
        for key in (k for g in groups for k in g):
            assert key.startswith(fetchable) or key.startswith("nat:"), key
    # The nationality stays a count key of stored records (it weighs agreement only).
    assert "nat:FRA" in blocking_keys(rec)
    assert not any(k.startswith("nat:") for k in blocking_keys(rec, query=True))


def test_the_policy_fetches_name_and_identifier_keys_only() -> None:
    # An index built before this change still holds nb: keys (nationality|year), and any
    # other key a caller might pass: none of them is ever fetched, with a name or without.
    groups = [{"t:abuhamza"}, {"nb:FRA|1971", "nb:FRA|1972"}, {"nat:FRA"}, {"x:FRA"}, {"rn:A1"}]
    sizes = {
        "t:abuhamza": 12,
        "nb:FRA|1971": 1,
        "nb:FRA|1972": 2,
        "nat:FRA": 3,
        "x:FRA": 3,
        "rn:A1": 1,
    }
    chosen = CandidatePolicy().choose_keys(groups, sizes, population=30_000)
    assert sorted(key for _, key, _ in chosen) == ["rn:A1", "t:abuhamza"]
    assert CandidatePolicy().choose_keys(groups[1:4], sizes, population=30_000) == []


def test_an_index_holding_old_nationality_keys_does_not_use_them(index: MemoryIndex) -> None:
    old = MemoryIndex(list(index.records.values())[-200:])
    for rid, rec in old.records.items():
        if rec.nationality and rec.birth_year:  # what the index stored before
            old.postings[f"nb:{rec.nationality}|{rec.birth_year}"].append(rid)
    [name] = names_of_nobody(list(old.records.values()), 1)
    for year in YEARS:
        query = PersonRecord("q", full_name=name, nationality="KOR", birth_year=year)
        assert old.candidates(query) == []
