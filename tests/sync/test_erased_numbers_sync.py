"""Issue 16: an erasure made at one installation, received at another, keeps there the
keyed hash of the erased registration number (``erased_numbers``, migration 0042), so
that the data protection officer's look-up by an old wristband number finds the
anonymised record's trail wherever the erasure happened (docs/sync.md, "Erasure and
sync"). Before, only the installation that made the erasure kept it: the central knew
nothing of a wristband erased at a node, a node nothing of one erased at the central.
The hash is keyed by each installation's master key, so each makes its own from the
number it held before the erasure replaced it. The central on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from corridor.services import Services
from corridor.sync.service import SyncService
from tests.sync.helpers import hook, register
from tests.sync.test_facts import _pull, _push


@pytest.mark.parametrize("where", ["central", "node"])
def test_a_wristband_erased_elsewhere_leads_to_the_anonymised_record(
    pair: tuple[Services, Services, str, str], where: str
) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira")
    _push(node, central)
    _pull(central, node)
    number = central.registration.get_person(pid)["registration_number"]
    assert node.registration.get_person(pid)["registration_number"] == number
    eraser, other = (central, node) if where == "central" else (node, central)
    eraser.retention.erase(pid, "the person's request", audit=hook(eraser, "person.export"))
    assert eraser.oversight.trail(number).person_id == pid
    for _ in range(2):
        _push(node, central)
        _pull(central, node)
    for s in (central, node):
        trail = s.oversight.trail(number)
        assert trail.person_id == pid, s
        assert trail.registration_number != number
    assert SyncService.of(other).status()["conflicts"] == 0
