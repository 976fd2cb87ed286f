"""The app takes its routes as declared (``corridor/web/routers.py``): every route is a
path operation in ``app.routes`` itself, each carries the read-only guard, and a router
that would hide or lose a route stops ``create_app``."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from corridor.settings import Settings
from corridor.web import create_app
from corridor.web.read_only import is_write
from corridor.web.routers import add_routes, guarded, guarded_router
from tests.conftest import MASTER_KEY


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    path = tmp_path_factory.mktemp("routers") / "corridor.db"
    settings = Settings(database_url=f"sqlite:///{path}", master_key=MASTER_KEY, read_only=True)
    return create_app(settings)


def _writes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
        if is_write(method, route.path)
    ]


def test_every_route_is_in_app_routes_and_every_path_operation_is_guarded(app):
    kinds = {type(r) for r in app.routes}
    # Path operations, the docs' own pages (Route) and the static files (Mount): no
    # wrapper that a walk of app.routes would not open.
    assert kinds <= {APIRoute, Route, Mount}, kinds
    operations = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(operations) > 150
    assert [r.path for r in operations if not guarded(r)] == []
    paths = {r.path for r in operations}
    for expected in ("/api/persons", "/api/tracing/enquiries", "/register/household", "/"):
        assert expected in paths


def test_a_read_only_copy_refuses_every_write_route_before_anything_else(app):
    """Every route that would change the registry, from the route table, answers 503
    "read_only" in a read-only copy, with no credentials and an empty body: the guard
    runs before authentication, CSRF and validation."""
    writes = _writes(app)
    assert len(writes) > 80
    with TestClient(app, base_url="https://testserver") as client:
        for method, path in writes:
            url = re.sub(r"\{[^}]+\}", "x", path)
            r = client.request(method, url)
            assert r.status_code == 503, (method, path, r.status_code, r.text[:200])
            if path.startswith("/api/"):
                assert r.json()["code"] == "read_only", (method, path)


def test_add_routes_refuses_a_router_without_the_guard():
    plain = APIRouter()

    @plain.post("/api/things")
    def make_thing() -> None:  # pragma: no cover - never served
        return None

    with pytest.raises(TypeError, match=r"\['POST'\] /api/things: declared on a router without"):
        add_routes(FastAPI(), plain)


def test_add_routes_refuses_a_nested_router():
    outer, inner = guarded_router(), guarded_router()

    @inner.get("/inner")
    def inner_page() -> None:  # pragma: no cover - never served
        return None

    outer.include_router(inner)
    with pytest.raises(TypeError, match="pass a nested router to add_routes itself"):
        add_routes(FastAPI(), outer)


def test_a_guarded_router_keeps_its_own_dependencies_after_the_guard():
    def extra() -> None:  # pragma: no cover - never called
        return None

    from fastapi import Depends

    r = guarded_router(prefix="/api", dependencies=[Depends(extra)])

    @r.get("/x")
    def x() -> None:  # pragma: no cover - never served
        return None

    (route,) = r.routes
    assert isinstance(route, APIRoute) and guarded(route)
    assert [d.dependency.__name__ for d in route.dependencies] == [
        "refuse_writes",
        "refuse_impossible_ids",
        "extra",
    ]
