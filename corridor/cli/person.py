"""``corridor person``: the administrator's commands on one person's record."""

from __future__ import annotations

import click

from corridor.cli.options import actor, db_option, key_option, reported, services_for


@click.group()
def person() -> None:
    """One person's record (the administrator's)."""


@person.command("renumber")
@db_option
@key_option
@click.argument("ref")
@click.option("--reason", required=True, help="Why (kept in the audit log)")
def person_renumber(db_url: str | None, master_key_file: str | None, ref: str, reason: str) -> None:
    """Give the person REF (an id or a registration number) a new registration number:
    the number was given to another person too (docs/sync.md, "Registration numbers").
    Audited; reaches the nodes holding the person with the next sync. Print their
    wristband again."""
    svc = services_for(db_url, master_key_file)
    with reported():
        done = svc.registration.renumber(
            ref,
            reason,
            audit=svc.audit.operator_hook(
                actor().removeprefix("cli:"), "person.renumber", purpose=reason.strip()[:200]
            ),
        )
    click.echo(
        f"person {done['person_id']}: registration number {done['previous_number']} -> "
        f"{done['registration_number']} (print the wristband again)"
    )
