"""Deduplication by the matching engine's own search (``corridor.linkage.search``)."""

from __future__ import annotations

import pytest

from corridor.linkage.search import SEARCH_DUPLICATE_AT, search_clusters, search_links
from corridor.matching.dedupe import average_linkage_clusters, connected_clusters
from corridor.matching.records import PersonRecord as P
from tests.linkage.registry import EXPECTED, REGISTRY

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
    low = search_clusters(RECORDS, threshold=0.0, clustering="connected")
    assert low.clusters[-1] == ["c1", "c2"]
    assert ["c1"] in search_clusters(RECORDS, clustering="connected").clusters
    assert ["c1"] in search_clusters(RECORDS).clusters


def test_average_linkage_needs_the_pair_itself_not_only_a_link():
    # Ahmed Mohammed Ali and Ali Mohammed Ahmed: each is the other's best candidate, so
    # at threshold 0 a link joins them; scored as a pair they are not one person.
    assert ["c1", "c2"] not in search_clusters(RECORDS, threshold=0.0).clusters
    assert search_clusters(RECORDS, threshold=0.0).clusters[0] == ["a1", "a2", "a3", "a4"]


def test_one_link_does_not_chain_brothers_and_strangers_together():
    # At threshold 0 every record's best candidate is a link; connected components
    # chain brothers (same father, grandfather and family) and strangers into one
    # cluster. Average linkage keeps exactly the known duplicates.
    def multi(clustering: str) -> list[list[str]]:
        result = search_clusters(REGISTRY, threshold=0.0, clustering=clustering)
        return [c for c in result.clusters if len(c) > 1]

    chained = multi("connected")
    assert any({"c1", "d1"} <= set(c) for c in chained)
    assert multi("average") == EXPECTED
    assert [c for c in search_clusters(REGISTRY).clusters if len(c) > 1] == EXPECTED


def test_average_linkage_weighs_one_link_against_every_cross_pair():
    # A person registered 14 times and another 13 times, each cluster sure of itself,
    # and one false link between them (weaker than theirs, tried once both are whole):
    # 182 false pairs by connected components.
    one = [f"a{i:02}" for i in range(14)]
    two = [f"b{i:02}" for i in range(13)]
    inside = [(x, y, 0.99) for g in (one, two) for i, x in enumerate(g) for y in g[i + 1 :]]
    false = ("a00", "b00", 0.98)
    links = [*inside, false]

    def probability(x: str, y: str) -> float:
        return 0.9 if x[0] == y[0] or {x, y} == {"a00", "b00"} else 0.0

    assert connected_clusters(one + two, [(a, b) for a, b, _ in links]) == [one + two]
    assert average_linkage_clusters(one + two, links, probability, 0.3) == [one, two]

    # Where most cross pairs agree the clusters join.
    def agreeing(x: str, y: str) -> float:
        return 0.9 if x[0] == y[0] or x[1:] < "08" else 0.2
    assert average_linkage_clusters(one + two, links, agreeing, 0.3) == [one + two]


def test_unknown_clustering_is_refused():
    with pytest.raises(ValueError, match="clustering"):
        search_clusters(RECORDS, clustering="single")
