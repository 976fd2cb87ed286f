"""The web interface: server-rendered pages (Jinja2 + htmx), one module per area.

Every page parses its input, calls the same services as the API under the same
``requires(action)`` gate, audits personal-data reads as the API does, and renders; each
GET page has a ``.json`` twin with the same data.
"""

from __future__ import annotations

from fastapi import APIRouter

from corridor.web.pages import (
    admin,
    cards,
    conflicts,
    dashboard,
    dpo,
    duplicates,
    exports,
    families,
    manifests,
    persons,
    registration,
    session,
    sync,
    tracing,
)

router = APIRouter(include_in_schema=False)
for module in (
    session,
    dashboard,
    registration,
    persons,
    duplicates,
    cards,
    manifests,
    families,
    tracing,
    admin,
    dpo,
    exports,
    sync,
    conflicts,
):
    router.include_router(module.router)

__all__ = ["router"]
