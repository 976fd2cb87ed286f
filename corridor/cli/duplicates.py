"""``corridor duplicates``: persons probably registered twice."""

from __future__ import annotations

from pathlib import Path

import click

from corridor.cli.options import actor, db_option, key_option, services_for

ON_SCREEN = 50  # groups printed; --out writes them all


@click.command()
@db_option
@key_option
@click.option(
    "--threshold",
    default=None,
    type=float,
    help="Pair probability from which two records are called one person "
    "[default: the matching model's duplicate_at; 0.9 with Splink, whose model carries its "
    "own calibration; with search, 0.98 of the search's probability that the person is "
    "registered]",
)
@click.option(
    "--engine",
    type=click.Choice(["corridor", "duckdb", "spark", "search"]),
    default="corridor",
    show_default=True,
    help="corridor: the matching engine in memory; duckdb/spark: Splink, streaming the "
    "registry in chunks (docs/matching.md, 'Batch deduplication on Splink'); search: every "
    "person searched for among the others, read in chunks (docs/matching.md, "
    "'Deduplication by search')",
)
@click.option(
    "--chunk-size", default=20_000, show_default=True, type=click.IntRange(min=1),
    help="Persons read from the database at a time (duckdb/spark/search)",
)
@click.option(
    "--memory-limit",
    default=None,
    help="duckdb: DuckDB's memory limit (e.g. 3GB); beyond it DuckDB spills to a temporary "
    "directory [default: DuckDB's, 80 %% of the machine's memory]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write person_id,cluster_id,registration_number,name (CSV)",
)
def duplicates(
    db_url: str | None,
    master_key_file: str | None,
    threshold: float | None,
    engine: str,
    chunk_size: int,
    memory_limit: str | None,
    out: Path | None,
) -> None:
    """Find registered persons who are probably registered twice (same comparisons as search;
    phones and document numbers count only with the master key), and queue each pair for
    an officer's review (pairs kept apart are never queued again). Each person printed or
    written to --out is audited once (person.merge) under the operator's login."""
    svc = services_for(db_url, master_key_file, required=False)
    audit = svc.audit.operator_hook(actor().removeprefix("cli:"), "person.merge")
    try:
        if threshold is None:
            corridor = engine == "corridor"
            threshold = svc.person_search.model.calibration.duplicate_at if corridor else 0.9
            if engine == "search":
                from corridor.linkage.search import SEARCH_DUPLICATE_AT

                threshold = SEARCH_DUPLICATE_AT
        # Through the gate: the pairs queued for review, and every person this run shows
        # (the screen's first groups; all of them with --out) audited once.
        shown = None if out is not None else ON_SCREEN
        if engine == "corridor":
            found = svc.gate.duplicates_found(
                lambda: svc.person_search.duplicates(threshold), shown=shown, audit=audit
            )
        else:
            from rich.progress import Progress

            from corridor.services.search.batch_dedupe import registry_size

            with Progress(transient=True) as bar:
                size = registry_size(svc.db)
                task = bar.add_task("Reading persons", total=size)
                search = bar.add_task("Searching", total=size, visible=engine == "search")
                found = svc.gate.duplicates_found(
                    lambda: svc.person_search.duplicates(
                        threshold,
                        engine=engine,
                        chunk_size=chunk_size,
                        progress=lambda n: bar.advance(task, n),
                        memory_limit=memory_limit,
                        searched=lambda n: bar.advance(search, n),
                    ),
                    shown=shown,
                    audit=audit,
                )
    finally:
        svc.db.dispose()
    click.echo(f"{found.total} groups of probable duplicates (threshold {threshold})")
    click.echo(f"{found.queued} new pairs queued for review")
    for group in found.groups[:ON_SCREEN]:
        click.echo(" = ".join(f"{p.registration_number} {p.name}" for p in group))
    if out is not None:
        import csv

        with out.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["person_id", "cluster_id", "registration_number", "name"])
            for group in found.groups:
                for p in group:
                    w.writerow([p.id, group[0].id, p.registration_number, p.name])
        click.echo(f"written to {out}")
