"""The gate (issue 11): the stories that leaked before it, each through the HTTP API.

- a tracing officer saw a detained father's detention site in the separated families,
  and could narrow that list to the households of the people held at a facility;
- a read refused for scope (404) left no audit event;
- redaction removed a key a page needed: every child's page was a 500 for four roles;
- policy was a process-wide cache: two apps could not hold two policies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.security.users import Principal
from corridor.services.protection.accounts import Caller
from corridor.settings import Settings
from corridor.web import create_app
from tests.api.helpers import BASIS, CONSENT, register, site, work_at
from tests.conftest import MASTER_KEY, make_client
from tests.web.conftest import page_client


def _events(database: Any) -> list[dict[str, Any]]:
    with database.read() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings()
        return [dict(r) for r in rows]


@pytest.fixture
def split_family(client: Any) -> dict[str, str]:
    """At camp A a household: the father detained at facility D, a child still at A."""
    camp = site(client, "Camp A")
    prison = site(client, "Facility D", "detention")
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Khalid", "family_name": "Jassim", "sex": "m",
                     "estimated_age": 41},
            "members": [
                {"relationship": "child", "given_name": "Huda", "family_name": "Jassim",
                 "sex": "f", "estimated_age": 7, "vulnerabilities": {"uasc": "separated"}}
            ],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    father, child = (m["id"] for m in r.json()["members"])
    r = client.post(
        f"/api/persons/{father}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    return {"camp": camp, "prison": prison, "father": father, "child": child}


def test_separated_families_withhold_detention_from_a_tracing_officer(
    client, database, clock, split_family
):
    prison = split_family["prison"]
    tracer = make_client(database, clock, roles=(Role.TRACING_OFFICER,))  # no site at all
    r = tracer.get("/api/separated-families")
    assert r.status_code == 200, r.text
    assert prison not in r.text and "Facility D" not in r.text
    [family] = r.json()
    father = next(m for m in family["members"] if m["id"] == split_family["father"])
    assert father["site_id"] is None and father["site_name"] is None and father["site_withheld"]
    # The protection officer, whom the matrix lets see detention sites, sees it.
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, split_family["camp"], prison, admin=client)
    shown = protection.get("/api/separated-families").json()
    assert prison in json.dumps(shown)


@pytest.mark.parametrize("path", ["/api/separated-families", "/api/unaccounted", "/api/manifests"])
def test_no_list_by_detention_facility(client, database, clock, split_family, path):
    prison = split_family["prison"]
    for role in Role:
        other = make_client(database, clock, roles=(role,))
        work_at(other, split_family["camp"], prison, admin=client)
        r = other.get(path, params={"site_id": prison})
        if r.status_code == 403:  # the role gate: the role lacks the list's action
            continue
        if role is Role.PROTECTION_OFFICER:
            assert r.status_code == 200, (role, r.text)
        else:
            assert r.status_code == 404, (role, path, r.status_code, r.text)


def test_a_read_refused_for_scope_is_audited_once(client, database, clock):
    a, b = site(client, "Camp A"), site(client, "Camp B")
    person = register(client, a, given_name="Samira")
    registrar_b = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar_b, b, admin=client)
    before = len(_events(database))
    for path in (f"/api/persons/{person['id']}", f"/api/persons/{person['id']}/movements"):
        r = registrar_b.get(path)
        assert r.status_code == 404, r.text
        after = _events(database)
        new = after[before:]
        assert [(e["person_id"], e["outcome"]) for e in new] == [(person["id"], "denied")], path
        before = len(after)


def test_shown_persons_are_audited_once_each(client, database, clock, split_family):
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, split_family["camp"], admin=client)
    household = registrar.get(f"/api/persons/{split_family['child']}").json()["household_id"]
    before = len(_events(database))
    r = registrar.get(f"/api/households/{household}")
    assert r.status_code == 200
    new = _events(database)[before:]
    shown = {m["id"] for m in r.json()["members"]}
    assert sorted(e["person_id"] for e in new) == sorted(shown)
    assert all(e["outcome"] == "allowed" and e["action"] == "person.read" for e in new)


@pytest.mark.parametrize(
    "role", [Role.REGISTRAR, Role.HEALTH, Role.MOVEMENT_OFFICER, Role.SITE_MANAGER]
)
def test_a_childs_page_opens_for_every_role_that_reads_persons(database, clock, role, client):
    camp = site(client, "Camp A")
    child = register(
        client, camp, given_name="Huda", estimated_age=6, phone="+963944000777",
        vulnerabilities={"uasc": "unaccompanied", "muac_mm": 110},
    )  # fmt: skip
    with page_client(database, clock, roles=(role,), name=f"p-{role.value}") as pages:
        r = pages.get(f"/persons/{child['id']}")
        assert r.status_code == 200, r.text[:500]
        assert "+963944000777" not in r.text  # a minor's phone: protection and tracing only
        twin = pages.get(f"/persons/{child['id']}.json").json()
        assert twin["person"]["phone"] is None and "phone" in twin["person"]["withheld"]


def test_a_health_officer_reaches_a_malnourished_childs_health_form(database, clock, client):
    camp = site(client, "Camp A")
    child = register(client, camp, given_name="Huda", estimated_age=2,
                     vulnerabilities={"muac_mm": 108})  # fmt: skip
    with page_client(database, clock, roles=(Role.HEALTH,), name="nurse") as pages:
        text = pages.page(f"/persons/{child['id']}")
        assert "108" in text and 'name="muac_mm"' in text


def _policy_file(tmp_path: Path, name: str, change: dict[str, Any]) -> Path:
    from importlib import resources

    raw = json.loads(
        resources.files("corridor.security").joinpath("data/authorisation.json").read_text()
    )
    raw["field_groups"]["minor_details"]["roles"] = change["minor_details"]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return path


def test_two_apps_hold_two_policies_in_one_process(client, database, clock, tmp_path):
    """Policy is passed in (settings), never a process-wide cache: the same registrar,
    under two matrices, sees a child's phone under one and not the other."""
    camp = site(client, "Camp A")
    child = register(client, camp, given_name="Huda", estimated_age=6, phone="+963944000888")
    strict = _policy_file(tmp_path, "strict", {"minor_details": ["protection_officer"]})
    lenient = _policy_file(
        tmp_path, "lenient", {"minor_details": ["protection_officer", "registrar"]}
    )
    phones = {}
    for name, path in (("strict", strict), ("lenient", lenient)):
        settings = Settings(
            database_url=str(database.url), master_key=MASTER_KEY, authorisation_file=str(path)
        )
        app = create_app(settings, database=database, clock=clock)
        svc = app.state.services
        user, _ = svc.accounts.create(
            f"reg-{name}",
            "Registrar",
            "a long test password",
            [Role.REGISTRAR],
            [camp],
            audit=svc.audit.operator_hook("test", "users.admin"),
        )
        who = Caller(
            Principal(user, frozenset({Role.REGISTRAR}), frozenset({camp})),
            True,
            scope=frozenset({camp}),
            matrix=svc.matrix,
        )
        phones[name] = svc.gate.person(who, child["id"]).phone
    assert phones == {"strict": None, "lenient": "+963944000888"}


def test_two_apps_hold_two_matching_models_in_one_process(client, database, clock, tmp_path):
    """The matching model is policy too: a model file in the settings scores the same
    candidate with its own calibration, beside an app on the shipped model."""
    from corridor.matching import Model

    camp = site(client, "Camp A")
    register(client, camp, given_name="Hamid", family_name="Saleh", sex="m")
    flatter = Model.default().with_calibration("test", slope=0.1)
    path = tmp_path / "model.json"
    path.write_text(flatter.to_json())
    query = {"given_name": "Hamid", "family_name": "Salih", "purpose": "deduplication"}
    probability = {}
    for name, model_file in (("shipped", ""), ("flatter", str(path))):
        settings = Settings(
            database_url=str(database.url),
            master_key=MASTER_KEY,
            matching_model_file=model_file,
        )
        app = create_app(settings, database=database, clock=clock)
        svc = app.state.services
        shipped = Model.default().version
        assert svc.person_search.model.version == ("test" if model_file else shipped)
        assert svc.tracing.search is svc.person_search  # tracing scores with the same model
        from corridor.schemas import MatchQueryIn

        [found] = svc.person_search.search(MatchQueryIn.model_validate(query), scope={camp})
        probability[name] = found["probability"]
    assert probability["shipped"] != probability["flatter"]
