"""The routers that path operations are declared on, and how an app takes their routes.

Every router is made by ``guarded_router()``, with the read-only guard
(``read_only.refuse_writes``) among its dependencies, so each route carries the guard
from the moment it is declared.

``add_routes`` gives an app the routes themselves, built once at import, instead of
``app.include_router``. FastAPI 0.165 keeps an included router behind a wrapper and
builds each of its routes again for every app, lazily, at the app's first requests and
on the request threads: about 0.2 s of an app's first request, which every test that
builds an app paid, and a pydantic warning silenced with ``warnings.catch_warnings()``
on several threads at once (not thread-safe: it escaped once in
tests/api/test_concurrent_writes.py). Behind that wrapper the routes are also out of
sight of a walk of ``app.routes``: tests/web/test_page_gates.py walked no page at all.

``add_routes`` stops ``create_app`` on a route that lacks the guard, on a nested router
(``include_router``) and on any route that is not a path operation, so that a route
added later cannot slip past the read-only copy or past the tests that walk the routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from corridor.web.impossible_ids import refuse_impossible_ids
from corridor.web.read_only import refuse_writes

__all__ = ["add_routes", "guarded", "guarded_router"]


def guarded_router(**options: Any) -> APIRouter:
    """An ``APIRouter`` with ``options`` (prefix, tags, include_in_schema), whose every
    route depends on the read-only guard first, then on ids a record can have
    (``impossible_ids``)."""
    dependencies = [
        Depends(refuse_writes),
        Depends(refuse_impossible_ids),
        *options.pop("dependencies", []),
    ]
    return APIRouter(dependencies=dependencies, **options)


def guarded(route: APIRoute) -> bool:
    """Whether the route runs the read-only guard."""
    return any(d.dependency is refuse_writes for d in route.dependencies)


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Append each router's routes, in order, to the app's own (see the module's
    docstring); a ``TypeError`` names the first route that is not a guarded path
    operation."""
    for source in routers:
        for route in source.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(
                    f"{type(route).__name__} in a router: declare path operations on the "
                    "router; pass a nested router to add_routes itself (pages.ROUTERS)"
                )
            if not guarded(route):
                raise TypeError(
                    f"{sorted(route.methods or ())} {route.path}: declared on a router without "
                    "the read-only guard (make it with corridor.web.routers.guarded_router)"
                )
            app.router.routes.append(route)
