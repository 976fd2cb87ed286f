"""Issue 16, bundles in parts of bounded size (corridor/sync/parts.py): each part is a
whole signed, sealed bundle of at most the bound, and imports alone in any order; a part
twice changes nothing more; a missing part leaves the rest applied and comes later; a
tampered part is refused and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from corridor.errors import ValidationFailed
from corridor.schemas import StatusEventIn
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons
from corridor.sync import parts
from corridor.sync.service import BundleRefused
from tests.conftest import MASTER_KEY
from tests.sync.helpers import hook, person_body, sync
from tests.sync.test_bundles import _apply, _counts

BOUND = 64 * 1024


def _register(s: Services, site: str, n: int, start: int = 0) -> list[str]:
    rows = s.registration.register_many(
        [person_body(site, f"P{i}", f"+9639331{i:05d}") for i in range(start, start + n)],
        audit=hook(s, "person.write"),
    )
    return [str(r) for r in rows]


def _header(bundle: bytes) -> dict[str, Any]:
    return dict(json.loads(bundle.split(b"\n")[1]))


def _state(s: Services) -> tuple[list[str], list[tuple[str, str]]]:
    with s.db.read() as conn:
        held = list(conn.execute(select(persons.c.id).order_by(persons.c.id)).scalars())
        changes = [
            (str(r[0]), str(r[1]))
            for r in conn.execute(
                select(sync_changes.c.id, sync_changes.c.state).order_by(sync_changes.c.id)
            )
        ]
    return held, changes


def _waiting(s: Services) -> int:
    with s.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(sync_changes).where(
                    sync_changes.c.state == "waiting"
                )
            ).scalar_one()
        )  # fmt: skip


@pytest.fixture
def catch_up(pair) -> tuple[Services, Services, list[str], list[bytes], str]:
    """The central holding 150 persons of the exit (one moved since: a change made on
    another), and its catch-up for the exit's node in parts of 64 KB."""
    central, node, exit_point, camp = pair
    ids = _register(central, exit_point, 150)
    central.movements.record(
        ids[0], StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    node_id = sync(node).identity()["id"]
    written = parts.export_parts(sync(central), node_id, BOUND, audit=_apply(central))
    return central, node, ids, written, node_id


def test_parts_are_bounded_whole_bundles_that_cover_everything_once(catch_up) -> None:
    central, _, ids, written, node_id = catch_up
    assert len(written) >= 3
    assert all(len(p) <= BOUND for p in written)
    headers = [_header(p) for p in written]
    assert all(h.get("more") for h in headers[:-1]) and not headers[-1].get("more")
    assert sum(h["count"] for h in headers) == len(ids) + 1  # 150 registrations, 1 move
    whole = _header(sync(central).export(node_id))
    assert whole["count"] == len(ids) + 1
    # The ranges of the parts follow on from one another.
    (origin,) = headers[0]["ranges"]
    for before, after in zip(headers, headers[1:], strict=False):
        assert after["ranges"][origin][0] == before["ranges"][origin][1]


def test_parts_in_reverse_order_one_twice_apply_every_change_once(catch_up) -> None:
    central, node, ids, written, _ = catch_up
    reports = [sync(node).import_bundle(p, audit=_apply(node)) for p in reversed(written)]
    assert sum(r.fresh for r in reports) == len(ids) + 1
    again = sync(node).import_bundle(written[1], audit=_apply(node))
    assert again.already_applied
    held, changes = _state(node)
    assert held == sorted(ids)
    assert _waiting(node) == 0 and {s for _, s in changes} == {"applied"}
    assert len(changes) == len({c for c, _ in changes}) == len(ids) + 1


def test_a_missing_part_leaves_the_rest_applied_and_comes_later(catch_up) -> None:
    central, node, ids, written, node_id = catch_up
    missing = written[0]  # the first part: the move (made on a registration) is in the last
    for p in written[1:]:
        sync(node).import_bundle(p, audit=_apply(node))
    held, _ = _state(node)
    assert len(held) == len(ids) - _header(missing)["count"] and ids[0] not in held
    assert _waiting(node) == 1  # the move, made on a registration in the missing part
    # The central's next export (nothing acknowledged yet) brings the missing changes too.
    later = parts.export_parts(sync(central), node_id, BOUND, audit=_apply(central))
    for p in later:
        sync(node).import_bundle(p, audit=_apply(node))
    held, changes = _state(node)
    assert held == sorted(ids) and _waiting(node) == 0
    assert len(changes) == len(ids) + 1
    # And the missing part itself, carried at last, changes nothing more.
    assert sync(node).import_bundle(missing, audit=_apply(node)).already_applied


def test_a_tampered_part_is_refused_and_writes_nothing(catch_up) -> None:
    _, node, _, written, _ = catch_up
    lines = written[1].split(b"\n")
    body = bytearray(lines[2])
    body[len(body) // 2] ^= 0x01
    tampered = b"\n".join([lines[0], lines[1], bytes(body), lines[3], lines[4]])
    before = _counts(node)
    with pytest.raises(BundleRefused, match="signature does not verify.*nothing was imported"):
        sync(node).import_bundle(tampered, audit=_apply(node))
    assert _counts(node) == before
    with pytest.raises(BundleRefused, match="not a whole Corridor bundle"):
        sync(node).import_bundle(written[1][: len(written[1]) // 2], audit=_apply(node))
    assert _counts(node) == before


def test_a_node_push_in_parts_out_of_order(pair) -> None:
    central, node, exit_point, _ = pair
    ids = _register(node, exit_point, 80)
    written = parts.export_parts(sync(node), None, BOUND, audit=_apply(node))
    assert len(written) >= 2 and all(len(p) <= BOUND for p in written)
    for p in [written[-1], *written]:
        sync(central).import_bundle(p, audit=_apply(central))
    held, _ = _state(central)
    assert set(ids) <= set(held) and _waiting(central) == 0


def test_a_bound_too_small_is_refused_before_anything_is_written(pair) -> None:
    central, node, exit_point, _ = pair
    _register(central, exit_point, 2)
    node_id = sync(node).identity()["id"]
    with pytest.raises(ValidationFailed, match="at least 65536"):
        parts.export_parts(sync(central), node_id, 1000)
    with pytest.raises(ValidationFailed, match="more than a part of 1500"):
        sync(central).export(node_id, max_bytes=1500)


def test_a_pull_answer_is_bounded_in_bytes(pair) -> None:
    central, node, exit_point, _ = pair
    ids = _register(central, exit_point, 100)
    at_central = sync(central)
    at_central.pull_bytes = BOUND
    answer = at_central.answer_pull(sync(node).export(changes=False))
    assert len(answer) <= BOUND and _header(answer)["more"]
    first = sync(node).import_bundle(answer, audit=_apply(node)).applied
    assert 0 < first < len(ids)


def test_the_cli_writes_parts(pair, tmp_path: Path) -> None:
    from corridor.cli import main

    central, node, exit_point, _ = pair
    _register(central, exit_point, 120)
    node_id = sync(node).identity()["id"]
    out = tmp_path / "back.bundle"
    key_file = tmp_path / "central.key"
    key_file.write_text(MASTER_KEY)
    env = {
        "CORRIDOR_DATABASE_URL": central.db.url.render_as_string(hide_password=False),
        "CORRIDOR_MASTER_KEY_FILE": str(key_file),
    }
    result = CliRunner().invoke(
        main,
        ["node", "export", "--to", str(out), "--to-node", node_id, "--max-bytes", str(BOUND)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("back.bundle.part*"))
    assert len(files) >= 2 and f"written to {files[0]}" in result.output
    for f in reversed(files):
        sync(node).import_bundle(f.read_bytes(), audit=_apply(node))
    held, _ = _state(node)
    assert len(held) == 120
