"""The page forms sent by ``static/forms.js`` (header ``X-Corridor-Form: 1``) are told
where to go next instead of being redirected: a fetch that followed a 303 could not tell
"registered, here is the household" from "signed out, here is the sign-in page" without
loading the page it was sent to (and auditing a read of it). Their 302/303 answers become
``200`` with the target in ``X-Corridor-Location``; the script then goes there, or keeps
the draft and sends the officer to sign in (docs/web.md, "Nothing typed is lost")."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-corridor-form"
LOCATION = b"x-corridor-location"


class FormFetch:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (HEADER, b"1") not in scope.get("headers", []):
            await self.app(scope, receive, send)
            return

        async def told(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (302, 303):
                headers = [
                    (LOCATION if n.lower() == b"location" else n, v)
                    for n, v in message.get("headers", [])
                ]
                message = {**message, "status": 200, "headers": headers}
            await send(message)

        await self.app(scope, receive, told)
