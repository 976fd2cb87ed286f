"""``corridor node``: join a site node to a central, carry its changes by bundle, show its
state (issue 16; docs/sync.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from corridor.cli.options import actor, admin_audit, db_option, key_option, reported, services_for

FILE = click.Path(dir_okay=False, path_type=Path)


def _sync(svc: Any) -> Any:
    from corridor.sync.service import SyncService

    return SyncService.of(svc)


@click.group()
def node() -> None:
    """Site nodes: enrolment, bundles (a USB stick in a truck), status."""


@node.command("init")
@db_option
@key_option
@click.option("--central", "central_url", required=True, help="The central registry's URL")
@click.option("--site", "site", required=True, help="The site this node serves (name or id)")
@click.option("--request-out", type=FILE, required=True, help="Where to write the request")
def node_init(
    db_url: str | None, master_key_file: str | None, central_url: str, site: str, request_out: Path
) -> None:
    """Make this installation a node of SITE: its keys and an enrolment request for the
    central's administrator (`corridor node approve` there)."""
    svc = services_for(db_url, master_key_file)
    with reported():
        request = _sync(svc).init_node(central_url, site)
    request_out.write_text(json.dumps(request, indent=1), encoding="utf-8")
    from corridor.sync.keys import fingerprint

    click.echo(
        f"node {request['request']['node_id']} asks to join {central_url} for site {site}; "
        f"its key fingerprint is {fingerprint(request['request']['signing_public'])}. "
        f"Take {request_out} to the central's administrator."
    )


@node.command("approve")
@db_option
@key_option
@click.argument("request_file", type=FILE)
@click.option("--out", "grant_out", type=FILE, required=True, help="Where to write the grant")
def node_approve(
    db_url: str | None, master_key_file: str | None, request_file: Path, grant_out: Path
) -> None:
    """At the central: enrol the node of REQUEST_FILE for its site; writes the grant
    (the site's keys sealed to that node) for `corridor node join`."""
    svc = services_for(db_url, master_key_file)
    request = json.loads(request_file.read_text(encoding="utf-8"))
    with reported():
        grant = _sync(svc).approve(request, actor(), audit=admin_audit(svc, "sites.admin"))
    grant_out.write_text(json.dumps(grant, indent=1), encoding="utf-8")
    from corridor.sync.keys import fingerprint

    click.echo(
        f"node {grant['grant']['node_id']} enrolled for site {grant['grant']['site']['id']}; "
        f"this central's fingerprint: {fingerprint(grant['grant']['central_signing_public'])}"
    )


@node.command("join")
@db_option
@key_option
@click.argument("grant_file", type=FILE)
@click.option("--central-fingerprint", default=None, help="As `corridor node approve` printed")
def node_join(
    db_url: str | None, master_key_file: str | None, grant_file: Path, central_fingerprint: str
) -> None:
    """At the node: install the central's grant (its site and keys)."""
    svc = services_for(db_url, master_key_file)
    grant = json.loads(grant_file.read_text(encoding="utf-8"))
    with reported():
        joined = _sync(svc).join(grant, central_fingerprint, audit=admin_audit(svc, "sites.admin"))
    click.echo(f"joined central {joined['central_id']} for site {joined['site_id']}")


@node.command("export")
@db_option
@key_option
@click.option("--to", "out", type=FILE, required=True, help="The bundle file to write")
@click.option("--to-node", default=None, help="At the central: the node it is for")
def node_export(
    db_url: str | None, master_key_file: str | None, out: Path, to_node: str | None
) -> None:
    """Write what the other side has not acknowledged as an encrypted, signed bundle."""
    svc = services_for(db_url, master_key_file)
    with reported():
        data = _sync(svc).export(to_node)
    out.write_bytes(data)
    header = json.loads(data.split(b"\n")[1])
    click.echo(f"{header['count']} changes for node {header['to_node']} written to {out}")


@node.command("import")
@db_option
@key_option
@click.argument("bundle", type=FILE)
def node_import(db_url: str | None, master_key_file: str | None, bundle: Path) -> None:
    """Check and apply a bundle, once; a replay changes nothing."""
    svc = services_for(db_url, master_key_file)
    with reported():
        report = _sync(svc).import_bundle(
            bundle.read_bytes(),
            audit=svc.audit.operator_hook(actor().removeprefix("cli:"), "sync.apply"),
        )
    if report.already_applied:
        click.echo(f"already applied: {bundle} changes nothing here")
        return
    click.echo(
        f"{report.applied} changes applied, {report.waiting} waiting for what they depend "
        f"on, {report.conflicts} conflicts to review, {report.already_had} held already"
    )


@node.command("sync")
@db_option
@key_option
@click.option("--central", "central_url", default=None, help="Another URL for the central")
def node_sync(db_url: str | None, master_key_file: str | None, central_url: str | None) -> None:
    """At a node: push what the central has not acknowledged, then pull what this node
    has not, over HTTP. Each step applies whole or not at all; run it again after a
    failure and it continues."""
    from corridor.sync.client import sync_round

    svc = services_for(db_url, master_key_file)
    with reported():
        done = sync_round(
            _sync(svc),
            audit=svc.audit.operator_hook(actor().removeprefix("cli:"), "sync.apply"),
            central_url=central_url,
        )
    push, pulled = done.push, done.pulled
    click.echo(
        f"pushed {done.pushed} changes: {push.get('applied', 0)} applied at the central, "
        f"{push.get('already_had', 0)} held there already, {push.get('waiting', 0)} waiting "
        f"there; pulled {pulled.applied} applied here, {pulled.waiting} waiting, "
        f"{pulled.conflicts} conflicts to review"
    )


@node.command("status")
@db_option
@key_option
def node_status(db_url: str | None, master_key_file: str | None) -> None:
    """This node and its peers: last contact, changes to send, waiting, conflicts."""
    svc = services_for(db_url, master_key_file)
    with reported():
        st = _sync(svc).status()
    click.echo(
        f"node {st['node_id']} ({st['role']}, {st['status']}), site {st['site_id'] or '-'}, "
        f"{st['last_seq']} changes made here, {st['waiting']} waiting, "
        f"{st['conflicts']} conflicts; fingerprint {st['fingerprint'] or '-'}"
    )
    for p in st["peers"]:
        click.echo(
            f"  {p['role'] or '?'} {p['id']} ({p['status']}), site {p['site_id'] or '-'}: "
            f"last contact {p['last_contact_at'] or 'never'}, {p['unsent']} to send"
            + ("" if p["to_receive"] is None else f", {p['to_receive']} to receive")
        )
