"""The data protection officer's story after movement notes became field-group data
(PROTECTION.md lines 4, 7, 9, 11): a health officer writes a note on a hospital admission,
a protection officer one on a transfer to a detention facility, a movement officer why a
relative travels apart on a truck to that facility; then the person's access request,
their correction and erasure, and the audit chain after all of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.cli import main
from corridor.security import audit
from corridor.security.roles import Role
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import manifest_items, movements
from corridor.sync.journal import open_payload
from tests.api.helpers import site, work_at
from tests.api.test_export_after_merge import _export, _text
from tests.conftest import MASTER_KEY, make_client

HEALTH_NOTE = "Cnyhealth admitted with a chest wound"
PROTECTION_NOTE = "Cnyprotect taken for questioning at the river road"
RELATIVE_REASON = "Cnyrelsep the boy goes ahead to his uncle"
RELATIVE_NOTE = "Cnyrelnote left with his cousin"
OWN_REASON = "Cnyownsep travels for the hearing"
CONSENT = {"tracing": True, "share_with": []}
BASIS = {"purpose": "registration and family tracing", "legal_basis": "vital_interest"}


@pytest.fixture
def story(client: TestClient, database: Any, clock: Any) -> dict[str, Any]:
    camp = site(client, "Camp A")
    hospital = site(client, "Hospital H", "hospital")
    prison = site(client, "Facility D", "detention")
    other = site(client, "Camp C")
    users: dict[str, TestClient] = {}
    for name, role in (
        ("health", Role.HEALTH),
        ("protection", Role.PROTECTION_OFFICER),
        ("mover", Role.MOVEMENT_OFFICER),
    ):
        users[name] = make_client(database, clock, roles=(role,))
        work_at(users[name], camp, hospital, prison, other, admin=client)
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Amal", "family_name": "Hariri", "estimated_age": 40},
            "members": [{"relationship": "child", "given_name": "Samir", "estimated_age": 15}],
        },
    )
    assert r.status_code == 201, r.text
    head, child = (m["id"] for m in r.json()["members"])
    return {
        "admin": client,
        "users": users,
        "sites": {"camp": camp, "hospital": hospital, "prison": prison, "other": other},
        "head": head,
        "child": child,
    }


def _event(who: TestClient, person: str, **body: Any) -> dict[str, Any]:
    r = who.post(f"/api/persons/{person}/events", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _on_truck(who: TestClient, start: str, end: str, person: str, reason: str) -> None:
    truck = {"vehicle": "truck 9", "from_site_id": start, "to_site_id": end}
    m = who.post("/api/manifests", json=truck)
    assert m.status_code == 201, m.text
    r = who.post(
        f"/api/manifests/{m.json()['id']}/persons",
        json={"person_ids": [person], "separation_reason": reason},
    )
    assert r.status_code in (200, 201), r.text


def _written(story: dict[str, Any]) -> None:
    users, sites, head, child = story["users"], story["sites"], story["head"], story["child"]
    _event(users["health"], head, kind="hospitalised", to_site_id=sites["hospital"],
           note=HEALTH_NOTE)  # fmt: skip
    _event(users["protection"], head, kind="detained", to_site_id=sites["prison"],
           note=PROTECTION_NOTE)  # fmt: skip
    _event(users["mover"], child, kind="transferred", to_site_id=sites["other"], note=RELATIVE_NOTE)
    _on_truck(users["mover"], sites["other"], sites["prison"], child, RELATIVE_REASON)


def test_an_access_request_holds_the_persons_notes_and_names_no_writer(
    story: dict[str, Any], database: Any
) -> None:
    """The person's own notes, whoever wrote them; nothing written about a relative; and
    nothing that tells which staff member wrote what (their user id) or the roles they
    held: the registration's own writer is left out of the record likewise."""
    _written(story)
    r = story["users"]["protection"].get(f"/api/persons/{story['head']}/access-request")
    assert r.status_code == 200, r.text
    notes = [m["note"] for m in r.json()["movements"]]
    assert HEALTH_NOTE in notes and PROTECTION_NOTE in notes
    for theirs in (RELATIVE_REASON, RELATIVE_NOTE, "Samir", "recorded_roles"):
        assert theirs not in r.text, theirs
    with database.read() as conn:
        writers = set(
            conn.execute(
                select(movements.c.recorded_by).where(movements.c.recorded_by.is_not(None))
            ).scalars()
        )
    assert writers
    assert not [w for w in writers if w in r.text]
    assert all(m["recorded_by"] is None for m in r.json()["movements"])


def test_an_erasure_leaves_no_note_reason_or_writer_group_of_the_person(
    story: dict[str, Any], database: Any
) -> None:
    """Corrected, then erased: the person's sealed notes, their own separation reason and
    which field group wrote about them (``recorded_roles``, which says a health or
    protection officer wrote a note about them) go; the relative's stay theirs."""
    _written(story)
    protection = story["users"]["protection"]
    sites = story["sites"]
    _on_truck(story["users"]["mover"], sites["prison"], sites["camp"], story["head"], OWN_REASON)
    r = protection.patch(f"/api/persons/{story['head']}", json={"given_name": "Amala"})
    assert r.status_code == 200, r.text
    erase = {"ground": "consent_withdrawn", "confirm": True}
    r = protection.post(f"/api/persons/{story['head']}/erasure", json=erase)
    assert r.status_code == 200, r.text
    with database.read() as conn:
        mine = conn.execute(
            select(movements.c.note, movements.c.recorded_roles).where(
                movements.c.person_id == story["head"]
            )
        ).all()
        reasons = conn.execute(
            select(manifest_items.c.person_id, manifest_items.c.separation_reason)
        ).all()
    assert all(note is None for note, _ in mine), mine
    assert all(roles is None for _, roles in mine), mine
    assert [p for p, why in reasons if why is not None] == [story["child"]]
    # Nor does any change the journal holds for the other nodes (sealed again).
    vault = story["admin"].app.state.services.vault
    with database.read() as conn:
        changes = conn.execute(
            select(sync_changes.c.site_id, sync_changes.c.payload).where(
                sync_changes.c.person_id == story["head"]
            )
        ).all()
        states = [open_payload(vault, str(site_id), token) for site_id, token in changes]
    assert states and all(state is not None for state in states)
    held = json.dumps(states)
    for text in (HEALTH_NOTE, PROTECTION_NOTE, OWN_REASON, "health", "protection_officer"):
        assert text not in held, text
    r = protection.get(f"/api/persons/{story['child']}/access-request")
    assert RELATIVE_NOTE in [m["note"] for m in r.json()["movements"]]
    # The chain holds after all of it.
    with database.read() as conn:
        checked = audit.verify(conn)
    assert checked.ok, checked
    assert "Amal" not in json.dumps(r.json())


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl", "pfif"])
def test_a_bulk_export_with_two_keys_holds_no_movement_note_or_reason(
    story: dict[str, Any], database: Any, clock: Any, fmt: str
) -> None:
    """PROTECTION.md line 9: exports carry the person's record, never the free text of
    their movements or manifests (medical or detention data whoever exports)."""
    _written(story)
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(manager, *story["sites"].values(), admin=story["admin"])
    text = _text(fmt, _export({"officer": story["users"]["protection"], "manager": manager}, fmt))
    assert story["head"] in text or fmt == "pfif"
    for note in (HEALTH_NOTE, PROTECTION_NOTE, RELATIVE_NOTE, RELATIVE_REASON):
        assert note not in text, (fmt, note)


def test_the_evacuation_drill_and_the_chain_after_the_story(
    story: dict[str, Any], database: Any, tmp_path: Any
) -> None:
    """``corridor keys destroy --site`` for the hospital leaves the notes readable (they
    are sealed under the person's registering site's key, the camp's); for the camp, the
    person's notes and their relative's reason are unreadable, said so, and nothing of
    them is shown; ``corridor audit verify`` holds after all of it."""
    _written(story)
    key_file = tmp_path / "master.key"
    key_file.write_text(MASTER_KEY)
    url = database.engine.url.render_as_string(hide_password=False)
    env = {"CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY_FILE": str(key_file)}
    protection, sites = story["users"]["protection"], story["sites"]

    def destroy(site_id: str) -> None:
        r = CliRunner().invoke(main, ["keys", "destroy", "--site", site_id, "--yes"], env=env)
        assert r.exit_code == 0, r.output

    def notes() -> list[Any]:
        r = protection.get(f"/api/persons/{story['head']}/access-request")
        assert r.status_code == 200, r.text
        return [(m["note"], m.get("note_unavailable", False)) for m in r.json()["movements"]]

    destroy(sites["hospital"])
    assert (HEALTH_NOTE, False) in notes() and (PROTECTION_NOTE, False) in notes()
    destroy(sites["camp"])
    shown = notes()
    assert (None, True) in shown and not [n for n, _ in shown if n], shown
    r = protection.get(f"/api/persons/{story['child']}/movements")
    assert r.status_code == 200 and RELATIVE_NOTE not in r.text
    r = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert r.exit_code == 0, r.output
