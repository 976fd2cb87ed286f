"""Every page speaks the reader's language, generated from the route table (docs/web.md,
"Languages").

For every page of the route table (``kind`` "page": an HTML GET), for every role (the
roles the gate lets in, on every record of the world; a role the gate refuses, its 403
page), and every form that reads (a search) or is refused with a bad value (the posts of
tests/api/test_bad_input_every_route.py), each in Arabic and in Kurmanji (the language
cookie), the text a reader sees (text nodes; a control's title, placeholder, aria-label,
a button's value; not <script>/<style>) holds:

1. no English message of the catalogue (a template's text, a page's ``_()``, a service's
   ``N_()`` problem, explanation or log line) whose translation differs;
2. no stored code shown raw (``consent_withdrawn``, ``exit_point``: a snake_case word),
   no Python repr (``None``, ``True``, ``[]``, ``{'``), no placeholder left unfilled
   (``%(name)s``, ``{name}``);
3. in Arabic, ``dir="rtl"`` on <html>.

The world is planted once for the module (tests/support/route_world.py) and nothing
here writes to it (the forms are reads, or refused before writing). Pages do not differ
by database for their language: SQLite only.
"""

from __future__ import annotations

import functools
import html.parser
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, select

from corridor.formats import registry
from corridor.security.roles import Role, default_matrix
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.tables import metadata
from corridor.web import create_app
from corridor.web.i18n import LANG_COOKIE, translations
from tests.api.test_bad_input_every_route import FORM_CASES, FORM_ROLE
from tests.conftest import MASTER_KEY, Clock, world_database
from tests.support.route_table import ENQUIRER, NO_KEY, RouteCase, fill, route_cases
from tests.support.route_world import (
    DETENTION_LOCALITY,
    DETENTION_NAME,
    RECORDS,
    SECOND_ENQUIRER,
    THIRD_ENQUIRER,
    World,
    build_world,
    close_worlds,
    token_client,
    with_form_secret,
)

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = [c for c in route_cases(APP) if not c.missing]
CASE_OF = {c.key: c for c in CASES}
PAGES = [c for c in CASES if c.kind == "page"]
# Forms that only read (a search): posted as the route table posts them.
READ_FORMS = [c for c in CASES if c.kind == "form" and NO_KEY.get(c.key, "").startswith("a read")]
WRITE_FORMS = [c for c in CASES if c.kind == "form" and c not in READ_FORMS]
LANGS = ("ar", "ku")
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
ROLES = list(Role)

# -- what a reader sees ---------------------------------------------------------------


class _Visible(html.parser.HTMLParser):
    """The text nodes of a page (not in <script>/<style>), and the attributes a reader
    meets (title, placeholder, aria-label, alt; a button's value)."""

    HIDDEN = frozenset({"script", "style"})
    SEEN = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.html_attrs: dict[str, str | None] = {}
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        if tag in self.HIDDEN:
            self._hidden += 1
        for name in self.SEEN:
            if a.get(name):
                self.texts.append(a[name] or "")
        button = tag == "button" or (
            tag == "input" and (a.get("type") or "") in ("submit", "button", "reset")
        )
        if button and a.get("value") and tag == "input":
            self.texts.append(a["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            text = re.sub(r"\s+", " ", data).strip()
            if text:
                self.texts.append(text)


def visible(page: str) -> _Visible:
    parser = _Visible()
    parser.feed(page)
    parser.close()
    return parser


# -- the catalogue's English ------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _english(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    """The catalogue's messages whose ``lang`` translation differs from the English, each
    as a pattern matching it in a text node: the whole node for a message of one or two
    words (``Name`` is also inside longer texts), anywhere for a longer one; a message's
    fields match any text."""
    catalog: dict[Any, str] = translations(lang)._catalog  # type: ignore[attr-defined]
    out = []
    for msgid, msgstr in catalog.items():
        if isinstance(msgid, tuple):  # a plural form: (singular, index)
            if msgid[1] != 0:
                continue
            msgid = msgid[0]
        if not msgid or not msgstr or msgid == msgstr:
            continue
        literal = PLACEHOLDER.split(msgid)
        if not any(re.search(r"[A-Za-z]{2}", part) for part in literal):
            continue  # a message of fields only ("%(a)s – %(b)s")
        body = ".+?".join(re.escape(re.sub(r"\s+", " ", p)) for p in literal).strip()
        if len(re.findall(r"[A-Za-z]+", PLACEHOLDER.sub("", msgid))) <= 2:
            out.append((msgid, re.compile(rf"^{body}[.:]?$")))
        else:
            out.append((msgid, re.compile(rf"(?<![A-Za-z]){body}(?![A-Za-z])")))
    return out


ENGLISH = {lang: _english(lang) for lang in LANGS}
# Messages a reader may legitimately see in English in another language's page, and why.
SAME_IN_EVERY_LANGUAGE: dict[str, str] = {}

# -- codes, reprs, placeholders ------------------------------------------------------------

CODE = re.compile(r"(?<![\w./@-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/@-])")
REPR = re.compile(r"(?<![\w'])(?:None|True|False)(?![\w'])|\[\]|\{\}|\{'|\['|<[A-Za-z_.]+ object")
# Texts that look like a code and are not, and why.
NOT_CODES: dict[str, str] = {}
# In Arabic, a word in Latin letters that is no one's data: English the page forgot to
# translate (a catalogue message's field filled with an English word, a text no _()
# marks). Words in Latin letters an Arabic page shows on purpose, and why.
LATIN = re.compile(r"(?<![\w.])[A-Za-z][a-z]{2,}(?![\w.])")
FORMAT_NAMES = sorted(registry.formats())
LATIN_IN_ARABIC: dict[str, str] = {
    "English": "the language menu names each language in itself",
    "Kurmancî": "the language menu names each language in itself",
    "Corridor": "the system's name",
    "P-code": "the humanitarian term for a place code, as OCHA writes it",
    "OpenAPI": "the name of the API's description format",
    "Enter": "a key of the keyboard, as printed on it",
    "Tab": "a key of the keyboard, as printed on it",
    "Ctrl": "a key of the keyboard, as printed on it",
    "corridor audit verify": "a command an operator types, as typed",
    "docs/formats.md": "a file of the documentation, by its path",
    **{f: "a file format's name, as its files are named" for f in FORMAT_NAMES},
}
# An action of the authorisation matrix (``audit.read``) is the name of an API token's
# scope: the token pages (and the refusal of a token without it) show it as typed.
SCOPE = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in MATRIX.actions) + r")\b")
# The parts of two names the matching engine compares, quoted in its explanation.
QUOTED = re.compile(r"'[^']*'")
# A code no one reads as words: a hash, a key (a run of letters and digits); a detention
# facility's neutral name keeps its code (corridor/web/pages/render.py, ``_facility_label``).
UNREADABLE = re.compile(r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,}\b")
FACILITY = re.compile(
    re.escape(translations("ar").gettext("Detention facility {code}").split("{code}")[0])
    + r"[A-Za-z0-9_-]{8}"
)


def problems(page: str, lang: str, planted: list[str]) -> list[str]:
    seen = visible(page)
    out = []
    whole = re.search(r"<html\b", page) is not None  # else a fragment (htmx) of a page
    if whole and lang == "ar" and seen.html_attrs.get("dir") != "rtl":
        out.append(f"<html> without dir=rtl: {seen.html_attrs}")
    if whole and seen.html_attrs.get("lang") != lang:
        out.append(f"<html lang={seen.html_attrs.get('lang')!r}>")
    for text in seen.texts:
        for data in planted:  # personal data the world planted (a name, a site's name)
            if data in text:
                text = re.sub(rf"(?<!\w){re.escape(data)}(?!\w)", " ", text)
        out += _text_problems(text, lang)
    return sorted(set(out))


@functools.lru_cache(maxsize=100_000)
def _text_problems(text: str, lang: str) -> tuple[str, ...]:
    """What is wrong with one text node of a ``lang`` page (its planted data taken out).
    Remembered: the menus, headings and footer of every page are the same texts, and each
    is searched for every message of the catalogue (a quarter of the file's time)."""
    out = []
    if lang == "ar":
        latin = FACILITY.sub(" ", text)
        latin = UNREADABLE.sub(" ", SCOPE.sub(" ", QUOTED.sub(" ", latin)))
        for allowed in LATIN_IN_ARABIC:
            latin = latin.replace(allowed, " ")
        for word in LATIN.findall(latin):
            out.append(f"Latin {word!r} in {text[:120]!r}")
    for msgid, pattern in ENGLISH[lang]:
        if msgid not in SAME_IN_EVERY_LANGUAGE and pattern.search(text):
            out.append(f"English {msgid!r} in {text[:120]!r}")
    for code in CODE.findall(text):
        if code not in NOT_CODES:
            out.append(f"code {code!r} in {text[:120]!r}")
    for found in REPR.findall(text):
        out.append(f"repr {found!r} in {text[:120]!r}")
    for found in PLACEHOLDER.findall(text):
        out.append(f"placeholder {found!r} in {text[:120]!r}")
    return tuple(out)


# -- the world ----------------------------------------------------------------------------


@dataclass
class Env:
    db: Database
    world: World
    clients: dict[Role, TestClient]
    users: dict[Role, str]
    planted: list[str]


ENVS: dict[str, Env] = {}


CODE_LIKE = re.compile(r"[a-z][a-z0-9_]*|\[.*\]|\{.*\}")
# What the route table types into its forms (an enquirer's name and town...), and the
# bad values the refused forms carry.
TYPED = {str(v) for c in CASES for v in (c.body or {}).values() if isinstance(c.body, dict)}
TYPED |= {b.value for b in FORM_CASES} | {str(v) for v in ENQUIRER.values()}
TYPED |= {str(v) for v in SECOND_ENQUIRER.values()} | {str(v) for v in THIRD_ENQUIRER.values()}
TYPED |= {DETENTION_NAME, DETENTION_LOCALITY}
# Single lowercase words typed into the world (else taken for stored codes), and where.
TYPED_WORDS = {
    "tests": "the name of token_client's API token",
    "seen": "the reason a match is confirmed with (tests/support/route_world.py)",
    "asked": "the route table's reason for a disclosure, shown again as typed (not "
    "recorded) where the case awaits no decision",
}


def _planted(db: Database, world: World) -> list[str]:
    """Every text a person typed into the world: the names, numbers, ids, site names,
    notes and reasons of its tables (not a single lowercase word: a stored code such as
    ``exit_point`` or ``opened`` is what this test looks for), the world's canaries and
    what the route table types; longest first (each is taken out of a page's text before
    it is read). Not the audit log's purposes: the system's words."""
    out: set[str] = set(TYPED)
    with db.read() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String)]
            if not columns or table.name == "audit_events":
                continue
            for row in conn.execute(select(*columns)):
                out |= {v for v in row if isinstance(v, str)}
    for record in world.records.values():
        out |= set(record.names) | set(record.text_canaries.values())
        out |= {str(v) for v in record.ids.values()}
    typed = {v for v in out if len(v) > 2 and not CODE_LIKE.fullmatch(v) and "{" not in v}
    typed |= set(TYPED_WORDS) | {b.value for b in FORM_CASES}
    return sorted(typed, key=len, reverse=True)


def _env(request: pytest.FixtureRequest) -> Env:
    if "sqlite" in ENVS:
        return ENVS["sqlite"]
    db = world_database(request, "sqlite", "every-page-translated")
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    clients, users = {}, {}
    for role in ROLES:
        name = f"lang-{role.value.replace('_', '-')}"
        client, user = token_client(db, clock, name, (role,), [world.sites["A"]])
        with_form_secret(client)
        clients[role], users[role] = client, user
    ENVS["sqlite"] = Env(db, world, clients, users, _planted(db, world))
    return ENVS["sqlite"]


@pytest.fixture(scope="module", autouse=True)
def _close_worlds() -> Iterator[None]:
    yield
    close_worlds(ENVS)


@pytest.fixture
def env(request: pytest.FixtureRequest) -> Env:
    return _env(request)


def _allowed(role: Role, case: RouteCase) -> bool:
    return case.action is None or MATRIX.allowed(role, case.action, same_site=True)


def _ask(env: Env, case: RouteCase, role: Role, record: str, lang: str, body: Any) -> str:
    """The page ``role`` is answered for ``case`` on ``record``, in ``lang``; problems
    found in it, prefixed by who asked (empty if none)."""
    rec = env.world.record(record)
    ids = {**rec.ids_for(case.key), "user_id": env.users[role], "fmt": case.fmt or ""}
    ids["token_id"] = ""
    url = fill(case.path, ids)
    client = env.clients[role]
    client.cookies.set(LANG_COOKIE, lang)
    try:
        r = client.get(url) if case.method == "GET" else client.post(url, data=fill(body, ids))
        status, text, kind = r.status_code, r.text, r.headers.get("content-type", "")
    except Exception:
        return f"{role.value}|{record}: 500 {traceback.format_exc()[-300:]}"
    if status >= 500:
        return f"{role.value}|{record}: {status} {text[-300:]}"
    if not kind.startswith("text/html") or status in (301, 302, 303, 307):
        return ""  # a file, a redirect: no page to read
    found = problems(text, lang, env.planted)
    return f"{role.value}|{record} {status} {url}: {found}" if found else ""


def _records(case: RouteCase) -> tuple[str, ...]:
    return RECORDS if case.per_record else ("adult",)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", PAGES, ids=lambda c: c.key)
def test_every_page_speaks_the_readers_language(env: Env, case: RouteCase, lang: str) -> None:
    """Every role the gate lets in, on every record (site B's: its 404 page); a role the
    gate refuses: its 403 page."""
    said = []
    for role in ROLES:
        records = _records(case) if _allowed(role, case) else ("child",)
        for record in records:
            said.append(_ask(env, case, role, record, lang, None))
    bad = [s for s in said if s]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", READ_FORMS, ids=lambda c: c.key)
def test_every_search_answers_in_the_readers_language(
    env: Env, case: RouteCase, lang: str
) -> None:
    said = []
    for role in ROLES:
        records = _records(case) if _allowed(role, case) else ("child",)
        for record in records:
            said.append(_ask(env, case, role, record, lang, case.body))
    bad = [s for s in said if s]
    assert not bad, "\n".join(bad)


def _role_for(case: RouteCase) -> Role:
    if case.key in FORM_ROLE:
        return FORM_ROLE[case.key]
    return next(r for r in ROLES if _allowed(r, case))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", WRITE_FORMS, ids=lambda c: c.key)
def test_every_refused_form_answers_in_the_readers_language(
    env: Env, case: RouteCase, lang: str
) -> None:
    """A writing form posted with a bad value (as tests/api/test_bad_input_every_route.py
    posts it), by a role allowed to write: refused, nothing written; by every role the
    gate refuses: its 403 page (the gate answers before any write)."""
    said = []
    for bad in (b for b in FORM_CASES if b.route == case.key):
        body = dict(case.body or {})
        body[bad.field] = bad.value
        said.append(_ask(env, case, _role_for(case), "adult", lang, body))
    for role in ROLES:
        if not _allowed(role, case):
            said.append(_ask(env, case, role, "child", lang, case.body))
    bad = [s for s in said if s]
    assert not bad, "\n".join(bad)
