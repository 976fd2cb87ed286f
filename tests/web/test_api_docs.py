"""The API documentation pages work without internet (issue 13): /docs and /redoc load
Swagger UI and ReDoc from this server, under a Content-Security-Policy that allows no
inline script; every other page keeps the strict policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corridor.settings import Settings
from corridor.web import create_app
from corridor.web.headers import STRICT_CSP

URL_ATTRIBUTE = re.compile(r'\b(?:src|href|spec-url|data-openapi-url)="([^"]*)"')
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("docs") / "corridor.db"
    with TestClient(create_app(Settings(database_url=f"sqlite:///{path}"))) as c:
        yield c


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {".js": "javascript", ".css": "text/css", ".png": "image/png"}),
        ("/redoc", {".js": "javascript", ".png": "image/png"}),
    ],
)
def test_a_docs_page_loads_only_files_of_this_server(
    client: TestClient, page: str, assets: dict[str, str]
) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "//" not in r.text  # no http(s)://host, no //host
    urls = URL_ATTRIBUTE.findall(r.text)
    assert "/openapi.json" in urls
    seen = set()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        for suffix, kind in assets.items():
            if url.endswith(suffix):
                assert kind in answer.headers["content-type"], (url, answer.headers)
                assert len(answer.content) > 100, url
                seen.add(suffix)
    assert seen == set(assets)
    # No inline script: each <script> only names its file.
    scripts = SCRIPT.findall(r.text)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    # ... and the policy forbids inline script and anything from elsewhere.
    csp = r.headers["content-security-policy"]
    assert csp.startswith(STRICT_CSP)
    assert "script-src" not in csp and "http" not in csp and "*" not in csp


def test_swagger_ui_and_redoc_are_the_real_libraries(client: TestClient) -> None:
    assert "SwaggerUIBundle" in client.get("/static-docs/swagger-ui-bundle.js").text[:2000]
    assert "Redoc" in client.get("/static-docs/redoc.standalone.js").text[:2000]
    start = client.get("/static/api-docs.js").text
    assert "SwaggerUIBundle(" in start and "data-openapi-url" in start
    assert "validatorUrl: null" in start  # no badge fetched from the online validator


def test_other_pages_keep_the_strict_policy_and_the_home_page_links_the_docs(
    client: TestClient,
) -> None:
    for path in ("/login", "/api/health", "/openapi.json", "/static-docs/swagger-ui.css"):
        assert client.get(path).headers["content-security-policy"] == STRICT_CSP, path
    # The docs pages are no personal data: their library files may be cached, the pages not.
    assert "no-store" not in client.get("/static-docs/swagger-ui.css").headers.get(
        "cache-control", ""
    )
    assert client.get("/docs").headers["cache-control"] == "no-store"
