"""Rendering a page: one template environment per language, the CSRF token, the caller's
permissions for the navigation, and the ``.json`` twin of every page.

A page view gathers ``data`` from the services and calls ``render``: the same ``data``
becomes the HTML page or, on the ``.json`` twin of the URL, the JSON document.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from pydantic import BaseModel

from corridor.domain.birth import BRACKETS
from corridor.domain.ids import uuid7
from corridor.security.roles import default_matrix
from corridor.security.sessions import COOKIE_NAME
from corridor.services.protection import detention
from corridor.services.protection.accounts import Caller
from corridor.text import N_, translated
from corridor.web import charts
from corridor.web.csrf import CSRF_COOKIE, new_secret, token_for
from corridor.web.i18n import LANG_COOKIE, LANGUAGES, Language, choose, translations

__all__ = ["environment", "language_of", "may", "render", "wants_json"]

TEMPLATES = Path(__file__).parent.parent / "templates"


def _when(value: datetime | str | None, code: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(format_datetime(value, "d MMM y, HH:mm", locale=code, tzinfo=value.tzinfo))


def _number(value: int | float | None, code: str, below: int | None = None) -> str:
    """A count as the reader's language writes it (12,345 in English); a count withheld
    from figures read as aggregates only (``None``, with ``below``) as ``<5``."""
    if value is None:
        return "<" + str(format_decimal(below, locale=code)) if below else ""
    return str(format_decimal(value, locale=code))


def _day(value: date | str | None, code: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return str(format_date(value, "d/M", locale=code))


# The neutral name a detention facility's row holds in the clear (``detention.label``):
# the words are ours, so they are shown in the reader's language; the code stays.
_FACILITY_LABEL = re.compile(
    rf"\b{re.escape(detention.LABEL)} ([A-Za-z0-9_-]{{8}})(?![A-Za-z0-9_-])"
)


def _facility_label(value: Any, gettext: Any) -> Any:
    """Every value a template prints: a detention facility's neutral name in the page's
    language ("مرفق احتجاز 3fA9_x2Q"), anything else as it is. One place for every page
    that names a site (lists, choices, the home page, the drill), whatever the template,
    and for the sentences that name one (a service's "site ... is closed", an export's
    description), as translated by ``tr``."""
    if not isinstance(value, str) or detention.LABEL not in value:
        return value

    def label(found: re.Match[str]) -> str:
        words = translated(N_("Detention facility {code}", code=found.group(1)), gettext)
        return str(escape(words)) if isinstance(value, Markup) else words

    named = _FACILITY_LABEL.sub(label, value)
    return Markup(named) if isinstance(value, Markup) else named


@cache
def environment(code: str) -> Environment:
    """The template environment of one language (built once, shared by requests)."""
    catalogue = translations(code)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda v: _facility_label(v, catalogue.gettext),
    )
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    # Texts from the services (problems, the engine's explanations, the case log): in
    # this language where they carry their message, as they are otherwise.
    env.filters["tr"] = lambda v: translated(v, catalogue.gettext) if isinstance(v, str) else v
    # A stored English text the system wrote (an audit event's purpose): in the reader's
    # language where it is a message of the catalogue; anything typed by a person as it is.
    env.filters["stored"] = lambda v: catalogue.gettext(v) if isinstance(v, str) and v else v
    env.filters["when"] = lambda v: _when(v, code)
    env.filters["day"] = lambda v: _day(v, code)
    env.filters["num"] = lambda v, below=None: _number(v, code, below)
    env.globals["bracket_pairs"] = [(b, b) for b in BRACKETS]
    env.globals["pyramid"] = lambda counts, brackets, labels, below=None: charts.pyramid(
        counts, brackets, labels, lambda n: _number(n, code, below)
    )
    # Each rendering of a write form carries a key of its own: sent twice, it writes once.
    env.globals["form_key"] = uuid7
    env.globals["daily_bars"] = lambda days, title, below=None: charts.daily_bars(
        [(_day(d, code), n) for d, n in days], title, lambda n: _number(n, code, below)
    )
    return env


def language_of(request: Request) -> Language:
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def may(who: Caller | None) -> dict[str, bool]:
    """Action -> whether one of the caller's roles allows it (drives the navigation only;
    every route checks again with ``requires``)."""
    matrix = who.matrix if who else default_matrix()
    roles = who.principal.roles if who else frozenset()
    return {a: any(matrix.allowed(r, a, same_site=True) for r in roles) for a in matrix.actions}


def _tracing_here(request: Request, allowed: dict[str, bool]) -> bool:
    """Whether tracing is done at this installation (not at a site node, issue 16), asked
    of the services only for a caller who may read or write tracing."""
    if not (allowed.get("tracing.read") or allowed.get("tracing.write")):
        return True
    return bool(request.app.state.services.tracing.done_here())


def _plain(value: Any) -> Any:
    """The gate's read models as the templates and the JSON twin take them."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json")


def render(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    who: Caller | None = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """``data`` as the page ``template``, or as JSON on the ``.json`` twin; ``extra`` is
    for the page only (form state, labels)."""
    data = {k: _plain(v) for k, v in data.items()}
    if wants_json(request):
        return JSONResponse(jsonable_encoder(data), status_code=status)
    lang = language_of(request)
    allowed = may(who)
    # At a site node no tracing write is offered (the service refuses them all): the
    # navigation and the pages leave out what can only fail, and say where tracing is.
    tracing_here = _tracing_here(request, allowed)
    if not tracing_here:
        allowed["tracing.write"] = False
    secret = request.cookies.get(CSRF_COOKIE)
    fresh = secret is None
    secret = secret or new_secret()
    context: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": LANGUAGES,
        "csrf_token": token_for(secret, request.cookies.get(COOKIE_NAME)),
        "who": who,
        "may": allowed,
        "tracing_here": tracing_here,
        "path": request.url.path,
        "htmx": request.headers.get("hx-request") == "true",
        # A write refused for what was decided elsewhere, its form shown again here
        # (``writes.refusal_shown``): why, above the page.
        "refusal": getattr(request.state, "refusal", None),
        **data,
        **(extra or {}),
    }
    html = environment(lang.code).get_template(template).render(context)
    response = HTMLResponse(html, status_code=status)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, secret, secure=True, httponly=True, samesite="strict", path="/"
        )
    return response
