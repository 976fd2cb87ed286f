"""Signing in (password, then the TOTP code), signing out, the language choice, home."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from corridor.errors import CorridorError
from corridor.security.errors import Throttled
from corridor.security.sessions import COOKIE_ATTRIBUTES, COOKIE_NAME
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE, LANGUAGES
from corridor.web.pages.common import Form, MaybeCaller, Svc, see_other, text
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router

router = guarded_router(include_in_schema=False)
ONE_YEAR = 365 * 24 * 3600
PASSWORD_PAGE = "/account/password"


def _with_session(response: Response, session_id: str, svc: Services) -> Response:
    """Sets the session cookie, and the language cookie to the user's own choice: the
    language follows the user from one tablet to the next."""
    response.set_cookie(COOKIE_NAME, session_id, **COOKIE_ATTRIBUTES)  # type: ignore[arg-type]
    try:
        who = svc.accounts.resolve(session_id, None)
    except CorridorError:
        return response
    code = svc.accounts.language(who.principal.user_id)
    if code in LANGUAGES:
        _set_language(response, code)
    return response


def _set_language(response: Response, code: str) -> None:
    response.set_cookie(LANG_COOKIE, code, max_age=ONE_YEAR, secure=True, samesite="lax", path="/")


@router.get("/")
def home(request: Request, svc: Svc, who: MaybeCaller) -> Response:
    """Sites to open (signed in) or the way to sign in."""
    sites: list[dict[str, Any]] = []
    if who is not None:
        mine = who.principal.site_ids
        sites = [s for s in svc.sites.all() if not mine or s["id"] in mine]
    return render(request, "home.html", {"sites": sites}, who=who)


def _back(target: str | None) -> str:
    """Where to go after signing in: a path of Corridor's (the form whose draft was kept
    when the session ended), else the start."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return "/" if target.startswith("/login") else target


def _login_page(
    request: Request, step: str, error: Any, status: int = 200, back: str = "/"
) -> Response:
    extra = {"step": step, "error": error, "next": back}
    return render(request, "login.html", {}, status=status, extra=extra)


@router.get("/login")
def login_page(request: Request, who: MaybeCaller, next: str | None = None) -> Response:  # noqa: A002
    step = "code" if who is not None and not who.second_factor else "password"
    return _login_page(request, step, None, back=_back(next))


@router.post("/login")
def login(request: Request, form: Form, svc: Svc) -> Response:
    back = _back(text(form, "next"))
    try:
        result = svc.accounts.login(text(form, "username") or "", text(form, "password") or "")
    except CorridorError as exc:
        status = 429 if exc.code == "throttled" else 401
        response = _login_page(request, "password", exc, status, back)
        if isinstance(exc, Throttled):  # how long to wait, for the reader and the browser
            response.headers["Retry-After"] = str(int(exc.retry_after.total_seconds()) + 1)
        return response
    if result.second_factor_required:
        target = "/login" if back == "/" else "/login?" + urlencode({"next": back})
    elif result.password_change_required:  # an administrator's one-time password
        target = PASSWORD_PAGE
    else:
        target = back
    return _with_session(see_other(target), result.session_id, svc)


@router.post("/login/code")
def second_factor(request: Request, form: Form, svc: Svc) -> Response:
    session_id = request.cookies.get(COOKIE_NAME) or ""
    back = _back(text(form, "next"))
    try:
        new_id = svc.accounts.second_factor(session_id, text(form, "code") or "")
    except CorridorError as exc:
        status = 429 if exc.code == "throttled" else 401
        response = _login_page(request, "code", exc, status, back)
        if isinstance(exc, Throttled):  # how long to wait, as for the password
            response.headers["Retry-After"] = str(int(exc.retry_after.total_seconds()) + 1)
        return response
    who = svc.accounts.resolve(new_id, None, expired_ok=True)
    target = PASSWORD_PAGE if who.principal.password_expired else back
    return _with_session(see_other(target), new_id, svc)


@router.post("/logout")
def logout(request: Request, form: Form, svc: Svc) -> Response:
    session_id = request.cookies.get(COOKIE_NAME)
    if session_id:
        svc.accounts.logout(session_id)
    response = see_other("/login")
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.post("/language")
def choose_language(request: Request, form: Form, svc: Svc, who: MaybeCaller) -> Response:
    """Store the language: in a cookie (it names a language, nothing personal) and, for a
    signed-in user, with the user, who finds it again on any tablet."""
    code = text(form, "lang") or ""
    back = text(form, "next") or "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"  # only ever back into Corridor
    response = see_other(back)
    if code in LANGUAGES:
        _set_language(response, code)
        if who is not None:
            svc.accounts.set_language(who.principal.user_id, code)
    return response
