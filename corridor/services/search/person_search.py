"""Finding a sought person among registered persons (tracing, search before create).

Candidates come from the matching index (blocking keys kept on every write), never from a
scan; the engine then scores the few best with explanations. For tracing, only persons
who consented to tracing are candidates: the gate is in the candidate query itself and
again in the query that loads them.

Purpose comes from the role, not the body (``search_as``): each purpose is governed by
one action of the authorisation matrix (``PURPOSE_ACTION``), and a search for it reaches
only the persons that action lets the caller reach. Deduplication is governed by
``person.read`` (the persons the caller could open: their sites, for every role today);
tracing by ``tracing.read`` (that action's scope, and only persons who consented to
tracing). The scope is also never wider than ``person.search``'s. A caller whose roles
lack the governing action is refused (403) for that purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select

from corridor.errors import Forbidden
from corridor.matching import (
    CandidatePolicy,
    Match,
    Matcher,
    Model,
    PersonRecord,
    find_duplicates,
    frequency_keys,
)
from corridor.matching.blocking import nationality_key, query_key_groups
from corridor.matching.variants import VariantTable
from corridor.schemas import MatchPurpose, MatchQueryIn, PersonDetails, validate_kept
from corridor.services.base import Service
from corridor.services.protection.accounts import Caller
from corridor.services.protection.field_vault import FieldVault
from corridor.services.search.match_index import documents_of, stored_records, with_relatives
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.merge_tables import merged_persons
from corridor.storage.queries import NAME_COLUMNS, Sites
from corridor.storage.tables import POPULATION_KEY, match_key_counts, person_match_keys, persons
from corridor.text import N_

# The engine's candidate policy with two limits tighter than the in-memory index's: 25
# candidates scored in full instead of 120, and name keys held by more than 0.5 % of the
# registry skipped (1 % in memory). Scoring is what a search spends most of its time on
# (model 5: about two thirds of it at 1,000,000 persons); 25 instead of 60 halves it and
# found the sought person first and in the top 10 as often but for one search in 200
# (docs/performance.md, "A million persons"). Registries under 60,000 keep every key.
_MILLI = 1000
POLICY = CandidatePolicy(max_candidates=25, pool_size=180, key_cap_share=0.005)


# The statements a search runs every time, built once with expanding parameters: the
# statement cache then finds them compiled, and a list of keys or ids is bound as a
# whole instead of being coerced value by value (docs/performance.md, "A million
# persons").
_COUNTS = select(match_key_counts.c.key, match_key_counts.c.n).where(
    match_key_counts.c.key.in_(bindparam("keys", expanding=True))
)
_BIRTH_SEX_NATIONALITY = select(
    persons.c.id, persons.c.birth_date, persons.c.sex, persons.c.nationality
).where(persons.c.id.in_(bindparam("ids", expanding=True)))


# The action of the authorisation matrix that governs each purpose of a match search.
PURPOSE_ACTION: dict[MatchPurpose, str] = {
    "deduplication": "person.read",
    "tracing": "tracing.read",
}
SEARCH_ACTION = "person.search"


def _holds(who: Caller, action: str) -> bool:
    """Whether one of the caller's roles allows ``action`` (and a token carries it)."""
    if who.token_scopes is not None and action not in who.token_scopes:
        return False
    return who.may(action)


def purpose_for(who: Caller, asked: MatchPurpose | None) -> MatchPurpose:
    """The purpose of a search: the one asked for, or, when none is, tracing for a
    caller who may trace and deduplication for anyone else."""
    if asked is not None:
        return asked
    return "tracing" if _holds(who, PURPOSE_ACTION["tracing"]) else "deduplication"


def purpose_scope(who: Caller, purpose: MatchPurpose) -> Sites:
    """The sites a search for ``purpose`` may reach (None: every site): the scope of the
    action that governs the purpose, never wider than that of ``person.search``. Raises
    Forbidden when the caller's roles (or token) lack either action."""
    matrix = who.matrix
    scope: frozenset[str] | None = None
    for action in (SEARCH_ACTION, PURPOSE_ACTION[purpose]):
        if not _holds(who, action):
            raise Forbidden(N_("None of your roles may do {action}", action=action))
        if not any(matrix.allowed(r, action, same_site=False) for r in who.principal.roles):
            mine = frozenset(who.principal.site_ids)
            scope = mine if scope is None else scope & mine
    return scope


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


class PersonSearchService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        model: Model | None = None,
    ) -> None:
        """``model``: the matching model (settings); the shipped one when None."""
        super().__init__(db, clock)
        self.vault = vault
        shipped, self.variants = engine_data()
        self.model = model or shipped

    def search_as(self, who: Caller, data: MatchQueryIn) -> list[dict[str, Any]]:
        """A search by ``who`` for its purpose (``purpose_for``), only among the persons
        that purpose lets the caller reach (``purpose_scope``; tracing: only persons who
        consented to tracing). Raises Forbidden for a purpose the caller's roles do not
        hold."""
        purpose = purpose_for(who, data.purpose)
        scope = purpose_scope(who, purpose)
        return self.search(data.model_copy(update={"purpose": purpose}), scope)

    def search(
        self, data: MatchQueryIn, scope: Sites = None, exclude: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        """The registered persons most likely to be the sought one, best first (among
        the persons in ``scope``, a condition of the candidate query itself). Only a
        search for deduplication reaches persons who did not consent to tracing. Callers
        acting for a user go through ``search_as``, which sets purpose and scope.
        ``exclude``: persons left out before scoring (a new registration searched for
        after it committed: not its own candidate, so it does not share the probability)."""
        today = self.clock().date()
        query = query_record(data, today.year)
        tracing = data.purpose != "deduplication"
        with self.db.read() as conn:
            # At least as many scored as the caller asked for (a search's later pages).
            wanted = data.top + len(exclude)
            cands, population = self._candidates(conn, query, tracing, scope, wanted)
            if exclude:
                cands = [c for c in cands if c not in exclude]
            if not cands:
                return []
            rows_q = select(persons).where(persons.c.id.in_(cands), queries.person_scope(scope))
            if tracing:
                rows_q = rows_q.where(persons.c.consent_tracing.is_(True))
            rows = {r["id"]: r for r in conn.execute(rows_q).mappings()}
            docs = documents_of(conn, list(rows))
            records = with_relatives(
                conn,
                stored_records([rows[c] for c in cands if c in rows], docs, self.vault),
                tracing=tracing,
            )
            model, variants = self.model, self.variants
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

    def suspected_duplicates(
        self,
        details: PersonDetails,
        at_least: float | None = None,
        exclude: Collection[str] = (),
    ) -> list[dict[str, Any]]:
        """The registered persons ``details`` probably duplicates (a search for
        deduplication in the whole registry, from the match index), each with a
        probability of at least ``at_least`` (by default the model's ``duplicate_at``),
        best first; ``exclude``: the persons not to offer (the new person itself). The
        one check of a new person against the registry: imports (before writing, for
        their report and the review queue) and registrations at a desk (after they
        committed, for the queue: ``MergeService.queue_new``)."""
        threshold = self.model.calibration.duplicate_at if at_least is None else at_least
        return [
            m
            for m in self.search(match_query(details), exclude=exclude)
            if m["probability"] >= threshold
        ]

    def duplicates(
        self,
        threshold: float | None = None,
        engine: str = "corridor",
        progress: Callable[[int], None] | None = None,
        chunk_size: int = 20_000,
        memory_limit: str | None = None,
        searched: Callable[[int], None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Groups of registered persons who are probably one person, largest first.

        ``engine``: ``corridor`` (the matching engine in memory), ``duckdb``/``spark``
        (Splink, streaming persons in chunks: ``batch_dedupe``) or ``search`` (every
        person searched for among the others, read in chunks: ``batch_dedupe``).
        ``threshold``: the pair probability from which two records are one person; by
        default the model's ``duplicate_at`` for the engine, 0.9 for Splink, whose model
        file carries its own calibration (docs/matching.md, "Batch deduplication on
        Splink"), and for search the probability that the person is registered,
        ``SEARCH_DUPLICATE_AT`` (0.98; docs/matching.md, "Deduplication by search").
        ``progress(n)``: persons read (the streaming engines); ``searched(n)``: persons
        searched for (``search``).
        ``memory_limit``: DuckDB's (``"3GB"``), beyond which it spills to disk."""
        if threshold is None:
            threshold = self.model.calibration.duplicate_at if engine == "corridor" else 0.9
            if engine == "search":
                from corridor.linkage.search import SEARCH_DUPLICATE_AT

                threshold = SEARCH_DUPLICATE_AT
        today = self.clock().date()
        if engine == "search":
            from corridor.services.search.batch_dedupe import search_duplicates

            return search_duplicates(
                self.db, self.vault, today, self.model, threshold=threshold,
                chunk_size=chunk_size, progress=progress, searched=searched,
            )  # fmt: skip
        if engine != "corridor":
            from corridor.services.search.batch_dedupe import splink_duplicates

            return splink_duplicates(
                self.db,
                self.vault,
                today,
                threshold=threshold,
                engine=engine,
                chunk_size=chunk_size,
                progress=progress,
                memory_limit=memory_limit,
            )
        with self.db.read() as conn:
            rows = {
                r["id"]: r
                for r in conn.execute(
                    select(persons).where(
                        persons.c.anonymised_at.is_(None),
                        persons.c.id.not_in(select(merged_persons.c.person_id)),
                    )
                ).mappings()
            }
            docs = documents_of(conn, list(rows)) if rows else {}
        records = stored_records(list(rows.values()), docs, self.vault)
        groups = [g for g in find_duplicates(records, threshold, self.model) if len(g) > 1]
        groups.sort(key=lambda g: (-len(g), g[0]))
        return [[queries.person_summary(rows[pid], today) for pid in g] for g in groups]

    def duplicates_among(
        self, person_ids: Sequence[str], threshold: float | None = None
    ) -> list[tuple[str, str]]:
        """The pairs of ``person_ids`` (persons written together: one import's new
        persons) that are probably one person: pairs the engine's blocking finds among
        them, each scored as a pair of the whole registry (``score_pairs``: the
        registry's name frequencies and size) and kept from ``threshold`` (by default
        the model's ``duplicate_at``). A search of the match index finds only persons
        already registered; this finds those written beside each other."""
        if len(person_ids) < 2:
            return []
        threshold = self.model.calibration.duplicate_at if threshold is None else threshold
        with self.db.read() as conn:
            rows = list(
                conn.execute(select(persons).where(persons.c.id.in_(list(person_ids)))).mappings()
            )
            docs = documents_of(conn, [r["id"] for r in rows])
        records = stored_records(rows, docs, self.vault)
        # Among a few records each name is rare and "nobody else" unlikely, so the groups
        # found here are generous; the registry's scores below decide.
        groups = [g for g in find_duplicates(records, threshold, self.model) if len(g) > 1]
        pairs = [(a, b) if a < b else (b, a) for g in groups for i, a in enumerate(g)
                 for b in g[i + 1 :]]  # fmt: skip
        scores = self.score_pairs(pairs)
        return [pair for pair in pairs if pair in scores and scores[pair].probability >= threshold]

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Match]:
        """The engine's score of each pair of registered persons, with its explanation
        (the engine reads a sought and a registered person: both ways are scored and the
        better kept, as ``find_duplicates`` does). A pair naming a person that is not
        there is left out."""
        ids = sorted({pid for pair in pairs for pid in pair})
        if not ids:
            return {}
        with self.db.read() as conn:
            rows = list(conn.execute(select(persons).where(persons.c.id.in_(ids))).mappings())
            docs = documents_of(conn, [r["id"] for r in rows])
            records = {r.record_id: r for r in stored_records(rows, docs, self.vault)}
            population = conn.execute(
                select(match_key_counts.c.n).where(match_key_counts.c.key == POPULATION_KEY)
            ).scalar()
            frequencies = self._frequencies(conn, list(records.values()))
        matcher = Matcher(self.model, frequencies, int(population or 0), self.variants)
        out: dict[tuple[str, str], Match] = {}
        for a, b in pairs:
            if a in records and b in records:
                one = matcher.score(records[a], records[b])
                two = matcher.score(records[b], records[a])
                out[(a, b)] = one if one.weight >= two.weight else two
        return out

    def candidates(
        self, conn: Connection, query: PersonRecord, tracing: bool = True
    ) -> tuple[list[str], int]:
        """The ids of the persons worth scoring for ``query``, best first, and the
        registry's size (tracing: only persons who consented)."""
        return self._candidates(conn, query, tracing)

    def frequencies(self, conn: Connection, records: list[PersonRecord]) -> dict[str, int]:
        """Name and nationality counts for a Matcher scoring ``records``."""
        return self._frequencies(conn, records)

    def _candidates(
        self,
        conn: Connection,
        query: PersonRecord,
        tracing: bool,
        scope: Sites = None,
        wanted: int = 0,
    ) -> tuple[list[str], int]:
        """The engine's candidate policy (CandidatePolicy: which keys, the frequency cap,
        the birth year/sex/nationality adjustment), run by the database."""
        # Identifier keys are stored through the lookup hash: look them up the same way.
        key_groups, weak_keys = query_key_groups(query)
        groups = [{self.vault.index_key(k) for k in g} for g in key_groups]
        weak = frozenset(self.vault.index_key(k) for k in weak_keys)
        keys = sorted({k for g in groups for k in g})
        counts = dict(conn.execute(_COUNTS, {"keys": [*keys, POPULATION_KEY]}).all())
        population = int(counts.pop(POPULATION_KEY, 0))
        chosen = POLICY.choose_keys(
            groups, {k: int(n) for k, n in counts.items()}, population, weak
        )
        if not chosen:
            return [], population
        # In thousandths, as integers: a sum of floats depends on the order the database
        # adds the rows in (their place on disk), and candidates that tie would be taken
        # in another order from one run to the next; integers tie exactly and fall back
        # to the id.
        weight_of = {key: round(idf * _MILLI) for _, key, idf in chosen}
        # Pre-rank in the database: a candidate's score is the sum of the weights of the
        # chosen keys it shares with the query, and only the best pool comes back. (The
        # in-memory index counts only the best key of each name group; summing in one
        # GROUP BY is twice as fast at 1,000,000 persons and ranked as well there:
        # docs/performance.md.)
        k = person_match_keys.c.key
        total = func.sum(case(weight_of, value=k)).label("total")
        ranked = (
            select(person_match_keys.c.person_id, total)
            .where(k.in_(list(weight_of)))
            .group_by(person_match_keys.c.person_id)
            .order_by(total.desc(), person_match_keys.c.person_id)
            .limit(POLICY.pool_size)
        )
        if tracing:
            ranked = ranked.where(person_match_keys.c.traceable.is_(True))
        if scope is not None:
            ranked = ranked.where(
                person_match_keys.c.person_id.in_(
                    select(persons.c.id).where(queries.person_scope(scope))
                )
            )
        score = {pid: int(t) / _MILLI for pid, t in conn.execute(ranked)}
        if not score:
            return [], population
        pool = list(score)
        rows = conn.execute(_BIRTH_SEX_NATIONALITY, {"ids": pool}).all()
        for pid, birth, sex, nationality in rows:
            score[pid] += POLICY.adjustment(query, birth.year if birth else None, sex, nationality)
        return POLICY.best(score, pool, wanted), population

    def _frequencies(self, conn: Connection, records: list[PersonRecord]) -> dict[str, int]:
        """How many registered persons bear each name the comparison will weigh (keyed by
        skeleton) and each nationality (keyed ``nat:ISO3``, as the engine expects)."""
        skeletons = {sk for r in records for sk in frequency_keys(r) if sk}
        nationalities = {k for r in records if (k := nationality_key(r.nationality))}
        keys = [f"s:{sk}" for sk in skeletons] + sorted(nationalities)
        counts: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            rows = conn.execute(_COUNTS, {"keys": keys[start : start + 500]})
            counts.update({k if k.startswith("nat:") else k[2:]: int(n) for k, n in rows})
        return counts


def match_query(person: PersonDetails) -> MatchQueryIn:
    """A deduplication search for a person's details (``suspected_duplicates``); values
    a search refuses (a nationality that is no ISO code, an age over 120) are left out."""
    original = " ".join(
        getattr(person, f) for f in NAME_COLUMNS if f.endswith("_original") and getattr(person, f)
    )
    birth_year = int(person.birth_date[:4]) if person.birth_date else None
    # The person's own values, kept or joined (four original-script parts of 100
    # characters are 403 for a query's 300): held to no length a caller types.
    query = dict(
        given_name=person.given_name,
        father_name=person.father_name,
        grandfather_name=person.grandfather_name,
        family_name=person.family_name,
        name_original_script=original or None,
        alternate_names=list(person.alternate_names[:20]),
        sex=person.sex,
        birth_year=birth_year if birth_year and 1880 <= birth_year <= 2100 else None,
        age=person.estimated_age
        if person.estimated_age is not None and person.estimated_age <= 120
        else None,
        nationality=person.nationality
        if person.nationality and len(person.nationality) == 3
        else None,
        mother_name=person.mother_name,
        purpose="deduplication",
        top=3,
    )
    return validate_kept(MatchQueryIn, query, query)
