"""Batch deduplication of the registry on Splink (``corridor duplicates --engine duckdb``)
or by the matching engine's own search (``--engine search``).

Persons are streamed from the database in chunks (``yield_per``): each chunk becomes the
matching engine's records (sealed phones and document numbers opened with the vault),
then Corridor's key columns in a Parquet file (``corridor.linkage``); the registry is
never held as Python objects at once. Only the persons of the clusters found are read
again, for their summaries. The search engine reads the same chunks into the engine's
in-memory index (``corridor.linkage.search``: matching records, not database rows, are
held), then searches every person among all the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from corridor.linkage.engine import dedupe
from corridor.linkage.search import cluster_links, pair_probability, search_links
from corridor.matching import PersonRecord
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Model
from corridor.services.protection.field_vault import FieldVault
from corridor.services.search.match_index import documents_of, stored_records
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.merge_tables import merged_persons
from corridor.storage.tables import persons

__all__ = ["registry_size", "search_duplicates", "splink_duplicates"]

_LIVE = persons.c.anonymised_at.is_(None)


def registry_size(db: Database) -> int:
    """Persons a deduplication reads (not anonymised)."""
    with db.read() as conn:
        query = select(func.count()).select_from(persons).where(_LIVE)
        return int(conn.execute(query).scalar_one())


def _chunks(
    conn: Connection, vault: FieldVault, chunk_size: int, merged: bool = True
) -> Iterator[list[PersonRecord]]:
    live = _LIVE if merged else and_(_LIVE, persons.c.id.not_in(select(merged_persons.c.person_id)))
    result = conn.execute(
        select(persons).where(live).order_by(persons.c.id).execution_options(yield_per=chunk_size)
    ).mappings()
    for rows in result.partitions(chunk_size):
        docs = documents_of(conn, [r["id"] for r in rows])
        yield stored_records(rows, docs, vault)


def splink_duplicates(
    db: Database,
    vault: FieldVault,
    today: date,
    *,
    threshold: float,
    engine: str,
    chunk_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    spark: Any = None,
    memory_limit: str | None = None,
) -> list[list[dict[str, Any]]]:
    """Groups of persons who are probably one person (largest first), found on Splink
    (``engine``: ``duckdb`` or ``spark``), each person as ``queries.person_summary``."""
    with db.read() as conn:
        result = dedupe(
            _chunks(conn, vault, chunk_size),
            backend=engine,
            threshold=threshold,
            progress=progress,
            spark=spark,
            workers=min(os.cpu_count() or 1, 4),
            memory_limit=memory_limit,
        )
    return _summaries(db, today, result.clusters)


def search_duplicates(
    db: Database,
    vault: FieldVault,
    today: date,
    model: Model,
    *,
    threshold: float,
    chunk_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    searched: Callable[[int], None] | None = None,
) -> list[list[dict[str, Any]]]:
    """Groups of persons who are probably one person (largest first), found by searching
    every person among all the others (``corridor.linkage.search.search_clusters``: the
    search's probability that the person is registered, from ``threshold``; clusters
    by average linkage), each person as ``queries.person_summary``. ``progress(n)``:
    persons read; ``searched(n)``: persons searched for."""

    def records(conn: Connection) -> Iterator[PersonRecord]:
        # A person merged into another is that person: not searched, not a candidate.
        for chunk in _chunks(conn, vault, chunk_size, merged=False):
            if progress is not None:
                progress(len(chunk))
            yield from chunk

    with db.read() as conn:
        index = MemoryIndex(records(conn), model)
    links = search_links(index, progress=searched)
    clusters, _kept = cluster_links(list(index.records), links, threshold,
                                    probability=pair_probability(index))  # fmt: skip
    return _summaries(db, today, [c for c in clusters if len(c) > 1])


def _summaries(db: Database, today: date, clusters: list[list[str]]) -> list[list[dict[str, Any]]]:
    groups = sorted(clusters, key=lambda g: (-len(g), g[0]))
    wanted = [pid for g in groups for pid in g]
    rows: dict[str, Any] = {}
    with db.read() as conn:
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            for r in conn.execute(select(persons).where(persons.c.id.in_(batch))).mappings():
                rows[r["id"]] = r
    return [[queries.person_summary(rows[pid], today) for pid in g if pid in rows] for g in groups]
