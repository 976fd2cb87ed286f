"""``corridor backup`` and ``corridor restore``: an online copy of the database with a
manifest, and a restore that checks the rows and the audit chain against it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from corridor.cli.options import database_for, db_option, operator_tool_audit, reported

PASSPHRASE_ENV = "CORRIDOR_BACKUP_PASSPHRASE"

passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help=f"Seal (or open) the backup under the passphrase in this file (at least 12 "
    f"characters; first line); or env {PASSPHRASE_ENV}. Never on the command line.",
)


def _passphrase(path: Path | None) -> str | None:
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return os.environ.get(PASSPHRASE_ENV) or None


@click.command()
@db_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to write (replaced whole once complete)",
)
@passphrase_option
def backup(db_url: str | None, out: Path, passphrase_file: Path | None) -> None:
    """Back up the database while the server runs: SQLite's online backup API, or
    pg_dump on PostgreSQL, with a manifest (version, schema revision, rows per table,
    audit chain head). The master key is not in it: keep that apart, offline. An
    operator's tool around the gate (every person is in the file): audited as one
    ``backup`` event under the operator's login."""
    from corridor.services.backup import backup as take_backup
    from corridor.services.backup import describe

    database = database_for(db_url)
    try:
        with reported():
            try:
                manifest = take_backup(
                    database,
                    out,
                    passphrase=_passphrase(passphrase_file),
                    audit=operator_tool_audit(database, "backup"),
                )
            except ValueError as exc:  # a passphrase too short
                raise click.UsageError(str(exc)) from exc
    finally:
        database.dispose()
    click.echo(f"{out}: {describe(manifest)}")
    if not manifest.audit_chain_ok:
        click.echo(
            f"WARNING: the audit chain of the database is broken at seq "
            f"{manifest.audit_head_seq}: the backup keeps it as it is; run `corridor audit "
            "verify` and investigate",
            err=True,
        )
        raise SystemExit(1)


@click.command()
@db_option
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to restore",
)
@click.option("--force", is_flag=True, help="Overwrite a database that already holds tables")
@passphrase_option
def restore(db_url: str | None, source: Path, force: bool, passphrase_file: Path | None) -> None:
    """Restore a backup into an empty database (stop the server first), then check the
    rows per table and the audit chain against the backup's manifest (exit 1 if they
    differ). Audited as one ``restore`` event, appended to the chain restored."""
    from corridor.services.backup import describe
    from corridor.services.backup import restore as run_restore

    database = database_for(db_url)
    try:
        with reported():
            report = run_restore(
                source,
                database,
                force=force,
                passphrase=_passphrase(passphrase_file),
                audit=operator_tool_audit(database, "restore"),
            )
    finally:
        database.dispose()
    click.echo(f"restored {describe(report.manifest)}")
    if report.ok:
        rows = sum(report.counts.values())
        head = report.audit.head.hash if report.audit.head else "empty"
        click.echo(
            f"OK: {len(report.counts)} tables and {rows} rows as in the manifest; audit "
            f"chain of {report.audit.checked} events valid, head {head}; the restore is "
            "audited as the next event"
        )
        return
    click.echo("RESTORED, BUT THE CHECK FAILED: do not use this database", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    raise SystemExit(1)
