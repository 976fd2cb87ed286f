"""A name a node keeps longer than its column (an old SQLite database, which holds a
VARCHAR at any length) reaching the central, on SQLite and PostgreSQL: the bundle is
refused whole with the person, the field and the limit (on PostgreSQL it was a
``value too long`` database error, a 500 each time the node sent it; SQLite kept it),
nothing is written; corrected at the node (its other fields correct as before), the
bundle goes through (tests/formats/test_text_limits_every_entry.py: every other entry)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from corridor.domain.names import NAME_PARTS
from corridor.schemas import PersonPatch
from corridor.storage.tables import persons
from corridor.sync.service import BundleRefused
from tests.formats.test_every_format_every_entry import _counts
from tests.sync.helpers import hook, register
from tests.sync.test_conflicts import _to_central

LIMITED = (*NAME_PARTS, "kunya", "mother_name")


@pytest.mark.parametrize("field", LIMITED)
def test_a_name_kept_over_its_column_at_a_node_is_refused_whole_then_corrected(
    pair, field
) -> None:
    central, node, exit_point, _ = pair
    limit = int(persons.c[field].type.length)  # type: ignore[attr-defined]
    pid = register(node, exit_point, "Samira", "+963933100001")
    with node.db.transaction() as conn:  # as an older version kept it
        conn.execute(update(persons).where(persons.c.id == pid).values({field: "a" * (limit + 1)}))
    # Another field is corrected at the node as before: the change carries the name.
    node.registration.update_person(pid, PersonPatch(sex="f"), audit=hook(node, "person.write"))
    before = _counts(central.db)
    with pytest.raises(BundleRefused) as refused:
        _to_central(central, node)
    message = str(refused.value)
    assert pid in message and field in message, message
    assert f"longer than {limit} characters" in message, message
    assert _counts(central.db) == before  # nothing written, in any table
    # Corrected where it was typed: the bundle goes through, the name in full.
    node.registration.update_person(
        pid, PersonPatch.model_validate({field: "b" * limit}), audit=hook(node, "person.write")
    )
    assert _to_central(central, node).applied
    assert central.registration.get_person(pid)["names"][field] == "b" * limit
