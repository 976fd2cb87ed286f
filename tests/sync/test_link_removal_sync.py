"""A family link recorded wrongly and removed (migration 0035) travels like the link:
removed at a node, removed at the central and at the other node that holds both
persons; removed at the central, removed at the node; and the correcting link recorded
after the removal lands everywhere beside the removed one, which is never revived."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from corridor.schemas import LinkIn
from corridor.services import Services
from corridor.storage.tables import relationships
from tests.conftest import Clock
from tests.sync.helpers import hook, register
from tests.sync.test_facts import _dispatched, _pull, _push


def _links(s: Services, person: str) -> dict[str, tuple[str, bool]]:
    """``link id -> (kind, removed)`` of the links from ``person``."""
    with s.db.read() as conn:
        rows = conn.execute(
            select(relationships.c.id, relationships.c.kind, relationships.c.removed_at).where(
                relationships.c.person_id == person
            )
        ).all()
    return {str(i): (str(k), r is not None) for i, k, r in rows}


def _link(s: Services, person: str, other: str, kind: str) -> Any:
    body = LinkIn(person_id=person, other_person_id=other, kind=kind)  # type: ignore[arg-type]
    return s.registration.link(body, audit=hook(s, "person.write"))["id"]


@pytest.mark.parametrize("where", ["node", "central"])
def test_a_removed_link_is_removed_everywhere_and_the_right_one_follows(
    three, clock: Clock, where: str
) -> None:
    central, node_a, node_b, exit_point, camp = three
    child = register(node_a, exit_point, "Samir")
    woman = register(node_a, exit_point, "Amina", "+963933100002")
    wrong = _link(node_a, child, woman, "parent")  # she is his sister
    _dispatched(node_a, exit_point, camp, [child, woman])
    _push(node_a, central)
    _pull(central, node_b)
    for s in (central, node_b):
        assert _links(s, child) == {wrong: ("parent", False)}
    clock.advance(hours=1)

    remover = node_a if where == "node" else central
    remover.registration.unlink(wrong, "she is his sister", "cli:test",
                                audit=hook(remover, "person.write"))  # fmt: skip
    right = _link(remover, child, woman, "sibling")
    if where == "node":
        _push(node_a, central)
    _pull(central, node_b)
    _pull(central, node_a)
    for s in (central, node_a, node_b):
        assert _links(s, child) == {wrong: ("parent", True), right: ("sibling", False)}, s
        relatives = s.registration.relatives(child)
        assert [(r["id"], r["kind"]) for r in relatives] == [(woman, "sibling")]
    # A bundle sent again, from before the removal, revives nothing.
    _push(node_a, central)
    assert _links(central, child) == {wrong: ("parent", True), right: ("sibling", False)}
