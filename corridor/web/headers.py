"""Security headers on every response, and no caching of anything but the static files.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which costs a task and a
stream per request): it only adds headers to the response's start message.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Every page may load nothing from elsewhere, run no inline script and be framed by nobody.
STRICT_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# The interactive API docs (web/api_docs.py) load Swagger UI and ReDoc from this server
# too, and run no inline script either; they only add what those libraries draw with:
# Swagger UI's stylesheet has icons as data: URLs, ReDoc writes its styles into <style>
# elements and runs its search in a worker made from a blob: URL.
DOCS_CSP = {
    "/docs": STRICT_CSP + "; img-src 'self' data:",
    "/redoc": STRICT_CSP + "; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:",
}
# Files that hold no personal data and may be cached: ours, and Swagger UI's and ReDoc's.
CACHEABLE = ("/static/", "/static-docs/")
COMMON = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = list(COMMON)
        extra.append((b"content-security-policy", DOCS_CSP.get(path, STRICT_CSP).encode()))
        if not path.startswith(CACHEABLE):
            # Personal data must not linger in a browser's or a proxy's cache: API
            # responses and pages alike.
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
