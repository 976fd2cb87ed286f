"""Issue 13: the lookup limit is policy per role, passed through ``create_app(settings)``,
and when it trips the reader is told how long to wait, inside the normal page with the
menu; every error page of a signed-in user keeps the menu and a way back.

"Health staff were stopped at the 187th person page in an hour ('Too many attempts; try
again later', no menu, no time to wait)." "A tracing officer ... lands on 'Not allowed'
without a menu." Both databases.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.services import Services
from corridor.settings import DEFAULT_LOOKUPS_PER_HOUR, Settings
from corridor.storage import Database
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.web.conftest import PageClient, sign_in

NAV = re.compile(r'<nav aria-label="[^"]+">(.*?)</nav>', re.S)


def _client(
    database: Database, clock: Clock, roles: tuple[Role, ...], name: str, **settings: object
) -> PageClient:
    app = create_app(
        Settings(database_url=str(database.url), master_key=MASTER_KEY, **settings),  # type: ignore[arg-type]
        database=database,
        clock=clock,
    )
    client = PageClient(app, base_url="https://testserver")
    services = app.state.services
    site_ids = [s["id"] for s in services.sites.all()]
    _, secret = services.accounts.create(
        name, name, "a long test password", roles, site_ids,
        audit=services.audit.operator_hook("test", "users.admin"),
    )  # fmt: skip
    sign_in(client, name, secret, clock)
    return client


@pytest.fixture
def people(database: Database, clock: Clock) -> list[str]:
    svc = Services(database, clock, MasterKey.from_text(MASTER_KEY))
    camp = svc.sites.create(
        SiteIn(name="Camp A", kind="camp"), audit=svc.audit.operator_hook("test", "sites.admin")
    )["id"]
    audit = svc.audit.operator_hook("test", "person.write")
    return [
        svc.registration.register_person(
            PersonIn.model_validate(
                {
                    "site_id": camp,
                    "given_name": f"Person{i}",
                    "sex": "f",
                    "estimated_age": 30,
                    "consent": {"tracing": True},
                    "purpose": "registration and assistance",
                    "legal_basis": "vital_interest",
                }
            ),
            audit=audit,
        )["id"]
        for i in range(6)
    ]


def _menu(html: str) -> str:
    found = NAV.search(html)
    assert found, "the page has no menu"
    return found.group(1)


def test_defaults_let_screening_teams_work_and_keep_tracing_tighter() -> None:
    limits = Settings().lookups_per_hour
    assert limits["health"] >= 300 and limits["registrar"] >= 300  # a camp in a morning
    assert limits["tracing_officer"] < limits["health"]
    env = Settings.from_env({"CORRIDOR_LOOKUPS_PER_HOUR": "health=900, tracing_officer=50"})
    assert env.lookups_per_hour["health"] == 900
    assert env.lookups_per_hour["tracing_officer"] == 50
    assert env.lookups_per_hour["registrar"] == DEFAULT_LOOKUPS_PER_HOUR["registrar"]
    with pytest.raises(ValueError, match="role=number"):
        Settings.from_env({"CORRIDOR_LOOKUPS_PER_HOUR": "health:900"})
    with pytest.raises(ValueError, match="above 0"):
        Settings(lookups_per_hour={"health": 0})
    with pytest.raises(ValueError, match="unknown roles: nurse"):
        Settings.from_env({"CORRIDOR_LOOKUPS_PER_HOUR": "nurse=900"})


def test_the_limit_is_per_role_and_says_how_long_to_wait(database, clock, people) -> None:
    limits = {"health": 4, "tracing_officer": 2}
    health = _client(database, clock, (Role.HEALTH,), "nurse", lookups_per_hour=limits)
    for pid in people[:4]:
        health.page(f"/persons/{pid}")
    clock.advance(minutes=10)
    r = health.get(f"/persons/{people[4]}")
    assert r.status_code == 429
    # Inside the normal page: the menu, the reason, the time to wait (the first of the
    # four look-ups leaves the hour in 50 minutes), in the header too.
    assert "/search" in _menu(r.text) and "Sign out" in r.text
    assert "Person4" not in r.text
    assert "the most your role allows" in r.text and "50 min" in r.text
    assert 'data-wait-minutes="50"' in r.text
    assert 2990 <= int(r.headers["Retry-After"]) <= 3001
    # Records already opened stay open.
    assert health.get(f"/persons/{people[0]}").status_code == 200

    # The API says the same, in its one error shape, with the header.
    r = health.get(f"/api/persons/{people[5]}")
    assert r.status_code == 429 and r.headers["Retry-After"]
    body = r.json()
    assert set(body) == {"status", "code", "message", "errors"}
    assert body["code"] == "throttled" and "50 min" in body["message"]

    # The tracing officer's role allows fewer in the same app.
    tracing = _client(database, clock, (Role.TRACING_OFFICER,), "tracer", lookups_per_hour=limits)
    for pid in people[:2]:
        tracing.page(f"/persons/{pid}")
    assert tracing.get(f"/persons/{people[2]}").status_code == 429
    clock.advance(hours=1, minutes=1)
    assert tracing.get(f"/persons/{people[2]}").status_code == 200


def test_error_pages_keep_the_menu_and_a_way_back(database, clock, people) -> None:
    tracing = _client(database, clock, (Role.TRACING_OFFICER,), "tracer")
    # Not allowed (a registrar's page), not found, and a sent form that is refused.
    r = tracing.get("/register", headers={"referer": "https://testserver/tracing"})
    assert r.status_code == 403 and "/tracing/enquiries" in _menu(r.text)
    assert 'href="/tracing"' in r.text.split("</nav>", 1)[1]  # back where they came from
    r = tracing.get("/no-such-page")
    assert r.status_code == 404 and "/tracing/enquiries" in _menu(r.text)
    tracing.page("/tracing")
    r = tracing.submit(
        f"/persons/{people[0]}/events",
        {"kind": "deceased"},
        headers={"referer": f"https://testserver/persons/{people[0]}"},
    )
    assert r.status_code in (403, 404) and "/tracing/enquiries" in _menu(r.text)
    # Signed out: no menu, no way into anything.
    anonymous = TestClient(tracing.app, base_url="https://testserver")
    r = anonymous.get("/no-such-page")
    assert r.status_code == 404 and NAV.search(r.text) is None


def test_the_login_throttle_says_how_long_to_wait(database, clock) -> None:
    app = create_app(
        Settings(database_url=str(database.url), master_key=MASTER_KEY),
        database=database,
        clock=clock,
    )
    client = PageClient(app, base_url="https://testserver")
    client.page("/login")
    answers = [
        client.submit("/login", {"username": "nobody", "password": "wrong password"})
        for _ in range(10)
    ]
    assert answers[-1].status_code == 429
    assert "Retry-After" in answers[-1].headers
    assert "data-wait-minutes" in answers[-1].text
    assert timedelta(seconds=int(answers[-1].headers["Retry-After"])) <= timedelta(minutes=16)
