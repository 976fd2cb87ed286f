"""A browser-like client of the pages: it signs in through the HTML forms (password,
then TOTP) and carries the CSRF token the pages hand out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from corridor.settings import Settings
from corridor.storage import Database
from corridor.web import create_app
from tests.conftest import ALL_ROLES, MASTER_KEY, Clock

PASSWORD = "a long test password"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf(page: str) -> str:
    found = TOKEN.search(page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class PageClient(TestClient):
    """A TestClient that posts forms with the token of the last page it loaded."""

    token = ""

    def page(self, url: str) -> str:
        r = self.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:500])
        self.token = csrf(r.text)
        return r.text

    def submit(self, url: str, data: dict[str, str], **kwargs: object):  # type: ignore[no-untyped-def]
        return self.post(url, data={"csrf_token": self.token, **data}, **kwargs)  # type: ignore[arg-type]


def sign_in(client: PageClient, username: str, secret: str | None, clock: Clock) -> None:
    client.page("/login")
    r = client.submit("/login", {"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text[:300]  # followed to the code step (or home)
    if secret:
        client.token = csrf(r.text)
        r = client.submit("/login/code", {"code": pyotp.TOTP(secret).at(clock())})
        assert r.status_code == 200 and "Sign out" in r.text, r.text[:500]


def page_client(
    database: Database, clock: Clock, roles: tuple[Role, ...] = ALL_ROLES, name: str = "officer"
) -> PageClient:
    settings = Settings(database_url=str(database.url), master_key=MASTER_KEY)
    app = create_app(settings, database=database, clock=clock)
    client = PageClient(app, base_url="https://testserver")
    site_ids = [s["id"] for s in app.state.services.sites.all()]
    _, secret = app.state.services.accounts.create(
        name,
        name,
        PASSWORD,
        roles,
        site_ids,
        audit=app.state.services.audit.operator_hook("test", "users.admin"),
    )
    sign_in(client, name, secret, clock)
    return client


@pytest.fixture
def pages(database: Database, clock: Clock) -> Iterator[PageClient]:
    with page_client(database, clock) as c:
        yield c
