"""An in-memory candidate index over blocking keys (for batch work and the benchmark).

It follows the policy a database-backed index should follow: postings per key,
name and nationality frequencies kept up to date on every add (``frequency_keys``
and ``nat:`` counts), frequent name keys skipped at
search time, candidates pre-ranked by the rarity of the keys they share, and
only the best few hundred scored in full.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from corridor.matching.blocking import (
    blocking_keys,
    frequency_keys,
    nationality_key,
    query_key_groups,
)
from corridor.matching.candidates import CandidatePolicy
from corridor.matching.heap import collector_paused
from corridor.matching.model import Model
from corridor.matching.records import NameChain, PersonRecord
from corridor.matching.scoring import Match, Matcher

__all__ = ["MemoryIndex"]


class MemoryIndex:
    """Records, their blocking keys and name frequencies, in memory.

    >>> idx = MemoryIndex()
    >>> idx.add(PersonRecord("r1", full_name="Abdul Latif Mansur", birth_year=1968))
    >>> idx.add(PersonRecord("r2", full_name="Hassan Dahir Awes"))
    >>> q = PersonRecord("q", name_original_script="عبد اللطيف منصور")
    >>> [m.record_id for m in idx.search(q)]
    ['r1']
    """

    def __init__(
        self,
        records: Iterable[PersonRecord] = (),
        model: Model | None = None,
        policy: CandidatePolicy | None = None,
    ) -> None:
        self.policy = policy or CandidatePolicy()
        self.records: dict[str, PersonRecord] = {}
        self.postings: dict[str, list[str]] = defaultdict(list)
        self.frequencies: Counter[str] = Counter()
        self.matcher = Matcher(model or Model.default(), self.frequencies, 1)
        with collector_paused():  # many small objects, no cycles (``heap``)
            for rec in records:
                self.add(rec)

    @classmethod
    def built(
        cls,
        records: Sequence[PersonRecord],
        model: Model | None = None,
        policy: CandidatePolicy | None = None,
        workers: int = 1,
    ) -> MemoryIndex:
        """The index of ``records``, their names read and keyed in ``workers`` forked
        processes (each a run of records in order; the postings are the same as one
        process gives). Where fork is missing, or there are few records, in this one.

        >>> recs = [PersonRecord(f"r{i}", full_name=n) for i, n in enumerate(
        ...     ["Abdul Latif Mansur", "Hassan Dahir Awes", "Fatima Omar"] * 3000)]
        >>> built = MemoryIndex.built(recs, workers=2)
        >>> one = MemoryIndex(recs)
        >>> built.postings == one.postings and built.frequencies == one.frequencies
        True
        """
        if workers < 2 or len(records) < _PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
            return cls(records, model, policy)
        global _READING
        index = cls((), model, policy)
        size = -(-len(records) // workers)
        runs = [(i, min(i + size, len(records))) for i in range(0, len(records), size)]
        _READING = records  # the workers see it as forked, never pickled to them
        try:
            with mp.get_context("fork").Pool(workers) as pool, collector_paused():
                for (start, end), read in zip(runs, pool.map(_read_run, runs), strict=True):
                    for rec, (chains, keys, names) in zip(records[start:end], read,
                                                          strict=True):
                        rec.adopt_chains(chains)
                        index._add(rec, keys, names)
        finally:
            _READING = None
        return index

    def add(self, rec: PersonRecord) -> None:
        """Index a record (a record id seen before is ignored)."""
        if rec.record_id not in self.records:  # its keys not read for nothing
            self._add(rec, blocking_keys(rec), frequency_keys(rec))

    def _add(self, rec: PersonRecord, keys: Iterable[str], names: Iterable[str]) -> None:
        if rec.record_id in self.records:
            return
        self.records[rec.record_id] = rec
        for key in keys:
            self.postings[key].append(rec.record_id)
        self.frequencies.update(names)
        nat = nationality_key(rec.nationality)
        if nat:
            self.frequencies[nat] += 1
        self.matcher.set_population(len(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def candidates(self, query: PersonRecord, exclude: str | None = None) -> list[str]:
        """Candidate ids for ``query``, most promising first (``CandidatePolicy``)."""
        policy = self.policy
        groups, weak = query_key_groups(query)
        sizes = {k: len(ids) for g in groups for k in g if (ids := self.postings.get(k))}
        chosen = policy.choose_keys(groups, sizes, len(self.records), weak)
        score = policy.score_lists(chosen, self.postings)
        if exclude is not None:
            score.pop(exclude, None)
        pool = policy.pool(score)
        if query.birth_year is not None or query.sex or query.named_sex or query.nationality:
            for rid in pool:
                rec = self.records[rid]
                score[rid] += policy.adjustment(query, rec.birth_year, rec.sex, rec.nationality)
        return policy.best(score, pool)

    def search(self, query: PersonRecord, top: int = 10, explain: bool = True) -> list[Match]:
        """Best ``top`` matches for ``query`` among indexed records (``explain=False``:
        without their evidence)."""
        cands = [self.records[r] for r in self.candidates(query)]
        return self.matcher.rank(query, cands, top, explain)


# Fewer records than this are read in one process (forking costs more than it saves).
_PARALLEL_FROM = 5_000
_READING: Sequence[PersonRecord] | None = None  # ``MemoryIndex.built``'s, while it runs


def _read_run(run: tuple[int, int]) -> list[tuple[tuple[NameChain, ...], set[str], set[str]]]:
    """A forked worker's part of ``MemoryIndex.built`` (records ``start`` to ``end``):
    each record's name chains, its blocking keys and the name keys it counts for."""
    assert _READING is not None
    with collector_paused():
        return [(r.name_chains(), blocking_keys(r), frequency_keys(r))
                for r in _READING[run[0]:run[1]]]
