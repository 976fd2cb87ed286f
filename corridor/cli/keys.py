"""``corridor keys``: rotate a site key, destroy a site's keys, seal values left in the
clear, rotate the master key."""

from __future__ import annotations

from pathlib import Path

import click

from corridor.cli.options import actor, db_option, key_option, reported, services_for


@click.group()
def keys() -> None:
    """Field-encryption keys: rotate a site key, destroy a site's keys, rotate the master."""


@keys.command("rotate")
@db_option
@key_option
@click.option("--site", "site_id", required=True, help="Site id")
def keys_rotate(db_url: str | None, master_key_file: str | None, site_id: str) -> None:
    """A new data key for a site; its persons' sealed fields move to it."""
    svc = services_for(db_url, master_key_file)
    with reported():
        result = svc.keys.rotate_site(site_id, actor())
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
    svc = services_for(db_url, master_key_file)
    if not yes:
        click.confirm(
            f"Destroy every key of site {site_id}? Its sealed fields can never be read again",
            abort=True,
        )
    with reported():
        n = svc.keys.destroy_site(site_id, actor())
    click.echo(f"site {site_id}: {n} keys destroyed")


@keys.command("seal")
@db_option
@key_option
def keys_seal(db_url: str | None, master_key_file: str | None) -> None:
    """Seal sensitive values an upgrade left in the clear (e.g. medical details)."""
    svc = services_for(db_url, master_key_file)
    with reported():
        n = svc.keys.seal_plaintext(actor())
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
    """Re-wrap every site key, TOTP secret and this installation's sync keys (a site
    node's or the central's) under a new master key."""
    from corridor.security.crypto import MasterKey

    svc = services_for(db_url, master_key_file)
    if not new_key_file.exists():
        new_key_file.write_text(MasterKey.generate().encoded(), encoding="ascii")
        new_key_file.chmod(0o600)
        click.echo(f"created {new_key_file} with a new master key")
    new = MasterKey.from_file(new_key_file)
    with reported():
        result = svc.keys.rotate_master(new, actor())
    nodes = " and this installation's sync keys" if result.node_keys else ""
    click.echo(
        f"{result.site_keys} site keys, {result.totp_secrets} TOTP secrets{nodes} re-wrapped; "
        f"point CORRIDOR_MASTER_KEY_FILE at {new_key_file}, restart the servers, and keep "
        "the old key offline until backups made with it have expired"
    )
