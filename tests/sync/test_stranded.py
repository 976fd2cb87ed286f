"""What else could strand a node's changes not yet sent (docs/sync.md "Revocation"):
a master key rotated at the node or the central, a site key rotated at a node.

The central runs on SQLite and PostgreSQL (the ``backend`` fixture), the node on SQLite.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from corridor.errors import Conflict
from corridor.security.crypto import MasterKey
from corridor.security.tables import site_keys
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage.sync_tables import sync_nodes
from corridor.storage.tables import sites
from corridor.sync import keys
from corridor.web import create_app
from tests.sync import test_http
from tests.sync.helpers import make_site, register, sync
from tests.sync.test_bundles import _admin, _counts, _node_services, _persons_named
from tests.sync.test_http import _round

link = test_http.link


def test_a_node_syncs_after_its_master_key_is_rotated(link) -> None:
    """`corridor keys rotate-master` at a node: its sync keys (sealed under the master
    key) are re-wrapped with the site keys. Before, the node could sign no bundle ("The
    secret was sealed under another master key") and its registrations never left."""
    central, node, http, exit_point, _ = link
    nour = register(node, exit_point, "Nour", "+963933100002")
    new = MasterKey.generate()
    done = node.keys.rotate_master(new, "cli:op")
    rotated = Services(node.db, node.clock, new)
    pushed = _round(rotated, http)
    assert pushed.pushed == 1 and _persons_named(central, "Nour") == [nour]
    assert central.registration.get_person(nour)["phone"] == "+963933100002"
    assert done.node_keys == 1  # its own row (the central's row holds no secret)


def test_the_central_answers_pulls_after_its_master_key_is_rotated(link, clock) -> None:
    """The same at the central: its signing key (the pulls' answers, the grants) is
    re-wrapped; before, every pull failed and no node heard from it again."""
    central, node, http, exit_point, _ = link
    samira = register(central, exit_point, "Samira", "+963933100001")
    nour = register(node, exit_point, "Nour", "+963933100002")
    new = MasterKey.generate()
    central.keys.rotate_master(new, "cli:admin")
    settings = Settings(database_url=str(central.db.url), master_key=new.encoded())
    app = create_app(settings, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as rotated:
        done = _round(node, rotated)
    assert done.pushed == 1 and done.pulled.applied == 1
    assert _persons_named(node, "Samira") == [samira]
    assert _persons_named(central, "Nour") == [nour]


def test_a_site_key_is_not_rotated_at_a_node(link) -> None:
    """A site's keys are the central's (a new one reaches the node with the next pull).
    A key made at a node sealed its changes and bundles under a key the central never
    held: every later push was refused ("cannot be opened with this site's key") and the
    node's registrations never reached the registry. Now refused, nothing changed."""
    central, node, http, exit_point, _ = link
    register(node, exit_point, "Samira", "+963933100001")
    with node.db.read() as conn:
        before = conn.execute(select(site_keys.c.id, site_keys.c.state)).all()
    with pytest.raises(Conflict, match="at the central: .*keys rotate --site"):
        node.keys.rotate_site(exit_point, "cli:op")
    with node.db.read() as conn:
        assert conn.execute(select(site_keys.c.id, site_keys.c.state)).all() == before
    nour = register(node, exit_point, "Nour", "+963933100002")
    done = _round(node, http)
    assert done.pushed == 2 and _persons_named(central, "Nour") == [nour]
    # At the central, rotating stays what it was: the node adopts the new key.
    central.keys.rotate_site(exit_point, "cli:admin")
    _round(node, http)
    reem = register(node, exit_point, "Reem", "+963933100003")
    _round(node, http)
    assert central.registration.get_person(reem)["phone"] == "+963933100003"


def test_a_node_holding_changes_of_a_site_of_its_own_is_not_joined(
    services: Services, tmp_path, sqlite_template, clock
) -> None:
    """An installation used alone first (its own site, its registrations), then enrolled
    as a node: its bundles claim every number it made but carry only its site's changes,
    so the central acknowledged the earlier ones without receiving them, and the node
    counted them sent. Now the join is refused, saying what it holds; nothing written."""
    central = services
    make_site(central, "Exit")
    node = _node_services(tmp_path, sqlite_template, clock, "node-alone")
    with node.db.transaction() as conn:  # its own identity (the central's file is a copy
        conn.execute(  # of the same template: installed apart, each has its own)
            update(sync_nodes).where(sync_nodes.c.is_self).values(id=str(uuid.uuid4()))
        )
    own = make_site(node, "Exit (our laptop)")
    register(node, own, "Samira", "+963933100001")
    request = sync(node).init_node("https://central.example", "Exit", "Exit desk 1")
    grant = sync(central).approve(request, "cli:admin", audit=_admin(central))
    fingerprint = keys.fingerprint(grant["grant"]["central_signing_public"])
    before = _counts(node), sync(node).status(), _site_rows(node)
    with pytest.raises(Conflict, match=rf"1 of site Exit \(our laptop\) {own}.*Nothing was"):
        sync(node).join(grant, fingerprint, audit=_admin(node))
    assert (_counts(node), sync(node).status(), _site_rows(node)) == before
    assert sync(node).status()["status"] == "requested"
    node.db.dispose()


def _site_rows(s: Services) -> list[tuple[str, str]]:
    with s.db.read() as conn:
        return [(r.id, r.name) for r in conn.execute(select(sites.c.id, sites.c.name))]
