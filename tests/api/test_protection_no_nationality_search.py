"""No search by nationality through the API (issue 11, item 3; PROTECTION.md: "offers
no bulk search by nationality").

A registered population holds persons of several rare nationalities born across the
years 1940-2010; ``POST /api/persons/match`` with a name that belongs to nobody, each of
those nationalities and every birth year from 1940 to 2010 brings in nobody, for either
purpose, even where the index still holds the ``nb:`` rows an older version stored. The
same persons are found by their names (the index is not empty).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from corridor.matching import PersonRecord
from corridor.services.search.match_index import bump_counts
from corridor.storage.tables import person_match_keys
from tests.api.helpers import register, site
from tests.matching.test_no_nationality_search import names_of_nobody

YEARS = range(1940, 2011)
RARE = {
    "GBR": (["Thomas", "Sally"], ["Cooper", "Walsh"]),
    "RUS": (["Sergei", "Olga"], ["Volkov", "Sokolov"]),
    "LBY": (["Faraj", "Aisha"], ["Zlitni", "Warfalli"]),
    "AFG": (["Zabihullah", "Malalai"], ["Wardak", "Popalzai"]),
}
# Born every ten years from 1940: with a window of two years either way (as the old
# nationality+birth-year route had), every year of 1940-2010 is within reach of one.
BIRTH_YEARS = range(1940, 2011, 10)


def test_a_name_of_nobody_with_a_rare_nationality_and_any_birth_year_matches_nobody(
    client, database
):
    camp = site(client, "Camp A")
    registered: list[PersonRecord] = []
    born: list[tuple[str, int, str]] = []
    for code, (given, family) in RARE.items():
        for n, year in enumerate(BIRTH_YEARS):
            p = register(
                client,
                camp,
                given_name=given[n % 2],
                family_name=family[(n // 2) % 2],
                sex="mf"[n % 2],
                birth_date=str(year),
                nationality=code,
            )
            registered.append(
                PersonRecord(p["id"], given_name=given[n % 2], family_name=family[(n // 2) % 2])
            )
            born.append((code, year, p["id"]))
    for n in range(6):  # and some Syrians
        register(
            client,
            camp,
            given_name="Hassan",
            family_name=f"Haddad{'a' * n}",
            nationality="SYR",
            birth_date=str(1950 + 9 * n),
        )
    # An index built before issue 11 also holds nb:<ISO3>|<year> rows: plant them, as the
    # old code stored them, to show that they are no route either.
    with database.transaction() as conn:
        stored = set(conn.execute(select(person_match_keys.c.key, person_match_keys.c.person_id)))
        old_rows = [
            {"key": f"nb:{code}|{year}", "person_id": pid, "traceable": True}
            for code, year, pid in born
            if (f"nb:{code}|{year}", pid) not in stored  # the old code stored them itself
        ]
        if old_rows:
            conn.execute(person_match_keys.insert(), old_rows)
            bump_counts(conn, Counter(row["key"] for row in old_rows))
    # A name of nobody shares no name key with any registered person, the Syrians
    # included (a reading such as Somali x = h can make a made-up name Haddad's).
    syrians = [PersonRecord(f"syr{n}", given_name="Hassan", family_name=f"Haddad{'a' * n}")
               for n in range(6)]
    names = names_of_nobody(registered + syrians, 4)
    brought_in: dict[str, set[str]] = {}
    for i, code in enumerate(RARE):
        for year in YEARS:
            # Both purposes take the same road to candidates: alternate them by year.
            purpose = ("tracing", "deduplication")[(year + i) % 2]
            r = client.post(
                "/api/persons/match",
                json={
                    "full_name": names[year % len(names)],
                    "nationality": code,
                    "birth_year": year,
                    "purpose": purpose,
                },
            )
            assert r.status_code == 200, r.text
            found = {c["person"]["id"] for c in r.json()}
            if found:
                brought_in.setdefault(code, set()).update(found)
    counts = {code: len(found) for code, found in brought_in.items()}
    assert counts == {}, f"persons brought in by nationality and birth year: {counts}"
    # The same persons are found by a name they bear, nationality and year then weighing.
    for code, (given, family) in RARE.items():
        r = client.post(
            "/api/persons/match",
            json={
                "given_name": given[1],
                "family_name": family[0],
                "nationality": code,
                "birth_year": 1950,
            },
        )
        assert r.status_code == 200
        assert r.json() and r.json()[0]["person"]["name"].startswith(given[1])
