"""The signed-in user's own account: changing their password (also the one thing a
session signed in with an administrator's one-time password may do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.errors import Problem, ValidationFailed
from corridor.schemas import PasswordChangeIn
from corridor.security.sessions import COOKIE_NAME
from corridor.services.protection.accounts import Caller
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import caller_changing_password
from corridor.web.pages.common import Form, Svc
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router

router = guarded_router(include_in_schema=False)
Me = Annotated[Caller, Depends(caller_changing_password)]


def _page(request: Request, who: Caller, errors: dict[str, str], status: int = 200) -> Response:
    extra = {"errors": errors, "expired": who.principal.password_expired, "changed": None}
    return render(request, "account_password.html", {}, who=who, status=status, extra=extra)


@router.get("/account/password")
def password_page(request: Request, who: Me) -> Response:
    return _page(request, who, {})


@router.post("/account/password")
def change_password(request: Request, form: Form, svc: Svc, who: Me) -> Response:
    """No idempotency key: the form is passwords (never hashed into a stored row), and
    sent again its current password is no longer the one."""
    names = ("current_password", "new_password", "new_password_again")
    values = {k: v if isinstance(v := form.get(k), str) else "" for k in names}
    try:
        data = forms.parse(
            PasswordChangeIn,
            {k: values[k] for k in ("current_password", "new_password")},
        )
        if values["new_password_again"] != data.new_password:
            reason = N_("does not match the new password")
            raise ValidationFailed([Problem("new_password_again", reason)])
        changed = svc.accounts.change_password(
            who,
            request.cookies.get(COOKIE_NAME) or "",
            data.current_password,
            data.new_password,
            audit=svc.audit.account_hook(who),
        )
    except ValidationFailed as exc:
        return _page(request, who, forms.problems_by_field(exc), status=422)
    extra = {"errors": {}, "expired": False, "changed": changed}
    return render(request, "account_password.html", {}, who=who, extra=extra)
