"""``corridor audit``: check the audit hash chain."""

from __future__ import annotations

import click

from corridor.cli.options import database_for, db_option


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@db_option
def audit_verify(db_url: str | None) -> None:
    """Check the audit hash chain: OK and its head, or the first broken row (exit 1)."""
    from corridor.security import audit as audit_log

    database = database_for(db_url)
    with database.read() as conn:
        result = audit_log.verify(conn)
    database.dispose()
    if result.ok:
        head = f"head seq {result.head.seq} hash {result.head.hash}" if result.head else "empty"
        click.echo(f"OK: {result.checked} events, {head}")
        return
    click.echo(f"BROKEN at seq {result.broken_seq}: {result.reason}", err=True)
    raise SystemExit(1)
