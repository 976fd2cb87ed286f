"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn server.

The server runs in a thread on a free port over a fresh SQLite file holding a small demo
scenario and one demo user per role (their TOTP secrets are known to the tests).
Playwright never downloads a browser: it launches /usr/bin/chromium. Without it the tests
skip with the reason, except in CI (``CI=true``), where that is a failure, as for
PostgreSQL in tests/conftest.py.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web.i18n import LANGUAGES

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path(os.environ.get("CORRIDOR_CHROMIUM", "/usr/bin/chromium"))
# Flags that work on this kind of machine (the workplace stack notes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TABLET = {"width": 1024, "height": 768}

pytestmark = pytest.mark.browser


def _unavailable_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (scripts/install-system-deps.sh installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    reason = _unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"Chromium is required in CI: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    return CHROMIUM


@dataclass
class LiveServer:
    url: str
    database: Database
    services: Services
    users: dict[str, dict[str, Any]]  # role -> username, password, totp_secret
    sites: dict[str, str]  # site name -> id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    import uvicorn

    from corridor.demo.scenario import build_demo
    from corridor.demo.users import create_demo_users
    from corridor.web import create_app

    path = tmp_path_factory.mktemp("browser") / "corridor.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    build_demo(database, households=80, days=10)
    key = MasterKey.generate().encoded()
    settings = Settings(database_url=str(database.url), master_key=key)
    app = create_app(settings, database=database)
    services: Services = app.state.services
    users = {u["role"]: u for u in create_demo_users(services)}
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    sites = {s["name"]: s["id"] for s in services.sites.all()}
    yield LiveServer(f"http://127.0.0.1:{port}", database, services, users, sites)
    server.should_exit = True
    thread.join(timeout=10)
    database.dispose()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Chromium, for one module's tests. Not the session's: Playwright's synchronous API
    runs an event loop in the test's thread while it is started, and a worker goes on to
    other files between browser files (the longest first, tests/support/durations.py);
    with Playwright still started, ``asyncio.run`` in a later test of that worker failed
    ("cannot be called from a running event loop")."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport=TABLET, base_url=live_server.url, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


_accounts = itertools.count(1)


def sign_in(page: Any, server: LiveServer, role: str) -> None:
    """Through the forms, as a person would: password, then the current TOTP code.

    Each sign-in is a new user holding ``role`` on every site (like the demo users): a
    TOTP code is accepted once, so two sign-ins of one user within 30 seconds would
    need to wait for the next code."""
    username = f"browser-{role.replace('_', '-')}-{next(_accounts)}"
    password = "a long browser-test password"
    _, secret = server.services.accounts.create(
        username,
        username,
        password,
        [Role(role)],
        list(server.sites.values()),
        audit=server.services.audit.operator_hook("test", "users.admin"),
    )
    user = {"username": username, "password": password, "totp_secret": secret}
    page.goto("/login")
    page.get_by_label("User name").fill(user["username"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(user["totp_secret"]).now()
    )
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def choose_language(page: Any, button: str) -> None:
    """Press a language button and wait for the page it loads.

    The button posts a form and the server redirects: reading the document straight after
    the click can meet the old page, or none while the new one loads.
    """
    (language,) = [lang for lang in LANGUAGES.values() if lang.name == button]
    page.get_by_role("button", name=button).click()
    page.locator(f"html[lang={language.code}][dir={language.direction}]").wait_for(state="attached")


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page for the docs. Chromium under load sometimes answers
    "Unable to capture screenshot" (the compositor was busy): the page is fine, so the
    picture is tried again, three times at most, and then the error stands."""
    from playwright.sync_api import Error

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            return
        except Error as exc:
            if "Unable to capture screenshot" not in str(exc) or attempt == 2:
                raise
            time.sleep(0.5)
