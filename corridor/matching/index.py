"""An in-memory candidate index over blocking keys (for batch work and the benchmark).

It follows the policy a database-backed index should follow: postings per key,
name and nationality frequencies kept up to date on every add (``frequency_keys``
and ``nat:`` counts), frequent name keys skipped at
search time, candidates pre-ranked by the rarity of the keys they share, and
only the best few hundred scored in full.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from corridor.matching.blocking import (
    blocking_keys,
    frequency_keys,
    nationality_key,
    query_key_groups,
)
from corridor.matching.candidates import CandidatePolicy
from corridor.matching.heap import collector_paused
from corridor.matching.model import Model
from corridor.matching.records import PersonRecord
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

    def add(self, rec: PersonRecord) -> None:
        """Index a record (a record id seen before is ignored)."""
        if rec.record_id in self.records:
            return
        self.records[rec.record_id] = rec
        for key in blocking_keys(rec):
            self.postings[key].append(rec.record_id)
        self.frequencies.update(frequency_keys(rec))
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
        postings = ((key, rid) for _, key, _ in chosen for rid in self.postings[key])
        score = policy.score_postings(chosen, postings)
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
