"""Request size limits: a body larger than the settings allow answers 413 before the
app reads it (its ``Content-Length``), or as soon as a streamed body passes the limit.

Forms and JSON get ``max_body_bytes``; file uploads (``multipart/form-data``: imports)
and site nodes' bundles (``/api/sync/``) get ``max_upload_bytes``. A plain ASGI
middleware, like ``headers.py``.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corridor.web.errors import error_body


def too_large_body(limit: int) -> dict[str, object]:
    reason = f"the request body is larger than {limit} bytes"
    return error_body(
        413, "too_large", "The request is too large", [{"field": "body", "reason": reason}]
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> int:
        headers = dict(scope.get("headers", []))
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # A site node's bundle (issue 16) is a file, as an upload is.
        bundle = str(scope.get("path", "")).startswith("/api/sync/")
        upload = kind == b"multipart/form-data" or bundle
        return self.max_upload_bytes if upload else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _answer_413(send, limit)
            return
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    # Answer now; the app is told the client left, and whatever it
                    # answers to that is dropped.
                    refused = True
                    await _answer_413(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)


async def _answer_413(send: Send, limit: int) -> None:
    body = json.dumps(too_large_body(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
