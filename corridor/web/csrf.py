"""CSRF protection for the HTML forms: a double-submit token tied to the session.

The browser holds a random secret in a ``__Host-`` cookie; every form carries
``HMAC(secret, session id)`` in a hidden field (htmx sends it as ``X-CSRF-Token``). A
page from elsewhere can read neither the cookie nor the page, so it cannot forge the
token; a new session (after login) makes every older token void.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.datastructures import FormData

from corridor.errors import Forbidden
from corridor.security.sessions import COOKIE_NAME
from corridor.text import N_

__all__ = [
    "CSRF_COOKIE",
    "FIELD",
    "HEADER",
    "StaleForm",
    "checked_form",
    "new_secret",
    "token_for",
]

CSRF_COOKIE = "__Host-corridor_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_for(secret: str, session_id: str | None) -> str:
    """The token a form must carry for this browser secret and session."""
    message = f"csrf|{session_id or ''}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class StaleForm(Forbidden):
    """A form whose token belongs to another session (signed in again since, elsewhere):
    the page's script reloads the form and fills it again from its draft."""

    code = "stale_form"


async def checked_form(request: Request) -> FormData:
    """The posted form, once its token matches this browser and session (403 if not)."""
    form = await request.form()
    secret = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(HEADER) or form.get(FIELD)
    if not secret or not isinstance(sent, str):
        raise StaleForm(N_("This form did not come from this session: reload the page"))

    expected = token_for(secret, request.cookies.get(COOKIE_NAME))
    if not hmac.compare_digest(expected, sent):
        raise StaleForm(N_("This form did not come from this session: reload the page"))

    return form
