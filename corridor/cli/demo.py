"""``corridor demo``: the Baghouz-like demo scenario, with a user per role (demo only)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import make_url

from corridor.cli.options import db_option, operator_tool_audit, settings_for
from corridor.settings import Settings


@click.command()
@db_option
@click.option("--seed", default=2019, show_default=True, type=int)
@click.option("--households", default=5000, show_default=True, type=int)
@click.option("--days", default=14, show_default=True, type=int)
@click.option("--serve/--no-serve", "then_serve", default=False, help="Serve it afterwards")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--force", is_flag=True, help="Replace an existing demo database file")
def demo(
    db_url: str | None,
    seed: int,
    households: int,
    days: int,
    then_serve: bool,
    port: int,
    force: bool,
) -> None:
    """Build the Baghouz-like demo scenario (deterministic for a seed), with a user per
    role whose credentials are printed (demo only)."""
    from corridor.demo.scenario import build_demo
    from corridor.demo.users import create_demo_users
    from corridor.security.crypto import MasterKey
    from corridor.services import Services
    from corridor.storage import Database
    from corridor.upgrade import upgrade

    settings = settings_for(db_url or "sqlite:///corridor-demo.db")
    if not (settings.master_key or settings.master_key_file):
        # Demo only: the key lives beside the demo database. In production the key file is
        # kept apart from the database (docs/security.md).
        key_file = Path(f"{make_url(settings.database_url).database or 'corridor-demo'}.key")
        if not key_file.exists():
            key_file.write_text(MasterKey.generate().encoded(), encoding="ascii")
            key_file.chmod(0o600)
        settings = Settings.from_env(
            database_url=settings.database_url, master_key_file=str(key_file)
        )
    database = Database(settings.database_url)
    build = True
    if database.is_sqlite and database.url.database:
        path = Path(database.url.database)
        if path.exists() and not force:
            click.echo(f"{path} exists: serving it as it is (--force rebuilds it)")
            build = False
        elif path.exists():
            database.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            database = Database(settings.database_url)
    master = settings.load_master_key()
    if build:
        # About a minute for 5,000 households: a line per stage and per day, each flushed
        # at once (click.echo flushes), so a terminal, a pipe or a log sees it happen.
        click.echo(f"Building the demo scenario: {households} households over {days} days")
        click.echo("creating the database tables")
    upgrade(database, master=master, audit=operator_tool_audit(database, "db.upgrade"))
    if build:
        summary = build_demo(
            database,
            seed=seed,
            households=households,
            days=days,
            progress=lambda line: click.echo(f"  {line}"),
            master=master,
        )
        click.echo("creating the demo users")
        users = create_demo_users(Services(database, master=master))
        for key, value in summary.items():
            click.echo(f"{key}: {value}")
        lines = ["DEMO ONLY - these accounts exist for the demo scenario, never for real data:"]
        for u in users:
            totp = f"TOTP secret {u['totp_secret']}" if u["totp_secret"] else "no TOTP"
            lines.append(f"  {u['username']:<28} password {u['password']}  {totp}")
        Path(f"{settings.master_key_file}.accounts.txt").write_text("\n".join(lines) + "\n")
    accounts = Path(f"{settings.master_key_file}.accounts.txt")
    if accounts.exists():
        click.echo(accounts.read_text())
    if then_serve:
        import uvicorn

        from corridor.web import create_app

        click.echo(f"Corridor demo on http://127.0.0.1:{port}")
        uvicorn.run(
            create_app(settings, database=database),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
