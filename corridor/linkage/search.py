"""Batch deduplication by the matching engine's own search (``corridor bench dedupe
--engine search``).

Every record is searched for among all the others exactly as a tracing enquiry or a new
registration is (``MemoryIndex.candidates``: the engine's blocking keys, never a
candidate by nationality or birth year alone; ``Matcher.rank``: the candidates compete
and each gets the engine's calibrated probability). Two records of one person found
this way are a link when the search says the record *is registered* (the sum of its
best candidates' probabilities, ``1 - P(none of them)``, at least ``threshold``). Why
not each candidate's own probability: the other records of the same person are
candidates too, and they share the probability between them (a person registered five
times leaves each of the four others about a quarter); what the search is sure of is
that the record is someone among them. The record is linked to its best candidate and
to every other candidate among the best ``top`` whose probability is at least
``share`` of the best's (another record of the same person, most often).

Clusters are grown from the links, strongest first, by average linkage
(``corridor.matching.dedupe.average_linkage_clusters``): a link joins two clusters only
if the engine's pair probability, averaged over every pair of records across them
(pairs no link names scored then), is at least ``join_at``; one false link no longer
joins two persons registered many times each, as connected components did
(``clustering="connected"``, kept for comparison).

Rule for the threshold (docs/performance.md, "names-dev deduplication by the engine's
search"): the lowest of 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995 whose pairwise
precision is at least 0.97 on one half of names-dev's persons; the other half is
reported.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corridor.matching.dedupe import average_linkage_clusters, connected_clusters
from corridor.matching.heap import heap_frozen
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Model
from corridor.matching.records import PersonRecord

__all__ = [
    "SEARCH_CLUSTERING",
    "SEARCH_DUPLICATE_AT",
    "SEARCH_JOIN_AT",
    "SEARCH_SHARE",
    "SearchLink",
    "cluster_links",
    "pair_probability",
    "run_dedupe_search",
    "search_clusters",
    "search_links",
]

# The threshold chosen by the rule above (names-dev, half 0: precision 0.985).
SEARCH_DUPLICATE_AT = 0.98
# How the links become clusters, and from what average pair probability two clusters
# join (docs/performance.md, "A stricter clustering for deduplication by search").
SEARCH_CLUSTERING = "average"
SEARCH_JOIN_AT = 0.3
# A candidate among the best 5 is linked if its probability is at least this share of
# the best's: 0.1 with connected components, 0.001 since average linkage decides which
# links join (with connected components 0.001 gives precision 0.918 on names-dev).
SEARCH_SHARE = 0.001


@dataclass(frozen=True)
class SearchLink:
    """One record's search found ``other`` among its best: ``registered`` is the sum of
    the probabilities of its best candidates, ``probability`` this candidate's own."""

    record_id: str
    other: str
    rank: int
    probability: float
    registered: float


def search_links(
    records: Iterable[PersonRecord] | MemoryIndex,
    model: Model | None = None,
    top: int = 5,
    share: float = SEARCH_SHARE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[SearchLink]:
    """For every record, the candidates of its search among all the other records that
    it would be linked to (see the module's docstring), with their probabilities.
    ``records`` may be an index already built (then ``model`` is its own);
    ``progress(n)`` is told every 100 records searched, and the rest at the end."""
    index = records if isinstance(records, MemoryIndex) else MemoryIndex(records, model)
    matcher = index.matcher
    for n, (rid, rec) in enumerate(index.records.items(), start=1):
        if progress is not None and (n % 100 == 0 or n == len(index.records)):
            progress(100 if n % 100 == 0 else n % 100)
        cands = [index.records[c] for c in index.candidates(rec, exclude=rid)]
        ranked = matcher.rank(rec, cands, top, explain=False)
        if not ranked:
            continue
        registered = min(1.0, sum(m.probability for m in ranked))
        best = ranked[0].probability
        for k, m in enumerate(ranked, start=1):
            if k == 1 or m.probability >= share * best:
                yield SearchLink(rid, m.record_id, k, m.probability, registered)


def pair_probability(index: MemoryIndex) -> Callable[[str, str], float]:
    """The engine's probability that two indexed records are one person, the pair scored
    alone (both ways, the better kept, as ``find_duplicates`` does), remembered."""
    matcher = index.matcher
    seen: dict[tuple[str, str], float] = {}

    def probability(a: str, b: str) -> float:
        key = (a, b) if a < b else (b, a)
        p = seen.get(key)
        if p is None:
            ra, rb = index.records[a], index.records[b]
            w = max(matcher.score(ra, rb, explain=False).weight,
                    matcher.score(rb, ra, explain=False).weight)  # fmt: skip
            p = seen[key] = matcher.probability(w)
        return p

    return probability


def cluster_links(
    ids: Iterable[str],
    links: Iterable[SearchLink],
    threshold: float,
    clustering: str = SEARCH_CLUSTERING,
    join_at: float = SEARCH_JOIN_AT,
    probability: Callable[[str, str], float] | None = None,
) -> tuple[list[list[str]], int]:
    """The clusters of the links whose ``registered`` is at least ``threshold``, and how
    many links that is. ``clustering``: ``connected`` (connected components) or
    ``average`` (``average_linkage_clusters``: stronger links first, two clusters join
    only when the average of ``probability`` over all their cross pairs is at least
    ``join_at``)."""
    kept = [link for link in links if link.registered >= threshold]
    if clustering == "connected":
        return connected_clusters(ids, ((k.record_id, k.other) for k in kept)), len(kept)
    if clustering != "average" or probability is None:
        raise ValueError(f"unknown clustering {clustering!r} (or no pair probability)")
    strong = ((k.record_id, k.other, k.registered + k.probability * 1e-6) for k in kept)
    return average_linkage_clusters(ids, strong, probability, join_at), len(kept)


@dataclass
class SearchDedupeResult:
    clusters: list[list[str]]
    links: int
    timings: dict[str, float] = field(default_factory=dict)


def search_clusters(
    records: Iterable[PersonRecord],
    threshold: float = SEARCH_DUPLICATE_AT,
    model: Model | None = None,
    top: int = 5,
    share: float = SEARCH_SHARE,
    clustering: str = SEARCH_CLUSTERING,
    join_at: float = SEARCH_JOIN_AT,
) -> SearchDedupeResult:
    """Every record in exactly one cluster (members sorted by id, clusters by their
    first member), from the links whose ``registered`` is at least ``threshold``
    (``cluster_links``).

    >>> recs = [PersonRecord("a", full_name="Abdul Rahman Zahed", birth_year=1963),
    ...         PersonRecord("b", name_original_script="عبدالرحمان زاهد", birth_year=1963),
    ...         PersonRecord("c", full_name="Hassan Dahir Awes", birth_year=1935)]
    >>> search_clusters(recs, 0.5).clusters
    [['a', 'b'], ['c']]
    """
    t0 = time.perf_counter()
    index = MemoryIndex(records, model)
    with heap_frozen():  # the index is never walked by the collector again (``heap``)
        links = list(search_links(index, top=top, share=share))
    clusters, kept = cluster_links(
        list(index.records), links, threshold, clustering, join_at, pair_probability(index)
    )
    return SearchDedupeResult(clusters, kept, {"search_s": time.perf_counter() - t0})


def run_dedupe_search(
    records_csv: Path, out_csv: Path, threshold: float = SEARCH_DUPLICATE_AT
) -> dict[str, Any]:
    """Cluster the CSV's records by search; write ``record_id,cluster_id`` for every
    record (the cluster's first member's id)."""
    from corridor.matching.bench import read_person_csv

    t0 = time.perf_counter()
    records = list(read_person_csv(records_csv))
    read_s = time.perf_counter() - t0
    result = search_clusters(records, threshold)
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "cluster_id"])
        for cluster in result.clusters:
            for rid in cluster:
                w.writerow([rid, cluster[0]])
    stats: dict[str, Any] = {
        "records": len(records),
        "links": result.links,
        "multi_record_clusters": sum(1 for c in result.clusters if len(c) > 1),
        "read_s": round(read_s, 2),
        "search_s": round(result.timings["search_s"], 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    print(
        f"bench dedupe (search, threshold {threshold}): {stats['records']} records, "
        f"{stats['links']} links -> {stats['multi_record_clusters']} clusters with "
        f"duplicates in {stats['total_s']} s",
        file=sys.stderr,
    )
    return stats
