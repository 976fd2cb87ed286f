"""Authentication and the role gate: who is calling, and may their roles do this?

Browsers hold a server-side session (cookie); machine clients present an API token
(``Authorization: Bearer ...``). A session opened with the password alone reaches no
endpoint touching personal data until the second factor is given.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from corridor.errors import Forbidden, Unauthenticated
from corridor.responses import IssuedToken, LoggedOut, LoginResult, Me, PasswordChanged
from corridor.schemas import Moment, PasswordChangeIn, Strict
from corridor.security.roles import default_matrix
from corridor.security.sessions import COOKIE_ATTRIBUTES, COOKIE_NAME
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.text import N_
from corridor.web.deps import services
from corridor.web.request_log import note_caller
from corridor.web.retries import Guard, Retried, key_only
from corridor.web.routers import guarded_router

router = guarded_router(prefix="/api/auth", tags=["authentication"])
Svc = Annotated[Services, Depends(services)]


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class SecondFactorIn(Strict):
    code: str = Field(min_length=6, max_length=8)


def _set_cookie(response: Response, session_id: str) -> None:
    response.set_cookie(COOKIE_NAME, session_id, **COOKIE_ATTRIBUTES)  # type: ignore[arg-type]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def caller(request: Request, svc: Svc) -> Caller:
    who = svc.accounts.resolve(request.cookies.get(COOKIE_NAME), bearer_token(request))
    note_caller(request, who.principal.user_id)
    return who


def caller_changing_password(request: Request, svc: Svc) -> Caller:
    """The caller, also when they signed in with a one-time password: the change of
    password is the one thing such a session may do."""
    cookie, bearer = request.cookies.get(COOKIE_NAME), bearer_token(request)
    who = svc.accounts.resolve(cookie, bearer, expired_ok=True)
    note_caller(request, who.principal.user_id)
    return who


def requires(action: str) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency: the caller, if one of their roles allows ``action`` (and, for
    personal data, the second factor was given)."""
    if action not in default_matrix().actions:  # fail at start-up, not at the first request
        raise ValueError(f"unknown action {action!r}")

    # async: the checks are in memory, so they need no trip through the thread pool.
    async def check(request: Request, svc: Svc, who: Annotated[Caller, Depends(caller)]) -> Caller:
        matrix = svc.matrix  # the app's policy (settings), not a process-wide one
        personal = bool(matrix.actions[action])
        roles = who.principal.roles
        # A role that needs TOTP gives it before any gated action, personal data or not
        # (an administrator's password alone creates no user).
        if not who.second_factor and any(matrix.requires_totp(r) for r in roles):
            raise Unauthenticated(N_("Give the second factor (TOTP code) first"))
        refusal = None
        if who.token_scopes is not None and action not in who.token_scopes:
            refusal = N_("This token is not for {action}", action=action)
        elif not any(matrix.allowed(r, action, same_site=True) for r in roles):
            refusal = N_("None of your roles may do {action}", action=action)
        if refusal:
            if personal:  # a denied access to personal data is audited too
                await run_in_threadpool(
                    svc.gate.refused, who, action, [request.path_params.get("person_id")]
                )
            raise Forbidden(refusal)
        anywhere = any(matrix.allowed(r, action, same_site=False) for r in roles)
        return replace(who, scope=None if anywhere else who.principal.site_ids)

    check.action = action  # type: ignore[attr-defined]  # read by the matrix test
    return check


@router.post("/login")
def login(body: LoginIn, response: Response, svc: Svc) -> LoginResult:
    """Check the password; then give the second factor if your roles need one."""
    result = svc.accounts.login(body.username, body.password)
    _set_cookie(response, result.session_id)
    return LoginResult(
        second_factor_required=result.second_factor_required,
        password_change_required=result.password_change_required,
    )


@router.post("/second-factor")
def second_factor(
    body: SecondFactorIn, request: Request, response: Response, svc: Svc
) -> LoginResult:
    """The TOTP code; a new session id replaces the password-only one."""
    session_id = request.cookies.get(COOKIE_NAME)
    if not session_id:
        raise Unauthenticated(N_("Log in with your password first"))

    _set_cookie(response, svc.accounts.second_factor(session_id, body.code))
    return LoginResult(second_factor_required=False)


@router.post("/password")
def change_password(
    body: PasswordChangeIn,
    request: Request,
    svc: Svc,
    who: Annotated[Caller, Depends(caller_changing_password)],
) -> PasswordChanged:
    """Your own new password, with your current one (a wrong one counts as a failed
    sign-in: throttled, then locked). This session stays; your other sessions and every
    API token of yours end (the answer says how many). From a signed-in session, not a
    token. No ``Idempotency-Key``: the body is passwords, never hashed into a stored row;
    sent again, the current password is no longer the one (422)."""
    changed = svc.accounts.change_password(
        who,
        request.cookies.get(COOKIE_NAME) or "",
        body.current_password,
        body.new_password,
        audit=svc.audit.account_hook(who),
    )
    return PasswordChanged(
        sessions_ended=changed.sessions_ended, tokens_revoked=changed.tokens_revoked
    )


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    # An action's name is short: one far too long is refused on its item, not quoted
    # back in the refusal of an action no role may do.
    scopes: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        min_length=1, description="Actions the token may do"
    )
    expires_at: Moment | None = None


@router.post("/tokens", status_code=201)
def issue_token(
    body: TokenIn, svc: Svc, who: Annotated[Caller, Depends(caller)], retry: Retried
) -> IssuedToken:
    """An API token for a machine client (shown once; only its hash is kept). Sent again
    with the same ``Idempotency-Key``: the token's id and scopes, with ``token`` null (the
    secret is never shown twice: lost the answer, revoke the token and ask for another)."""
    scopes = sorted(set(body.scopes))

    def issue(guard: Guard) -> IssuedToken:
        token_id, secret = svc.accounts.issue_token(
            who, body.name, body.scopes, body.expires_at, audit=key_only(guard)
        )
        return IssuedToken(id=token_id, token=secret, scopes=scopes)

    return retry.run(
        who,
        issue,
        lambda done: IssuedToken(id=done.ref["token_id"], token=None, scopes=scopes),
        made.token_ref(who.principal.user_id),
    )


@router.post("/logout")
def logout(request: Request, response: Response, svc: Svc) -> LoggedOut:
    session_id = request.cookies.get(COOKIE_NAME)
    if session_id:
        svc.accounts.logout(session_id)
    response.delete_cookie(COOKIE_NAME, path="/")
    return LoggedOut(logged_out=True)


@router.get("/me")
def me(who: Annotated[Caller, Depends(caller)]) -> Me:
    return Me(
        user_id=who.principal.user_id,
        roles=sorted(who.principal.roles),
        site_ids=sorted(who.principal.site_ids),
        second_factor=who.second_factor,
    )
