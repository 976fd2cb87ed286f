"""Issue 16: a node confirms that it carried out its central's wipe order, a wiped node's
file keeps nothing readable, and nodes have names (docs/sync.md "Protection across
nodes", corridor/sync/wipe.py, corridor/sync/names.py).

The central runs on SQLite and PostgreSQL (the ``backend`` fixture), the node on SQLite;
a node on PostgreSQL is wiped too, and its database's files are read from the server's
data directory (the node's storage rewritten: ``VACUUM FULL``, ``CHECKPOINT``).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update

from corridor.errors import Conflict, ValidationFailed
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import person_documents, persons
from corridor.sync.confirm import confirmation
from corridor.sync.service import BundleRefused, NodeWiped
from tests.conftest import MASTER_KEY, Clock, make_client
from tests.support.pgserver import PgServer
from tests.support.route_world import token_client
from tests.sync import test_http
from tests.sync.helpers import make_site, register, sync
from tests.sync.test_bundles import NODE_KEY, _admin, _apply, _enrol, _node_services
from tests.sync.test_guard import _events, _node_row
from tests.sync.test_http import _round

link = test_http.link

NAMES = ("Samira", "Nourhane")
PHONES = ("+963933100001", "+963933100002")
PLAIN_NOTE = "Left the Qaim road at dawn with her aunt Fadwa"
PLAIN_PHONE = "+963944777888"
PLAIN_DOCUMENT = "NX-5544-PLAIN"


def _file_bytes(node: Services) -> bytes:
    """The node's SQLite file and its WAL, as a thief of the disk reads them."""
    path = Path(str(node.db.url.database))
    data = path.read_bytes()
    wal = Path(f"{path}-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def _left_in_the_clear(node: Services, pid: str) -> None:
    """What an upgrade from before sealing left at the node: a phone, a note, a medical
    detail and a document number stored in the clear (``KeyService.seal_plaintext``
    seals them at the central before a drill; a node's wipe does not run it)."""
    with node.db.transaction() as conn:
        conn.execute(
            update(persons)
            .where(persons.c.id == pid)
            .values(phone=PLAIN_PHONE, note=PLAIN_NOTE, medical="Insulin twice a day")
        )
        conn.execute(
            update(person_documents)
            .where(person_documents.c.person_id == pid)
            .values(number=PLAIN_DOCUMENT)
        )


def test_a_wiped_node_confirms_it_and_the_central_records_it_once(link, clock) -> None:
    central, node, http, exit_point, _ = link
    for name, phone in zip(NAMES, PHONES, strict=True):
        register(node, exit_point, name, phone)
    _round(node, http)
    unsent = register(node, exit_point, "Rawia", "+963933100003")
    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))

    done = _round(node, http)
    assert done.wiped and done.confirmed
    # The central: ordered, delivered, carried out (the node's signed report).
    row = _node_row(central, node_id)
    assert row["wipe_ordered_at"] and row["wiped_at"] and row["wipe_confirmed_at"]
    report = json.loads(row["wipe_report"])
    assert report["node_id"] == node_id and report["ordered"] is True
    assert report["persons_anonymised"] == 3  # the two sent and Rawia, never sent
    assert report["unsent"] == 1 and len(report["keys_destroyed"]) >= 1
    assert unsent  # Rawia's registration: counted, not taken
    assert [e[:2] for e in _events(central, "sync.wiped")] == [(node_id, "node")]
    peer = sync(central).status()["peers"][0]
    assert peer["name"] == "node-exit"
    assert peer["wipe_carried_out_at"] is not None and peer["wipe_persons_anonymised"] == 3
    assert peer["wipe_confirmed_at"] is not None and peer["wipe_unsent"] == 1
    # The node's report is the one the central holds.
    assert json.loads(_node_row(node, node_id)["wipe_report"]) == report

    # Its next contact sends the confirmation again (the one message a wiped node may
    # send) and is refused as before; the central records nothing new.
    with pytest.raises(NodeWiped, match="confirmation of the wipe reached the central"):
        _round(node, http)
    assert len(_events(central, "sync.wiped")) == 1
    assert _node_row(central, node_id)["wipe_confirmed_at"] == row["wipe_confirmed_at"]

    # The site manager's page at the central shows the three steps.
    coordinator = make_client(central.db, clock, (Role.COORDINATOR,))
    page = coordinator.get("/sync").text
    assert 'data-node-state="wipe-carried-out"' in page and "node-exit" in page
    api = coordinator.get("/api/sync/status").json()
    # Counts of persons of one node: small ones withheld from a reader of aggregates
    # only (the coordinator), shown to the site's own manager.
    assert api["peers"][0]["wipe_persons_anonymised"] is None
    assert api["peers"][0]["wipe_unsent"] is None and api["suppressed_below"] == 5
    manager, _ = token_client(central.db, clock, "manager-exit", (Role.SITE_MANAGER,),
                              [exit_point])  # fmt: skip
    own = manager.get("/api/sync/status").json()["peers"][0]
    assert own["wipe_persons_anonymised"] == 3 and own["wipe_unsent"] == 1
    assert "3 persons anonymised" in manager.get("/sync").text
    assert "3 persons anonymised" not in page and "&lt;5 persons anonymised" in page


def test_a_wipe_delivered_but_not_confirmed_says_so(link, clock) -> None:
    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira")
    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    # The order travels in a file; the node wipes, but nothing comes back yet.
    sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    peer = sync(central).status()["peers"][0]
    assert peer["wiped_at"] is not None and peer["wipe_confirmed_at"] is None
    page = make_client(central.db, clock, (Role.COORDINATOR,)).get("/sync").text
    assert 'data-node-state="wipe-unconfirmed"' in page


def test_a_node_wiped_by_the_drill_alone_is_marked_wiped_at_the_central(link) -> None:
    """No wipe order: the evacuation drill destroyed the site's keys at the central, the
    node wiped itself at its next contact and confirmed it; the central marks it wiped
    (it will never sync again), not approved."""
    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira", "+963933100001")
    _round(node, http)
    node_id = sync(node).identity()["id"]
    central.keys.destroy_site(exit_point, "cli:admin")
    http.app.state.services.vault.forget()
    done = _round(node, http)
    assert done.wiped and done.confirmed
    row = _node_row(central, node_id)
    assert row["wipe_ordered_at"] is None and row["wipe_confirmed_at"] is not None
    assert json.loads(row["wipe_report"])["ordered"] is False
    assert row["status"] == "wiped" and row["wiped_at"] is not None
    peer = sync(central).status()["peers"][0]
    assert peer["status"] == "wiped" and peer["wipe_carried_out_at"] is not None


def test_the_confirmation_travels_in_a_file_and_a_forged_one_is_refused(pair) -> None:
    central, node, exit_point, _ = pair
    register(node, exit_point, "Samira")
    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    assert confirmation(sync(node)) is None  # not wiped yet: nothing to confirm
    sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    made = confirmation(sync(node))
    assert made is not None
    bundle, said = made
    assert "no longer syncs" in said
    # Altered on the way (the count of persons raised): the signature does not verify.
    forged = bundle.replace(b'"persons_anonymised":1', b'"persons_anonymised":9')
    assert forged != bundle
    with pytest.raises(BundleRefused, match="signature does not verify"):
        sync(central).import_bundle(forged)
    assert _node_row(central, node_id)["wipe_confirmed_at"] is None
    first = sync(central).import_bundle(bundle)
    assert first.wipe_confirmed and first.from_node == node_id
    again = sync(central).import_bundle(bundle)
    assert not again.wipe_confirmed  # recorded once
    assert json.loads(_node_row(central, node_id)["wipe_report"])["persons_anonymised"] == 1
    # Only a confirmation of no change is taken as one: the node still refuses all else.
    with pytest.raises(NodeWiped):
        sync(node).export()


def test_a_wiped_nodes_file_holds_no_name_phone_or_note_in_the_clear(pair) -> None:
    central, node, exit_point, _ = pair
    ids = [register(node, exit_point, n, p) for n, p in zip(NAMES, PHONES, strict=True)]
    _left_in_the_clear(node, ids[0])
    before = _file_bytes(node)
    for secret in (*NAMES, PLAIN_PHONE, PLAIN_NOTE, PLAIN_DOCUMENT):
        assert secret.encode() in before, secret  # there before the wipe
    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    assert sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node)).wiped
    after = _file_bytes(node)
    for secret in (*NAMES, "Khalil", PLAIN_PHONE, PLAIN_NOTE, PLAIN_DOCUMENT, *PHONES):
        assert secret.encode() not in after, secret
    assert b"Insulin" not in after


def test_a_node_has_a_name_checked_at_init_and_unique_in_its_site(
    pair, tmp_path, sqlite_template, clock
) -> None:
    central, node, exit_point, _ = pair
    node_id = sync(node).identity()["id"]
    assert sync(central).status()["peers"][0]["name"] == "node-exit"
    assert sync(node).status()["name"] == "node-exit"
    second = _node_services(tmp_path, sqlite_template, clock, "node-exit-2")
    try:
        for bad, why in (
            ("   ", "needs a name"),
            ("x" * 65, "at most 64 characters"),
            ("Desk\n2", "control characters"),
        ):
            with pytest.raises(ValidationFailed, match=why):
                sync(second).init_node("https://central.example", "Exit", bad)
        # Two desks of one site under one name cannot be told apart: refused.
        request = sync(second).init_node("https://central.example", "Exit", " NODE-Exit ")
        assert request["request"]["name"] == "NODE-Exit"
        with pytest.raises(Conflict, match="named 'NODE-Exit' already"):
            sync(central).approve(request, "cli:admin", audit=_admin(central))
        assert [p["id"] for p in sync(central).status()["peers"]] == [node_id]
        _enrol(central, second, "Exit", "Exit desk 2")
        names = sorted(p["name"] for p in sync(central).status()["peers"])
        assert names == ["Exit desk 2", "node-exit"]
    finally:
        second.db.dispose()


# --- A node on PostgreSQL: its database's files, read in the server's data directory.

PG_NAMES = ("Zubaydah", "Thurayya")


@pytest.fixture(params=["superuser", "owner"])
def pg_pair(
    request: pytest.FixtureRequest,
    postgres_server: PgServer,
    tmp_path: Path,
    sqlite_template: Path,
    clock: Clock,
) -> Iterator[tuple[Services, Services, str, PgServer, str]]:
    """The central (SQLite) and the exit's node on a PostgreSQL database of its own,
    connected as the server's superuser or as a role that only owns the database (no
    right to ``CHECKPOINT``)."""
    path = tmp_path / "central.db"
    shutil.copy(sqlite_template, path)
    central = Services(Database(f"sqlite:///{path}"), clock, MasterKey.from_text(MASTER_KEY))
    exit_point = make_site(central, "Exit")
    name = f"node_{secrets.token_hex(4)}"
    if request.param == "owner":
        postgres_server.psql(f'CREATE ROLE "{name}" LOGIN')
        postgres_server.psql(f'CREATE DATABASE "{name}" OWNER "{name}"')
        url = postgres_server.url_for(name).replace("//postgres@", f"//{name}@")
    else:
        url = postgres_server.create_database(name)
    db = Database(url)
    try:
        upgrade(db)
        node = Services(db, clock, MasterKey.from_text(NODE_KEY))
        _enrol(central, node, "Exit", "node-exit")
        yield central, node, exit_point, postgres_server, str(request.param)
    finally:
        db.dispose()
        central.db.dispose()
        postgres_server.psql(f'DROP DATABASE "{name}"')
        if request.param == "owner":
            postgres_server.psql(f'DROP ROLE "{name}"')


def _pg_path(node: Services, server: PgServer, relation: str) -> Path:
    with node.db.read() as conn:
        where = conn.execute(text("SELECT pg_relation_filepath(:r)"), {"r": relation})
        return server.datadir / str(where.scalar_one())


def _pg_files(node: Services, server: PgServer, leave_out: str | None = None) -> bytes:
    """Every file of the node's database (tables, indexes, TOAST, the statistics), as a
    thief of the server's disk reads them: the folder ``pg_relation_filepath`` names;
    without the files of the relation ``leave_out``."""
    folder = _pg_path(node, server, "persons").parent
    left = _pg_path(node, server, leave_out).name if leave_out else None
    data = []
    for file in sorted(folder.iterdir()):
        if left and file.name.split("_")[0].split(".")[0] == left:
            continue
        try:
            data.append(file.read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            continue  # unlinked by a checkpoint while we read
    return b"".join(data)


def _pg_checkpoint(server: PgServer) -> None:
    """What the server does by itself within ``checkpoint_timeout``: its dirty pages
    written to the files."""
    server.psql("CHECKPOINT")


def test_a_wiped_nodes_postgresql_files_hold_no_name_in_the_clear(pg_pair, caplog) -> None:
    """A node on PostgreSQL: the wipe's anonymisation leaves the old tuples in the table
    files until they are vacuumed, and names in the planner's statistics; after the wipe
    the node's storage is rewritten (``VACUUM FULL``, the statistics deleted and made
    again, ``CHECKPOINT``) and no file of its database holds a name, the family name or
    a value an upgrade left in the clear. A role that is not a superuser keeps the old
    statistics of the tables the wipe emptied, and is told so."""
    central, node, exit_point, server, role = pg_pair
    ids = [register(node, exit_point, n, p) for n, p in zip(PG_NAMES, PHONES, strict=True)]
    _left_in_the_clear(node, ids[0])
    server.psql("ANALYZE", str(node.db.url.database))  # as autovacuum does on a real node
    _pg_checkpoint(server)
    table = _pg_path(node, server, "persons")
    assert PG_NAMES[0].encode() in table.read_bytes()  # names are stored unsealed
    statistics = _pg_path(node, server, "pg_statistic").read_bytes()
    assert PG_NAMES[0].encode() in statistics  # and ANALYZE copied them there
    # In the clear before the wipe: the names, and what an upgrade left unsealed.
    values = (*PG_NAMES, "Khalil", PLAIN_PHONE, PLAIN_NOTE, PLAIN_DOCUMENT)
    before = _pg_files(node, server)
    assert [s for s in values if s.encode() not in before] == []

    node_id = sync(node).identity()["id"]
    sync(central).order_wipe(node_id, "cli:admin", audit=_admin(central))
    with caplog.at_level(logging.WARNING, logger="corridor.sync.wipe"):
        done = sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    assert done.wiped
    # The table's storage was replaced: its old file was emptied when the rewrite
    # committed, and removed by the node's own CHECKPOINT (a role without the right to
    # run one leaves it to the server's next).
    assert _pg_path(node, server, "persons") != table
    if role == "superuser":
        assert not table.exists()
    else:
        assert not table.exists() or table.stat().st_size == 0

    # A role that is not a superuser cannot delete the statistics of a table the wipe
    # emptied: the document number an upgrade left in the clear stays there (said).
    stays = [] if role == "superuser" else [PLAIN_DOCUMENT]
    for moment in ("at once", "after the server's next checkpoint"):
        if moment != "at once":
            _pg_checkpoint(server)
        after = _pg_files(node, server)
        found = [s for s in (*values, *PHONES, "Insulin") if s.encode() in after]
        assert found == stays, moment
        tables = _pg_files(node, server, leave_out="pg_statistic")
        assert [s for s in (*values, *PHONES, "Insulin") if s.encode() in tables] == []
    said = "\n".join(r.getMessage() for r in caplog.records if r.name == "corridor.sync.wipe")
    if role == "superuser":
        assert said == ""
    else:
        assert "CHECKPOINT" in said and "pg_checkpoint" in said
        assert "not a superuser" in said and "drop the node's database" in said
    with node.db.read() as conn:  # the node still reads its (anonymised) rows
        assert conn.execute(text("SELECT count(*) FROM persons")).scalar_one() == 2
