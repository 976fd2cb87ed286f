"""One log record per request, with no personal data: method, route template (never the
path or query string, which can hold an id a name was searched by), status, duration,
request id, and the caller's user id once the request resolved one (``note_caller``).

A plain ASGI middleware, like ``headers.SecurityHeaders``. The request id is the
client's ``X-Request-ID`` when it is a short plain token (a proxy's), else a new one; it
is sent back in the answer's ``X-Request-ID`` so that a user's report can be matched to
the line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corridor.logs import FIELDS

log = logging.getLogger("corridor.request")
HEADER = b"x-request-id"
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._-]{8,64}")
_USER = "corridor_user_id"


def note_caller(request: Request, user_id: str) -> None:
    """Record who is calling, for the request's log line (their id only)."""
    setattr(request.state, _USER, user_id)


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "-"  # no route matched: still not the path itself


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(HEADER, b"")
        request_id = given.decode() if _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500  # unless the app answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    FIELDS: {
                        "method": scope["method"],
                        "route": _route(scope),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "request_id": request_id,
                        "user_id": state.get(_USER),
                    }
                },
            )
