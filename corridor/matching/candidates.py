"""The candidate policy: which blocking keys to fetch and how to pre-rank what comes back.

Pure functions over key sizes and postings, so a database-backed index and the
in-memory one follow exactly the same policy:

1. ``choose_keys``: group the query's keys (one group per name, one for name
   pairs, one per identifier, see ``blocking_key_groups``); take keys rarest
   group first; skip a key held by more than ``cap`` persons (``key_cap`` or
   ``key_cap_share`` of the registry), unless fewer than ``min_keys`` groups
   were usable yet; never fetch a key held by more than ``hard_cap`` persons.
   Exact identifiers are always fetched. Only name keys (``NAME_PREFIXES``) and
   identifier keys (``EXACT_PREFIXES``) are ever fetched: a candidate must share a
   name or an identifier with the query. Any other key is ignored, whatever it
   holds: the count keys (``nat:``), and the nationality+birth-year keys
   (``nb:``) that indexes built before issue 11 may still hold. Nationality,
   birth year and sex only move the score of a candidate found by name (3.).
2. ``score_postings``: a candidate scores, per group, the inverse frequency of
   the rarest key it shares with the query, summed over groups: agreeing on
   several names beats agreeing on several keys of one name.
3. ``adjust``: among candidates in the best ``pool_size``, birth year, sex and
   nationality move the score a little (many people share common names).
4. Keep the best ``max_candidates`` and score them in full with ``Matcher``.

>>> policy = CandidatePolicy()
>>> chosen = policy.choose_keys([{"n:HSN", "t:hasan"}, {"rn:A1"}], {"n:HSN": 9000, "t:hasan": 40,
...                             "rn:A1": 1}, population=100_000)
>>> sorted(key for _, key, _ in chosen)
['rn:A1', 't:hasan']
>>> sorted(key for _, key, _ in policy.choose_keys(
...     [{"t:abuhamza"}, {"nb:FRA|1964", "nb:FRA|1965"}], {"t:abuhamza": 40, "nb:FRA|1964": 2,
...     "nb:FRA|1965": 1}, population=100_000))
['t:abuhamza']
>>> policy.choose_keys([{"nb:FRA|1965"}, {"nat:FRA"}], {"nb:FRA|1965": 1, "nat:FRA": 5},
...                    population=100_000)
[]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from corridor.matching.records import PersonRecord

__all__ = [
    "CandidatePolicy",
    "COUNT_PREFIXES",
    "EXACT_PREFIXES",
    "FETCHED_PREFIXES",
    "NAME_PREFIXES",
]

EXACT_PREFIXES = ("rn:", "id:", "ph:")
NAME_PREFIXES = ("n:", "s:", "t:", "p:")
# The only keys a search may fetch: a shared name or a shared identifier.
FETCHED_PREFIXES = NAME_PREFIXES + EXACT_PREFIXES
COUNT_PREFIXES = ("nat:",)  # counted for weights, never fetched


@dataclass(frozen=True)
class CandidatePolicy:
    """Tunable limits of the candidate search (see the module docstring)."""

    key_cap: int = 300
    key_cap_share: float = 0.01
    min_keys: int = 2
    hard_cap: int = 5000
    pool_size: int = 1500
    max_candidates: int = 120
    # What a weak key weighs at most, as a share of its group's commonest key as
    # written: below it, so that a tie never lets a reading's candidates in first.
    weak_share: float = 0.9

    def cap(self, population: int) -> int:
        return max(self.key_cap, int(self.key_cap_share * population))

    def choose_keys(
        self,
        groups: list[set[str]],
        sizes: Mapping[str, int],
        population: int,
        weak: frozenset[str] = frozenset(),
    ) -> list[tuple[int, str, float]]:
        """``(group, key, idf)`` for each key worth fetching. A ``weak`` key (an exact
        reading's: ``blocking.query_key_groups``) weighs less than the commonest key of
        its group that the registry holds as written (``weak_share`` of it): Halit read
        Khalid fetches Khalid's key, but a Haidar read Khaidar never ranks a Qadir above
        a Haidar.

        >>> policy = CandidatePolicy()
        >>> sizes = {"n:HSN": 500, "n:KSN": 20}
        >>> [(k, round(i, 2)) for _, k, i in policy.choose_keys(
        ...     [{"n:HSN", "n:KSN"}], sizes, 100_000, weak=frozenset({"n:KSN"}))]
        [('n:KSN', 4.77), ('n:HSN', 5.3)]
        """
        n = max(population, 2)
        cap = self.cap(population)
        sized = [
            sorted(
                (sizes[k], k) for k in g if sizes.get(k, 0) > 0 and k.startswith(FETCHED_PREFIXES)
            )
            for g in groups
        ]
        # Rarest group first, by the keys as written: a weak key neither orders the
        # groups nor counts as a usable group, so a name's rare reading never makes its
        # common key as written too common to fetch (Hayat read Khayat, and Fazal).
        own = [[(size, key) for size, key in g if key not in weak] for g in sized]
        order = sorted(
            (i for i, g in enumerate(sized) if g),
            key=lambda i: (0, own[i][0]) if own[i] else (1, sized[i][0]),
        )
        chosen: list[tuple[int, str, float]] = []
        used = 0
        for gi in order:
            took = False
            # The weight of the group's commonest key as written: a weak key's most.
            most = self._weight(*own[gi][-1], n) if own[gi] else math.inf
            for size, key in sized[gi]:
                exact = key.startswith(EXACT_PREFIXES)
                if size > cap and not exact and (used >= self.min_keys or size > self.hard_cap):
                    continue
                idf = self._weight(size, key, n)
                if key in weak:
                    idf = min(idf, most * self.weak_share)
                else:
                    took = True
                chosen.append((gi, key, idf))
            used += took
        return chosen

    @staticmethod
    def _weight(size: int, key: str, n: int) -> float:
        idf = math.log(n / size)
        if key.startswith("p:"):
            return idf * 1.5
        if key.startswith(EXACT_PREFIXES):
            return idf + 10.0
        return idf

    @staticmethod
    def score_postings(
        chosen: list[tuple[int, str, float]], postings: Iterable[tuple[str, str]]
    ) -> dict[str, float]:
        """Candidate -> sum over groups of the best idf shared; ``postings`` are
        ``(key, candidate_id)`` rows for the chosen keys."""
        where = {key: (gi, idf) for gi, key, idf in chosen}
        best: dict[tuple[str, int], float] = {}
        for key, rid in postings:
            gi, idf = where[key]
            if best.get((rid, gi), 0.0) < idf:
                best[(rid, gi)] = idf
        score: dict[str, float] = {}
        for (rid, _), v in best.items():
            score[rid] = score.get(rid, 0.0) + v
        return score

    @staticmethod
    def score_lists(
        chosen: list[tuple[int, str, float]], ids_of: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """``score_postings`` of the chosen keys' lists of ids (``ids_of[key]``): the
        same scores, summed in the same order, the candidates in the same order; a key
        chosen twice (one key of two names) read once.

        >>> chosen = [(0, "n:A", 2.0), (0, "t:a", 3.0), (1, "n:B", 1.0), (1, "n:A", 2.0)]
        >>> lists = {"n:A": ["x", "y"], "t:a": ["y"], "n:B": ["z", "x"]}
        >>> CandidatePolicy.score_lists(chosen, lists)
        {'x': 2.0, 'y': 5.0, 'z': 1.0}
        >>> CandidatePolicy.score_postings(
        ...     chosen, ((k, r) for _, k, _ in chosen for r in lists[k])) == _
        True
        """
        where = {key: (gi, idf) for gi, key, idf in chosen}
        best: dict[tuple[str, int], float] = {}
        get = best.get
        for key in dict.fromkeys(key for _, key, _ in chosen):
            gi, idf = where[key]
            for rid in ids_of[key]:
                if get((rid, gi), 0.0) < idf:
                    best[(rid, gi)] = idf
        score: dict[str, float] = {}
        for (rid, _), v in best.items():
            score[rid] = score.get(rid, 0.0) + v
        return score

    def pool(self, score: Mapping[str, float]) -> list[str]:
        """The best ``pool_size`` candidates by key score."""
        if len(score) > self.pool_size:
            return heapq.nlargest(self.pool_size, score, key=score.__getitem__)
        return list(score)

    @staticmethod
    def adjustment(
        query: PersonRecord, birth_year: int | None, sex: str | None, nationality: str | None
    ) -> float:
        """Small pre-ranking bonus from a candidate's birth year, sex and nationality."""
        bonus = 0.0
        if query.birth_year is not None and birth_year is not None:
            d = abs(birth_year - query.birth_year)
            bonus += 2.0 if d <= 2 else -2.0 if d > 5 else 0.0
        query_sex = query.sex or query.named_sex  # a title or kunya: Abu, Umm, Mullah
        if query_sex and sex and sex != query_sex:
            bonus -= 3.0
        if query.nationality and nationality:
            bonus += 1.0 if nationality.upper() == query.nationality.upper() else -1.0
        return bonus

    def best(self, score: Mapping[str, float], pool: Iterable[str], at_least: int = 0) -> list[str]:
        """The ``max_candidates`` best of ``pool`` (after adjustment), best first; more
        where the caller asks for more results than that (``at_least``)."""
        return heapq.nlargest(max(self.max_candidates, at_least), pool, key=score.__getitem__)
