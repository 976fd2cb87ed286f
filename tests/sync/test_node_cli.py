"""Issue 16: `corridor node init|approve|join|export|import|status` end to end, on two
SQLite files with their own master keys: a household and a transfer registered at the
node reach the central by a bundle file; a replay says "already applied"; a tampered
file is refused with a clear error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from corridor.cli import main
from corridor.cli.node import node as node_commands
from corridor.schemas import HouseholdIn, PersonPatch, StatusEventIn
from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import person_locations, persons, relationships
from tests.sync.helpers import hook, make_site, register


def _install(tmp_path: Path, name: str) -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    key_file = tmp_path / f"{name}.key"
    key_file.write_text(MasterKey.generate().encoded())
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url, {"CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY_FILE": str(key_file)}


def _services(env: dict[str, str]) -> Services:
    return Services(
        Database(env["CORRIDOR_DATABASE_URL"]),
        master=MasterKey.from_file(Path(env["CORRIDOR_MASTER_KEY_FILE"])),
    )


def _ok(runner: CliRunner, args: list[str], env: dict[str, str]) -> str:
    r = runner.invoke(main, args, env=env)
    assert r.exit_code == 0, r.output
    return r.output


def test_a_node_joins_and_a_bundle_file_carries_a_household_and_a_transfer(tmp_path):
    runner = CliRunner()
    _, central_env = _install(tmp_path, "central")
    _, node_env = _install(tmp_path, "node")
    central = _services(central_env)
    exit_point = make_site(central, "Exit")
    camp = make_site(central, "Camp", "camp")
    central.db.dispose()

    request, grant = tmp_path / "request.json", tmp_path / "grant.json"
    out = _ok(runner, ["node", "init", "--central", "https://c.example", "--site", "Exit",
                       "--name", "Exit desk 1",
                       "--request-out", str(request)], node_env)  # fmt: skip
    assert "asks to join" in out
    out = _ok(runner, ["node", "approve", str(request), "--out", str(grant)], central_env)
    fingerprint = out.strip().rsplit(" ", 1)[-1]
    wrong = runner.invoke(
        main, ["node", "join", str(grant), "--central-fingerprint", "0000-0000-0000-0000"],
        env=node_env,
    )  # fmt: skip
    assert wrong.exit_code != 0 and "another central" in wrong.output
    _ok(runner, ["node", "join", str(grant), "--central-fingerprint", fingerprint], node_env)

    node = _services(node_env)
    household = node.registration.register_household(
        HouseholdIn.model_validate(
            {"site_id": exit_point, "consent": {"tracing": True}, "purpose": "registration",
             "legal_basis": "vital_interest",
             "head": {"given_name": "Ahmad", "family_name": "Saleh", "sex": "m",
                      "birth_date": "1980-01-01"},
             "members": [{"given_name": "Lina", "family_name": "Saleh", "sex": "f",
                          "birth_date": "2012-05-01", "relationship": "child"}]}
        ),
        audit=hook(node, "person.write"),
    )  # fmt: skip
    head = household["head_person_id"]
    node.movements.record(
        head, StatusEventIn(kind="transferred", to_site_id=camp), audit=hook(node, "movement.write")
    )
    with node.db.read() as conn:
        at_node = conn.execute(
            select(person_locations.c.site_id, person_locations.c.state).where(
                person_locations.c.person_id == head
            )
        ).one()
    node.db.dispose()
    assert at_node[0] == camp

    bundle = tmp_path / "truck.bundle"
    out = _ok(runner, ["node", "export", "--to", str(bundle)], node_env)
    assert out.startswith("3 changes")  # two persons, then the transfer
    out = _ok(runner, ["node", "import", str(bundle)], central_env)
    assert out.startswith("3 changes applied, 0 waiting")
    out = _ok(runner, ["node", "import", str(bundle)], central_env)
    assert out.startswith("already applied")

    central = _services(central_env)
    with central.db.read() as conn:
        names = set(conn.execute(select(persons.c.given_name)).scalars())
        links = conn.execute(select(relationships.c.kind)).scalars().all()
        at_central = conn.execute(
            select(person_locations.c.site_id, person_locations.c.state).where(
                person_locations.c.person_id == head
            )
        ).one()
    central.db.dispose()
    assert names == {"Ahmad", "Lina"}
    assert sorted(links) == ["child", "parent"]  # both ways, whichever arrived first
    assert at_central == at_node  # the transfer travelled as a fact

    data = bundle.read_bytes()
    spoilt = tmp_path / "spoilt.bundle"
    spoilt.write_bytes(data[: len(data) - 40] + b"x" * 39 + b"\n")
    r = runner.invoke(main, ["node", "import", str(spoilt)], env=central_env)
    assert r.exit_code != 0 and "signature does not verify" in r.output

    out = _ok(runner, ["node", "status"], central_env)
    assert "(central, self)" in out and "last contact 20" in out
    out = _ok(runner, ["node", "status"], node_env)
    assert "(node, approved)" in out and "3 to send" in out  # the central has not answered


def test_corridor_node_sync_against_a_real_central_server(tmp_path):
    """`corridor node sync` at a node against the central's `corridor serve` process:
    the node's registration reaches the central once, a correction made at the central
    comes back; with the central gone the sync says so and changes nothing; run again
    once it is back, it continues."""
    from tests.api.test_retries_real_server import Server
    from tests.conftest import MASTER_KEY

    runner = CliRunner()
    central_url, central_env = _install(tmp_path, "central")
    Path(central_env["CORRIDOR_MASTER_KEY_FILE"]).write_text(MASTER_KEY)  # the server's
    _, node_env = _install(tmp_path, "node")
    central = _services(central_env)
    exit_point = make_site(central, "Exit")
    server = Server(central_url)
    request, grant = tmp_path / "request.json", tmp_path / "grant.json"
    _ok(runner, ["node", "init", "--central", server.base, "--site", "Exit",
                 "--name", "Exit desk 1", "--request-out", str(request)], node_env)  # fmt: skip
    out = _ok(runner, ["node", "approve", str(request), "--out", str(grant)], central_env)
    fingerprint = out.strip().rsplit(" ", 1)[-1]
    _ok(runner, ["node", "join", str(grant), "--central-fingerprint", fingerprint], node_env)
    node = _services(node_env)
    pid = register(node, exit_point, "Samira")

    down = runner.invoke(main, ["node", "sync"], env=node_env)  # no server yet
    assert down.exit_code != 0 and "cannot be reached" in down.output
    server.start()
    try:
        out = _ok(runner, ["node", "sync"], node_env)
        assert "pushed 1 changes: 1 applied at the central" in out, out
        assert central.registration.get_person(pid)["names"]["given_name"] == "Samira"
        central.registration.update_person(
            pid, PersonPatch(given_name="Sameera"), audit=hook(central, "person.write")
        )
        out = _ok(runner, ["node", "sync"], node_env)
        assert "pushed 0 changes" in out and "pulled 1 applied here" in out, out
        assert node.registration.get_person(pid)["names"]["given_name"] == "Sameera"
        status = _ok(runner, ["node", "status"], node_env)
        assert "0 to send" in status and "last contact never" not in status
    finally:
        server.kill()
        node.db.dispose()
        central.db.dispose()


def _open_files(folder: Path) -> list[str]:
    """The files under ``folder`` this process holds open (database, WAL, shared memory,
    the writer's lock file)."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while listed
        if target.startswith(str(folder)):
            held.append(Path(target).name)
    return sorted(held)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_every_node_command_disposes_its_database(tmp_path, monkeypatch) -> None:
    """Every `corridor node` subcommand, enumerated from the click group (a new one fails
    here until it is added), run at the central or the node, refused or not: each
    Database it built is disposed when it ends, and no file of the installations stays
    open in this process (before, only `export` closed its pool)."""
    runner = CliRunner()
    _, central_env = _install(tmp_path, "central")
    _, node_env = _install(tmp_path, "node")
    central = _services(central_env)
    make_site(central, "Exit")
    central.db.dispose()
    request, grant, bundle = tmp_path / "request.json", tmp_path / "grant.json", tmp_path / "b"
    node_id: list[str] = []  # as `node approve` prints it
    steps: list[tuple[str, dict[str, str], list[str], bool]] = [
        ("init", node_env, ["--central", "https://c.example", "--site", "Exit",
                            "--name", "Exit desk 1", "--request-out", str(request)], True),
        ("approve", central_env, [str(request), "--out", str(grant)], True),
        ("join", node_env, [str(grant)], True),
        ("export", node_env, ["--to", str(bundle)], True),
        ("import", central_env, [str(bundle)], True),
        ("sync", node_env, ["--central", "http://127.0.0.1:9"], False),  # cannot be reached
        ("status", node_env, [], True),
        ("list", central_env, [], True),
        ("wipe", central_env, ["NODE", "--yes"], True),
        ("revoke", central_env, ["NODE"], True),
        ("revoke", central_env, ["no-such-node"], False),  # refused
        ("reinstate", central_env, ["NODE", "--reason", "found"], True),
        ("reinstate", central_env, ["NODE", "--reason", "found"], False),  # not revoked
    ]  # fmt: skip
    assert {name for name, *_ in steps} == set(node_commands.commands), "a step per command"

    made: list[Database] = []
    disposed: list[Database] = []
    init, dispose = Database.__init__, Database.dispose

    def spied_init(self: Database, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    def spied_dispose(self: Database) -> None:
        disposed.append(self)
        dispose(self)

    monkeypatch.setattr(Database, "__init__", spied_init)
    monkeypatch.setattr(Database, "dispose", spied_dispose)
    assert _open_files(tmp_path) == []
    for name, env, args, succeeds in steps:
        made.clear()
        disposed.clear()
        args = [node_id[0] if a == "NODE" else a for a in args]
        r = runner.invoke(main, ["node", name, *args], env=env)
        assert (r.exit_code == 0) == succeeds, (name, r.output)
        if name == "approve":
            node_id.append(r.output.split()[1])
        assert made, name
        assert [db for db in made if db not in disposed] == [], name
        assert _open_files(tmp_path) == [], name
