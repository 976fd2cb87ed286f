"""``corridor duplicates``: persons probably registered twice."""

from __future__ import annotations

from pathlib import Path

import click

from corridor.cli.options import actor, db_option, key_option, services_for


@click.command()
@db_option
@key_option
@click.option(
    "--threshold",
    default=None,
    type=float,
    help="Pair probability from which two records are called one person "
    "[default: the matching model's duplicate_at]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write person_id,cluster_id,registration_number,name (CSV)",
)
def duplicates(
    db_url: str | None, master_key_file: str | None, threshold: float | None, out: Path | None
) -> None:
    """Find registered persons who are probably registered twice (same comparisons as search;
    phones and document numbers count only with the master key)."""
    svc = services_for(db_url, master_key_file, required=False)
    try:
        if threshold is None:
            threshold = svc.person_search.model.calibration.duplicate_at
        clusters = svc.person_search.duplicates(threshold)
        # Queued for review (pages and API); pairs an officer kept apart are left out.
        groups, queued = svc.merges.propose(
            [[p["id"] for p in g] for g in clusters],
            audit=svc.audit.operator_hook(actor().removeprefix("cli:"), "person.merge"),
        )
    finally:
        svc.db.dispose()
    by_id = {p["id"]: p for group in clusters for p in group}
    clusters = sorted(([by_id[i] for i in g] for g in groups), key=lambda g: (-len(g), g[0]["id"]))
    click.echo(f"{len(clusters)} groups of probable duplicates (threshold {threshold})")
    click.echo(f"{queued} new pairs queued for review")
    for group in clusters[:50]:
        click.echo(" = ".join(f"{p['registration_number']} {p['name']}" for p in group))
    if out is not None:
        import csv

        with out.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["person_id", "cluster_id", "registration_number", "name"])
            for group in clusters:
                for p in group:
                    w.writerow([p["id"], group[0]["id"], p["registration_number"], p["name"]])
        click.echo(f"written to {out}")
