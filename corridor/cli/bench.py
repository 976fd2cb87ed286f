"""``corridor bench``: the person-matching benchmark commands."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bench() -> None:
    """The person-matching benchmark commands (they use a throwaway store of their own)."""


@bench.command("match")
@click.option(
    "--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--top", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bench_match(registry: Path, queries: Path, top: int, out: Path) -> None:
    """Rank registry records for each query: query_id,record_id,rank,probability."""
    from corridor.matching.bench import run_match

    run_match(registry, queries, top, out)


@bench.command("dedupe")
@click.option(
    "--records", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--engine",
    type=click.Choice(["corridor", "search", "duckdb", "spark"]),
    default="corridor",
    show_default=True,
    help="corridor: the matching engine's pair probabilities in memory; search: every "
    "record searched for among the others as an enquiry is (the engine's search and "
    "calibrated probability); duckdb/spark: Splink with Corridor's keys",
)
@click.option(
    "--threshold",
    default=None,
    type=float,
    help="pair probability from which two records are one person [default: 0.5; search: "
    "0.98, the probability that the record is registered]",
)
def bench_dedupe(records: Path, out: Path, engine: str, threshold: float | None) -> None:
    """Cluster duplicate records: record_id,cluster_id for every record."""
    if engine == "search":
        from corridor.linkage.search import SEARCH_DUPLICATE_AT, run_dedupe_search

        run_dedupe_search(records, out, SEARCH_DUPLICATE_AT if threshold is None else threshold)
        return
    threshold = 0.5 if threshold is None else threshold
    if engine == "corridor":
        from corridor.matching.bench import run_dedupe

        run_dedupe(records, out, threshold)
    else:
        from corridor.linkage.bench import run_dedupe_splink

        run_dedupe_splink(records, out, engine, threshold)
