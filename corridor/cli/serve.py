"""``corridor serve``: the web interface and API."""

from __future__ import annotations

import os

import click

from corridor.cli.options import db_option, key_option, operator_tool_audit, settings_for
from corridor.logs import LogFormat
from corridor.settings import SETTINGS_HELP, Settings


@click.command()
@db_option
@key_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Server processes (they share the database; SQLite keeps one writer)",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="text",
    show_default=True,
    envvar="CORRIDOR_LOG_FORMAT",
    help="Log lines on standard error: json (one object a line, for log shipping) or "
    "text; one per request, with no personal data; env CORRIDOR_LOG_FORMAT",
)
@click.option(
    "--read-only",
    is_flag=True,
    default=False,
    envvar="CORRIDOR_READ_ONLY",
    help=SETTINGS_HELP["read_only"],
)
def serve(
    db_url: str | None,
    master_key_file: str | None,
    host: str,
    port: int,
    workers: int,
    log_format: LogFormat,
    read_only: bool,
) -> None:
    """Serve the web interface and API."""
    import uvicorn

    from corridor.logs import dict_config
    from corridor.upgrade import upgrade
    from corridor.web import create_app

    settings = settings_for(db_url, master_key_file)
    if read_only or settings.read_only:
        _serve_read_only(settings, host, port, log_format)
        return
    if not (settings.master_key or settings.master_key_file):
        click.echo(
            "no master key (--master-key-file or CORRIDOR_MASTER_KEY): nobody can log in "
            "and no phone, document or note can be stored",
            err=True,
        )
    from corridor.storage import Database

    database = Database(settings.database_url)
    has_key = bool(settings.master_key or settings.master_key_file)
    upgrade(
        database,
        master=settings.load_master_key() if has_key else None,
        audit=operator_tool_audit(database, "db.upgrade"),
    )
    click.echo(f"Corridor on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        # Each process builds its own app from the environment (no state is shared but
        # the database).
        database.dispose()
        os.environ["CORRIDOR_DATABASE_URL"] = settings.database_url
        if settings.master_key_file:
            os.environ["CORRIDOR_MASTER_KEY_FILE"] = settings.master_key_file
        uvicorn.run(
            "corridor.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=dict_config(log_format),
            access_log=False,  # it logs raw paths and query strings: RequestLog does it
        )
        return
    uvicorn.run(
        create_app(settings, database=database),
        host=host,
        port=port,
        log_config=dict_config(log_format),
        access_log=False,
    )


def _serve_read_only(settings: Settings, host: str, port: int, log_format: LogFormat) -> None:
    """One process on a working copy of the database (``storage/read_only.py``): the
    database file itself is opened read-only and never written."""
    import dataclasses

    import uvicorn

    from corridor.logs import dict_config
    from corridor.storage.read_only import ReadOnlyCopy
    from corridor.upgrade import upgrade
    from corridor.web import create_app

    settings = dataclasses.replace(settings, read_only=True)
    has_key = bool(settings.master_key or settings.master_key_file)
    try:
        copy = ReadOnlyCopy(settings.database_url)
    except (FileNotFoundError, OSError) as exc:
        raise click.ClickException(f"cannot open the database read-only: {exc}") from exc
    try:
        if copy.database.is_sqlite:  # the working copy, brought to this version's schema
            upgrade(
                copy.database,
                master=settings.load_master_key() if has_key else None,
                audit=operator_tool_audit(copy.database, "db.upgrade"),
            )
        click.echo(f"Corridor (read-only copy) on http://{host}:{port}")
        app = create_app(settings, database=copy.database)
        uvicorn.run(
            app, host=host, port=port, log_config=dict_config(log_format), access_log=False
        )
    finally:
        copy.close()
