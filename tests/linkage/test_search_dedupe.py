"""Deduplication by the matching engine's own search (``corridor.linkage.search``)."""

from __future__ import annotations

from corridor.linkage.search import SEARCH_DUPLICATE_AT, search_clusters, search_links
from corridor.matching.records import PersonRecord as P

# One person registered four times (Latin spellings and the Arabic script), two persons
# who share only nationality, birth year and nothing of a name, and two who share the
# same three names in another order.
RECORDS = [
    P("a1", full_name="Abdul Rahman Zahed", birth_year=1963),
    P("a2", name_original_script="عبدالرحمان زاهد", birth_year=1963),
    P("a3", full_name="Abdelrahman Zahid", birth_year=1963),
    P("a4", full_name="Abd al-Rahman Zaheed", birth_year=1964),
    P("b1", full_name="Hassan Dahir Awes", birth_year=1935, nationality="SOM", sex="m"),
    P("b2", full_name="Mariam Yusuf Nur", birth_year=1935, nationality="SOM", sex="f"),
    P("c1", full_name="Ahmed Mohammed Ali", birth_year=1980),
    P("c2", full_name="Ali Mohammed Ahmed", birth_year=1980),
]


def test_one_person_registered_four_times_is_one_cluster():
    result = search_clusters(RECORDS)
    assert result.clusters == [["a1", "a2", "a3", "a4"], ["b1"], ["b2"], ["c1"], ["c2"]]


def test_links_count_the_search_that_the_record_is_registered():
    # The other records of one person share the search's probability between them:
    # none of a1's candidates reaches the threshold alone, yet the search is sure that
    # a1 is one of them.
    links = [lk for lk in search_links(RECORDS) if lk.record_id == "a1"]
    assert {lk.other for lk in links} == {"a2", "a3", "a4"}
    assert all(lk.probability < SEARCH_DUPLICATE_AT for lk in links)
    assert all(lk.registered >= SEARCH_DUPLICATE_AT for lk in links)
    assert [lk.rank for lk in links] == sorted(lk.rank for lk in links)


def test_no_candidate_by_nationality_and_birth_year():
    others = {lk.other for lk in search_links(RECORDS) if lk.record_id in ("b1", "b2")}
    assert not others & {"b1", "b2"}


def test_threshold_decides():
    assert search_clusters(RECORDS, threshold=0.0).clusters[-1] == ["c1", "c2"]
    assert ["c1"] in search_clusters(RECORDS).clusters
