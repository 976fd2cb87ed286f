"""``corridor bench dedupe --engine duckdb|spark``: the dedupe benchmark on Splink."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from corridor.linkage.engine import dedupe, dedupe_person_csv
from corridor.matching.bench import read_person_csv

__all__ = ["chunked", "run_dedupe_splink"]

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def run_dedupe_splink(
    records_csv: Path, out_csv: Path, engine: str = "duckdb", threshold: float = 0.5,
    chunk_size: int = 20_000,
    workers: int | None = None,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """Cluster the CSV's records on Splink; write ``record_id,cluster_id`` for every record."""
    if engine == "duckdb":
        # DuckDB reads the file itself (the same values as read_person_csv).
        result = dedupe_person_csv(records_csv, threshold=threshold, memory_limit=memory_limit)
    else:
        result = dedupe(
            chunked(read_person_csv(records_csv), chunk_size),
            backend=engine,
            threshold=threshold,
            workers=workers or min(os.cpu_count() or 1, 4),
            memory_limit=memory_limit,
        )
    cluster_of = {rid: c[0] for c in result.clusters for rid in c}
    with records_csv.open(newline="", encoding="utf-8") as f, out_csv.open(
        "w", newline="", encoding="utf-8"
    ) as out:
        w = csv.writer(out)
        w.writerow(["record_id", "cluster_id"])
        for row in csv.DictReader(f):
            rid = row["record_id"]
            w.writerow([rid, cluster_of.get(rid, rid)])
    stats: dict[str, Any] = {
        "records": result.records,
        "pairs": result.pairs,
        "multi_record_clusters": len(result.clusters),
        **{k: round(v, 2) for k, v in result.timings.items()},
    }
    print(
        f"bench dedupe ({engine}, Splink, model {result.model_version}): {result.records} "
        f"records, {result.pairs} pairs -> {len(result.clusters)} clusters with duplicates "
        f"in {stats['total_s']} s",
        file=sys.stderr,
    )
    return stats
