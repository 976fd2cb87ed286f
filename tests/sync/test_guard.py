"""Issue 16, protection across nodes (docs/sync.md "Protection across nodes"): every
person a bundle or a pull's answer carries out of an installation is audited
(``sync.send``), once each, in the chain; a pull that answers nothing audits nothing.

The central runs on SQLite and PostgreSQL (the ``backend`` fixture), the node on SQLite.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.errors import Conflict, NotFound
from corridor.security import audit as security_audit
from corridor.security.roles import Role
from corridor.security.tables import audit_events, site_keys
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage.sync_tables import sync_nodes
from corridor.storage.tables import persons
from corridor.sync.client import SyncFailed
from corridor.sync.service import BundleRefused, NodeRevoked, NodeWiped
from corridor.web import create_app
from tests.conftest import MASTER_KEY, make_client
from tests.sync import test_http
from tests.sync.helpers import register, sync
from tests.sync.test_bundles import _admin, _apply, _counts, _persons_named
from tests.sync.test_http import _round

# The fixtures of the bundle and HTTP tests: a central and its node enrolled.
link = test_http.link


def _sends(s: Services, after: int = 0) -> list[tuple[str, str, str, str | None]]:
    with s.db.read() as conn:
        rows = conn.execute(
            select(
                audit_events.c.user_id,
                audit_events.c.role,
                audit_events.c.outcome,
                audit_events.c.person_id,
            )
            .where(audit_events.c.action == "sync.send", audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _last_seq(s: Services) -> int:
    with s.db.read() as conn:
        return int(conn.execute(select(audit_events.c.seq).order_by(
            audit_events.c.seq.desc())).scalar() or 0)  # fmt: skip


def _chain_holds(s: Services) -> bool:
    with s.db.read() as conn:
        return security_audit.verify(conn).ok


def _count(bundle: bytes) -> int:
    return int(json.loads(bundle.split(b"\n")[1])["count"])


def test_a_bundle_written_for_a_node_audits_each_person_it_carries(pair) -> None:
    """``corridor node export --to-node`` at the central: one ``sync.send`` per person,
    under the operator who wrote it; the node's own bundle to the central likewise."""
    central, node, exit_point, _ = pair
    node_id = sync(node).identity()["id"]
    a = register(central, exit_point, "Samira", "+963933100001")
    b = register(central, exit_point, "Nour", "+963933100002")
    operator = central.audit.operator_hook("tester", "sync.send", "bundle")
    seq = _last_seq(central)
    bundle = sync(central).export(node_id, audit=operator)
    assert _count(bundle) == 2
    assert sorted(_sends(central, seq)) == sorted(
        [("cli:tester", "operator", "allowed", a), ("cli:tester", "operator", "allowed", b)]
    )
    assert _chain_holds(central)

    # The node's bundle to the central, with no operator named: under the central's id.
    c = register(node, exit_point, "Reem", "+963933100003")
    central_id = sync(central).identity()["id"]
    nseq = _last_seq(node)
    assert _count(sync(node).export()) == 1
    assert _sends(node, nseq) == [(central_id, "node", "allowed", c)]
    assert _chain_holds(node)


def test_a_pull_answer_audits_each_person_sent_under_the_node(link) -> None:
    central, node, http, exit_point, _ = link
    node_id = sync(node).identity()["id"]
    ids = [
        register(central, exit_point, name, f"+96393310000{i}")
        for i, name in enumerate(["Samira", "Nour", "Reem"], start=1)
    ]
    seq = _last_seq(central)
    done = _round(node, http)
    assert done.pulled.applied == 3
    got = _sends(central, seq)
    assert sorted(got) == sorted((node_id, "node", "allowed", p) for p in ids)
    assert _chain_holds(central)

    # Nothing left to send: the next pull answers nothing and audits nothing.
    seq = _last_seq(central)
    again = _round(node, http)
    assert again.pulled.already_applied
    assert _sends(central, seq) == []
    assert _chain_holds(central)


def test_a_change_sent_twice_is_audited_each_time_it_leaves(pair) -> None:
    """A bundle written again (the first was lost on the road) carries the persons out
    again: each writing is audited, one event per person each time."""
    central, node, exit_point, _ = pair
    node_id = sync(node).identity()["id"]
    a = register(central, exit_point, "Samira")
    seq = _last_seq(central)
    sync(central).export(node_id)
    sync(central).export(node_id)
    assert [e[3] for e in _sends(central, seq)] == [a, a]
    sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    assert _chain_holds(central) and _chain_holds(node)


# -- revocation, wipe, key destruction --------------------------------------------------


def _node_row(s: Services, node_id: str) -> dict[str, Any]:
    with s.db.read() as conn:
        return dict(
            conn.execute(select(sync_nodes).where(sync_nodes.c.id == node_id)).mappings().one()
        )


def _keys(s: Services, site_id: str) -> list[tuple[str, bool]]:
    with s.db.read() as conn:
        return [
            (r.state, r.wrapped_key is None)
            for r in conn.execute(select(site_keys).where(site_keys.c.site_id == site_id))
        ]


def _events(s: Services, action: str) -> list[tuple[str, str, str | None]]:
    with s.db.read() as conn:
        return [
            (r.user_id, r.role, r.purpose)
            for r in conn.execute(
                select(audit_events)
                .where(audit_events.c.action == action)
                .order_by(audit_events.c.seq)  # PostgreSQL returns rows in any order
            )
        ]


def test_a_revoked_nodes_push_pull_and_bundle_file_are_refused(link) -> None:
    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira")
    node_id = sync(node).identity()["id"]
    bundle = sync(node).export()
    before_admin = len(_events(central, "sites.admin"))
    sync(central).revoke(node_id, "cli:admin", audit=_admin(central))
    assert _node_row(central, node_id)["status"] == "revoked"
    revoked = _events(central, "sites.admin")
    assert len(revoked) == before_admin + 1 and "revoked" in (revoked[-1][2] or "")
    before = _counts(central)

    for route, body in [("push", bundle), ("pull", sync(node).export(changes=False))]:
        r = http.post(f"/api/sync/{route}", content=body)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "node_revoked" and "revoked" in r.json()["message"]
        assert "nothing was imported" in r.json()["message"]
    with pytest.raises(NodeRevoked, match="revoked"):
        sync(central).import_bundle(bundle, audit=_apply(central))
    with pytest.raises(SyncFailed, match="revoked"):
        _round(node, http)
    assert _counts(central) == before
    assert _persons_named(central, "Samira") == []
    with pytest.raises(NotFound):
        sync(central).revoke("0190aaaa-0000-7000-8000-000000000000", "x", audit=_admin(central))


def test_a_wipe_is_delivered_at_the_next_pull_and_the_node_keeps_nothing(link, clock) -> None:
    central, node, http, exit_point, _ = link
    sent = register(node, exit_point, "Samira", "+963933100001")
    _round(node, http)
    unsent = register(node, exit_point, "Nour", "+963933100002")
    node_id = sync(node).identity()["id"]
    central_id = sync(central).identity()["id"]

    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    row = _node_row(central, node_id)
    assert row["status"] == "wipe" and row["wipe_ordered_at"] is not None
    assert row["wiped_at"] is None

    done = _round(node, http)
    assert done.wiped
    # The node: every key of the site destroyed, its persons anonymised, nothing
    # readable; it says how many of its changes never reached the central.
    assert _keys(node, exit_point) and all(
        state == "destroyed" and gone for state, gone in _keys(node, exit_point)
    )
    assert _persons_named(node, "Samira") == [] and _persons_named(node, "Nour") == []
    with node.db.read() as conn:
        phones = set(conn.execute(select(persons.c.phone)).scalars())
    assert phones == {None}
    status = sync(node).status()
    assert status["status"] == "wiped" and status["wiped_at"] is not None
    assert status["peers"][0]["unsent"] == 1  # Nour's registration never left
    assert _events(node, "sync.wipe") == [
        (central_id, "node", "the central's order to wipe this node (sent, or carried out)")
    ]
    # It no longer syncs.
    with pytest.raises(NodeWiped, match="no longer syncs"):
        sync(node).export()
    with pytest.raises(NodeWiped):
        _round(node, http)
    with pytest.raises(Conflict, match="fresh installation"):
        sync(node).init_node("https://central.example", "Exit")
    # The central: the unsent registration was not taken, the delivery recorded and
    # audited; Samira, sent before, is still there.
    assert _persons_named(central, "Nour") == [] and _persons_named(central, "Samira") == [sent]
    row = _node_row(central, node_id)
    assert row["status"] == "wiped" and row["wiped_at"] is not None
    assert [e[:2] for e in _events(central, "sync.wipe")] == [(node_id, "node")]
    peer = sync(central).status()["peers"][0]
    assert peer["wiped_at"] is not None
    # The sync page says so at both ends (in the reader's language).
    coordinator = make_client(central.db, clock, (Role.COORDINATOR,))
    assert 'data-node-state="wiped"' in coordinator.get("/sync").text
    at_node = make_client(node.db, clock, (Role.COORDINATOR,))
    page = at_node.get("/sync", headers={"Accept-Language": "ar"})
    assert 'id="sync-wiped"' in page.text and "مُسح" in page.text
    assert _chain_holds(central) and _chain_holds(node)
    assert unsent not in _persons_named(central, "Nour")


def test_a_wipe_order_travels_in_a_bundle_file_too(pair) -> None:
    central, node, exit_point, _ = pair
    register(central, exit_point, "Samira")
    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    seq = _last_seq(central)
    bundle = sync(central).export(node_id)
    header = json.loads(bundle.split(b"\n")[1])
    assert header["wipe"] is True and header["count"] == 0
    assert _sends(central, seq) == []  # an order carries no person
    report = sync(node).import_bundle(bundle, audit=_apply(node))
    assert report.wiped and _persons_named(node, "Samira") == []
    assert sync(node).status()["status"] == "wiped"


def test_keys_destroyed_at_the_central_are_destroyed_at_the_node_when_it_syncs(link) -> None:
    """The evacuation drill at the central (``corridor keys destroy``): the node's copy
    of the site's keys goes at its next pull; with no key left it stops syncing."""
    central, node, http, exit_point, camp = link
    pid = register(node, exit_point, "Samira", "+963933100001")
    _round(node, http)
    assert node.registration.get_person(pid)["phone"] == "+963933100001"
    central.keys.destroy_site(exit_point, "cli:admin")
    # The server learns of the destruction (another process ran the drill): its cached
    # keys go. The node, not knowing yet, registers someone and pushes under its copy.
    http.app.state.services.vault.forget()
    register(node, exit_point, "Nour", "+963933100002")
    before = _counts(central)

    done = _round(node, http)
    assert done.wiped
    assert _persons_named(central, "Nour") == []
    assert _counts(central)["persons"] == before["persons"]
    assert all(state == "destroyed" and gone for state, gone in _keys(node, exit_point))
    assert node.registration.get_person(pid)["phone"] != "+963933100001"
    assert len(_events(node, "sync.keys")) == 1
    assert sync(node).status()["status"] == "wiped"
    assert _chain_holds(node)


# -- a pull's bound and freshness --------------------------------------------------------


@pytest.fixture
def bounded(link, clock) -> Any:
    central, node, _, exit_point, camp = link
    settings = Settings(
        database_url=str(central.db.url), master_key=MASTER_KEY, sync_pull_max_changes=2
    )
    app = create_app(settings, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as http:
        yield central, node, http, exit_point


def test_a_pull_answer_is_bounded_and_the_node_pulls_until_nothing_is_left(bounded) -> None:
    central, node, http, exit_point = bounded
    ids = [register(central, exit_point, f"P{i}", f"+96393310000{i}") for i in range(5)]
    node_id = sync(node).identity()["id"]
    first = http.post("/api/sync/pull", content=sync(node).export(changes=False))
    header = json.loads(first.content.split(b"\n")[1])
    assert header["count"] == 2 and header["more"] is True
    sync(node).import_bundle(first.content, audit=_apply(node))
    assert sum(len(_persons_named(node, f"P{i}")) for i in range(5)) == 2

    done = _round(node, http)
    assert done.pulls == 2 and done.pulled.applied == 3
    for i, pid in enumerate(ids):
        assert _persons_named(node, f"P{i}") == [pid]
    assert not json.loads(
        http.post("/api/sync/pull", content=sync(node).export(changes=False)).content.split(b"\n")[
            1
        ]
    ).get("more")
    assert len(_sends(central)) == 5  # each person audited once, whatever the bound
    assert {e[0] for e in _sends(central)} == {node_id}


def test_a_stale_or_replayed_pull_request_is_refused_and_writes_nothing(link, clock) -> None:
    central, node, http, exit_point, _ = link
    register(central, exit_point, "Samira")
    request = sync(node).export(changes=False)
    assert http.post("/api/sync/pull", content=request).status_code == 200
    sync(node).import_bundle(
        http.post("/api/sync/pull", content=sync(node).export(changes=False)).content,
        audit=_apply(node),
    )
    # The same request again: not newer than the last answered, moves nothing.
    before, sends = _counts(central), len(_sends(central))
    r = http.post("/api/sync/pull", content=request)
    assert r.status_code == 400 and "replay" in r.json()["message"], r.text
    assert _counts(central) == before and len(_sends(central)) == sends

    # A request made two days and more before the central's clock: stale.
    old = sync(node).export(changes=False)
    clock.advance(hours=49)
    r = http.post("/api/sync/pull", content=old)
    assert r.status_code == 400 and "stale" in r.json()["message"], r.text
    assert _counts(central) == before
    # A node whose clock is six hours behind is answered; so is one set back (each of
    # its requests is made after the last it sent).
    clock.advance(hours=-6)
    assert http.post("/api/sync/pull", content=sync(node).export(changes=False)).status_code == 200
    clock.advance(hours=-1)
    assert http.post("/api/sync/pull", content=sync(node).export(changes=False)).status_code == 200


def test_a_strangers_bundle_is_refused_on_its_header(link) -> None:
    """The header is checked before the body is read whole: not addressed here, or from
    no node enrolled here, refused with nothing written."""
    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira")
    bundle = sync(node).export()
    lines = bundle.split(b"\n")
    header = json.loads(lines[1])
    with pytest.raises(BundleRefused, match="not enrolled"):
        sync(central).check_header(
            lines[0] + b"\n" + json.dumps({**header, "from_node": "x"}).encode() + b"\n"
        )
    with pytest.raises(BundleRefused, match="another node"):
        sync(central).check_header(
            lines[0] + b"\n" + json.dumps({**header, "to_node": "x"}).encode() + b"\n"
        )
    sync(central).check_header(lines[0] + b"\n" + lines[1] + b"\n")  # addressed here


def test_the_commands_audit_the_export_order_the_wipe_and_revoke(tmp_path) -> None:
    """`corridor node export` audits each person under the operator; `corridor node
    wipe` and `revoke` at the central; the node's `import` and `status` say what the
    wipe did and how many of its changes never left."""
    from corridor.cli import main
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
    a = register(central, exit_point, "Samira")
    register(node, exit_point, "Nour", "+963933100002")  # never sent

    out_file = tmp_path / "back.bundle"
    _ok(runner, ["node", "export", "--to-node", node_id, "--to", str(out_file)], central_env)
    [(user, role, outcome, person)] = _sends(central)
    assert user.startswith("cli:") and role == "operator" and person == a
    _ok(runner, ["node", "import", str(out_file)], node_env)

    out = _ok(runner, ["node", "wipe", node_id, "--yes"], central_env)
    assert "ordered" in out
    _ok(runner, ["node", "export", "--to-node", node_id, "--to", str(out_file)], central_env)
    out = _ok(runner, ["node", "import", str(out_file)], node_env)
    assert "wipe" in out and "no longer syncs" in out
    out = _ok(runner, ["node", "status"], node_env)
    assert "wiped" in out and "1 changes made here had not reached the central" in out
    # The one thing a wiped node still writes: its signed confirmation of the wipe.
    confirm = tmp_path / "confirm.bundle"
    again = runner.invoke(main, ["node", "export", "--to", str(confirm)], env=node_env)
    assert again.exit_code == 0 and "no longer syncs" in again.output
    assert "only its signed confirmation" in again.output
    out = _ok(runner, ["node", "list"], central_env)
    assert "Exit desk 1" in out and "not confirmed yet" in out
    out = _ok(runner, ["node", "import", str(confirm)], central_env)
    assert "signed confirmation" in out and "recorded" in out
    out = _ok(runner, ["node", "list"], central_env)
    assert "carried out" in out and "2 persons anonymised" in out  # Samira, Nour
    assert "1 changes never sent" in out

    out = _ok(runner, ["node", "revoke", node_id], central_env)
    assert "revoked" in out
    out = _ok(runner, ["node", "status"], central_env)
    assert "(revoked)" in out and "wipe delivered" in out
    assert _chain_holds(central) and _chain_holds(node)
    central.db.dispose()
    node.db.dispose()


def test_a_strangers_push_is_refused_before_its_body_is_read_whole(link) -> None:
    """Over the ASGI interface (the test client would send the body whole first): the
    header of a bundle from no node enrolled here arrives, the answer is 400 and the
    rest of a large body is never asked for."""
    import asyncio

    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira")
    lines = sync(node).export().split(b"\n")
    header = json.loads(lines[1])
    head = lines[0] + b"\n" + json.dumps({**header, "from_node": "x"}).encode() + b"\n"
    chunk = b"A" * 1_000_000
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": head, "more_body": True}
        return {"type": "http.request", "body": chunk, "more_body": asked < 100}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/api/sync/push",
        "raw_path": b"/api/sync/push",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"central.example"),
            (b"content-type", b"application/octet-stream"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("central.example", 443),
    }
    before = _counts(central)
    asyncio.run(http.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"not enrolled here" in body
    assert asked <= 2  # the header's chunk (and at most one more), not 100 MB
    assert _counts(central) == before
