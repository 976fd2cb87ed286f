"""``corridor init`` and ``corridor db``: create the database, apply the migrations and the
data steps they leave, rebuild the location table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from corridor.cli.options import database_for, db_option, key_option, settings_for

if TYPE_CHECKING:
    from corridor.storage import Database


def upgrade_database(
    db_url: str | None, master_key_file: str | None, revision: str = "head"
) -> Database:
    """Migrate the schema, then run the data steps the migrations left (with the master
    key when one is configured); says what each did or why it waits. The database."""
    from corridor.storage import Database
    from corridor.storage.migrate import REBUILD_MATCH_INDEX
    from corridor.upgrade import upgrade

    done_in_words = {
        REBUILD_MATCH_INDEX: "matching index rebuilt for the persons already registered"
    }

    settings = settings_for(db_url, master_key_file)
    has_key = bool(settings.master_key or settings.master_key_file)
    database = Database(settings.database_url)
    result = upgrade(database, revision, settings.load_master_key() if has_key else None)
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
def init(db_url: str | None, master_key_file: str | None) -> None:
    """Create the database (or bring it up to date)."""
    db = upgrade_database(db_url, master_key_file)
    click.echo(f"database ready: {db.url.render_as_string(hide_password=True)}")


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
