"""A revoked node's unsent changes are not lost (docs/sync.md "Revocation"): the node is
told, keeps them, and once the central's administrator reinstates it they come in, once.

The central runs on SQLite and PostgreSQL (the ``backend`` fixture), the node on SQLite;
over HTTP through the central's app (``link``), and by bundle file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from corridor.errors import Conflict, NotFound, ValidationFailed
from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage.sync_tables import sync_nodes
from corridor.sync import keys
from corridor.sync.client import NodeRevokedAtCentral, SyncFailed
from corridor.sync.service import NodeRevoked
from tests.sync import test_http
from tests.sync.helpers import make_site, register, sync
from tests.sync.test_bundles import (
    NODE_KEY,
    _admin,
    _apply,
    _counts,
    _enrol,
    _node_services,
    _persons_named,
)
from tests.sync.test_conflicts import _client
from tests.sync.test_http import _round

link = test_http.link


def _row(s: Services, node_id: str) -> dict[str, Any]:
    with s.db.read() as conn:
        return dict(
            conn.execute(select(sync_nodes).where(sync_nodes.c.id == node_id)).mappings().one()
        )


def _admin_events(s: Services) -> list[str]:
    from corridor.security.tables import audit_events

    with s.db.read() as conn:
        return [
            str(p)
            for p in conn.execute(
                select(audit_events.c.purpose)
                .where(audit_events.c.action == "sites.admin")
                .order_by(audit_events.c.seq)
            ).scalars()
        ]


def _unsent(node: Services) -> int:
    [central] = [p for p in sync(node).status()["peers"] if p["role"] == "central"]
    return int(central["unsent"])


def test_a_revoked_node_keeps_its_changes_and_they_come_in_once_reinstated(
    link, clock
) -> None:
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    samira = register(node, exit_point, "Samira", "+963933100001")
    _round(node, http)
    nour = register(node, exit_point, "Nour", "+963933100002")
    reem = register(node, exit_point, "Reem", "+963933100003")
    carried = sync(node).export()  # a bundle file on its way when the node is revoked
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))

    # The round is refused; the node says so, with what it keeps and what to do.
    with pytest.raises(NodeRevokedAtCentral) as refused:
        _round(node, http)
    said = str(refused.value)
    assert "2 changes made here have not reached the central" in said
    assert "kept here, not lost" in said
    assert f"corridor node reinstate {node_id} --reason" in said
    assert _unsent(node) == 2 and _persons_named(node, "Nour") == [nour]
    state = sync(node).status()
    assert state["revoked_at"] is not None
    # Its status page and API say so too, to the node's own site manager.
    manager = _client(node, clock, "manager-exit", Role.SITE_MANAGER, exit_point, NODE_KEY)
    api = manager.get("/api/sync/status").json()
    assert api["revoked_at"] is not None
    page = manager.get("/sync").text
    assert 'id="sync-revoked"' in page and f"corridor node reinstate {node_id}" in page
    assert "Changes made here not yet sent: 2." in page
    # And the registration pages, where the officers work.
    registrar = _client(node, clock, "registrar-exit", Role.REGISTRAR, exit_point, NODE_KEY)
    form = registrar.get("/register").text
    assert 'id="unsent-revoked"' in form and 'data-figure="unsent">2<' in form
    assert 'id="unsent-revoked"' in registrar.get(f"/persons/{nour}").text
    # The bundle file is refused at the central too, saying it can be reinstated.
    with pytest.raises(NodeRevoked, match="corridor node reinstate"):
        sync(central).import_bundle(carried, audit=_apply(central))
    assert _persons_named(central, "Nour") == [] and _persons_named(central, "Reem") == []

    events = len(_admin_events(central))
    done = sync(central).reinstate(
        node_id, "  tablet found in our custody  ", audit=_admin(central)
    )
    assert done["status"] == "approved" and _row(central, node_id)["status"] == "approved"
    assert _row(central, node_id)["revoked_at"] is None
    assert _admin_events(central)[events:] == [
        f"node {node_id} reinstated: tablet found in our custody"
    ]

    # The next round brings what was kept; the note at the node goes.
    back = _round(node, http)
    assert back.pushed == 2 and back.push["applied"] == 2
    assert _persons_named(central, "Nour") == [nour] and _persons_named(central, "Reem") == [reem]
    assert central.registration.get_person(reem)["phone"] == "+963933100003"
    assert _unsent(node) == 0 and sync(node).status()["revoked_at"] is None
    assert 'id="sync-revoked"' not in manager.get("/sync").text
    assert 'id="unsent-revoked"' not in registrar.get("/register").text
    # Nothing twice: the file carried before, and another round, change nothing.
    before = _counts(central)
    again = sync(central).import_bundle(carried, audit=_apply(central))
    assert again.already_applied and again.already_had == 2
    assert _counts(central) == before
    assert _round(node, http).pushed == 0
    assert _persons_named(central, "Samira") == [samira]


def test_a_bundle_file_of_a_reinstated_node_is_taken(pair) -> None:
    """No network: the file written while the node was revoked is taken once the node
    is reinstated; the central's bundle for it then clears the node's note."""
    central, node, exit_point, _ = pair
    node_id = sync(node).identity()["id"]
    nour = register(node, exit_point, "Nour", "+963933100002")
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    carried = sync(node).export()
    with pytest.raises(NodeRevoked):
        sync(central).import_bundle(carried, audit=_apply(central))
    with pytest.raises(NotFound):  # nothing is written for a revoked node
        sync(central).export(node_id)
    sync(central).reinstate(node_id, "revoked by mistake", audit=_admin(central))
    report = sync(central).import_bundle(carried, audit=_apply(central))
    assert report.applied == 1 and _persons_named(central, "Nour") == [nour]
    sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    assert _unsent(node) == 0


def test_reinstating_is_refused_where_it_makes_no_sense(link, clock) -> None:
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    before = (_counts(central), _row(central, node_id))
    with pytest.raises(Conflict, match="is not revoked"):
        sync(central).reinstate(node_id, "just in case", audit=_admin(central))
    with pytest.raises(NotFound):
        sync(central).reinstate(
            "0190aaaa-0000-7000-8000-000000000000", "typo", audit=_admin(central)
        )
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    revoked = (_counts(central), _row(central, node_id))
    for reason, why in [
        ("", "say why"),
        ("   ", "say why"),
        ("x" * 141, "at most 140 characters (141 given)"),
        ("found\nat the gate", "control characters"),
    ]:
        with pytest.raises(ValidationFailed, match="reason") as bad:
            sync(central).reinstate(node_id, reason, audit=_admin(central))
        assert [(p.field, why in p.reason) for p in bad.value.problems] == [("reason", True)]
        assert (_counts(central), _row(central, node_id)) == revoked
    assert before[1]["status"] == "approved"


def test_a_node_whose_wipe_was_carried_out_is_not_reinstated(link) -> None:
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    register(node, exit_point, "Nour", "+963933100002")  # never sent
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    done = _round(node, http)
    assert done.wiped and done.confirmed
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    revoked = (_counts(central), _row(central, node_id))
    with pytest.raises(Conflict, match="carried out its wipe .*the data it held is gone"):
        sync(central).reinstate(node_id, "tablet found", audit=_admin(central))
    assert (_counts(central), _row(central, node_id)) == revoked


def test_a_wipe_ordered_before_the_revocation_still_stands(link) -> None:
    """Revoked before the order was delivered: reinstating gives the order its way to
    the node again (its changes still not taken), and its confirmation is recorded."""
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    register(node, exit_point, "Nour", "+963933100002")
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    with pytest.raises(NodeRevokedAtCentral):
        _round(node, http)
    done = sync(central).reinstate(node_id, "the wipe must reach it", audit=_admin(central))
    assert done["status"] == "wipe"
    wiped = _round(node, http)
    assert wiped.wiped and wiped.confirmed
    assert _persons_named(central, "Nour") == []
    row = _row(central, node_id)
    assert row["status"] == "wiped" and row["wipe_confirmed_at"] is not None


def test_a_reinstated_nodes_name_taken_meanwhile_needs_another(
    link, tmp_path, sqlite_template, clock
) -> None:
    """A revoked node's name is free again: a replacement tablet (a new installation, a
    new node id) may have taken it. The reinstatement then says so and takes another
    name; nothing is changed before. The old tablet's backlog stays under its own id
    (nothing moves it to the new one): reinstated, it comes in and reaches the
    replacement through the central."""
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    name = _row(central, node_id)["name"]
    nour = register(node, exit_point, "Nour", "+963933100002")
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    spare = _node_services(tmp_path, sqlite_template, clock, "node-spare")
    _enrol(central, spare, "Exit", name=name)
    revoked = (_counts(central), _row(central, node_id))
    with pytest.raises(Conflict, match="reinstate this one under another name"):
        sync(central).reinstate(node_id, "found", audit=_admin(central))
    assert (_counts(central), _row(central, node_id)) == revoked
    done = sync(central).reinstate(node_id, "found", audit=_admin(central), name="Exit desk old")
    assert done["name"] == "Exit desk old" and _row(central, node_id)["name"] == "Exit desk old"
    assert _round(node, http).pushed == 1 and _persons_named(central, "Nour") == [nour]
    _round(spare, http)
    assert _persons_named(spare, "Nour") == [nour]
    spare.db.dispose()


def test_the_commands_reinstate_and_show_the_refusal(tmp_path) -> None:
    """`corridor node reinstate` at the central; `corridor node status` at a node its
    central refused as revoked says how many changes it keeps and what to do."""
    from fastapi.testclient import TestClient

    from corridor.cli import main
    from corridor.settings import Settings
    from corridor.sync.client import sync_round
    from corridor.web import create_app
    from tests.sync.helpers import make_site
    from tests.sync.test_node_cli import _install, _ok, _services

    runner = CliRunner()
    _, central_env = _install(tmp_path, "central")
    _, node_env = _install(tmp_path, "node")
    central = _services(central_env)
    exit_point = make_site(central, "Exit")
    request, grant = tmp_path / "request.json", tmp_path / "grant.json"
    _ok(runner, ["node", "init", "--central", "https://c.example", "--site", "Exit",
                 "--name", "Exit desk 1", "--request-out", str(request)], node_env)  # fmt: skip
    _ok(runner, ["node", "approve", str(request), "--out", str(grant)], central_env)
    _ok(runner, ["node", "join", str(grant)], node_env)
    node = _services(node_env)
    node_id = sync(node).identity()["id"]
    register(node, exit_point, "Nour", "+963933100002")
    _ok(runner, ["node", "revoke", node_id], central_env)
    settings = Settings(
        database_url=central_env["CORRIDOR_DATABASE_URL"],
        master_key=Path(central_env["CORRIDOR_MASTER_KEY_FILE"]).read_text().strip(),
    )
    app = create_app(settings, database=central.db)  # the real clock, as the node's
    with TestClient(app, base_url="https://c.example") as http:
        with pytest.raises(SyncFailed, match="1 changes made here have not reached"):
            sync_round(sync(node), audit=_apply(node), client=http)
        out = _ok(runner, ["node", "status"], node_env)
        assert "refused this node as revoked" in out and "1 changes made here" in out
        assert f"corridor node reinstate {node_id} --reason" in out

        refused = runner.invoke(
            main,
            ["node", "reinstate", node_id, "--reason", ""],
            env=central_env,
        )
        assert refused.exit_code != 0 and "reason" in refused.output
        out = _ok(runner, ["node", "reinstate", node_id, "--reason", "found"], central_env)
        assert "reinstated" in out and "Exit desk 1" in out and "not sent yet" in out
        again = runner.invoke(
            main,
            ["node", "reinstate", node_id, "--reason", "found"],
            env=central_env,
        )
        assert again.exit_code != 0 and "is not revoked" in again.output
        sync_round(sync(node), audit=_apply(node), client=http)
    assert _persons_named(central, "Nour") != []
    assert "refused this node as revoked" not in _ok(runner, ["node", "status"], node_env)
    central.db.dispose()
    node.db.dispose()


def _enrolled_keeping_request(
    central: Services, tmp_path: Path, sqlite_template: Path, clock: Any, name: str
) -> tuple[Services, dict[str, Any]]:
    """A node of the exit enrolled, and the enrolment request it sent (kept, as an
    administrator's folder keeps it)."""
    node = _node_services(tmp_path, sqlite_template, clock, name)
    request = sync(node).init_node("https://central.example", "Exit", name)
    grant = sync(central).approve(request, "cli:admin", audit=_admin(central))
    fp = keys.fingerprint(grant["grant"]["central_signing_public"])
    sync(node).join(grant, fp, audit=_admin(node))
    return node, request


def test_an_old_request_of_a_revoked_node_does_not_lift_its_revocation(
    services, tmp_path, sqlite_template, clock
) -> None:
    """A tablet thought stolen is revoked; its old enrolment request, approved again,
    is refused (409 naming the revocation and the way to re-admit it), nothing written:
    the node stays revoked, no grant (no site key) is made, its bundles are still
    refused. Re-admitted with a reason, it is enrolled again, audited with the reason,
    and its changes come in. A reason is refused for a node that is not revoked; a node
    whose wipe was ordered is not enrolled again, reason or not. On the code before,
    the old request enrolled the revoked node again silently, sending it the site's
    keys."""
    central = services
    make_site(central, "Exit")
    node, request = _enrolled_keeping_request(central, tmp_path, sqlite_template, clock, "desk")
    node_id = sync(node).identity()["id"]
    exit_point = _row(central, node_id)["site_id"]
    nour = register(node, exit_point, "Nour", "+963933100002")
    carried = sync(node).export()
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    revoked = (_counts(central), _row(central, node_id), _admin_events(central))
    with pytest.raises(Conflict, match="was revoked at this central") as refused:
        sync(central).approve(request, "cli:admin", audit=_admin(central))
    assert "--readmit" in str(refused.value) and [p.field for p in refused.value.problems] == [
        "readmit"
    ]
    for bad in ("", "  ", "found\nat the gate", "x" * 141):
        with pytest.raises(ValidationFailed, match="reason"):
            sync(central).approve(request, "cli:admin", audit=_admin(central), readmit=bad)
    assert (_counts(central), _row(central, node_id), _admin_events(central)) == revoked
    assert _row(central, node_id)["status"] == "revoked"
    with pytest.raises(NodeRevoked):
        sync(central).import_bundle(carried, audit=_apply(central))
    assert _persons_named(central, "Nour") == []

    grant = sync(central).approve(
        request, "cli:admin", audit=_admin(central), readmit=" tablet found in our custody "
    )
    assert grant["grant"]["site_keys"]
    row = _row(central, node_id)
    assert (row["status"], row["revoked_at"]) == ("approved", None)
    assert _admin_events(central)[len(revoked[2]):] == [
        f"node {node_id} re-admitted: tablet found in our custody"
    ]
    sync(central).import_bundle(carried, audit=_apply(central))
    assert _persons_named(central, "Nour") == [nour]
    with pytest.raises(Conflict, match="is not revoked here: there is nothing to re-admit"):
        sync(central).approve(request, "cli:admin", audit=_admin(central), readmit="found")

    # A wipe ordered here: not enrolled again, with or without a reason.
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    ordered = (_counts(central), _row(central, node_id))
    for readmit in (None, "tablet found"):
        with pytest.raises(Conflict, match="wipe was ordered at this central"):
            sync(central).approve(request, "cli:admin", audit=_admin(central), readmit=readmit)
    assert (_counts(central), _row(central, node_id)) == ordered
    node.db.dispose()


def test_the_command_approve_refuses_a_revoked_node_without_readmit(tmp_path) -> None:
    """`corridor node approve` of a revoked node's request fails, saying how to re-admit
    it; with `--readmit REASON` it enrols it again and says so."""
    from corridor.cli import main
    from tests.sync.test_node_cli import _install, _ok, _services

    runner = CliRunner()
    _, central_env = _install(tmp_path, "central")
    _, node_env = _install(tmp_path, "node")
    central = _services(central_env)
    make_site(central, "Exit")
    request, grant = tmp_path / "request.json", tmp_path / "grant.json"
    _ok(runner, ["node", "init", "--central", "https://c.example", "--site", "Exit",
                 "--name", "Exit desk 1", "--request-out", str(request)], node_env)  # fmt: skip
    _ok(runner, ["node", "approve", str(request), "--out", str(grant)], central_env)
    node = _services(node_env)
    node_id = sync(node).identity()["id"]
    _ok(runner, ["node", "revoke", node_id], central_env)
    grant.unlink()
    refused = runner.invoke(
        main, ["node", "approve", str(request), "--out", str(grant)], env=central_env
    )
    assert refused.exit_code != 0, refused.output
    assert "was revoked at this central" in refused.output and "--readmit" in refused.output
    assert not grant.exists() and _row(central, node_id)["status"] == "revoked"
    out = _ok(
        runner,
        ["node", "approve", str(request), "--out", str(grant), "--readmit", "found"],
        central_env,
    )
    assert f"node {node_id} (Exit desk 1) re-admitted for site" in out
    assert grant.exists() and _row(central, node_id)["status"] == "approved"
    central.db.dispose()
    node.db.dispose()
