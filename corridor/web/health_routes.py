"""``GET /api/health``: for load balancers and monitors; no account, no personal data."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Request, Response

from corridor.responses import Health
from corridor.services import Services
from corridor.services.health import HealthReport
from corridor.web.deps import services
from corridor.web.routers import guarded_router

health_router = guarded_router(prefix="/api")
# A database that does not answer within this time counts as unreachable (a PostgreSQL
# server gone from the network can otherwise hold a connection attempt for minutes).
TIMEOUT_S = 5.0


@health_router.get(
    "/health",
    tags=["operations"],
    responses={503: {"model": Health, "description": "The server cannot work now"}},
)
async def health(
    request: Request, response: Response, svc: Annotated[Services, Depends(services)]
) -> Health:
    """200 when the database answers at the schema this code expects; 503 otherwise."""
    # The read-only serving mode, where the settings have it.
    read_only = request.app.state.settings.read_only
    report = HealthReport(False, False, read_only)
    with anyio.move_on_after(TIMEOUT_S):
        report = await anyio.to_thread.run_sync(
            lambda: svc.health.check(serving_read_only=read_only), abandon_on_cancel=True
        )
    if not report.ok:
        response.status_code = 503
    return Health(
        status=report.status,
        database_reachable=report.database_reachable,
        schema_current=report.schema_current,
        read_only=report.read_only,
    )
