"""PROTECTION.md 3 and 4: the authorisation matrix (a data file) and field-level rules."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from corridor.security.errors import AuthorisationFileInvalid
from corridor.security.roles import (
    Role,
    allowed,
    default_matrix,
    forbidden_fields,
    load_matrix,
    redact,
    requires_totp,
    sees_personal_data,
    visible_fields,
)
from corridor.storage.tables import persons

MATRIX = default_matrix()
PERSONAL = {a for a, personal in MATRIX.actions.items() if personal}
MEDICAL = MATRIX.group_fields["medical"]
DETENTION = MATRIX.group_fields["detention"]
MINOR = MATRIX.group_fields["minor_details"]


def _shipped() -> dict:
    text = resources.files("corridor.security").joinpath("data/authorisation.json")
    return json.loads(text.read_text(encoding="utf-8"))


def test_every_role_of_issue_4_is_in_the_matrix():
    assert (
        {r.value for r in Role}
        == set(_shipped()["roles"])
        == {
            "registrar",
            "movement_officer",
            "health",
            "protection_officer",
            "tracing_officer",
            "site_manager",
            "data_protection_officer",
            "administrator",
            "coordinator",
        }
    )


def test_registrar_is_confined_to_own_site():
    for action in ("person.read", "person.write", "person.search"):
        assert allowed("registrar", action, same_site=True)
        assert not allowed("registrar", action, same_site=False)
    assert not allowed("registrar", "export.bulk", same_site=True)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", sorted(MATRIX.actions))
def test_other_sites_are_reachable_only_through_an_any_site_grant(role, action):
    if allowed(role, action, same_site=False):
        assert MATRIX.grants[role][action].value == "any_site"
    if not allowed(role, action, same_site=True):
        assert not allowed(role, action, same_site=False)


def test_outside_roles_see_no_personal_data():
    for action in PERSONAL:
        for same in (True, False):
            assert not allowed("coordinator", action, same)
            assert not allowed("administrator", action, same)
            assert not allowed("data_protection_officer", action, same)
    assert set(MATRIX.grants[Role.COORDINATOR]) == {"figures.read"}
    # The desk (issue 12): the audit log, legal holds and the evacuation drill; no
    # action that shows a person's data.
    assert set(MATRIX.grants[Role.DATA_PROTECTION_OFFICER]) == {
        "audit.read",
        "retention.hold",
        "keys.destroy",
    }
    assert allowed("administrator", "users.admin", same_site=False)
    assert allowed("administrator", "sites.admin", same_site=False)


def test_every_role_that_sees_personal_data_needs_totp():
    for role in Role:
        if sees_personal_data(role):
            assert requires_totp(role), role
    assert {r for r in Role if sees_personal_data(r)} == {
        Role.REGISTRAR,
        Role.MOVEMENT_OFFICER,
        Role.HEALTH,
        Role.PROTECTION_OFFICER,
        Role.TRACING_OFFICER,
        Role.SITE_MANAGER,
    }


def test_unknown_actions_and_roles_are_errors_not_silent_denials():
    with pytest.raises(ValueError, match="unknown action"):
        allowed("registrar", "person.teleport", True)
    with pytest.raises(ValueError, match="unknown role"):
        allowed("janitor", "person.read", True)


def test_every_person_column_has_a_field_level_decision():
    # A new column in persons must be added to the matrix, or nobody can see it.
    columns = {c.name for c in persons.c}
    assert columns <= MATRIX.records["person"].fields


def test_registrar_does_not_see_medical_detention_or_minors_details():
    adult = visible_fields("registrar", "person")
    assert adult and not adult & (MEDICAL | DETENTION)
    child = visible_fields("registrar", "minor")
    assert not child & (MEDICAL | DETENTION | MINOR)
    assert {"given_name", "family_name", "site_id"} <= child


def test_health_sees_medical_and_protection_sees_detention_and_minors():
    assert visible_fields("health", "person") >= MEDICAL
    assert not DETENTION & visible_fields("health", "person")
    assert visible_fields("protection_officer", "person") >= DETENTION
    assert visible_fields("protection_officer", "minor") >= MINOR
    assert not MEDICAL & visible_fields("protection_officer", "person")
    assert visible_fields("tracing_officer", "minor") >= MINOR


@pytest.mark.parametrize("role", ["coordinator", "administrator", "data_protection_officer"])
def test_roles_without_person_read_see_no_field(role):
    assert visible_fields(role, "person") == set()
    assert visible_fields(role, "minor") == set()


def test_redact_drops_hidden_and_unknown_fields():
    record = {
        "id": "p1",
        "given_name": "Amal",
        "muac_mm": 110,
        "detention_site": "s9",
        "new_unreviewed_field": "x",
    }
    assert redact("registrar", "person", record) == {"id": "p1", "given_name": "Amal"}
    assert redact("health", "person", record) == {"id": "p1", "given_name": "Amal", "muac_mm": 110}
    assert redact("coordinator", "person", record) == {}


def test_registrar_patch_of_restricted_fields_is_refused():
    assert forbidden_fields("registrar", "person", {"given_name", "muac_mm"}) == {"muac_mm"}
    assert forbidden_fields("registrar", "minor", {"uasc"}) == {"uasc"}
    assert forbidden_fields("health", "person", {"muac_mm"}) == set()
    assert forbidden_fields("site_manager", "person", {"given_name"}) == {"given_name"}


def test_a_broken_matrix_file_is_refused_with_every_problem(tmp_path: Path):
    raw = _shipped()
    raw["roles"]["janitor"] = {"totp_required": False, "allow": {}}
    raw["roles"]["registrar"]["allow"]["person.teleport"] = "own_site"
    raw["roles"]["health"]["allow"]["person.read"] = "everywhere"
    raw["roles"]["registrar"]["totp_required"] = False
    raw["field_groups"]["medical"]["fields"].append("blood_type")
    path = tmp_path / "authorisation.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(AuthorisationFileInvalid) as caught:
        load_matrix(path)
    fields = {p.field for p in caught.value.problems}
    assert fields >= {
        "roles.janitor",
        "roles.registrar.allow.person.teleport",
        "roles.health.allow.person.read",
        "roles.registrar.totp_required",
        "records.person.groups",
    }


def test_the_shipped_file_loads_from_a_path_too(tmp_path: Path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(_shipped()))
    assert load_matrix(path) == MATRIX
