"""A refused page form loses nothing the user typed (the brief: "Nothing a user registered
is ever lost"), on every writing form of the route table (tests/support/route_table.py),
for every role allowed to post it.

A registration team types a family of eight on a tablet; if one field is refused and the
page comes back with the other fields empty, they retype everything or give up. So for
each writing form, each of its fields sent bad (far too long, or a word for a number: the
cases of ``test_bad_form_value_is_refused_on_the_form``, tests/api/test_bad_input_every_route.py)
and every other control of the form given a distinctive value of its own, the answer is:

(a) a 4xx page holding the form again (a form posting to the same URL), unless the
    record moved on (404, 409) or the value named a choice the page no longer offers
    (``_marks``: an alert says why); never the bare error page of a 422;
(b) each other text, select and textarea control as the user typed it (the re-rendered
    control holds the posted value; a select has the posted option selected; a box of
    each name ticked stays ticked), every row of a list included (eight members of a
    household, eight persons sought); and the refused text itself, to be corrected
    rather than typed again (but where ``TYPED_AFRESH`` says why not);
(c) the refused field marked (``_marks``);
(d) nothing written (the audit of the page shown again, and the look-up counted, aside).

Every role allowed on the route posts each form once (the first field sent bad); the
form's first role posts every field sent bad. A role allowed on the route that the page
does not offer the form to (``OFFERED_TO``: the health form is health staff's; a
registrar holds ``person.write`` too) gets a 403 page that says why, whatever the form
holds, and nothing is written. One case per form runs in Arabic and in Kurmanji too: the
page is in that language, and so are the words that mark the field.

Fields a page never shows again: passwords (``type="password"``: never written back into
a page) and hidden fields (ids and choices the page made, not typed).
"""

from __future__ import annotations

import html.parser
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

import corridor.web
from corridor.security.roles import Role, default_matrix
from corridor.web.i18n import LANG_COOKIE
from tests.api.test_bad_input_every_route import (
    CASES,
    FORM_CASES,
    LONG,
    MARKED_AS,
    NOT_INPUT,
    READ_TABLES,
    Env,
    FormCase,
    _base,
    _Marks,
    _marks,
    _writing_forms,
    state,
)
from tests.conftest import Clock, world_database
from tests.support.route_table import RouteCase, fill
from tests.support.route_world import build_world, close_worlds, token_client, with_form_secret

MATRIX = default_matrix()
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
ROWS = 8  # rows of a list typed (a family of eight)
LIST_ROW = re.compile(r"^(\w+)\[0\]\.")
# Roles allowed on a route whose page does not offer them the form: the health form is
# shown to health staff only (the medical field group; docs/web.md).
OFFERED_TO: dict[str, Callable[[Role], bool]] = {
    "POST /persons/{person_id}/health": lambda r: r in MATRIX.group_roles["medical"],
    # The world's case awaiting a decision is the adult's: hers is recorded by a tracing
    # officer (a child's by a protection officer; docs/tracing.md).
    "POST /tracing/cases/{case_id}/disclosure": lambda r: r is Role.TRACING_OFFICER,
}
# A value of its kind for a control the route table's form leaves empty, by the end of
# its name (any other text control gets a word of its own, ``_distinct``): what a user
# types there, so that the form is refused for the field sent bad and no other.
TYPED = {
    "birth_date": "1983",
    "estimated_age": "41",
    "age": "41",
    "birth_year": "1983",
    "muac_mm": "131",
    "capacity": "4321",
    "phone": "+963 944 123 456",
    "nationality": "SYR",
    "country": "DEU",
    "last_seen_date": "2019-02",
    "document_number": "KPT55310",
    "share_with": "ICRC",
    "pcode": "SY0905",
}
LANGUAGES = ("ar", "ku")
# Refused text fields a page leaves empty on purpose, and why (any other comes back as
# typed too, to be corrected rather than typed again).
TYPED_AFRESH = {
    ("POST /dpo/drill/{site_id}", "confirm"): "destroying a site's keys is confirmed by "
    "typing the site's name afresh",
}
# Forms whose page the world does not show again after a refusal, and where what they
# hold is checked instead: a new form that comes back nowhere fails here, not silently.
NOT_SHOWN_HERE = {
    "POST /exports": "a list's selection refused (hidden fields the list page made): "
    "nothing of it can be asked; the form comes back with the reason and format typed "
    "and the filter named above it (tests/web/test_list_export_pages.py::"
    "test_a_tampered_export_form_comes_back_with_the_reason); its reason sent bad comes "
    "back in the form, as here",
    "POST /exports/{export_id}/download": "the world's export was asked by another "
    "officer (403: only its asker downloads); its one field is a passphrase",
    "POST /tracing/cases/{case_id}/candidates": "a hidden person id only",
    "POST /manifests/{manifest_id}/check-in": "a hidden person id only",
    "POST /manifests/{manifest_id}/remove": "a hidden person id only",
}


# -- the world ---------------------------------------------------------------------------

ENVS: dict[str, Env] = {}


def _env(request: pytest.FixtureRequest) -> Env:
    """The world (SQLite, built once for the module) and a client per role at site A."""
    if "sqlite" in ENVS:
        return ENVS["sqlite"]
    db = world_database(request, "sqlite", "kept-input", own=True)
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    clients, users = {}, {}
    for role in Role:
        client, user = token_client(db, clock, f"kept-{role.value}", (role,), [world.sites["A"]])
        with_form_secret(client)
        clients[role], users[role] = client, user
    ENVS["sqlite"] = Env(db, world, clients, users)
    return ENVS["sqlite"]


@pytest.fixture(scope="module", autouse=True)
def _close_worlds() -> Iterator[None]:
    yield
    close_worlds(ENVS)


@pytest.fixture
def env(request: pytest.FixtureRequest) -> Env:
    return _env(request)


# -- the forms of a page -----------------------------------------------------------------


@dataclass
class Control:
    kind: str  # "text" (any typed input), "textarea", "select", "checkbox", "radio"...
    value: str | None  # a select's selected option (None: none selected)
    options: list[str]  # a select's options; the values of boxes of one name
    checked: set[str] = field(default_factory=set)  # the boxes of the name ticked
    number: bool = False  # an input of type number (or one that asks for digits)


# The controls a user sets, and what the page must show again of each.
SET_BY_USER = ("text", "textarea", "select", "checkbox", "radio")
TYPED_KINDS = ("text", "textarea", "select")


class Forms(html.parser.HTMLParser):
    """The POST forms of a page: where each posts to, and its named controls."""

    TYPED = frozenset({"text", "number", "tel", "email", "search", "url", "date"})

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, Control]]] = []
        self._form: dict[str, Control] | None = None
        self._select: Control | None = None
        self._textarea: Control | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._form = {}
            if (a.get("method") or "get").lower() == "post":
                self.forms.append(((a.get("action") or "").split("?", 1)[0], self._form))
            return
        name = a.get("name")
        if self._form is None:
            return
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            kind = "text" if kind in self.TYPED else kind
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                boxes = self._form.setdefault(name, Control(kind, None, []))
                boxes.options.append(a.get("value") or "on")
                if "checked" in a:
                    boxes.checked.add(a.get("value") or "on")
                return
            digits = a.get("type") == "number" or a.get("inputmode") == "numeric"
            self._form[name] = Control(kind, a.get("value") or "", [], number=digits)
        elif tag == "textarea" and name:
            self._textarea = self._form[name] = Control("textarea", "", [])
        elif tag == "select" and name:
            self._select = self._form[name] = Control("select", None, [])
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            self._select.options.append(value)
            if "selected" in a:
                self._select.value = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value = (self._textarea.value or "") + data


def forms_posting_to(text: str, url: str) -> list[dict[str, Control]]:
    page = Forms()
    page.feed(text)
    return [controls for action, controls in page.forms if action == url]


def _distinct(name: str, n: int) -> str:
    """A word typed into ``name`` and nowhere else in the request."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in TYPED:
        return TYPED[leaf]
    letters = "".join(c for c in leaf if c.isalpha())[:12]
    return f"Kept{letters.capitalize()}{chr(ord('a') + n % 26)}"


def _rows(controls: dict[str, Control]) -> dict[str, Control]:
    """The controls, with a list's first row (``members[0].``) copied to ``ROWS`` rows."""
    out = dict(controls)
    for name, control in controls.items():
        if row := LIST_ROW.match(name):
            first = f"{row.group(1)}[0]."
            for i in range(1, ROWS):
                out.setdefault(name.replace(first, f"{row.group(1)}[{i}].", 1), control)
    return out


def _filled(
    body: dict[str, str], bad: str, controls: dict[str, Control]
) -> tuple[dict[str, str], dict[str, str]]:
    """The form as a user fills it: the route table's values, the field sent bad, and a
    value of its own in every other control the page offered (a box ticked, a choice
    other than the first); and what the page must show again (control -> value)."""
    sent = dict(body)
    kept: dict[str, str] = {}
    for n, (name, control) in enumerate(sorted(_rows(controls).items())):
        if name == bad or control.kind not in SET_BY_USER:
            continue
        if control.kind in ("select", "checkbox", "radio"):
            offered = [o for o in control.options if o]
            if not offered:
                continue
            value = sent[name] if sent.get(name) in offered else offered[-1]
        else:
            value = sent.get(name) or _distinct(name, n)
        sent[name] = kept[name] = value
    return sent, kept


def _lost(text: str, url: str, kept: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """What the forms posting to ``url`` do not show again as typed (the fewest losses
    of any of them): control -> (typed, shown)."""
    best: dict[str, tuple[str, str | None]] | None = None
    for controls in forms_posting_to(text, url):
        lost = {}
        for name, value in kept.items():
            control = controls.get(name)
            shown = None if control is None else control.value
            if control is not None and control.kind in ("checkbox", "radio"):
                shown = value if value in control.checked else ",".join(control.checked)
            if shown is None or shown.strip() != value.strip():
                lost[name] = (value, shown)
        if best is None or len(lost) < len(best):
            best = lost
    return best or {}


def _sent_as(bad: FormCase) -> str:
    """The field of the page's form that the route table's field is typed into (a
    sought person's name, typed whole)."""
    return MARKED_AS.get((bad.route, bad.field), bad.field)


def _names_problem(text: str, field: str) -> bool:
    """Whether an error page lists a problem of ``field`` (``selection.list``: list)."""
    named = re.findall(r'data-problem-field="([^"]*)"', text)
    return any(f == field or f.endswith("." + field) for f in named)


def _error_page(text: str) -> bool:
    """The bare error page (error.html), not a page of the app showing a form."""
    return "data-error-status=" in text


# -- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptCase:
    form: FormCase
    role: Role
    lang: str = "en"

    @property
    def id(self) -> str:
        return f"{self.form.id}|{self.role.value}|{self.lang}"


def _allowed(case: RouteCase) -> list[Role]:
    """Every role allowed to post the form at its own site (the administrator for the
    forms every signed-in user has: their own password)."""
    if case.action is None:
        return [Role.ADMINISTRATOR]
    return [r for r in Role if MATRIX.allowed(r, case.action, same_site=True)]


def _offered(case: RouteCase) -> list[Role]:
    """The roles allowed on the route that its page offers the form to."""
    offered_to = OFFERED_TO.get(case.key)
    return [r for r in _allowed(case) if offered_to is None or offered_to(r)]


def _kept_cases() -> list[KeptCase]:
    out: list[KeptCase] = []
    by_form: dict[str, list[FormCase]] = {}
    seen: set[tuple[str, str, str]] = set()
    for bad in FORM_CASES:
        if (sent := (bad.route, _sent_as(bad), bad.kind)) not in seen:  # typed once
            seen.add(sent)
            by_form.setdefault(bad.route, []).append(bad)
    for route, bads in by_form.items():
        roles = _offered(CASES[route])
        assert roles, f"no role is offered {route}"
        out += [KeptCase(bad, roles[0]) for bad in bads]
        out += [KeptCase(bads[0], role) for role in roles[1:]]
        out += [KeptCase(bads[0], roles[0], lang) for lang in LANGUAGES]
    return out


KEPT_CASES = _kept_cases()
REFUSED_CASES = [
    KeptCase(bad, role)
    for bad in FORM_CASES
    if bad.route in OFFERED_TO
    for role in _allowed(CASES[bad.route])
    if role not in _offered(CASES[bad.route])
]


def _post(
    env: Env, case: KeptCase, url: str, body: dict[str, str], lang: str | None = None
) -> tuple[int, str]:
    client = env.clients[case.role]
    client.cookies.set(LANG_COOKIE, lang or case.lang)
    try:
        r = client.post(url, data=body)
        return r.status_code, r.text
    except Exception:  # the app raised: a 500 for the caller
        return 500, traceback.format_exc()
    finally:
        client.cookies.delete(LANG_COOKIE)


def _reasons(text: str, field: str) -> set[str]:
    """The words that say why ``field`` was refused: its error, or its form's alerts, or
    the page's."""
    page = _Marks()
    page.feed(text)
    said = {i: t.strip() for i, t in page.texts.items() if t.strip()}
    ids = {f"e-{field}"} | page.invalid.get(field, set())
    ids |= {i for names, form in page.hidden if field in names for i in form}
    found = {said[i] for i in ids if i in said}
    return found or {said[i] for i in page.alerts if i in said}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in KEPT_CASES])
def test_refused_form_keeps_what_was_typed(env: Env, case: KeptCase) -> None:
    marked = _sent_as(case.form)
    _refused_keeps(env, case, {marked: case.form.value}, marked, drop=case.form.field)


def _refused_keeps(
    env: Env, case: KeptCase, given: dict[str, str], marked: str, drop: str | None = None
) -> None:
    """Post ``case``'s form (the route table's, ``drop`` left out) with ``given`` and every
    other control filled in: refused on ``marked``, as (a) to (d) say, in the case's
    language."""
    route = CASES[case.form.route]
    url, body = _base(env, route, case.role)
    if drop is not None:
        body.pop(drop)
    body.update(fill(given, env.world.record("adult").ids))
    # The form as the page offers it after a refusal: its controls, filled in.
    _, first = _post(env, case, url, body)
    offered = forms_posting_to(first, url)
    controls = offered[0] if offered else {}
    sent, kept = _filled(body, marked, controls)
    before = state(env.db)
    status, text = _post(env, case, url, sent)
    said = f"{status} {case.id}: {text[-600:] if status >= 500 else ''}"
    assert status < 500, said
    after = state(env.db)
    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert set(changed) <= READ_TABLES, (said, changed)  # (d)
    assert 400 <= status < 500, said
    assert _marks(text, marked, route.path), said  # (c)
    shown = forms_posting_to(text, url)
    if _error_page(text) and (status == 422 or marked in controls):
        # (a): the form again, or why it is not. The error page only for a value the
        # page made, not one typed (a list's selection, hidden in the export form),
        # naming it.
        typed = marked in controls and controls[marked].kind in TYPED_KINDS
        assert not typed and _names_problem(text, marked), (said, _reasons(text, marked))
    if offered:  # (b)
        assert shown, (said, "the form is not shown again")
        assert not _lost(text, url, kept), (said, _lost(text, url, kept))
    else:
        assert case.form.route in NOT_SHOWN_HERE, (said, "the form is not shown again")
    refused = controls.get(marked)
    value = body[marked]
    if refused and (route.key, marked) not in TYPED_AFRESH and (
        refused.kind in ("text", "textarea") or value in refused.options
    ):
        assert not _lost(text, url, {marked: value}), (said, "the value refused")
    # In the reader's language: the page, and the words that mark the field.
    assert f'<html lang="{case.lang}"' in text, said
    words = _reasons(text, marked)
    assert words, said
    if case.lang != "en":
        _, english = _post(env, case, url, sent, "en")
        assert not words & _reasons(english, marked), (said, words)


# A choice the service refuses for what it would do (the API's 409, naming the field),
# not for its shape: the form's route -> (the values sent over the route table's form,
# the field refused). It is a problem of what was chosen, shown on the form as a value
# refused is.
SERVICE_REFUSALS: dict[str, list[tuple[dict[str, str], str]]] = {
    "POST /persons/{person_id}/events": [
        ({"kind": "discharged"}, "kind"),  # the adult is at a camp, not in hospital
        # to the camp she is at (the route table's form takes her to the hospital)
        ({"kind": "transferred", "to_site_id": "{own_site_id}"}, "to_site_id"),
    ],
    "POST /admin/sites": [({"name": "Camp Alpha"}, "name")],  # the world's site A's
    "POST /admin/sites/{site_id}": [({"name": "Camp Bravo"}, "name")],  # site B's
    "POST /admin/users": [({"username": "world-a"}, "username")],  # the world's officer's
    # The administrator's own account (the route table's): their role kept.
    "POST /admin/users/{user_id}": [({"roles": "coordinator"}, "roles")],
}
SERVICE_CASES = [
    (KeptCase(FormCase(route, field, "by_the_service", value.get(field, "")), role, lang), value)
    for route, refusals in SERVICE_REFUSALS.items()
    for value, field in refusals
    for role in _offered(CASES[route])
    for lang in ("en", *(LANGUAGES if role == _offered(CASES[route])[0] else ()))
]


@pytest.mark.parametrize(
    ("case", "given"), [pytest.param(c, g, id=c.id) for c, g in SERVICE_CASES]
)
def test_a_choice_the_service_refuses_keeps_the_form(
    env: Env, case: KeptCase, given: dict[str, str]
) -> None:
    """A discharge of a person not in hospital, a move to the site the person is at, a
    site named as another: refused by the service, as a value the form checks is."""
    _refused_keeps(env, case, given, case.form.field)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in REFUSED_CASES])
def test_a_form_not_offered_is_refused_saying_why(env: Env, case: KeptCase) -> None:
    """A role allowed on the route that the page does not offer the form to (a registrar
    posting the health form: a page kept open after the role was taken away, or one
    made by hand) is told it may not, whatever the form holds: 403 with the reason,
    never the form's problems on a page without the form; nothing written."""
    route = CASES[case.form.route]
    url, body = _base(env, route, case.role)
    body[case.form.field] = case.form.value
    before = state(env.db)
    status, text = _post(env, case, url, body)
    said = f"{status} {case.id}: {text[-600:]}"
    after = state(env.db)
    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert set(changed) <= READ_TABLES, (said, changed)
    assert status == 403, said
    page = _Marks()
    page.feed(text)
    assert any(page.texts.get(i, "").strip() for i in page.alerts), said


def test_every_writing_form_with_a_field_is_covered() -> None:
    """Each writing form with an input field has cases here, for each role offered it;
    ``OFFERED_TO`` names writing forms only."""
    with_fields = {c.form.route for c in KEPT_CASES}
    forms = {c.key for c in _writing_forms()}
    assert set(OFFERED_TO) <= forms and set(NOT_SHOWN_HERE) <= forms
    for case in _writing_forms():
        fields = [n for n in case.body or {} if (case.key, n) not in NOT_INPUT]
        if fields:
            assert case.key in with_fields, case.key
            roles = {c.role for c in KEPT_CASES if c.form.route == case.key}
            assert roles == set(_offered(case)), case.key


TEMPLATES = Path(corridor.web.__file__).parent / "templates"
# A problem a template prints from its page's ``errors``: ``{{ errors.get(...) }}``,
# ``{{ errors[...] }}`` (a macro given ``errors`` prints them itself, with ``tr``).
SHOWS_A_PROBLEM = re.compile(r"\{\{[^}]*\berrors(?:\.get\(|\[)[^}]*\}\}")


def test_every_problem_a_page_shows_is_in_the_readers_language() -> None:
    """Why a form was refused is a service's ``Text`` (its English and its message id),
    said in the page's language by ``tr``: printed without it, a pair of the duplicates
    queue, a sync conflict and a held erasure said why in English on the Arabic and
    Kurmanji pages (pages the route table's world does not offer those forms on)."""
    bare = [
        f"{path.name}: {shown}"
        for path in sorted(TEMPLATES.glob("*.html"))
        for shown in SHOWS_A_PROBLEM.findall(path.read_text())
        if "|tr" not in shown
    ]
    assert not bare, bare


def test_a_sought_persons_problem_stays_on_its_row(env: Env) -> None:
    """The enquiry form leaves out a blank row of persons sought: the problem of a person
    sent after it is shown on that person's row (it was moved on once for every row
    after: with row 1 blank, row 2's on row 3), the rows as typed."""
    case = KeptCase(FORM_CASES[0], Role.TRACING_OFFICER)
    route = CASES["POST /tracing/enquiries"]
    url, body = _base(env, route, case.role)
    body = {k: v for k, v in body.items() if not k.startswith("sought")}
    body |= {"sought[0].full_name": "Kept Rowzero", "sought[2].full_name": "x" * 301}
    body |= {"sought[3].full_name": "Kept Rowthree"}
    status, text = _post(env, case, url, body)
    assert status == 422, text[-600:]
    assert _marks(text, "sought[2].full_name", route.path)
    assert not _marks(text, "sought[3].full_name", route.path)
    kept = {"sought[0].full_name": "Kept Rowzero", "sought[3].full_name": "Kept Rowthree"}
    assert not _lost(text, url, kept)


# Every typed control of each form, not only the route table's fields: the form's first
# role, in English, row 0 of a list.
FIRST_CASES = [c for c in KEPT_CASES if c.lang == "en"]
FIRST_CASES = [
    c
    for i, c in enumerate(FIRST_CASES)
    if c.form.route not in {d.form.route for d in FIRST_CASES[:i]}
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.form.route) for c in FIRST_CASES])
def test_every_typed_field_of_a_form_refused_keeps_the_rest(env: Env, case: KeptCase) -> None:
    """Each text control of the form as the page offers it (the route table's form gives
    a few), sent far too long in turn (and a number's, a word), the others filled:
    refused on it, as (a) to (d) say. (An agency's name, typed among those to share
    with, was stored at any length; the enquiry's note was refused and marked nowhere;
    a birth date that is no date, given with an age, was said only once the age was
    taken away.)"""
    route = CASES[case.form.route]
    url, body = _base(env, route, case.role)
    _, first = _post(env, case, url, {**body, _sent_as(case.form): case.form.value})
    offered = forms_posting_to(first, url)
    if not offered:
        assert route.key in NOT_SHOWN_HERE
        return
    failed = []
    for name, control in sorted(offered[0].items()):
        if name in body or control.kind not in ("text", "textarea"):
            continue
        if "[" in name and "[0]" not in name or (route.key, name) in TYPED_AFRESH:
            continue
        sent = [("too_long", LONG)] + [("wrong_type", "not a number")] * control.number
        for kind, value in sent:
            each = KeptCase(FormCase(route.key, name, kind, value), case.role)
            try:
                _refused_keeps(env, each, {name: value}, name)
            except AssertionError as exc:
                failed.append(f"{name} {kind}: {str(exc)[:300]}")
    assert not failed, "\n".join(failed)
