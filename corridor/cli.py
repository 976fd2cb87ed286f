"""The ``corridor`` command: parses options, calls services, prints results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import make_url

from corridor.settings import SETTINGS_HELP, Settings

db_option = click.option(
    "--db",
    "db_url",
    envvar="CORRIDOR_DATABASE_URL",
    default=None,
    help=SETTINGS_HELP["database_url"],
)


key_option = click.option(
    "--master-key-file",
    envvar="CORRIDOR_MASTER_KEY_FILE",
    default=None,
    help=SETTINGS_HELP["master_key_file"],
)


def _settings(db_url: str | None, master_key_file: str | None = None) -> Settings:
    return Settings.from_env(database_url=db_url or "", master_key_file=master_key_file or "")


def _database(db_url: str | None):  # type: ignore[no-untyped-def]
    from corridor.storage import Database

    return Database(_settings(db_url).database_url)


def _services(db_url: str | None, master_key_file: str | None, required: bool = True):  # type: ignore[no-untyped-def]
    """Services with the master key from --master-key-file or the environment (the key
    commands and anything reading sealed fields need it)."""
    from corridor.services import Services
    from corridor.storage import Database

    settings = _settings(db_url, master_key_file)
    has_key = bool(settings.master_key or settings.master_key_file)
    if required and not has_key:
        raise click.UsageError("give the master key: --master-key-file or CORRIDOR_MASTER_KEY")
    master = settings.load_master_key() if has_key else None
    return Services(Database(settings.database_url), master=master)


@contextmanager
def _reported() -> Iterator[None]:
    """A refused command (unknown site or person, no key) ends with its message."""
    from corridor.errors import CorridorError

    try:
        yield
    except CorridorError as exc:
        raise click.ClickException(str(exc)) from exc


def _actor() -> str:
    """Who runs a command, for the audit log: the operator's login on this machine."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@click.group()
@click.version_option(package_name="corridor")
def main() -> None:
    """Corridor: registration, movements and family tracing."""


@main.command()
@db_option
def init(db_url: str | None) -> None:
    """Create the database (or bring it up to date)."""
    from corridor.storage.migrate import upgrade

    db = _database(db_url)
    upgrade(db)
    click.echo(f"database ready: {db.url.render_as_string(hide_password=True)}")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@db_option
@click.option("--revision", default="head", show_default=True)
def db_upgrade(db_url: str | None, revision: str) -> None:
    """Apply the schema migrations."""
    from corridor.storage.migrate import current_revision, upgrade

    database = _database(db_url)
    upgrade(database, revision)
    click.echo(f"schema at revision {current_revision(database)}")
    from corridor.services import Services

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

    n = Services(_database(db_url)).movements.rebuild_locations()
    click.echo(f"rebuilt the location of {n} persons")


@main.command()
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
def serve(
    db_url: str | None, master_key_file: str | None, host: str, port: int, workers: int
) -> None:
    """Serve the web interface and API."""
    import uvicorn

    from corridor.storage.migrate import upgrade
    from corridor.web import create_app

    settings = _settings(db_url, master_key_file)
    if not (settings.master_key or settings.master_key_file):
        click.echo(
            "no master key (--master-key-file or CORRIDOR_MASTER_KEY): nobody can log in "
            "and no phone, document or note can be stored",
            err=True,
        )
    from corridor.storage import Database

    database = Database(settings.database_url)
    upgrade(database)
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
            log_level="warning",
        )
        return
    uvicorn.run(create_app(settings, database=database), host=host, port=port, log_level="warning")


@main.command()
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
    from corridor.storage.migrate import upgrade

    settings = _settings(db_url or "sqlite:///corridor-demo.db")
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
    upgrade(database)
    if build:
        master = settings.load_master_key()
        summary = build_demo(
            database, seed=seed, households=households, days=days, progress=True, master=master
        )
        for key, value in summary.items():
            click.echo(f"{key}: {value}")
        users = create_demo_users(Services(database, master=master))
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


@main.group()
def keys() -> None:
    """Field-encryption keys: rotate a site key, destroy a site's keys, rotate the master."""


@keys.command("rotate")
@db_option
@key_option
@click.option("--site", "site_id", required=True, help="Site id")
def keys_rotate(db_url: str | None, master_key_file: str | None, site_id: str) -> None:
    """A new data key for a site; its persons' sealed fields move to it."""
    svc = _services(db_url, master_key_file)
    with _reported():
        result = svc.keys.rotate_site(site_id, _actor())
    click.echo(f"site {site_id}: new key {result.key_id}, {result.reencrypted} fields re-encrypted")


@keys.command("destroy")
@db_option
@key_option
@click.option("--site", "site_id", required=True, help="Site id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def keys_destroy(db_url: str | None, master_key_file: str | None, site_id: str, yes: bool) -> None:
    """Destroy every data key of a site (evacuation drill): its persons' phones,
    documents, notes and medical details become unreadable for good, and so does where
    the site is if it is a detention site. Other sites are untouched."""
    svc = _services(db_url, master_key_file)
    if not yes:
        click.confirm(
            f"Destroy every key of site {site_id}? Its sealed fields can never be read again",
            abort=True,
        )
    with _reported():
        n = svc.keys.destroy_site(site_id, _actor())
    click.echo(f"site {site_id}: {n} keys destroyed")


@keys.command("seal")
@db_option
@key_option
def keys_seal(db_url: str | None, master_key_file: str | None) -> None:
    """Seal sensitive values an upgrade left in the clear (e.g. medical details)."""
    svc = _services(db_url, master_key_file)
    with _reported():
        n = svc.keys.seal_plaintext(_actor())
    click.echo(f"{n} values sealed")


@keys.command("rotate-master")
@db_option
@key_option
@click.option(
    "--new-key-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the new master key (created with a fresh key if it does not exist)",
)
def keys_rotate_master(db_url: str | None, master_key_file: str | None, new_key_file: Path) -> None:
    """Re-wrap every site key and TOTP secret under a new master key."""
    from corridor.security.crypto import MasterKey

    svc = _services(db_url, master_key_file)
    if not new_key_file.exists():
        new_key_file.write_text(MasterKey.generate().encoded(), encoding="ascii")
        new_key_file.chmod(0o600)
        click.echo(f"created {new_key_file} with a new master key")
    new = MasterKey.from_file(new_key_file)
    with _reported():
        result = svc.keys.rotate_master(new, _actor())
    click.echo(
        f"{result.site_keys} site keys and {result.totp_secrets} TOTP secrets re-wrapped; "
        f"point CORRIDOR_MASTER_KEY_FILE at {new_key_file}, restart the servers, and keep "
        "the old key offline until backups made with it have expired"
    )


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@db_option
def audit_verify(db_url: str | None) -> None:
    """Check the audit hash chain: OK and its head, or the first broken row (exit 1)."""
    from corridor.security import audit as audit_log

    database = _database(db_url)
    with database.read() as conn:
        result = audit_log.verify(conn)
    database.dispose()
    if result.ok:
        head = f"head seq {result.head.seq} hash {result.head.hash}" if result.head else "empty"
        click.echo(f"OK: {result.checked} events, {head}")
        return
    click.echo(f"BROKEN at seq {result.broken_seq}: {result.reason}", err=True)
    raise SystemExit(1)


@main.group()
def retention() -> None:
    """Retention periods (corridor/security/data/retention.json) and legal holds."""


@retention.command("run")
@db_option
@key_option
@click.option("--dry-run", is_flag=True, help="Count what would be disposed of; change nothing")
def retention_run(db_url: str | None, master_key_file: str | None, dry_run: bool) -> None:
    """Dispose of expired records (persons and ended tracing enquiries anonymised, others
    deleted) and log each."""
    svc = _services(db_url, master_key_file, required=False)
    report = svc.retention.run(_actor(), dry_run=dry_run)
    verb = "would dispose of" if dry_run else "disposed of"
    for category, ids in sorted(report.disposed.items()):
        click.echo(f"{category}: {verb} {len(ids)}")
    if not report.disposed:
        click.echo(f"nothing to dispose of{' (dry run)' if dry_run else ''}")
    click.echo(f"persons past their period kept on legal hold: {report.kept_on_hold}")
    click.echo(
        f"tracing enquiries past their period kept on legal hold: {report.enquiries_kept_on_hold}"
    )
    click.echo(
        f"audit events past their period (kept; archive them): {report.audit_events_past_period}"
    )
    if not dry_run:
        click.echo(f"disposal log run id: {report.run_id}")


@retention.command("hold")
@db_option
@click.option("--person", "person_id", help="Person id")
@click.option("--enquiry", "enquiry_id", help="Tracing enquiry id (its cases with it)")
@click.option("--release", is_flag=True, help="Lift the hold instead of placing it")
def retention_hold(
    db_url: str | None, person_id: str | None, enquiry_id: str | None, release: bool
) -> None:
    """Place a legal hold on a person or a tracing enquiry (never disposed of), or lift it."""
    if (person_id is None) == (enquiry_id is None):
        raise click.UsageError("give either --person or --enquiry")
    svc = _services(db_url, None, required=False)
    what = f"person {person_id}" if person_id is not None else f"enquiry {enquiry_id}"
    with _reported():
        if person_id is not None:
            svc.retention.set_hold(person_id, not release, _actor())
        elif enquiry_id is not None:
            svc.retention.set_enquiry_hold(enquiry_id, not release, _actor())
    click.echo(f"{what}: legal hold {'lifted' if release else 'placed'}")


@main.group()
def bench() -> None:
    """The person-matching benchmark commands (they use a throwaway store of their own)."""


@bench.command("match")
@click.option(
    "--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--top", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bench_match(registry: Path, queries: Path, top: int, out: Path) -> None:
    """Rank registry records for each query: query_id,record_id,rank,probability."""
    from corridor.matching.bench import run_match

    run_match(registry, queries, top, out)


@bench.command("dedupe")
@click.option(
    "--records", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bench_dedupe(records: Path, out: Path) -> None:
    """Cluster duplicate records: record_id,cluster_id for every record."""
    from corridor.matching.bench import run_dedupe

    run_dedupe(records, out)


@main.command()
@db_option
@key_option
@click.option(
    "--threshold",
    default=0.9,
    show_default=True,
    type=float,
    help="Pair probability from which two records are called one person",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write person_id,cluster_id,registration_number,name (CSV)",
)
def duplicates(
    db_url: str | None, master_key_file: str | None, threshold: float, out: Path | None
) -> None:
    """Find registered persons who are probably registered twice (same comparisons as search;
    phones and document numbers count only with the master key)."""
    clusters = _services(db_url, master_key_file, required=False).person_search.duplicates(
        threshold
    )
    click.echo(f"{len(clusters)} groups of probable duplicates (threshold {threshold})")
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


def _add_format_commands() -> None:
    from corridor.cli_formats import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


if __name__ == "__main__":
    # ``python -m corridor.cli``: run the module proper (corridor.cli_formats imports it,
    # and the format commands must attach to its group, not to this copy's).
    from corridor.cli import main as _main

    _main()
else:
    _add_format_commands()
