"""``corridor users``, ``corridor sites`` and ``corridor tokens``: the administrator's
work from the server's command line (the same services and audit as the API; the
operator's system login is named in the audit log)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from corridor.cli.options import (
    admin_audit,
    db_option,
    key_option,
    read_password,
    reported,
    services_for,
    show_enrolment,
)

ROLE_HELP = "A role (repeat the option for several): registrar, tracing_officer, ..."
uri_file_option = click.option(
    "--totp-uri-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a new otpauth:// URI to this file (owner-only) instead of the terminal",
)


def _show(value: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(value, default=str, ensure_ascii=False, indent=2))


def _user_line(u: dict[str, Any]) -> str:
    state = "deactivated" if u["disabled"] else "active"
    return (
        f"{u['id']}  {u['username']}  {','.join(u['roles']) or '-'}  "
        f"sites={','.join(u['site_ids']) or '-'}  {state}"
    )


@click.group()
def users() -> None:
    """Users: create, roles, sites, language, deactivate, a new second factor, a one-time
    password, unlock."""


@users.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True)
def users_list(db_url: str | None, as_json: bool) -> None:
    svc = services_for(db_url, None, required=False)
    found = svc.administration.users()
    _show(found, as_json)
    if not as_json:
        for u in found:
            click.echo(_user_line(u))


@users.command("create")
@db_option
@key_option
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Full name")
@click.option("--role", "roles", multiple=True, required=True, help=ROLE_HELP)
@click.option("--site", "site_ids", multiple=True, help="A site id (repeatable)")
@click.option("--language", type=click.Choice(["en", "ar", "ku"]), default=None)
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file whose first line is the password (else asked twice)",
)
@uri_file_option
def users_create(
    db_url: str | None,
    master_key_file: str | None,
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    site_ids: tuple[str, ...],
    language: str | None,
    password_file: Path | None,
    totp_uri_file: Path | None,
) -> None:
    """Create a user; shows their TOTP secret once where a role needs it."""
    from corridor.schemas import UserIn

    svc = services_for(db_url, master_key_file)
    password = read_password(password_file)
    with reported():
        data = _valid(
            UserIn,
            username=username,
            display_name=display_name,
            password=password,
            roles=list(roles),
            site_ids=list(site_ids),
            language=language,
        )
        enrolled = svc.administration.create_user(data, None, audit=admin_audit(svc, "users.admin"))
    click.echo(f"user {enrolled.user['username']} created (id {enrolled.user['id']})")
    show_enrolment(enrolled.user["username"], enrolled.totp_secret, totp_uri_file)


@users.command("edit")
@db_option
@key_option
@click.argument("user_id")
@click.option("--name", "display_name", default=None)
@click.option("--role", "roles", multiple=True, help=ROLE_HELP + " (replaces them)")
@click.option("--site", "site_ids", multiple=True, help="A site id (replaces them)")
@click.option("--no-sites", is_flag=True, help="Take every site away")
@click.option("--language", type=click.Choice(["en", "ar", "ku"]), default=None)
@uri_file_option
def users_edit(
    db_url: str | None,
    master_key_file: str | None,
    user_id: str,
    display_name: str | None,
    roles: tuple[str, ...],
    site_ids: tuple[str, ...],
    no_sites: bool,
    language: str | None,
    totp_uri_file: Path | None,
) -> None:
    """Change a user's name, roles, sites or language (from their next request)."""
    from corridor.schemas import UserPatch

    changes: dict[str, Any] = {}
    if display_name:
        changes["display_name"] = display_name
    if roles:
        changes["roles"] = list(roles)
    if site_ids or no_sites:
        changes["site_ids"] = [] if no_sites else list(site_ids)
    if language:
        changes["language"] = language
    svc = services_for(db_url, master_key_file, required=False)
    with reported():
        enrolled = svc.administration.update_user(
            user_id, _valid(UserPatch, **changes), None, audit=admin_audit(svc, "users.admin")
        )
    click.echo(_user_line(enrolled.user))
    show_enrolment(enrolled.user["username"], enrolled.totp_secret, totp_uri_file)


@users.command("deactivate")
@db_option
@click.argument("user_id")
def users_deactivate(db_url: str | None, user_id: str) -> None:
    """Deactivate a user: their sessions and tokens stop working at once."""
    svc = services_for(db_url, None, required=False)
    with reported():
        user = svc.administration.deactivate(user_id, None, audit=admin_audit(svc, "users.admin"))
    click.echo(_user_line(user))


@users.command("reactivate")
@db_option
@click.argument("user_id")
def users_reactivate(db_url: str | None, user_id: str) -> None:
    svc = services_for(db_url, None, required=False)
    with reported():
        user = svc.administration.reactivate(user_id, audit=admin_audit(svc, "users.admin"))
    click.echo(_user_line(user))


@users.command("reset-second-factor")
@db_option
@key_option
@click.argument("user_id")
@uri_file_option
def users_reset_second_factor(
    db_url: str | None, master_key_file: str | None, user_id: str, totp_uri_file: Path | None
) -> None:
    """A new TOTP secret (shown once); the old one stops working and every session and
    API token of the user ends."""
    svc = services_for(db_url, master_key_file)
    with reported():
        enrolled = svc.administration.reset_second_factor(
            user_id, audit=admin_audit(svc, "users.admin")
        )
    click.echo(
        f"{enrolled.sessions_ended} sessions ended, {enrolled.tokens_revoked} API tokens revoked"
    )
    show_enrolment(enrolled.user["username"], enrolled.totp_secret, totp_uri_file)


@users.command("reset-password")
@db_option
@click.argument("user_id")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file whose first line is the one-time password (else one is made, shown once)",
)
def users_reset_password(db_url: str | None, user_id: str, password_file: Path | None) -> None:
    """A forgotten password replaced by a one-time one, which the user changes at their
    next sign-in before anything else; every session and API token of theirs ends."""
    from corridor.schemas import PasswordResetIn

    svc = services_for(db_url, None, required=False)
    password = read_password(password_file) if password_file is not None else None
    with reported():
        data = _valid(PasswordResetIn, password=password)
        done = svc.administration.reset_password(
            user_id, data.password, None, audit=admin_audit(svc, "users.admin")
        )
    click.echo(f"{done.sessions_ended} sessions ended, {done.tokens_revoked} API tokens revoked")
    if done.password:
        click.echo(f"one-time password of {done.user['username']} (shown once): {done.password}")
    else:
        click.echo(f"the password in {password_file} is set: {done.user['username']} changes it")


@users.command("unlock")
@db_option
@click.argument("user_id")
def users_unlock(db_url: str | None, user_id: str) -> None:
    """Lift a lockout (30 failed sign-ins in a day): this user's failures are forgotten."""
    svc = services_for(db_url, None, required=False)
    with reported():
        user = svc.administration.unlock(user_id, audit=admin_audit(svc, "users.admin"))
    click.echo(_user_line(user))


@users.command("end-sessions")
@db_option
@click.argument("user_id")
def users_end_sessions(db_url: str | None, user_id: str) -> None:
    """End every session of a user (a lost tablet)."""
    svc = services_for(db_url, None, required=False)
    with reported():
        n = svc.administration.end_sessions(user_id, audit=admin_audit(svc, "users.admin"))
    click.echo(f"{n} sessions ended")


@click.group()
def sites() -> None:
    """Sites: create, edit, close (a detention facility's whereabouts stay sealed)."""


def _site_line(s: dict[str, Any]) -> str:
    closed = f"  closed {s['closed_at']:%Y-%m-%d}" if s.get("closed_at") else ""
    return f"{s['id']}  {s['name']}  {s['kind']}  {s['pcode'] or '-'}{closed}"


@sites.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True)
def sites_list(db_url: str | None, as_json: bool) -> None:
    svc = services_for(db_url, None, required=False)
    found = svc.sites.all()
    _show(found, as_json)
    if not as_json:
        for s in found:
            click.echo(_site_line(s))


F = TypeVar("F", bound=Callable[..., Any])


def _site_options(create: bool) -> Callable[[F], F]:
    def wrap(f: F) -> F:
        for option in reversed(
            [
                click.option("--name", required=create),
                click.option(
                    "--kind",
                    required=create,
                    type=click.Choice(
                        [
                            "exit_point",
                            "screening",
                            "transit",
                            "camp",
                            "hospital",
                            "detention",
                            "other",
                        ]
                    ),
                    hidden=not create,
                ),
                click.option("--pcode", default=None, help="Governorate P-code, e.g. SY02"),
                click.option("--locality", default=None),
                click.option("--latitude", type=float, default=None),
                click.option("--longitude", type=float, default=None),
                click.option("--capacity", type=int, default=None),
            ]
        ):
            f = option(f)
        return f

    return wrap


@sites.command("create")
@db_option
@key_option
@_site_options(create=True)
def sites_create(db_url: str | None, master_key_file: str | None, **given: Any) -> None:
    """Create a site (a detention facility needs the master key: its whereabouts are
    sealed)."""
    from corridor.schemas import SiteIn

    svc = services_for(db_url, master_key_file, required=given.get("kind") == "detention")
    with reported():
        data = _valid(SiteIn, **{k: v for k, v in given.items() if v is not None})
        site = svc.sites.create(data, audit=svc.audit.operator_hook(_login(), "sites.admin"))
    click.echo(_site_line(site))


@sites.command("edit")
@db_option
@key_option
@click.argument("site_id")
@_site_options(create=False)
def sites_edit(db_url: str | None, master_key_file: str | None, site_id: str, **given: Any) -> None:
    """Change a site's name, place or capacity (its kind stays)."""
    from corridor.schemas import SitePatch

    given.pop("kind", None)
    svc = services_for(db_url, master_key_file, required=False)
    with reported():
        patch = _valid(SitePatch, **{k: v for k, v in given.items() if v is not None})
        site = svc.sites.update(site_id, patch, audit=admin_audit(svc, "sites.admin"))
    click.echo(_site_line(site))


@sites.command("close")
@db_option
@click.argument("site_id")
def sites_close(db_url: str | None, site_id: str) -> None:
    """Close a site: nobody new is registered there or sent there; its persons stay."""
    svc = services_for(db_url, None, required=False)
    with reported():
        site = svc.sites.close(site_id, audit=admin_audit(svc, "sites.admin"))
    click.echo(_site_line(site))


@click.group()
def tokens() -> None:
    """API tokens: list, revoke."""


@tokens.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True)
def tokens_list(db_url: str | None, as_json: bool) -> None:
    svc = services_for(db_url, None, required=False)
    found = svc.administration.api_tokens()
    _show(found, as_json)
    if not as_json:
        for t in found:
            state = "revoked" if t["revoked_at"] else "active"
            click.echo(f"{t['id']}  {t['name']}  {t['username']}  {','.join(t['scopes'])}  {state}")


@tokens.command("revoke")
@db_option
@click.argument("token_id")
def tokens_revoke(db_url: str | None, token_id: str) -> None:
    svc = services_for(db_url, None, required=False)
    with reported():
        svc.administration.revoke_token(token_id, audit=admin_audit(svc, "users.admin"))
    click.echo(f"token {token_id} revoked")


def _login() -> str:
    from corridor.cli.options import actor

    return actor().removeprefix("cli:")


def _valid(model: Any, **values: Any) -> Any:
    """The input as ``model`` checks it; every problem at once, as the API gives them."""
    from pydantic import ValidationError

    from corridor.errors import Problem, ValidationFailed

    try:
        return model(**values)
    except ValidationError as exc:
        raise ValidationFailed(
            [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        ) from exc


COMMANDS = (users, sites, tokens)
