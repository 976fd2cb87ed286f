"""What every page module uses: the services, the checked form, the optional caller, and
``page`` to register a view under its URL and the URL's ``.json`` twin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from corridor.errors import Unauthenticated
from corridor.security.sessions import COOKIE_NAME
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.web.auth import bearer_token
from corridor.web.csrf import checked_form
from corridor.web.deps import services
from corridor.web.request_log import note_caller

Svc = Annotated[Services, Depends(services)]
Form = Annotated[FormData, Depends(checked_form)]
F = TypeVar("F", bound=Callable[..., Any])


def optional_caller(request: Request, svc: Svc) -> Caller | None:
    try:
        who = svc.accounts.resolve(request.cookies.get(COOKIE_NAME), bearer_token(request))
    except Unauthenticated:
        return None
    note_caller(request, who.principal.user_id)
    return who


MaybeCaller = Annotated[Caller | None, Depends(optional_caller)]


def page(router: APIRouter, path: str) -> Callable[[F], F]:
    """Register a GET view at ``path`` and at ``path.json`` (the same data as JSON)."""

    def register(view: F) -> F:
        router.get(f"{path}.json")(view)  # first: "{id}.json" must not match "{id}"
        router.get(path)(view)
        return view

    return register


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: the browser GETs the result (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)


def text(form: FormData, name: str) -> str | None:
    """A form field as stripped text; ``None`` when empty or missing."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
