"""The administrator's pages: users (create, roles, sites, language, deactivate, a new
second factor with its QR code, a one-time password, unlocking, ending sessions), sites
(create, edit, close) and API tokens (list, revoke). The same services, gates and audit
as the API (corridor/web/admin_routes.py); no page here shows a person.

Every form carries an idempotency key (``form_key()``): sent twice, the write is done
once. A replayed creation or second-factor reset shows the user without the secret,
which is shown once (lost it: reset the second factor)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from corridor.errors import CorridorError
from corridor.schemas import PasswordResetIn, SiteIn, SitePatch, UserIn, UserPatch
from corridor.security.roles import Role
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.protection.administration import Enrolment, PasswordReset
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.enrolment import enrolment, qr_svg, without_secret
from corridor.web.i18n import LANGUAGES
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.render import render
from corridor.web.retries import Retried, admin_keyed, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refusal_shown

router = guarded_router(include_in_schema=False)
MayUsersRead = Annotated[Caller, Depends(requires("users.admin"))]
MayUsersAdmin = Annotated[Caller, Depends(audited("users.admin"))]
MaySitesRead = Annotated[Caller, Depends(requires("sites.admin"))]
MaySitesAdmin = Annotated[Caller, Depends(audited("sites.admin"))]
SITE_FIELDS = ("name", "pcode", "locality", "latitude", "longitude", "capacity")
# Refused for what the form holds, the state it met or a record not found (a user or
# site gone meanwhile): the form again, with why (forms.REFUSED).
REFUSED = forms.REFUSED


def _shown(
    request: Request, svc: Services, who: Caller, action: str, exc: Exception, page: Response
) -> Response:
    """``page``, the form shown again with ``exc``'s refusal: its denial audited as
    ``audited`` would (a record not found)."""
    refusal_shown(svc, who, action, exc, request)
    return page


def _problems(exc: CorridorError) -> dict[str, str]:
    """field -> reason; a refusal naming no field is the form's (shown above it). A
    problem with one of a list's items (``roles[0]``: one ticked box) is the list's, on
    the fieldset of its boxes."""
    out: dict[str, str] = {}
    for p in exc.problems:
        out.setdefault(re.sub(r"\[\d+\]$", "", p.field) if p.field else p.field, p.reason)
    return out or {"form": exc.message}


def _site_options(svc: Services, keep: list[str] | None = None) -> list[tuple[str, str]]:
    """Open sites to choose from (and the closed ones a user still holds)."""
    kept = set(keep or ())
    return [(s["id"], s["name"]) for s in _sites(svc) if not s["closed_at"] or s["id"] in kept]


def _languages() -> list[tuple[str, str]]:
    return [(code, lang.name) for code, lang in LANGUAGES.items()]


def _sites(svc: Services) -> list[dict[str, Any]]:
    return svc.sites.all()  # detention facilities as labels: an administrator sees no more


def _user_form(form: FormData) -> dict[str, Any]:
    return {
        "display_name": text(form, "display_name"),
        "roles": [r for r in form.getlist("roles") if isinstance(r, str)],
        "site_ids": [s for s in form.getlist("site_ids") if isinstance(s, str)],
        "language": text(form, "language"),
    }


def _site_form(form: FormData) -> dict[str, Any]:
    return {k: v for k in SITE_FIELDS if (v := text(form, k)) is not None}


def _enrolled(
    request: Request,
    who: Caller,
    enrolled: Enrolment | None,
    user_id: str,
    svc: Services,
    status: int = 200,
) -> Response:
    """A user with the secret just made: shown once, with its QR code. ``None``: the
    form was sent again; the user as now, with no secret."""
    shown = enrolment(enrolled) if enrolled else without_secret(svc.administration.user(user_id))
    extra = {"qr": qr_svg(shown.totp_uri) if shown.totp_uri else None}
    return render(
        request, "admin_enrolment.html", {"enrolment": shown}, who=who, status=status, extra=extra
    )


@page(router, "/admin")
def overview(request: Request, svc: Svc, who: MayUsersRead) -> Response:
    users = svc.administration.users()
    data = {
        "users": len(users),
        "active_users": sum(not u["disabled"] for u in users),
        "sites": len(_sites(svc)),
        "tokens": sum(t["revoked_at"] is None for t in svc.administration.api_tokens()),
    }
    return render(request, "admin.html", data, who=who)


def _users(
    request: Request, svc: Services, who: Caller, values: dict[str, Any], errors: dict[str, str]
) -> Response:
    data = {"users": svc.administration.users()}
    extra = {
        "site_options": _site_options(svc),
        "roles": [r.value for r in Role],
        "language_options": _languages(),
        "values": values,
        "errors": errors,
    }
    status = 422 if errors else 200
    return render(request, "admin_users.html", data, who=who, status=status, extra=extra)


@page(router, "/admin/users")
def users(request: Request, svc: Svc, who: MayUsersRead) -> Response:
    return _users(request, svc, who, {"roles": [], "site_ids": []}, {})


@router.post("/admin/users")
def create_user(
    request: Request, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    body = {
        **_user_form(form),
        "username": text(form, "username") or "",
        "password": form.get("password") or "",
    }
    hook = svc.audit.admin_hook(who, "users.admin")
    try:
        data = forms.parse(UserIn, body)
        enrolled, user_id = retry.run(
            who,
            lambda guard: _with_id(
                svc.administration.create_user(
                    data, who.principal.user_id, audit=admin_keyed(guard, hook)
                )
            ),
            lambda done: (None, str(done.ref["user_id"])),
            made.user_ref(data.username),
        )
    except REFUSED as exc:
        values = {**body, "password": ""}
        page = _users(request, svc, who, values, _problems(exc))
        return _shown(request, svc, who, "users.admin", exc, page)
    return _enrolled(request, who, enrolled, user_id, svc, status=201)


def _with_id(enrolled: Enrolment) -> tuple[Enrolment | None, str]:
    return enrolled, str(enrolled.user["id"])


def _user(
    request: Request,
    svc: Services,
    who: Caller,
    user_id: str,
    errors: dict[str, str],
    values: dict[str, Any] | None = None,
) -> Response:
    user = svc.administration.user(user_id)
    tokens = [t for t in svc.administration.api_tokens() if t["user_id"] == user_id]
    extra = {
        "site_options": _site_options(svc, user["site_ids"]),
        "site_names": {s["id"]: s["name"] for s in _sites(svc)},
        "roles": [r.value for r in Role],
        "language_options": _languages(),
        "values": values or user,
        "errors": errors,
    }
    status = 422 if errors else 200
    return render(
        request,
        "admin_user.html",
        {"user": user, "tokens": tokens},
        who=who,
        status=status,
        extra=extra,
    )


@page(router, "/admin/users/{user_id}")
def user(user_id: str, request: Request, svc: Svc, who: MayUsersRead) -> Response:
    return _user(request, svc, who, user_id, {})


@router.post("/admin/users/{user_id}")
def update_user(
    user_id: str, request: Request, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    body = {k: v for k, v in _user_form(form).items() if v is not None}
    hook = svc.audit.admin_hook(who, "users.admin")
    try:
        data = forms.parse(UserPatch, body)
        enrolled: Enrolment | None = retry.run(
            who,
            lambda guard: svc.administration.update_user(
                user_id, data, who.principal.user_id, audit=admin_keyed(guard, hook)
            ),
            lambda _: None,
        )
    except REFUSED as exc:
        page = _user(request, svc, who, user_id, _problems(exc), body)
        return _shown(request, svc, who, "users.admin", exc, page)
    if enrolled is not None and enrolled.totp_secret:
        return _enrolled(request, who, enrolled, user_id, svc)
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/deactivate")
def deactivate_user(
    user_id: str, request: Request, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    try:
        retry.run(
            who,
            lambda guard: svc.administration.deactivate(
                user_id, who.principal.user_id, audit=admin_keyed(guard, hook)
            ),
            shown_again,
        )
    except REFUSED as exc:
        page = _user(request, svc, who, user_id, _problems(exc))
        return _shown(request, svc, who, "users.admin", exc, page)
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/reactivate")
def reactivate_user(
    user_id: str, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    retry.run(
        who,
        lambda guard: svc.administration.reactivate(user_id, audit=admin_keyed(guard, hook)),
        shown_again,
    )
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/second-factor")
def reset_second_factor(
    user_id: str, request: Request, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    try:
        enrolled: Enrolment | None = retry.run(
            who,
            lambda guard: svc.administration.reset_second_factor(
                user_id, who.principal.user_id, audit=admin_keyed(guard, hook)
            ),
            lambda _: None,  # sent again: no second secret, and the first is not shown again
        )
    except REFUSED as exc:
        page = _user(request, svc, who, user_id, _problems(exc))
        return _shown(request, svc, who, "users.admin", exc, page)
    return _enrolled(request, who, enrolled, user_id, svc)


@router.post("/admin/users/{user_id}/password")
def reset_password(
    user_id: str, request: Request, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    """A one-time password (the one typed, or one made and shown once); sent again, the
    user as now, with no password."""
    hook = svc.audit.admin_hook(who, "users.admin")
    typed = form.get("password")
    try:
        data = forms.parse(PasswordResetIn, {"password": typed or None})
        done: PasswordReset | None = retry.run(
            who,
            lambda guard: svc.administration.reset_password(
                user_id, data.password, who.principal.user_id, audit=admin_keyed(guard, hook)
            ),
            lambda _: None,
        )
    except REFUSED as exc:
        page = _user(request, svc, who, user_id, _problems(exc))
        return _shown(request, svc, who, "users.admin", exc, page)
    reset: dict[str, Any]
    if done is None:  # sent again: the password was shown the first time only
        reset = {"user": svc.administration.user(user_id), "password": None}
        reset |= {"sessions_ended": None, "tokens_revoked": None}
    else:
        reset = {"user": done.user, "password": done.password}
        reset |= {"sessions_ended": done.sessions_ended, "tokens_revoked": done.tokens_revoked}
    return render(request, "admin_password.html", {"reset": reset}, who=who)


@router.post("/admin/users/{user_id}/unlock")
def unlock_user(
    user_id: str, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    retry.run(
        who,
        lambda guard: svc.administration.unlock(user_id, audit=admin_keyed(guard, hook)),
        shown_again,
    )
    return see_other(f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/sessions/end")
def end_sessions(
    user_id: str, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    retry.run(
        who,
        lambda guard: svc.administration.end_sessions(user_id, audit=admin_keyed(guard, hook)),
        lambda _: 0,
    )
    return see_other(f"/admin/users/{user_id}")


def _site_list(
    request: Request, svc: Services, who: Caller, values: dict[str, Any], errors: dict[str, str]
) -> Response:
    extra = {"values": values, "errors": errors}
    status = 422 if errors else 200
    return render(
        request, "admin_sites.html", {"sites": _sites(svc)}, who=who, status=status, extra=extra
    )


@page(router, "/admin/sites")
def sites(request: Request, svc: Svc, who: MaySitesRead) -> Response:
    return _site_list(request, svc, who, {}, {})


@router.post("/admin/sites")
def create_site(
    request: Request, form: Form, svc: Svc, who: MaySitesAdmin, retry: Retried
) -> Response:
    body = {**_site_form(form), "kind": text(form, "kind") or ""}
    hook = svc.audit.hook(who, "sites.admin")
    try:
        data = forms.parse(SiteIn, body)
        site_id = retry.run(
            who,
            lambda guard: str(svc.sites.create(data, audit=guard(hook))["id"]),
            lambda done: str(done.ref["site_id"]),
            made.site_ref,
        )
    except REFUSED as exc:
        page = _site_list(request, svc, who, body, _problems(exc))
        return _shown(request, svc, who, "sites.admin", exc, page)
    return see_other(f"/admin/sites/{site_id}")


def _site(
    request: Request,
    svc: Services,
    who: Caller,
    site_id: str,
    errors: dict[str, str],
    values: dict[str, Any] | None = None,
) -> Response:
    site = svc.sites.get(site_id)
    extra = {"values": values or {k: site[k] for k in SITE_FIELDS}, "errors": errors}
    status = 422 if errors else 200
    return render(request, "admin_site.html", {"site": site}, who=who, status=status, extra=extra)


@page(router, "/admin/sites/{site_id}")
def site(site_id: str, request: Request, svc: Svc, who: MaySitesRead) -> Response:
    return _site(request, svc, who, site_id, {})


@router.post("/admin/sites/{site_id}")
def update_site(
    site_id: str, request: Request, form: Form, svc: Svc, who: MaySitesAdmin, retry: Retried
) -> Response:
    body = _site_form(form)
    hook = svc.audit.admin_hook(who, "sites.admin")
    try:
        data = forms.parse(SitePatch, body)
        retry.run(
            who,
            lambda guard: svc.sites.update(site_id, data, audit=admin_keyed(guard, hook)),
            shown_again,
        )
    except REFUSED as exc:
        page = _site(request, svc, who, site_id, _problems(exc), body)
        return _shown(request, svc, who, "sites.admin", exc, page)
    return see_other(f"/admin/sites/{site_id}")


@router.post("/admin/sites/{site_id}/close")
def close_site(
    site_id: str, request: Request, form: Form, svc: Svc, who: MaySitesAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "sites.admin")
    try:
        retry.run(
            who,
            lambda guard: svc.sites.close(site_id, audit=admin_keyed(guard, hook)),
            shown_again,
        )
    except REFUSED as exc:
        page = _site(request, svc, who, site_id, _problems(exc))
        return _shown(request, svc, who, "sites.admin", exc, page)
    return see_other(f"/admin/sites/{site_id}")


@page(router, "/admin/tokens")
def tokens(request: Request, svc: Svc, who: MayUsersRead) -> Response:
    return render(
        request, "admin_tokens.html", {"tokens": svc.administration.api_tokens()}, who=who
    )


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: str, form: Form, svc: Svc, who: MayUsersAdmin, retry: Retried
) -> Response:
    hook = svc.audit.admin_hook(who, "users.admin")
    retry.run(
        who,
        lambda guard: svc.administration.revoke_token(token_id, audit=admin_keyed(guard, hook)),
        shown_again,
    )
    return see_other("/admin/tokens")
