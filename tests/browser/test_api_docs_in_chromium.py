"""/docs and /redoc in Chromium with every request to another host blocked, as on a
network without internet (issue 13): Swagger UI lists the operations, ReDoc shows them,
and the Content-Security-Policy refuses nothing the pages need."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser


def _offline(page: Any) -> tuple[list[str], list[str]]:
    """Abort every request to a host other than this server's; return the lists of those
    blocked and of the console's errors (a CSP refusal is one)."""
    blocked: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return blocked, errors


def test_swagger_ui_lists_the_operations_without_internet(page: Any, live_server: LiveServer):
    blocked, errors = _offline(page)
    page.goto("/docs")
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for()
    paths = set(operations.all_text_contents())
    assert len(paths) > 30
    assert "/api/households" in {p.replace("\u200b", "") for p in paths}
    assert page.locator(".info .title").inner_text().startswith("Corridor")
    assert blocked == [] and errors == []


def test_redoc_shows_the_operations_without_internet(page: Any, live_server: LiveServer):
    blocked, errors = _offline(page)
    page.goto("/redoc")
    page.locator("h1").filter(has_text="Corridor").first.wait_for()
    operations = page.locator("[data-section-id*='operation/']")
    assert operations.count() > 30
    # ReDoc always tries to show its maker's logo from their CDN: the policy refuses it
    # (nothing leaves for another host) and ReDoc hides the image. Nothing else is refused.
    logo = [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" in e]
    assert blocked == [] and len(logo) == len(errors)
