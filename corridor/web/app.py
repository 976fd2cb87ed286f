"""``create_app(settings)``: builds the FastAPI app with its own Database; no global state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from corridor import __version__
from corridor.services import Services
from corridor.services.container import utc_now
from corridor.settings import Settings
from corridor.storage import Database
from corridor.sync.auto import for_services
from corridor.web import (
    api_docs,
    auth,
    errors,
    headers,
    limits,
    pages,
    read_only,
    request_log,
)
from corridor.web.admin_routes import admin_router
from corridor.web.conflict_routes import conflict_router
from corridor.web.export_routes import export_router
from corridor.web.format_routes import format_router
from corridor.web.health_routes import health_router
from corridor.web.impossible_ids import refuse_impossible_ids
from corridor.web.merge_routes import merge_router
from corridor.web.number_routes import number_router
from corridor.web.routers import add_routes
from corridor.web.routes import api_router
from corridor.web.sync_routes import sync_router
from corridor.web.tracing_routes import tracing_router

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The app for ``settings``; pass ``database`` to share one (tests, the demo)."""
    settings = settings or Settings.from_env()
    db = database or Database(settings.database_url)
    owns_db = database is None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.read_only:
            services.start()
            if auto_sync is not None:  # a node syncing by itself (issue 16)
                auto_sync.start()
        yield
        if auto_sync is not None:
            auto_sync.stop()
        services.close()
        if owns_db:
            db.dispose()

    app = FastAPI(
        # For a route the app itself declares; the routers' routes carry it already
        # (corridor/web/routers.py).
        dependencies=[Depends(read_only.refuse_writes), Depends(refuse_impossible_ids)],
        title="Corridor",
        version=__version__,
        description="Registration, movements and family tracing for people leaving a "
        "conflict zone.",
        lifespan=lifespan,
        # Served by api_docs from this server, not from a CDN (FastAPI's own pages load
        # Swagger UI and ReDoc from the internet: blank pages without it).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    master = settings.load_master_key() if settings.master_key or settings.master_key_file else None
    services = Services(
        db,
        clock,
        master,
        tracing_in_background=settings.tracing_checks == "background",
        biometrics_enabled=settings.biometrics_enabled,
        matrix=settings.authorisation(),
        retention_periods=settings.retention(),
        matching_model=settings.matching_model(),
        travel_hours=settings.travel_hours,
        one_time_password_hours=settings.one_time_password_hours,
        lookups_per_hour=settings.lookups_per_hour,
        small_counts_below=settings.small_counts_below,
        sync_window_hours=settings.sync_pull_window_hours,
    )
    app.state.services = services
    auto_sync = for_services(services, settings.sync_interval_s)
    app.state.auto_sync = auto_sync
    errors.install(app)
    app.add_middleware(
        limits.BodyLimit,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(headers.SecurityHeaders)
    app.add_middleware(request_log.RequestLog)  # outermost: it times the whole answer
    # The routes as declared, not behind include_router (corridor/web/routers.py).
    add_routes(
        app,
        auth.router,
        api_router,
        admin_router,
        tracing_router,
        merge_router,
        export_router,
        format_router,
        health_router,
        sync_router,
        conflict_router,
        number_router,
        *pages.ROUTERS,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    api_docs.install(app)
    return app
