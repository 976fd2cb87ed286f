"""Issue 16: a manifest whose passenger was erased (anonymised) says so (docs/sync.md,
"Erasure and sync"). Samira on a truck from the exit's node to the camp; she is erased
at the exit's node (her request) while the central closes the arrival. Before, the
central's received manifest listed a nameless "?" with a new number, unaccounted for
and offered to be checked in as a late arrival: the manifest seemed to carry nobody
anyone could name, and nothing said why. Now each installation's manifest (the service,
the page, its JSON twin) marks the line erased and counts it; it offers no check-in.
The central on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from corridor.schemas import ReceiveIn
from corridor.services import Services
from tests.sync.helpers import hook, register
from tests.sync.test_facts import _dispatched, _pull, _push
from tests.sync.test_forget_apart import _apart
from tests.web.conftest import page_client


@pytest.mark.parametrize("where", ["node", "central"])
def test_an_erased_passenger_is_said_erased_on_the_received_manifest(
    pair: tuple[Services, Services, str, str], clock, where: str
) -> None:
    central, node, exit_point, camp = pair
    pid = register(node, exit_point, "Samira")
    other = register(node, exit_point, "Nour", "+963933100002")
    m = _dispatched(node, exit_point, camp, [pid, other])
    _push(node, central)
    _pull(central, node)
    clock.advance(hours=13)
    eraser = node if where == "node" else central
    eraser.retention.erase(pid, "the person's request", audit=hook(eraser, "person.export"))
    central.manifests.receive(m, ReceiveIn(), audit=hook(central, "manifest.write"))
    for _ in range(2):
        _push(node, central)
        _pull(central, node)
    for s in (central, node):
        got = s.manifests.get(m)
        lines = {p["id"]: p for p in got["persons"]}
        assert set(lines) == {pid, other}, s  # nobody lost, nobody doubled
        assert lines[pid]["erased"] is True and lines[other]["erased"] is False, s
        assert got["counts"]["erased"] == 1 and got["counts"]["on_manifest"] == 2, s
    page = page_client(central.db, clock)
    shown = page.get(f"/manifests/{m}")
    assert shown.status_code == 200, shown.text
    assert 'data-passenger="erased"' in shown.text
    assert f'id="p-{pid}"' not in shown.text  # no check-in offered for her
    assert f'id="p-{other}"' in shown.text
    twin = page.get(f"/manifests/{m}.json")
    assert twin.status_code == 200, twin.text
    body = twin.json()
    manifest = body.get("manifest", body)
    assert {p["id"]: p["erased"] for p in manifest["persons"]} == {pid: True, other: False}


def test_a_passenger_forgotten_at_a_node_is_said_to_have_left_not_erased(three, clock) -> None:
    """The camp's node forgot Samira (the central's forget: she died at the exit before
    the truck left): its manifest's line says she left and is no longer held there,
    not that she was erased; the central's says neither."""
    central, _, camp_node, _, _ = three
    pid, manifest, _, _ = _apart(three, clock, "deceased", True)
    [line] = camp_node.manifests.get(manifest)["persons"]
    assert (line["id"], line["left"], line["erased"]) == (pid, True, False)
    [line] = central.manifests.get(manifest)["persons"]
    assert (line["left"], line["erased"]) == (False, False)
