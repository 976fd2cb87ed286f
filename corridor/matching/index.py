"""An in-memory candidate index over blocking keys (for batch work and the benchmark).

It follows the policy a database-backed index should follow: postings per key,
name frequencies kept up to date on every add, frequent name keys skipped at
search time, candidates pre-ranked by the rarity of the keys they share, and
only the best few hundred scored in full.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from corridor.matching.blocking import blocking_key_groups, blocking_keys, frequency_keys
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
        key_cap: int = 300,
        key_cap_share: float = 0.01,
        max_candidates: int = 120,
        min_keys: int = 2,
        hard_cap: int = 5000,
    ) -> None:
        self.min_keys = min_keys
        self.pool_size = 1500
        self.hard_cap = hard_cap
        self.records: dict[str, PersonRecord] = {}
        self.postings: dict[str, list[str]] = defaultdict(list)
        self.frequencies: Counter[str] = Counter()
        self.key_cap = key_cap
        self.key_cap_share = key_cap_share
        self.max_candidates = max_candidates
        self.matcher = Matcher(model or Model.default(), self.frequencies, 1)
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
        self.matcher.population = max(len(self.records), 2)
        self.matcher._prior_bits = math.log2(self.matcher.population)

    def __len__(self) -> int:
        return len(self.records)

    def cap(self) -> int:
        return max(self.key_cap, int(self.key_cap_share * len(self.records)))

    def candidates(self, query: PersonRecord, exclude: str | None = None) -> list[str]:
        """Candidate ids sharing selective keys with ``query``, most promising first.

        Keys are taken rarest first. Keys held by more than ``cap()`` persons are
        skipped, unless fewer than ``min_keys`` keys were usable: then the rarest
        frequent keys are taken as well (up to ``hard_cap`` persons each), so that
        a query made only of common names still finds its candidates.
        """
        n = max(len(self.records), 2)
        cap = self.cap()
        postings = self.postings
        groups = [
            sorted((len(ids), key, ids) for key in g if (ids := postings.get(key)))
            for g in blocking_key_groups(query)
        ]
        score: dict[str, float] = defaultdict(float)
        used = 0
        # Rarest groups first, so the min_keys fallback picks the most telling names.
        for sized in sorted((g for g in groups if g), key=lambda g: g[0][0]):
            best: dict[str, float] = {}
            for size, key, ids in sized:
                exact_id = key.startswith(("rn:", "id:", "ph:"))
                if size > cap and not exact_id and (
                    used >= self.min_keys or size > self.hard_cap
                ):
                    continue
                idf = math.log(n / size)
                if key.startswith("p:"):
                    idf *= 1.5
                elif exact_id:
                    idf += 10.0
                for rid in ids:
                    if best.get(rid, 0.0) < idf:
                        best[rid] = idf
            if best:
                used += 1
                for rid, v in best.items():
                    score[rid] += v
        if exclude is not None:
            score.pop(exclude, None)
        if len(score) > self.pool_size:
            pool = heapq.nlargest(self.pool_size, score, key=score.__getitem__)
        else:
            pool = list(score)
        qy, qs, qn = query.birth_year, query.sex, query.nationality
        if qy is not None or qs or qn:
            # Many candidates share the same common names: prefer those whose birth
            # year, sex and nationality fit (cheap; the full score decides later).
            records = self.records
            for rid in pool:
                rec = records[rid]
                bonus = 0.0
                if qy is not None and rec.birth_year is not None:
                    d = abs(rec.birth_year - qy)
                    bonus += 2.0 if d <= 2 else -2.0 if d > 5 else 0.0
                if qs and rec.sex and rec.sex != qs:
                    bonus -= 3.0
                if qn and rec.nationality:
                    bonus += 1.0 if rec.nationality == qn else -1.0
                score[rid] += bonus
        return heapq.nlargest(self.max_candidates, pool, key=score.__getitem__)

    def search(self, query: PersonRecord, top: int = 10) -> list[Match]:
        """Best ``top`` matches for ``query`` among indexed records."""
        cands = [self.records[r] for r in self.candidates(query)]
        return self.matcher.rank(query, cands, top)
