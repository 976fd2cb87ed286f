"""Issue 16, protection across nodes with real processes: a central (`corridor serve` on
PostgreSQL) and two desks of one site, each a `corridor serve` on SQLite with its own
master key, enrolled under their names. The central's administrator revokes one desk and
orders the other wiped (`corridor node revoke / wipe`); at their next `corridor node
sync` over HTTP the revoked desk is refused (nothing taken), the other carries the wipe
out and confirms it; the central shows the order delivered and carried out, and the
wiped desk's SQLite file holds none of its persons' names or phones."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage.tables import persons
from tests.sync.helpers import make_site
from tests.sync.realworld import Api, Install, Serve, enrol, person

pytestmark = pytest.mark.postgresql

OFFICER = (Role.REGISTRAR, Role.SITE_MANAGER)


def _persons(svc: Services) -> int:
    with svc.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(persons)).scalar_one())


def test_a_revoked_desk_is_refused_and_a_wiped_desk_confirms_over_http(
    tmp_path: Path, central_url: str, servers: list[Serve]
) -> None:
    central = Install.create(tmp_path, "central", central_url)
    csvc = central.services()
    exit_point = make_site(csvc, "Exit")
    central_server = Serve(central)
    desks = {"one": Install.create(tmp_path, "one"), "two": Install.create(tmp_path, "two")}
    ids = {n: enrol(central, d, "Exit", central_server.base, tmp_path) for n, d in desks.items()}
    apis = {}
    for name, desk in desks.items():
        s = Serve(desk).start()
        servers.append(s)
        apis[name] = Api(s, desk.token([exit_point], OFFICER))
    servers.append(central_server.start())
    central_api = Api(central_server, central.token([exit_point], (Role.SITE_MANAGER,)))

    # Both desks register and sync: everything at the central.
    at = exit_point
    apis["one"].post("/api/persons", person(at, "Samira", "Haddad", "+963933100001", "1990-04-12"))
    apis["two"].post(
        "/api/persons", person(at, "Nourhane", "Qassem", "+963933100002", "1988-01-02")
    )
    for desk in desks.values():
        assert "pushed 1 changes" in desk.cli("node", "sync")
    assert _persons(csvc) == 2
    listed = central.cli("node", "list")
    assert "one desk" in listed and "two desk" in listed  # told apart by name

    # Apart again, each registers one more; then the administrator decides.
    apis["one"].post("/api/persons", person(at, "Rawia", "Haddad", "+963933100003", "1992-05-06"))
    apis["two"].post("/api/persons", person(at, "Hiba", "Qassem", "+963933100004", "1994-07-08"))
    assert "revoked" in central.cli("node", "revoke", ids["one"])
    assert "ordered" in central.cli("node", "wipe", ids["two"], "--yes")
    listed = central.cli("node", "list")
    assert "wipe ordered" in listed and "wipe delivered" not in listed

    # The revoked desk: its sync is refused (403), nothing taken; its own data stays.
    out = desks["one"].cli("node", "sync", ok=False)
    assert "403" in out and "revoked" in out, out
    assert _persons(csvc) == 2
    one_svc = desks["one"].services()
    assert _persons(one_svc) == 2  # Samira and Rawia (it synced before desk two)
    one_svc.db.dispose()

    # The desk to wipe: its push refused, its pull carries the order out, its
    # confirmation reaches the central in the same round.
    out = desks["two"].cli("node", "sync")
    assert "wipe" in out and "its confirmation reached the central" in out, out
    assert _persons(csvc) == 2  # Hiba, never sent, was not taken
    state = central_api.get("/api/sync/status")
    two = next(p for p in state["peers"] if p["id"] == ids["two"])
    one = next(p for p in state["peers"] if p["id"] == ids["one"])
    assert one["status"] == "revoked" and one["wipe_ordered_at"] is None
    assert two["name"] == "two desk" and two["status"] == "wiped"
    assert two["wipe_ordered_at"] and two["wiped_at"] and two["wipe_confirmed_at"]
    # Samira (desk one's, received through the central), Nourhane and Hiba.
    assert two["wipe_persons_anonymised"] == 3 and two["wipe_unsent"] == 1
    assert two["wipe_keys_destroyed"] >= 1
    listed = central.cli("node", "list")
    assert "carried out" in listed and "3 persons anonymised" in listed

    # The wiped desk: no longer syncs (its confirmation is sent again, recorded once),
    # its own page says so, and its file holds none of its persons' names or phones.
    out = desks["two"].cli("node", "sync", ok=False)
    assert "no longer syncs" in out and "confirmation of the wipe reached the central" in out
    mine = apis["two"].get("/api/sync/status")
    assert mine["status"] == "wiped" and mine["wiped_at"] is not None
    path = Path(desks["two"].url.removeprefix("sqlite:///"))
    raw = path.read_bytes() + (
        Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b""
    )
    for secret in (b"Samira", b"Nourhane", b"Hiba", b"Qassem", b"+963933100002", b"+963933100004"):
        assert secret not in raw, secret
    assert central_api.get("/api/sync/status")["peers"] == state["peers"]
    csvc.db.dispose()
