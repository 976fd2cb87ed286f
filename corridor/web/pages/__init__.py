"""The web interface: server-rendered pages (Jinja2 + htmx), one module per area.

Every page parses its input, calls the same services as the API under the same
``requires(action)`` gate, audits personal-data reads as the API does, and renders; each
GET page has a ``.json`` twin with the same data.
"""

from __future__ import annotations

from corridor.web.pages import (
    account,
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

# The pages' routers, in the order their routes are tried (``routers.add_routes``).
ROUTERS = (
    session.router,
    account.router,
    dashboard.router,
    registration.router,
    persons.router,
    duplicates.router,
    cards.router,
    manifests.router,
    families.router,
    tracing.router,
    admin.router,
    dpo.router,
    exports.router,
    sync.router,
    conflicts.router,
)

__all__ = ["ROUTERS"]
