"""Issue 16: a change made at a node that the central's forget took out of the node's log
before the central received it is shown in the node's sync status (docs/sync.md, "A
person who left a node's site"). Samira on a truck from the exit to the camp; apart, the
exit's node records her death before the truck left and the camp's node checks her in;
the central, holding the death, sends the camp's node a forget before the camp's check-in
reached it. The camp's node takes its arrival out of its log and forgets her: before,
nothing there said that the check-in had not reached the central (the officer thought it
sent). Now its status (``withdrawn``, on the central peer; ``/sync``, ``/sync.json``)
counts it until the central holds it. The central on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

import tests.web.conftest
from corridor.services import Services
from corridor.sync.service import SyncService
from tests.conftest import Clock
from tests.sync.test_bundles import NODE_KEY
from tests.sync.test_facts import _pull, _push
from tests.sync.test_forget_apart import _apart
from tests.web.conftest import page_client


def _withdrawn(s: Services) -> int | None:
    [central] = [p for p in SyncService.of(s).status()["peers"] if p["role"] == "central"]
    return central["withdrawn"]


@pytest.mark.parametrize("sent", [True, False], ids=["sent", "unsent"])
def test_a_check_in_withdrawn_at_the_node_before_it_was_sent_is_shown_there(
    three: Any, clock: Clock, sent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    central, node_a, node_b, exit_point, camp = three
    _apart(three, clock, "deceased", sent)
    assert _withdrawn(node_b) == (0 if sent else 1)
    assert _withdrawn(node_a) == 0
    monkeypatch.setattr(tests.web.conftest, "MASTER_KEY", NODE_KEY)
    page = page_client(node_b.db, clock)
    shown = page.get("/sync")
    assert shown.status_code == 200, shown.text
    assert ('id="sync-withdrawn"' in shown.text) is (not sent)
    [peer] = [
        p for p in page.get("/sync.json").json()["sync"]["peers"] if p["role"] == "central"
    ]
    assert peer["withdrawn"] in ((0,) if sent else (1, None))  # None: a small count withheld
    # Sent: the central holds it (decided there); the node says nothing more.
    _push(node_b, central)
    _pull(central, node_b)
    assert _withdrawn(node_b) == 0
    assert 'id="sync-withdrawn"' not in page.get("/sync").text
    assert all(p["withdrawn"] is None for p in SyncService.of(central).status()["peers"])
