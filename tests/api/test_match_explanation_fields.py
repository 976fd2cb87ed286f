"""The matching engine's sentences quote the candidate's values: a sentence quoting a field
the caller may not see on that record is withheld (PROTECTION.md line 4). On the code
before, a registrar's ``POST /api/persons/match`` with a place of origin answered, for a
child, "Different place of origin (Aleppo / <the child's village>)" while the child's
record withheld ``origin.locality`` from the same registrar; the review queue of
duplicates did the same for a role outside the minors' details."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from corridor.services.protection.gate import WITHHELD_EVIDENCE
from corridor.settings import Settings
from corridor.web import create_app
from tests.api.helpers import register, site, work_at
from tests.conftest import MASTER_KEY, make_client

VILLAGE = "Qaryat Zumurrudiyya"
CHILD = {
    "given_name": "Rima",
    "family_name": "Barakzawi",
    "sex": "f",
    "estimated_age": 9,
    "origin_locality": VILLAGE,
}
QUERY = {
    "given_name": "Rima",
    "family_name": "Barakzawi",
    "place_of_origin": "Aleppo",
    "purpose": "deduplication",
}


def _origin(candidate: dict[str, Any]) -> dict[str, Any]:
    [evidence] = [e for e in candidate["explanation"] if e["field"] == "place of origin"]
    return dict(evidence)


def _match(client: TestClient) -> list[dict[str, Any]]:
    r = client.post("/api/persons/match", json=QUERY)
    assert r.status_code == 200, r.text
    return list(r.json())


def test_a_childs_place_of_origin_is_not_quoted_to_a_registrar(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    child = register(admin, camp, **CHILD)
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=admin)
    shown = registrar.get(f"/api/persons/{child['id']}").json()
    assert shown["origin"]["locality"] is None and "origin.locality" in shown["withheld"]

    r = registrar.post("/api/persons/match", json=QUERY)
    assert r.status_code == 200, r.text
    assert VILLAGE not in r.text
    [candidate] = r.json()
    # The child is not compared on a place the registrar may not see (its level would
    # say whether the place typed is the child's): scored as the search without it.
    assert not [e for e in candidate["explanation"] if e["field"] == "place of origin"]
    without = {k: v for k, v in QUERY.items() if k != "place_of_origin"}
    [alone] = registrar.post("/api/persons/match", json=without).json()
    assert candidate["probability"] == alone["probability"]
    assert WITHHELD_EVIDENCE not in r.text

    # A role that sees minors' details reads the sentence as the engine wrote it.
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=admin)
    assert VILLAGE in _origin(_match(protection)[0])["text"]


def test_an_adults_place_of_origin_is_quoted_to_a_registrar(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    register(admin, camp, **{**CHILD, "estimated_age": None, "birth_date": "1984"})
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=admin)
    assert VILLAGE in _origin(_match(registrar)[0])["text"]


def _policy(tmp_path: Path) -> Path:
    """The shipped matrix, with the minors' details for tracing officers only."""
    raw = json.loads(
        resources.files("corridor.security").joinpath("data/authorisation.json").read_text()
    )
    raw["field_groups"]["minor_details"]["roles"] = ["tracing_officer"]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw))
    return path


def test_the_duplicates_queue_withholds_a_sentence_quoting_a_hidden_field(
    database, clock, tmp_path
):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    # Two records of one child, registered at a desk: the pair is queued for review.
    first = register(admin, camp, **CHILD)
    second = register(admin, camp, **{**CHILD, "origin_locality": "Darayya"})
    settings = Settings(
        database_url=str(database.url),
        master_key=MASTER_KEY,
        authorisation_file=str(_policy(tmp_path)),
    )
    app = create_app(settings, database=database, clock=clock)
    svc = app.state.services
    _, secret = svc.accounts.create(
        "po-strict",
        "Protection officer",
        "a long test password",
        [Role.PROTECTION_OFFICER],
        [camp],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )
    officer = TestClient(app, base_url="https://testserver")
    login = {"username": "po-strict", "password": "a long test password"}
    assert officer.post("/api/auth/login", json=login).status_code == 200
    code = pyotp.TOTP(secret).at(clock())
    assert officer.post("/api/auth/second-factor", json={"code": code}).status_code == 200

    r = officer.get("/api/duplicates")
    assert r.status_code == 200, r.text
    [pair] = r.json()
    assert {p["id"] for p in pair["persons"]} == {first["id"], second["id"]}
    assert all(p["origin"]["locality"] is None for p in pair["persons"])
    assert VILLAGE not in r.text and "Darayya" not in r.text
    assert _origin(pair)["text"] == WITHHELD_EVIDENCE
    # The page shows the same.
    page = officer.get("/duplicates")
    assert page.status_code == 200
    assert VILLAGE not in page.text and "Darayya" not in page.text


def test_a_mother_of_another_site_is_compared_but_never_named(database, clock):
    """The engine reads a child's mother's name from a linked parent when the child's
    record holds none; that parent is another person, here registered at camp B: her
    name was quoted to a registrar of camp A ("Mother's name differs (Amina / <her full
    name>)") while her record is a 404 to them and the child's page leaves her out."""
    admin = make_client(database, clock)
    camp_a, camp_b = site(admin, "Camp A"), site(admin, "Camp B")
    child = register(admin, camp_a, given_name="Rima", family_name="Barakzawi", sex="f",
                     estimated_age=9)  # fmt: skip
    mother = register(admin, camp_b, given_name="Zubaida", father_name="Qassim",
                      family_name="Qassabiyya", sex="f", birth_date="1985")  # fmt: skip
    link = {"person_id": child["id"], "other_person_id": mother["id"], "kind": "parent"}
    assert admin.post("/api/relationships", json=link).status_code == 201
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp_a, admin=admin)
    assert registrar.get(f"/api/persons/{mother['id']}").status_code == 404
    for asked, level in (("Amina", "different"), ("Zubaida", "same name")):
        query = {"given_name": "Rima", "family_name": "Barakzawi", "mother_name": asked}
        r = registrar.post("/api/persons/match", json=query)
        assert r.status_code == 200, r.text
        assert "Qassabiyya" not in r.text and "Qassim" not in r.text
        [candidate] = r.json()
        [evidence] = [e for e in candidate["explanation"] if e["field"] == "mother's name"]
        # Still compared (the score counts it), quoted on the asker's side only.
        assert evidence["level"] == level
        assert evidence["text"].endswith(f"({asked} / the mother linked to them).")
    # A mother's name recorded on the child's own record is the child's: quoted.
    register(admin, camp_a, given_name="Huda", family_name="Barakzawi", sex="f",
             estimated_age=7, mother_name="Zubaida Qassabiyya")  # fmt: skip
    query = {"given_name": "Huda", "family_name": "Barakzawi", "mother_name": "Zubaida"}
    r = registrar.post("/api/persons/match", json=query)
    assert "(Zubaida / Zubaida Qassabiyya)" in r.text
