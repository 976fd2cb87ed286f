"""Security headers on every response, and no caching of anything under /api."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

# The interactive API docs load Swagger UI's script and style from a CDN; they keep a
# relaxed policy. Everything else may load nothing from elsewhere and be framed by nobody.
STRICT_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
COMMON = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(COMMON)
        if request.url.path not in DOCS_PATHS:
            response.headers["Content-Security-Policy"] = STRICT_CSP
        if request.url.path.startswith("/api/"):
            # Personal data must not linger in a browser's or a proxy's cache.
            response.headers["Cache-Control"] = "no-store"
        return response
