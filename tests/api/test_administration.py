"""The administrator's API (issue 12): the second factor first, users, sites, tokens,
each audited; an administrator reaches no person."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import BASIS, CONSENT
from tests.conftest import make_client

PASSWORD = "a long test password"


def test_an_administrators_password_alone_administers_nothing(database, clock):
    """Fails on the code before issue 12: a password-only session of an administrator
    could set a user's sites (the gate asked for TOTP on personal data only)."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    svc = admin.app.state.services
    _, secret = svc.accounts.create(
        "root2",
        "Root",
        PASSWORD,
        [Role.ADMINISTRATOR],
        [],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )
    half = make_client(database, clock, roles=(Role.COORDINATOR,), login=False)
    r = half.post("/api/auth/login", json={"username": "root2", "password": PASSWORD})
    assert r.json() == {"second_factor_required": True, "password_change_required": False}
    me = half.get("/api/auth/me").json()["user_id"]
    assert half.put(f"/api/users/{me}/sites", json={"site_ids": []}).status_code == 401
    assert half.get("/api/users").status_code == 401
    r = half.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
    assert r.status_code == 200
    assert half.get("/api/users").status_code == 200


def test_users_are_created_changed_reset_and_deactivated_with_an_audit_event_each(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    site = admin.post("/api/sites", json={"name": "Camp X", "kind": "camp"}).json()["id"]
    body = {
        "username": "Rania",
        "display_name": "Rania",
        "password": PASSWORD,
        "roles": ["registrar"],
        "site_ids": [site],
    }
    r = admin.post("/api/users", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["user"]["username"] == "rania" and created["totp_secret"]
    user_id = created["user"]["id"]
    assert admin.post("/api/users", json=body).status_code == 409  # the name is taken
    bad = admin.post(
        "/api/users", json={**body, "username": "x2", "password": "short", "site_ids": ["nowhere"]}
    )
    assert bad.status_code == 422
    r = admin.patch(
        f"/api/users/{user_id}", json={"roles": ["registrar", "health"], "language": "ku"}
    )
    assert r.status_code == 200 and r.json()["user"]["roles"] == ["health", "registrar"]
    assert r.json()["totp_secret"] is None  # enrolled already
    r = admin.post(f"/api/users/{user_id}/second-factor")
    assert r.json()["totp_secret"] not in (None, created["totp_secret"])
    assert admin.post(f"/api/users/{user_id}/sessions/end").json()["sessions_ended"] == 0
    assert admin.post(f"/api/users/{user_id}/deactivate").json()["disabled"] is True
    me = admin.get("/api/auth/me").json()["user_id"]
    assert admin.post(f"/api/users/{me}/deactivate").status_code == 409
    assert admin.patch(f"/api/users/{me}", json={"roles": ["coordinator"]}).status_code == 409
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.purpose, audit_events.c.person_id).where(
                audit_events.c.user_id == me, audit_events.c.outcome == "allowed"
            )
        ).all()
    purposes = [p for a, p, _ in rows if a == "users.admin"]
    assert purposes == [
        f"user {user_id} created: registrar",
        f"user {user_id} changed: language, roles",
        f"user {user_id}: new second factor, 0 sessions ended, 0 API tokens revoked",
        f"user {user_id}: 0 sessions ended",
        f"user {user_id} deactivated, 0 sessions ended",
    ]
    assert all(pid is None for *_, pid in rows)
    # No person for the administrator, whatever they manage.
    assert admin.post("/api/persons/search", json={"registration_number": "X"}).status_code == 403


def test_a_closed_site_keeps_its_persons_and_takes_nobody_new(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    site = admin.post("/api/sites", json={"name": "Camp Y", "kind": "camp"}).json()["id"]
    officer = make_client(database, clock, roles=(Role.REGISTRAR,))
    me = officer.get("/api/auth/me").json()["user_id"]
    admin.put(f"/api/users/{me}/sites", json={"site_ids": [site]})
    person = {"site_id": site, "consent": CONSENT, **BASIS, "given_name": "Rima", "sex": "f"}
    registered = officer.post("/api/persons", json=person)
    assert registered.status_code == 201, registered.text
    r = admin.post(f"/api/sites/{site}/close")
    assert r.status_code == 200 and r.json()["closed_at"]
    assert admin.post(f"/api/sites/{site}/close").status_code == 409
    assert officer.get(f"/api/persons/{registered.json()['id']}").status_code == 200
    r = officer.post("/api/persons", json=person)
    assert r.status_code == 422 and "closed" in r.text


def test_editing_a_detention_facility_keeps_its_whereabouts_sealed(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    r = admin.post(
        "/api/sites", json={"name": "Sednaya Prison", "kind": "detention", "locality": "Sednaya"}
    )
    facility = r.json()
    assert "Sednaya" not in r.text
    r = admin.patch(f"/api/sites/{facility['id']}", json={"name": "Saydnaya Prison"})
    assert r.status_code == 200 and "Saydnaya" not in r.text and "Sednaya" not in r.text
    assert r.json()["name"] != facility["name"]  # a new label for the new name
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    shown = protection.get(f"/api/sites/{facility['id']}").json()
    assert (shown["name"], shown["locality"]) == ("Saydnaya Prison", "Sednaya")


def test_tokens_are_listed_without_their_secret_and_revoked(database, clock):
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    coordinator = make_client(database, clock, roles=(Role.COORDINATOR,))
    token = coordinator.headers["Authorization"].removeprefix("Bearer ")
    assert coordinator.get("/api/sites").status_code == 200
    listed = admin.get("/api/tokens")
    assert listed.status_code == 200 and token not in listed.text
    token_id = next(t["id"] for t in listed.json() if t["username"] == "officer-coor")
    r = admin.post(f"/api/tokens/{token_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert coordinator.get("/api/sites").status_code == 401


def test_an_administrator_gives_themselves_no_role_nor_approves_their_own_export(
    database, clock
):
    """Two people for every grant. On the code before, an administrator could give
    themselves the protection officer's role (every person of their sites, bulk exports)
    or the site manager's (approving exports), needing nobody else."""
    admin = make_client(database, clock, roles=(Role.ADMINISTRATOR,))
    other_admin = make_client(database, clock, roles=(Role.ADMINISTRATOR, Role.REGISTRAR))
    site = admin.post("/api/sites", json={"name": "Camp X", "kind": "camp"}).json()["id"]
    me = admin.get("/api/auth/me").json()["user_id"]
    for roles in (["administrator", "protection_officer"], ["administrator", "site_manager"],
                  ["administrator", "data_protection_officer"]):  # fmt: skip
        r = admin.patch(f"/api/users/{me}", json={"roles": roles, "site_ids": [site]})
        assert r.status_code == 409 and "yourself" in r.text, r.text
        assert admin.get(f"/api/users/{me}").json()["roles"] == ["administrator"]
    assert admin.get(f"/api/users/{me}").json()["site_ids"] == []  # nothing written
    # Taking one of one's own roles away stays possible.
    them = other_admin.get("/api/auth/me").json()["user_id"]
    r = other_admin.patch(f"/api/users/{them}", json={"roles": ["administrator"]})
    assert r.status_code == 200 and r.json()["user"]["roles"] == ["administrator"], r.text
    # Another administrator may grant the roles; still the requester never approves
    # their own export, whatever roles they hold (a protection officer who is also a
    # site manager, and the data protection officer too).
    r = other_admin.patch(
        f"/api/users/{me}",
        json={"roles": ["administrator", "protection_officer", "site_manager",
                        "data_protection_officer"], "site_ids": [site]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["totp_secret"] is None  # enrolled already, as an administrator
    # A new token carrying the new roles' actions (the old one was issued for the old).
    services = admin.app.state.services
    with database.transaction() as conn:
        issued = services.accounts.tokens.issue(conn, me, "t", ["export.bulk", "export.approve"])
    admin.headers["Authorization"] = f"Bearer {issued.secret}"
    r = admin.post("/api/exports", json={"reason": "monthly list"})
    assert r.status_code == 201, r.text
    r = admin.post(f"/api/exports/{r.json()['id']}/approve")
    assert r.status_code == 403 and "second person" in r.text, r.text
