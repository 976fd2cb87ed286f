"""``corridor serve``: the web interface and API."""

from __future__ import annotations

import os

import click

from corridor.cli.options import db_option, key_option, settings_for
from corridor.logs import LogFormat


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
def serve(
    db_url: str | None,
    master_key_file: str | None,
    host: str,
    port: int,
    workers: int,
    log_format: LogFormat,
) -> None:
    """Serve the web interface and API."""
    import uvicorn

    from corridor.logs import dict_config
    from corridor.upgrade import upgrade
    from corridor.web import create_app

    settings = settings_for(db_url, master_key_file)
    if not (settings.master_key or settings.master_key_file):
        click.echo(
            "no master key (--master-key-file or CORRIDOR_MASTER_KEY): nobody can log in "
            "and no phone, document or note can be stored",
            err=True,
        )
    from corridor.storage import Database

    database = Database(settings.database_url)
    has_key = bool(settings.master_key or settings.master_key_file)
    upgrade(database, master=settings.load_master_key() if has_key else None)
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
