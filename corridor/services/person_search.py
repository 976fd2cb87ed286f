"""Finding a sought person among registered persons (tracing, search before create).

Candidates come from the matching index (blocking keys kept on every write), never from a
scan; the engine then scores the few best with explanations. For tracing, only persons
who consented to tracing are candidates: the gate is in the candidate query itself and
again in the query that loads them.
"""

from __future__ import annotations

import heapq
import math
from functools import cache
from typing import Any

from sqlalchemy import Connection, case, func, select

from corridor.matching import (
    Matcher,
    Model,
    PersonRecord,
    blocking_keys,
    find_duplicates,
    frequency_keys,
)
from corridor.matching.variants import VariantTable
from corridor.schemas import MatchQueryIn
from corridor.services.base import Service
from corridor.services.match_index import documents_of, person_record
from corridor.storage import queries
from corridor.storage.tables import POPULATION_KEY, match_key_counts, person_match_keys, persons

EXACT_PREFIXES = ("rn:", "id:", "ph:")
KEY_CAP = 300  # a key held by more persons than this (or 1 % of the registry) says little
KEY_CAP_SHARE = 0.01
MIN_KEYS = 2  # ... unless fewer keys than this would be left
HARD_CAP = 5000  # never fetch a key held by more persons than this
MAX_CANDIDATES = 60  # scored in full


@cache
def engine_data() -> tuple[Model, VariantTable]:
    """The shipped model and variant table, loaded once per process."""
    return Model.default(), VariantTable.default()


def query_record(q: MatchQueryIn, this_year: int) -> PersonRecord:
    birth_year, tolerance = q.birth_year, 0
    if birth_year is None and q.age is not None:
        birth_year, tolerance = this_year - q.age, 2
    return PersonRecord(
        record_id="query",
        given_name=q.given_name,
        father_name=q.father_name,
        grandfather_name=q.grandfather_name,
        family_name=q.family_name,
        full_name=q.full_name,
        name_original_script=q.name_original_script,
        alternate_names=tuple(q.alternate_names),
        sex=q.sex,
        birth_year=birth_year,
        birth_year_tolerance=tolerance,
        nationality=q.nationality.upper() if q.nationality else None,
        place_of_origin=q.place_of_origin,
        mother_name=q.mother_name,
        relatives_names=tuple(q.relatives_names),
        registration_number=q.registration_number,
        phone=q.phone,
        document_numbers=(q.document_number,) if q.document_number else (),
    )


def choose_keys(sizes: dict[str, int], population: int) -> list[tuple[str, float]]:
    """Which keys to fetch, rarest first, each with its weight (inverse frequency)."""
    cap = max(KEY_CAP, int(KEY_CAP_SHARE * population))
    chosen: list[tuple[str, float]] = []
    for key, size in sorted(sizes.items(), key=lambda kv: (kv[1], kv[0])):
        exact = key.startswith(EXACT_PREFIXES)
        if size > cap and not exact and (len(chosen) >= MIN_KEYS or size > HARD_CAP):
            continue
        idf = math.log(max(population, 2) / size)
        if key.startswith("p:"):
            idf *= 1.5
        elif exact:
            idf += 10.0
        chosen.append((key, idf))
    return chosen


class PersonSearchService(Service):
    def search(self, data: MatchQueryIn) -> list[dict[str, Any]]:
        """The registered persons most likely to be the sought one, best first."""
        today = self.clock().date()
        query = query_record(data, today.year)
        tracing = data.purpose == "tracing"
        with self.db.read() as conn:
            cands, population = self._candidates(conn, query, tracing)
            if not cands:
                return []
            rows_q = select(persons).where(persons.c.id.in_(cands))
            if tracing:
                rows_q = rows_q.where(persons.c.consent_tracing.is_(True))
            rows = {r["id"]: r for r in conn.execute(rows_q).mappings()}
            docs = documents_of(conn, list(rows))
            records = [person_record(rows[c], docs[c]) for c in cands if c in rows]
            model, variants = engine_data()
            matcher = Matcher(
                model, self._frequencies(conn, [query, *records]), population, variants
            )
            matches = matcher.rank(query, records, data.top)
            out = []
            for m in matches:
                out.append(
                    {
                        "person": queries.person_summary(rows[m.record_id], today),
                        "probability": round(m.probability, 4),
                        "weight": round(m.weight, 2),
                        "explanation": [
                            {
                                "field": e.field,
                                "level": e.level,
                                "weight": round(e.weight, 2),
                                "text": e.text,
                            }
                            for e in m.explanation
                        ],
                    }
                )
            return out

    def duplicates(self, threshold: float = 0.9) -> list[list[dict[str, Any]]]:
        """Groups of registered persons who are probably one person, largest first."""
        today = self.clock().date()
        with self.db.read() as conn:
            rows = {r["id"]: r for r in conn.execute(select(persons)).mappings()}
            docs = documents_of(conn, list(rows)) if rows else {}
        records = [person_record(r, docs.get(pid, [])) for pid, r in rows.items()]
        groups = [g for g in find_duplicates(records, threshold) if len(g) > 1]
        groups.sort(key=lambda g: (-len(g), g[0]))
        return [[queries.person_summary(rows[pid], today) for pid in g] for g in groups]

    def _candidates(
        self, conn: Connection, query: PersonRecord, tracing: bool
    ) -> tuple[list[str], int]:
        keys = sorted(blocking_keys(query))
        counts = dict(
            conn.execute(
                select(match_key_counts.c.key, match_key_counts.c.n).where(
                    match_key_counts.c.key.in_([*keys, POPULATION_KEY])
                )
            ).all()
        )
        population = int(counts.pop(POPULATION_KEY, 0))
        sizes = {k: int(n) for k, n in counts.items() if n > 0}
        chosen = choose_keys(sizes, population)
        if not chosen:
            return [], population
        weights = dict(chosen)
        # Pre-rank in the database: each person's score is the sum of the weights of the
        # keys they share with the query; only the best few hundred come back.
        shared = func.sum(case(weights, value=person_match_keys.c.key)).label("shared")
        postings = (
            select(person_match_keys.c.person_id, shared)
            .where(person_match_keys.c.key.in_(list(weights)))
            .group_by(person_match_keys.c.person_id)
            .order_by(shared.desc(), person_match_keys.c.person_id)
            .limit(3 * MAX_CANDIDATES)
        )
        if tracing:
            postings = postings.where(person_match_keys.c.traceable.is_(True))
        score: dict[str, float] = {pid: float(total) for pid, total in conn.execute(postings)}
        pool = list(score)
        if query.birth_year is not None and pool:
            years = conn.execute(
                select(persons.c.id, persons.c.birth_date).where(persons.c.id.in_(pool))
            ).all()
            for pid, birth in years:
                if birth is not None:
                    d = abs(birth.year - query.birth_year)
                    score[pid] += 2.0 if d <= 2 else -2.0 if d > 5 else 0.0
        return heapq.nlargest(MAX_CANDIDATES, pool, key=score.__getitem__), population

    def _frequencies(self, conn: Connection, records: list[PersonRecord]) -> dict[str, int]:
        """How many registered persons bear each name the comparison will weigh."""
        skeletons = {sk for r in records for sk in frequency_keys(r) if sk}
        keys = [f"s:{sk}" for sk in skeletons]
        counts: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            rows = conn.execute(
                select(match_key_counts.c.key, match_key_counts.c.n).where(
                    match_key_counts.c.key.in_(keys[start : start + 500])
                )
            )
            counts.update({k[2:]: int(n) for k, n in rows})
        return counts
