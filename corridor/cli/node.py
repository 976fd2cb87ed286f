"""``corridor node``: join a site node to a central, carry its changes by bundle, show its
state (issue 16; docs/sync.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from corridor.cli.options import (
    actor,
    admin_audit,
    db_option,
    key_option,
    opened_services,
    reported,
)
from corridor.text import N_

FILE = click.Path(dir_okay=False, path_type=Path)


def _sync(svc: Any) -> Any:
    from corridor.sync.service import SyncService

    return SyncService.of(svc)


def _send_audit(svc: Any) -> Any:
    """Each person whose change a bundle carries out of this installation, audited under
    the operator who sends it (``sync.send``)."""
    return svc.audit.operator_hook(
        actor().removeprefix("cli:"), "sync.send", N_("changes sent to another node (bundle)")
    )


@click.group()
def node() -> None:
    """Site nodes: enrolment, bundles (a USB stick in a truck), status."""


@node.command("init")
@db_option
@key_option
@click.option("--central", "central_url", required=True, help="The central registry's URL")
@click.option("--site", "site", required=True, help="The site this node serves (name or id)")
@click.option(
    "--name", "name", required=True, help="This node's name, to tell it apart (e.g. 'Exit desk 2')"
)
@click.option("--request-out", type=FILE, required=True, help="Where to write the request")
def node_init(
    db_url: str | None,
    master_key_file: str | None,
    central_url: str,
    site: str,
    name: str,
    request_out: Path,
) -> None:
    """Make this installation a node of SITE: its keys and an enrolment request for the
    central's administrator (`corridor node approve` there)."""
    with opened_services(db_url, master_key_file) as svc, reported():
        request = _sync(svc).init_node(central_url, site, name)
    request_out.write_text(json.dumps(request, indent=1), encoding="utf-8")
    from corridor.sync.keys import fingerprint

    click.echo(
        f"node {request['request']['node_id']} ({request['request']['name']!r}) asks to "
        f"join {central_url} for site {site}; "
        f"its key fingerprint is {fingerprint(request['request']['signing_public'])}. "
        f"Take {request_out} to the central's administrator."
    )


@node.command("approve")
@db_option
@key_option
@click.argument("request_file", type=FILE)
@click.option("--out", "grant_out", type=FILE, required=True, help="Where to write the grant")
@click.option(
    "--readmit",
    default=None,
    metavar="REASON",
    help="Enrol again a node revoked here, saying why (audited): e.g. 'tablet found in "
    "our custody'. Without it, a revoked node's request is refused",
)
def node_approve(
    db_url: str | None,
    master_key_file: str | None,
    request_file: Path,
    grant_out: Path,
    readmit: str | None,
) -> None:
    """At the central: enrol the node of REQUEST_FILE for its site; writes the grant
    (the site's keys sealed to that node) for `corridor node join`. The request of a
    node revoked here is refused unless --readmit gives the reason to trust it again;
    that of a node whose wipe was ordered here is refused."""
    request = json.loads(request_file.read_text(encoding="utf-8"))
    with opened_services(db_url, master_key_file) as svc, reported():
        grant = _sync(svc).approve(
            request, actor(), audit=admin_audit(svc, "sites.admin"), readmit=readmit
        )
    grant_out.write_text(json.dumps(grant, indent=1), encoding="utf-8")
    from corridor.sync.keys import fingerprint

    name = request.get("request", {}).get("name")
    click.echo(
        f"node {grant['grant']['node_id']} ({name or 'no name'}) "
        f"{'re-admitted' if readmit is not None else 'enrolled'} for site "
        f"{grant['grant']['site']['id']}; "
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
    grant = json.loads(grant_file.read_text(encoding="utf-8"))
    with opened_services(db_url, master_key_file) as svc, reported():
        joined = _sync(svc).join(grant, central_fingerprint, audit=admin_audit(svc, "sites.admin"))
    click.echo(f"joined central {joined['central_id']} for site {joined['site_id']}")


@node.command("export")
@db_option
@key_option
@click.option("--to", "out", type=FILE, required=True, help="The bundle file to write")
@click.option("--to-node", default=None, help="At the central: the node it is for")
@click.option(
    "--max-bytes",
    type=int,
    default=None,
    help="Write parts of at most this many bytes (FILE.part1-of-N, ...), each a whole "
    "bundle that imports alone, in any order",
)
def node_export(
    db_url: str | None,
    master_key_file: str | None,
    out: Path,
    to_node: str | None,
    max_bytes: int | None,
) -> None:
    """Write what the other side has not acknowledged as an encrypted, signed bundle
    (with --max-bytes: as several, each at most that size)."""
    from corridor.sync.confirm import confirmation
    from corridor.sync.parts import export_parts

    with opened_services(db_url, master_key_file) as svc, reported():
        done = confirmation(_sync(svc)) if to_node is None else None
        if done is not None:  # a wiped node: its confirmation is all it may still send
            out.write_bytes(done[0])
            click.echo(f"{done[1]}. {out} holds only its signed confirmation of the wipe")
            return
        if max_bytes is None:
            written = [_sync(svc).export(to_node, audit=_send_audit(svc))]
        else:
            written = export_parts(_sync(svc), to_node, max_bytes, audit=_send_audit(svc))
    for i, data in enumerate(written, 1):
        path = out if len(written) == 1 else out.with_name(f"{out.name}.part{i}-of-{len(written)}")
        path.write_bytes(data)
        header = json.loads(data.split(b"\n")[1])
        click.echo(f"{header['count']} changes for node {header['to_node']} written to {path}")


@node.command("import")
@db_option
@key_option
@click.argument("bundle", type=FILE)
def node_import(db_url: str | None, master_key_file: str | None, bundle: Path) -> None:
    """Check and apply a bundle, once; a replay changes nothing."""
    with opened_services(db_url, master_key_file) as svc, reported():
        report = _sync(svc).import_bundle(
            bundle.read_bytes(),
            audit=svc.audit.operator_hook(actor().removeprefix("cli:"), "sync.apply"),
        )
    if report.wipe_confirmed or report.from_node and _confirmation(bundle):
        click.echo(
            f"{bundle} is node {report.from_node}'s signed confirmation that it carried out "
            + ("its wipe: recorded" if report.wipe_confirmed else "its wipe (recorded before)")
        )
        return
    if report.wiped:
        click.echo(
            f"{bundle} carried the central's order to wipe this node: its copy of the site's "
            "keys is destroyed, its persons anonymised, and it no longer syncs"
        )
        return
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

    with opened_services(db_url, master_key_file) as svc, reported():
        done = sync_round(
            _sync(svc),
            audit=svc.audit.operator_hook(actor().removeprefix("cli:"), "sync.apply"),
            send_audit=_send_audit(svc),
            central_url=central_url,
        )
    if done.wiped:
        click.echo(
            "the central ordered this node's wipe: its copy of the site's keys is destroyed, "
            "its persons anonymised, and it no longer syncs; "
            + (
                "its confirmation reached the central"
                if done.confirmed
                else "its confirmation did not reach the central: run `corridor node sync` again"
            )
        )
        return
    push, pulled = done.push, done.pulled
    click.echo(
        f"pushed {done.pushed} changes: {push.get('applied', 0)} applied at the central, "
        f"{push.get('already_had', 0)} held there already, {push.get('waiting', 0)} waiting "
        f"there; pulled {pulled.applied} applied here, {pulled.waiting} waiting, "
        f"{pulled.conflicts} conflicts to review"
    )


@node.command("revoke")
@db_option
@key_option
@click.argument("node_id")
def node_revoke(db_url: str | None, master_key_file: str | None, node_id: str) -> None:
    """At the central: revoke node NODE_ID; its bundles (push, pull, file) are refused
    from now on. To destroy what it holds, order its wipe first (`corridor node wipe`)
    and revoke it once the wipe was delivered."""
    with opened_services(db_url, master_key_file) as svc, reported():
        done = _sync(svc).revoke(node_id, actor(), audit=admin_audit(svc, "sites.admin"))
    click.echo(f"node {node_id} (site {done['site_id']}) revoked: its bundles are refused")


@node.command("reinstate")
@db_option
@key_option
@click.argument("node_id")
@click.option("--reason", required=True, help="Why (audited): e.g. 'tablet found in our custody'")
@click.option("--name", default=None, help="A new name, where another node took its name since")
def node_reinstate(
    db_url: str | None, master_key_file: str | None, node_id: str, reason: str, name: str | None
) -> None:
    """At the central: undo node NODE_ID's revocation. Its next sync or bundle file is
    taken again, and the changes it made and had not sent come in (once each). Only
    for a node whose key you trust again (a tablet back in your custody, a revocation
    made by mistake)."""
    with opened_services(db_url, master_key_file) as svc, reported():
        done = _sync(svc).reinstate(
            node_id, reason, audit=admin_audit(svc, "sites.admin"), name=name
        )
    click.echo(
        f"node {node_id} ({done['name'] or 'no name'}, site {done['site_id']}) reinstated: "
        + (
            "its wipe order stands, so its changes are still not taken; its next contact "
            "carries the order"
            if done["status"] in ("wipe", "wiped")
            else "its next sync or bundle file is taken, with the changes it has not sent yet"
        )
    )


@node.command("wipe")
@db_option
@key_option
@click.argument("node_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def node_wipe(db_url: str | None, master_key_file: str | None, node_id: str, yes: bool) -> None:
    """At the central: order node NODE_ID's wipe. At its next contact (a pull, or a
    bundle written for it) it destroys its copy of the site's keys, anonymises its
    persons and stops syncing; its changes not yet sent are lost."""
    if not yes:
        click.confirm(
            f"Order node {node_id} to destroy its copy of the site's data? Changes it has "
            "not sent yet are lost",
            abort=True,
        )
    with opened_services(db_url, master_key_file) as svc, reported():
        done = _sync(svc).order_wipe(node_id, actor(), audit=admin_audit(svc, "sites.admin"))
    click.echo(
        f"wipe of node {node_id} (site {done['site_id']}) ordered: it is carried out at "
        "the node's next contact (`corridor node status` shows when it was delivered)"
    )


@node.command("status")
@db_option
@key_option
def node_status(db_url: str | None, master_key_file: str | None) -> None:
    """This node and its peers: last contact, changes to send, waiting, conflicts."""
    with opened_services(db_url, master_key_file) as svc, reported():
        st = _sync(svc).status()
    click.echo(
        f"node {st['name'] or '-'} {st['node_id']} ({st['role']}, {st['status']}), "
        f"site {st['site_id'] or '-'}, "
        f"{st['last_seq']} changes made here, {st['waiting']} waiting, "
        f"{st['conflicts']} conflicts; fingerprint {st['fingerprint'] or '-'}"
    )
    if st.get("wiped_at"):
        lost = sum(p["unsent"] for p in st["peers"] if p["role"] == "central")
        click.echo(
            f"  wiped {st['wiped_at']} by order of the central: the site's keys are "
            f"destroyed; {lost} changes made here had not reached the central and can no "
            "longer be read"
        )
    if st.get("revoked_at"):
        unsent = sum(p["unsent"] for p in st["peers"] if p["role"] == "central")
        click.echo(
            f"  the central refused this node as revoked (last {st['revoked_at']}): {unsent} "
            "changes made here have not reached it; they are kept here, not lost. The "
            "central's administrator can reinstate this node (`corridor node reinstate "
            f"{st['node_id']} --reason TEXT` at the central)"
        )
    for p in st["peers"]:
        click.echo(_peer_line(p))


@node.command("list")
@db_option
@key_option
def node_list(db_url: str | None, master_key_file: str | None) -> None:
    """At the central: its nodes, by name, with their state (a wipe ordered, delivered,
    carried out); at a node: its central."""
    with opened_services(db_url, master_key_file) as svc, reported():
        st = _sync(svc).status()
    if not st["peers"]:
        click.echo("no node enrolled here")
    for p in st["peers"]:
        click.echo(_peer_line(p))


def _peer_line(p: dict[str, Any]) -> str:
    line = (
        f"  {p['role'] or '?'} {p['name'] or '-'} {p['id']} ({p['status']}), site "
        f"{p['site_id'] or '-'}: last contact {p['last_contact_at'] or 'never'}, "
        f"{p['unsent']} to send"
        + ("" if p["to_receive"] is None else f", {p['to_receive']} to receive")
    )
    if p.get("wipe_ordered_at"):
        line += f"; wipe ordered {p['wipe_ordered_at']}"
    if p.get("wiped_at"):
        line += f"; wipe delivered {p['wiped_at']}"
    if p.get("wipe_carried_out_at"):
        line += (
            f"; carried out {p['wipe_carried_out_at']} (confirmed {p['wipe_confirmed_at']}: "
            f"{p['wipe_keys_destroyed']} site keys destroyed, {p['wipe_persons_anonymised']} "
            f"persons anonymised, {p['wipe_unsent']} changes never sent)"
        )
    elif p.get("wiped_at"):
        line += ", not confirmed yet"
    return line


def _confirmation(bundle: Path) -> bool:
    from corridor.sync.wipe import REPORT

    try:
        return bool(json.loads(bundle.read_bytes().split(b"\n")[1]).get(REPORT))
    except (ValueError, IndexError):
        return False
