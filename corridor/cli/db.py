"""``corridor init`` and ``corridor db``: create the database, apply the migrations and the
data steps they leave, rebuild the location table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from corridor.cli.options import (
    admin_audit,
    closed_with_command,
    database_for,
    db_option,
    key_option,
    operator_tool_audit,
    read_password,
    reported,
    services_for,
    settings_for,
    show_enrolment,
)

if TYPE_CHECKING:
    from corridor.storage import Database


def upgrade_database(
    db_url: str | None, master_key_file: str | None, revision: str = "head"
) -> Database:
    """Migrate the schema, then run the data steps the migrations left (with the master
    key when one is configured); says what each did or why it waits. The database."""
    from corridor.storage import Database
    from corridor.storage.migrate import REBUILD_MATCH_INDEX, SEAL_NOTES
    from corridor.upgrade import upgrade

    done_in_words = {
        REBUILD_MATCH_INDEX: "matching index rebuilt for the persons already registered",
        SEAL_NOTES: "movement notes and separation reasons sealed",
    }

    settings = settings_for(db_url, master_key_file)
    has_key = bool(settings.master_key or settings.master_key_file)
    database = closed_with_command(Database(settings.database_url))
    master = settings.load_master_key() if has_key else None
    result = upgrade(database, revision, master, audit=operator_tool_audit(database, "db.upgrade"))
    for step in result.done:
        click.echo(done_in_words.get(step, f"data step {step} done"))
    for step, why in result.waiting.items():
        click.echo(
            f"data step {step} waits ({why}): run `corridor db upgrade` with "
            "--master-key-file or CORRIDOR_MASTER_KEY",
            err=True,
        )
    return database


@click.command()
@db_option
@key_option
@click.option("--admin-username", help="The first administrator's user name")
@click.option("--admin-name", help="The first administrator's full name")
@click.option(
    "--admin-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file whose first line is the first administrator's password (else asked)",
)
@click.option("--admin-language", type=click.Choice(["en", "ar", "ku"]), default=None)
@click.option(
    "--totp-uri-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the administrator's otpauth:// URI (their TOTP secret) to this file, "
    "readable by its owner only, instead of showing it on the terminal",
)
def init(
    db_url: str | None,
    master_key_file: str | None,
    admin_username: str | None,
    admin_name: str | None,
    admin_password_file: Path | None,
    admin_language: str | None,
    totp_uri_file: Path | None,
) -> None:
    """Create the database (or bring it up to date) and, on an empty one, the first
    administrator: asked for on a terminal, or from --admin-username and
    --admin-password-file. A master key file that does not exist yet is created."""
    if master_key_file and not Path(master_key_file).exists():
        from corridor.security.crypto import MasterKey

        key_path = Path(master_key_file)
        key_path.write_text(MasterKey.generate().encoded(), encoding="ascii")
        key_path.chmod(0o600)
        click.echo(f"created {key_path} with a new master key: keep a copy offline")
    db = upgrade_database(db_url, master_key_file)
    click.echo(f"database ready: {db.url.render_as_string(hide_password=True)}")
    svc = services_for(db_url, master_key_file, required=False)
    if svc.administration.has_administrator():
        if admin_username or admin_password_file:
            raise click.ClickException(
                "an administrator exists already: sign in as them to add users "
                "(`corridor users create` or the Administration pages)"
            )
        click.echo("an administrator exists: sign in at /login")
        return
    interactive = _interactive()
    if admin_username is None and not interactive:
        click.echo(
            "no administrator yet: run `corridor init` on a terminal, or give "
            "--admin-username and --admin-password-file"
        )
        return
    if svc.administration.master is None:
        raise click.UsageError(
            "the first administrator's second factor is sealed under the master key: "
            "give --master-key-file or CORRIDOR_MASTER_KEY"
        )
    username = admin_username or str(click.prompt("Administrator's user name"))
    name = admin_name or (
        str(click.prompt("Administrator's full name", default=username))
        if interactive
        else username
    )
    password = read_password(admin_password_file)
    with reported():
        enrolled = svc.administration.first_administrator(
            username, name, password, admin_language, audit=admin_audit(svc, "users.admin")
        )
    user = enrolled.user
    click.echo(f"administrator {user['username']} created (id {user['id']})")
    show_enrolment(user["username"], enrolled.totp_secret, totp_uri_file)
    click.echo(
        "sign in: `corridor serve`, open /login, give the user name and password, then "
        "the 6-digit code from the authenticator app"
    )


def _interactive() -> bool:
    """Whether someone sits at a terminal to answer questions."""
    return sys.stdin.isatty()


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@db_option
@key_option
@click.option("--revision", default="head", show_default=True)
def db_upgrade(db_url: str | None, master_key_file: str | None, revision: str) -> None:
    """Apply the schema migrations, then the data steps they leave (e.g. indexing the
    persons already registered for matching)."""
    from corridor.services import Services
    from corridor.storage.migrate import current_revision

    database = upgrade_database(db_url, master_key_file, revision)
    click.echo(f"schema at revision {current_revision(database)}")
    if clear := Services(database).keys.count_plaintext():
        click.echo(
            f"{clear} records (persons, detention sites) hold sensitive values in the clear "
            "after a migration: seal them with `corridor keys seal`"
        )


@db.command("rebuild-locations")
@db_option
def db_rebuild_locations(db_url: str | None) -> None:
    """Recompute everyone's current location from the movement log."""
    from corridor.services import Services

    n = Services(database_for(db_url)).movements.rebuild_locations()
    click.echo(f"rebuilt the location of {n} persons")
