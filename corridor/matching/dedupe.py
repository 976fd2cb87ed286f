"""Batch duplicate detection with the same blocking keys and comparisons as search."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from corridor.matching.candidates import CandidatePolicy
from corridor.matching.heap import heap_frozen
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Model
from corridor.matching.records import PersonRecord

__all__ = ["average_linkage_clusters", "connected_clusters", "find_duplicates", "scored_pairs"]


def scored_pairs(
    records: Iterable[PersonRecord], model: Model | None = None, max_candidates: int = 15
) -> list[tuple[str, str, float, float]]:
    """``(id_a, id_b, weight, probability)`` for every candidate pair (each pair once)."""
    index = MemoryIndex(records, model, CandidatePolicy(max_candidates=max_candidates))
    out: list[tuple[str, str, float, float]] = []
    seen: set[tuple[str, str]] = set()
    matcher = index.matcher
    with heap_frozen():  # the index is never walked by the collector again (``heap``)
        for rid, rec in index.records.items():
            for other_id in index.candidates(rec, exclude=rid):
                a, b = (rid, other_id) if rid < other_id else (other_id, rid)
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                other = index.records[other_id]
                w = matcher.score(rec, other, explain=False).weight
                if matcher.probability(w) >= 0.01:
                    # The engine is asymmetric (sought vs registered): take the better way.
                    w = max(w, matcher.score(other, rec, explain=False).weight)
                out.append((a, b, w, matcher.probability(w)))
    return out


def find_duplicates(
    records: Iterable[PersonRecord], threshold: float = 0.5, model: Model | None = None
) -> list[list[str]]:
    """Group records that are probably one person (pair probability >= ``threshold``).

    Returns every record in exactly one cluster, singletons included; clusters
    are connected components of the accepted pairs, members sorted by id.

    >>> recs = [PersonRecord("a", full_name="Abdul Rahman Zahed", birth_year=1963),
    ...         PersonRecord("b", name_original_script="عبدالرحمان زاهد", birth_year=1963),
    ...         PersonRecord("c", full_name="Hassan Dahir Awes", birth_year=1935)]
    >>> find_duplicates(recs)
    [['a', 'b'], ['c']]
    """
    recs = list(records)
    linked = ((a, b) for a, b, _w, p in scored_pairs(recs, model) if p >= threshold)
    return connected_clusters([r.record_id for r in recs], linked)


def connected_clusters(ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The connected pieces of ``pairs`` over ``ids`` (every id in one piece, alone if
    linked to none), each sorted, ordered by their first id.

    >>> connected_clusters(["c", "b", "a", "d"], [("a", "c"), ("c", "b")])
    [['a', 'b', 'c'], ['d']]
    """
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for i in list(parent):
        groups.setdefault(find(i), []).append(i)
    return sorted((sorted(g) for g in groups.values()), key=lambda c: c[0])


def average_linkage_clusters(
    ids: Iterable[str],
    links: Iterable[tuple[str, str, float]],
    pair_probability: Callable[[str, str], float],
    join_at: float,
) -> list[list[str]]:
    """Clusters grown from the strongest link down, where two clusters join only if the
    average, over *every* pair across them, of the engine's probability that the pair is
    one person (``pair_probability``, each pair scored alone, also the pairs no link
    names) is at least ``join_at``. Connected components join on one link whatever the
    sizes: one false link between a person registered 14 times and another registered 13
    times makes 182 false pairs; here it must outweigh the 181 other cross pairs.

    ``links``: ``(a, b, strength)``; stronger links are tried first (ties by ids).
    Returns every id in one cluster, each sorted, ordered by their first id.

    >>> p = {frozenset("ab"): 0.9, frozenset("cd"): 0.9, frozenset("bc"): 0.6}
    >>> prob = lambda x, y: p.get(frozenset((x, y)), 0.0)
    >>> average_linkage_clusters("abcd", [("a", "b", 1), ("c", "d", 1), ("b", "c", .9)],
    ...                          prob, 0.3)
    [['a', 'b'], ['c', 'd']]
    >>> average_linkage_clusters("abc", [("a", "b", 1), ("b", "c", .9)], prob, 0.3)
    [['a', 'b', 'c']]
    """
    members: dict[str, list[str]] = {i: [i] for i in ids}
    where = {i: i for i in members}
    ordered = sorted(links, key=lambda link: (-link[2], link[0], link[1]))
    for a, b, _strength in ordered:
        ra, rb = where[a], where[b]
        if ra == rb:
            continue
        left, right = members[ra], members[rb]
        total = sum(pair_probability(x, y) for x in left for y in right)
        if total < join_at * len(left) * len(right):
            continue
        if len(left) < len(right):
            ra, rb, left, right = rb, ra, right, left
        left.extend(right)
        for x in right:
            where[x] = ra
        del members[rb]
    return sorted((sorted(g) for g in members.values()), key=lambda c: c[0])
