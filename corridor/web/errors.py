"""Every error rendered in one place, in one shape:

``{"status": 422, "code": "invalid", "message": "...", "errors": [{"field", "reason"}]}``

The API (``/api/...``) and the pages' ``.json`` twins get that JSON, in English; a browser
on a page gets the same status and message as an HTML page in the reader's language
(messages and reasons are ``corridor.text.Text``, translated by the page's ``tr`` filter),
or is sent to sign in.

"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.errors import (
    Conflict,
    CorridorError,
    StorageFull,
)
from corridor.security.errors import (
    PasswordChangeRequired,
    Throttled,
)
from corridor.services.protection.accounts import Caller
from corridor.storage.database import storage_failure
from corridor.text import N_, Text
from corridor.web import shape_errors
from corridor.web.statuses import status_of


def error_body(
    status: int, code: str, message: str, errors: list[dict[str, str]]
) -> dict[str, object]:
    return {"status": status, "code": code, "message": message, "errors": errors}


def _field_path(loc: tuple[object, ...], kind: object = None) -> str:
    if kind == "json_invalid":  # the body is no JSON: its loc holds a character's position
        return "body"
    parts = [p for p in loc if p not in ("body", "query", "path")]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "body"


def _reason(error: dict[str, Any]) -> str:
    """Pydantic's message (the API's reasons are pydantic's, in English); a body that is
    not JSON is said as such, with where it stops being JSON (FastAPI says only "JSON
    decode error", its field the character's position)."""
    if error.get("type") == "json_invalid":
        loc = tuple(error.get("loc", ()))
        at = next((p for p in loc if isinstance(p, int)), None)
        why = str((error.get("ctx") or {}).get("error") or "").strip()
        where = f" at character {at}" if at is not None else ""
        return f"is not valid JSON ({why}{where})" if why else f"is not valid JSON{where}"
    return str(error.get("msg", "invalid"))


# Where a user signed in with an administrator's one-time password is sent first.
PASSWORD_PAGE = "/account/password"
JSON_PATHS = ("/api/", "/openapi.json", "/docs", "/redoc")


def wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(JSON_PATHS) or path.endswith(".json"))


async def signed_in(request: Request) -> Caller | None:
    """Who is signed in, for the menu of an error page: None when nobody is, or when the
    second factor is still owed (a page behind it shows no menu)."""
    from corridor.security.sessions import COOKIE_NAME
    from corridor.web.auth import bearer_token

    session, bearer = request.cookies.get(COOKIE_NAME), bearer_token(request)
    if not session and not bearer:
        return None
    services = request.app.state.services
    try:
        who: Caller = await run_in_threadpool(services.accounts.resolve, session, bearer)
    except (CorridorError, DBAPIError):
        return None
    if not who.second_factor and any(who.matrix.requires_totp(r) for r in who.principal.roles):
        return None
    return who


def _way_back(request: Request) -> str | None:
    """The page the reader came from on this site (the form they sent), if any."""
    came_from = urlsplit(request.headers.get("referer", ""))
    if came_from.netloc != request.url.netloc or not came_from.path.startswith("/"):
        return None
    if came_from.path == request.url.path and request.method == "GET":
        return None
    return came_from.path + (f"?{came_from.query}" if came_from.query else "")


def html_error(
    request: Request,
    status: int,
    message: str,
    problems: list[dict[str, str]],
    code: str = "error",
    *,
    who: Caller | None = None,
    headers: dict[str, str] | None = None,
    wait_minutes: int | None = None,
) -> Response:
    """The error as a page, inside the normal layout with the menu of ``who`` and a way
    back; a missing login (or second factor) sends the browser to sign in (htmx requests
    are told to go there with ``HX-Redirect``)."""
    if code == PasswordChangeRequired.code:  # a one-time password: changed first
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": PASSWORD_PAGE})
        return RedirectResponse(PASSWORD_PAGE, status_code=303)
    if status == 401:
        if request.headers.get("hx-request") == "true":
            # Back to the page the fragment was asked from (static/forms.js keeps what
            # its forms held before htmx leaves it).
            page = urlsplit(request.headers.get("hx-current-url", "")).path
            return Response(status_code=204, headers={"HX-Redirect": _login_then(page)})
        return RedirectResponse(login_url(request), status_code=303)
    from corridor.web.pages.render import render

    data = {"status": status, "message": message, "problems": problems}
    extra = {"code": code, "back": _way_back(request), "wait_minutes": wait_minutes}
    response = render(request, "error.html", data, who=who, status=status, extra=extra)
    response.headers.update(headers or {})
    return response


def login_url(request: Request) -> str:
    """Where a signed-out browser signs in: back to the page it asked for afterwards (a
    GET; a form's script sends its own page, with the draft it kept)."""
    return _login_then(request.url.path if request.method == "GET" else "")


def _login_then(path: str) -> str:
    if not path.startswith("/") or path.startswith(("//", "/login")) or path == "/":
        return "/login"
    return "/login?" + urlencode({"next": path})


def install(app: FastAPI) -> None:
    @app.exception_handler(CorridorError)
    async def corridor_error(request: Request, exc: CorridorError) -> Response:
        status = status_of(exc)
        headers = {}
        wait = None
        if isinstance(exc, Throttled):
            seconds = int(exc.retry_after.total_seconds()) + 1
            headers["Retry-After"] = str(seconds)
            wait = max(1, math.ceil(exc.retry_after.total_seconds() / 60))
        if wants_html(request):
            problems = [p.as_dict() for p in exc.problems]
            # The page names the code for its script (a stale form goes back, refilled).
            who = None if status == 401 else await signed_in(request)
            return html_error(
                request,
                status,
                exc.message,
                problems,
                exc.code,
                who=who,
                headers=headers,
                wait_minutes=wait,
            )
        return JSONResponse(
            error_body(status, exc.code, exc.message, [p.as_dict() for p in exc.problems]),
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        """A full disk met outside a write transaction (a read's temporary files), or two
        writers colliding where no lock ordered them: said as such, never as a fault.
        Anything else is a fault (500). The database's own message never reaches the
        user (it may quote values)."""
        failure = storage_failure(exc)
        if failure == "full":
            return await corridor_error(request, StorageFull())
        if failure == "contention":
            clash = Conflict(N_("The record was changed at the same moment; try again"))
            return await corridor_error(request, clash)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_path(tuple(e.get("loc", ())), e.get("type")), "reason": _reason(e)}
            for e in exc.errors()
        ]
        if wants_html(request):
            shown = [
                {
                    "field": _field_path(tuple(e.get("loc", ())), e.get("type")),
                    "reason": shape_errors.reason(e),
                }
                for e in exc.errors()
            ]
            who = await signed_in(request)
            return html_error(request, 422, N_("The input is not valid"), shown, who=who)
        return JSONResponse(
            error_body(422, "invalid", "The input is not valid", errors), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        if wants_html(request) and exc.status_code in (404, 405):
            detail = str(exc.detail)
            message = Text("Not found", english=detail) if detail == "Not Found" else detail
            who = await signed_in(request)
            return html_error(request, exc.status_code, message, [], who=who)
        return JSONResponse(
            error_body(exc.status_code, code, str(exc.detail), []),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
