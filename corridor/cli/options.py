"""What the commands share: the ``--db`` and ``--master-key-file`` options, the settings
and services they build from them, how a refusal is reported, and who the operator is (for
the audit log)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from corridor.settings import SETTINGS_HELP, Settings

if TYPE_CHECKING:
    from corridor.services import Services
    from corridor.storage import Database

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


def settings_for(db_url: str | None, master_key_file: str | None = None) -> Settings:
    return Settings.from_env(database_url=db_url or "", master_key_file=master_key_file or "")


def database_for(db_url: str | None) -> Database:
    """The database of ``--db``, disposed when the command ends (``closed_with_command``)."""
    from corridor.storage import Database

    return closed_with_command(Database(settings_for(db_url).database_url))


def closed_with_command(db: Database) -> Database:
    """``db``, disposed when the running command's context closes, however the command
    ends: its pool's connections closed (PostgreSQL sessions ended), on SQLite the
    checkpointer stopped and the writer's lock file closed. A process running commands
    one after another (a test's ``CliRunner``, a script) kept each command's connections
    open before: ``corridor keys destroy`` on PostgreSQL left a session behind. Outside a
    command (no click context) the caller disposes."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(db.dispose)
    return db


def services_for(
    db_url: str | None, master_key_file: str | None, required: bool = True
) -> Services:
    """Services with the master key from --master-key-file or the environment (the key
    commands and anything reading sealed fields need it)."""
    from corridor.services import Services
    from corridor.storage import Database

    settings = settings_for(db_url, master_key_file)
    has_key = bool(settings.master_key or settings.master_key_file)
    if required and not has_key:
        raise click.UsageError("give the master key: --master-key-file or CORRIDOR_MASTER_KEY")
    master = settings.load_master_key() if has_key else None
    return Services(
        closed_with_command(Database(settings.database_url)),
        master=master,
        sync_window_hours=settings.sync_pull_window_hours,
    )


@contextmanager
def opened_services(
    db_url: str | None, master_key_file: str | None, required: bool = True
) -> Iterator[Services]:
    """``services_for`` for the length of one command: their database is disposed when
    the block ends, however it ends (its pool's connections closed: PostgreSQL sessions
    ended; on SQLite the checkpointer stopped and the writer's lock file closed), not
    when the process does.

    >>> with opened_services("sqlite://", None, required=False) as svc:
    ...     svc.db.engine.dialect.name
    'sqlite'
    """
    svc = services_for(db_url, master_key_file, required)
    try:
        yield svc
    finally:
        svc.db.dispose()


@contextmanager
def reported() -> Iterator[None]:
    """A refused command (unknown site or person, no key, a bad value) ends with its
    message and each problem's field and reason."""
    from corridor.errors import CorridorError

    try:
        yield
    except CorridorError as exc:
        said = "; ".join(f"{p.field}: {p.reason}" for p in exc.problems)
        raise click.ClickException(f"{exc} ({said})" if said else str(exc)) from exc


def actor() -> str:
    """Who runs a command, for the audit log: the operator's login on this machine."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def admin_audit(svc: Services, action: str) -> Any:
    """The audit hook of an administrator's command (``users.admin``, ``sites.admin``):
    the operator's system login names who did it."""
    return svc.audit.operator_admin_hook(actor().removeprefix("cli:"), action)


def operator_tool_audit(database: Database, action: str) -> Any:
    """The audit hook of an operator's tool that handles the whole database around the
    gate by design (``backup``, ``restore``, ``db.upgrade``: docs/security.md, "The
    command line"): one event under the operator's system login, naming no person."""
    from corridor.services import Services

    return Services(database).audit.operator_admin_hook(actor().removeprefix("cli:"), action)


def read_password(password_file: Path | None, prompt: str = "Password") -> str:
    """A password from a file (its first line; for automation: it never appears in a
    command line or the shell's history) or typed twice at a hidden prompt."""
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
    if len(password) < 12:
        raise click.UsageError("a password needs at least 12 characters")
    return password


def show_enrolment(username: str, secret: str | None, uri_file: Path | None) -> None:
    """Hand over a new TOTP secret: a QR code and the URI on the terminal, or the URI in
    a file only its owner may read."""
    if secret is None:
        return
    import segno

    from corridor.security.totp import provisioning_uri

    uri = provisioning_uri(secret, username)
    if uri_file is not None:
        uri_file.touch(mode=0o600)
        uri_file.chmod(0o600)
        uri_file.write_text(uri + "\n", encoding="ascii")
        click.echo(f"the second factor (otpauth:// URI) of {username} is in {uri_file}")
        return
    click.echo(f"scan this with an authenticator app (shown once) for {username}:")
    segno.make(uri, error="m").terminal(compact=True)
    click.echo(uri)
