"""A page form refused because its record changed meanwhile loses nothing the user typed
(the brief: "Nothing a user registered is ever lost"), on every writing form of the
route table (tests/support/route_table.py).

tests/web/test_refused_forms_keep_input.py refuses a form for a value typed in it. Here
the form is right and the world moved on between the page and the press: another
officer dispatched the truck, closed the tracing case or rejected the candidate, the
person was erased or merged into another record, the family link removed, the site
closed (``MEANWHILE``, by the records the form names: its path and its body's
placeholders). Each form is filled as a user fills it (every text control the page
offers, a value of its own), the record changed by another desk, the form sent. Then:

(a) no 5xx; a write refused (4xx) wrote nothing (the audit of what the page shows aside);
(b) never the bare error page (``data-error-status``) where something was typed, but
    where ``BARE`` says why;
(c) the page says why (an alert, or the field marked);
(d) every text typed comes back: in a form (any of the page's: the same one, or a new
    one to put it elsewhere) or in a read-only list of what was not recorded
    (``data-kept``); but where ``NOTHING_KEPT`` says why it is not, and the page says so.

A world (SQLite) is built once for the module and copied back before each case.
"""

from __future__ import annotations

import html.parser
import re
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from corridor.storage import Database
from corridor.web.i18n import LANG_COOKIE
from tests.api.test_bad_input_every_route import (
    CASES,
    READ_TABLES,
    _base,
    _Marks,
    _writing_forms,
    state,
)
from tests.conftest import ALL_ROLES, Clock, world_database
from tests.support.route_world import World, build_world, token_client, with_form_secret
from tests.web.test_refused_forms_keep_input import (
    FIRST_CASES,
    NOT_SHOWN_HERE,
    TYPED,
    TYPED_AFRESH,
    KeptCase,
    _sent_as,
    forms_posting_to,
)

WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
PLACEHOLDER = re.compile(r"{(\w+)}")


# -- what changes meanwhile ----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    name: str
    do: Callable[[TestClient, dict[str, str]], Any]


def _sent(desk: TestClient, path: str, body: Any = None) -> None:
    r = desk.post(path, json=body)
    assert r.status_code in (200, 201), (path, r.status_code, r.text[:400])


DISPATCHED = Change(
    "dispatched", lambda d, ids: _sent(d, f"/api/manifests/{ids['manifest_id']}/dispatch")
)
CASE_CLOSED = Change(
    "case_closed",
    lambda d, ids: _sent(
        d,
        f"/api/tracing/cases/{ids['case_id']}/transitions",
        {"to": "closed", "close_reason": "no_contact_wished", "reason": "at another desk"},
    ),
)
MATCH_REJECTED = Change(
    "match_rejected",
    lambda d, ids: _sent(
        d, f"/api/tracing/matches/{ids['match_id']}/reject", {"reason": "at another desk"}
    ),
)
ERASED = Change(
    "erased",
    lambda d, ids: _sent(
        d,
        f"/api/persons/{ids['person_id']}/erasure",
        {"ground": "consent_withdrawn", "confirm": True},
    ),
)


def _merge(desk: TestClient, ids: dict[str, str]) -> None:
    """Merged into a second registration of hers (taken off the draft manifest first: a
    person on an open manifest is not merged)."""
    r = desk.delete(f"/api/manifests/{ids['manifest_id']}/persons/{ids['person_id']}")
    assert r.status_code == 200, r.text[:400]
    body = {"other_person_id": ids["person_id"], "reason": "at another desk"}
    _sent(desk, f"/api/persons/{ids['twin_id']}/merge", body)


MERGED = Change("merged", _merge)
UNMERGED = Change(
    "unmerged",
    lambda d, ids: _sent(
        d, f"/api/persons/{ids['person_id']}/unmerge", {"reason": "at another desk"}
    ),
)
LINK_REMOVED = Change(
    "link_removed",
    lambda d, ids: _sent(
        d, f"/api/relationships/{ids['link_id']}/remove", {"reason": "at another desk"}
    ),
)
SITE_CLOSED = Change("site_closed", lambda d, ids: _sent(d, f"/api/sites/{ids['site_id']}/close"))
# A record a form names (a path parameter or a placeholder of its body) -> what another
# desk may do to it between the page and the press.
MEANWHILE: dict[str, tuple[Change, ...]] = {
    "manifest_id": (DISPATCHED,),
    "case_id": (CASE_CLOSED,),
    "match_id": (MATCH_REJECTED,),
    "person_id": (ERASED, MERGED),
    "other_person_id": (ERASED, MERGED),
    "registration_number": (ERASED, MERGED),
    "link_id": (LINK_REMOVED,),
    "site_id": (SITE_CLOSED,),
    "own_site_id": (SITE_CLOSED,),  # the world's adult's site is the callers' own
}
CONFLICT_DECIDED = Change(
    "decided",
    lambda d, ids: _sent(
        d,
        f"/api/persons/{ids['person_id']}/resolve-conflict",
        {"conflict_id": ids["conflict_id"], "theirs": []},
    ),
)
HOLD_DECIDED = Change(
    "decided",
    lambda d, ids: _sent(
        d,
        f"/api/persons/{ids['person_id']}/resolve-hold",
        {"conflict_id": ids["conflict_id"], "lift": False},
    ),
)
# Forms whose record cannot change as ``MEANWHILE`` says, and what may happen to it
# instead: the person an unmerge names is merged already (undone at another desk, or
# the survivor erased); a sync conflict decided at another desk (or its person erased);
# an erasure held back decided at another desk (its person, on legal hold, is neither
# erased nor merged).
MEANWHILE_OF_FORM: dict[str, tuple[Change, ...]] = {
    "POST /persons/{person_id}/unmerge": (ERASED, UNMERGED),
    "POST /persons/{person_id}/resolve-conflict": (ERASED, CONFLICT_DECIDED),
    "POST /persons/{person_id}/resolve-hold": (HOLD_DECIDED,),
}
# Refusals answered with the bare error page although something was typed, and why.
BARE: dict[tuple[str, str], str] = {
    ("POST /persons/{person_id}/links/{link_id}/remove", "erased"): "the person erased "
    "meanwhile: her family links went with the erasure, and a link not found is answered "
    "as any (404, audited as a denial, no person shown: no oracle); nothing is recorded "
    "on an erased record again",
}
# Refusals whose page keeps nothing typed on purpose, and why (the page says so).
NOTHING_KEPT: dict[tuple[str, str], str] = {}


def _changes(route: str) -> list[Change]:
    if route in MEANWHILE_OF_FORM:
        return list(MEANWHILE_OF_FORM[route])
    case = CASES[route]
    named = set(case.params) | set(PLACEHOLDER.findall(str(case.body)))
    out: dict[str, Change] = {}
    for record in sorted(named):
        for change in MEANWHILE.get(record, ()):
            out.setdefault(change.name, change)
    return list(out.values())


# The forms a page shows again, filled in (the first role offered each), by change.
MEANWHILE_CASES = [
    (case, change)
    for case in FIRST_CASES
    if case.form.route not in NOT_SHOWN_HERE
    for change in _changes(case.form.route)
]


# -- the world ---------------------------------------------------------------------------


class Lab:
    """The route world, saved once; a client per role at site A and another desk (every
    role, at A, H and D) that changes records meanwhile."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.db: Database = world_database(request, "sqlite", "meanwhile", own=True)
        clock = Clock(WORLD_TIME)
        self.world: World = build_world(self.db, clock)
        sites = [self.world.sites[k] for k in ("A", "H", "D")]
        # Every role, the data protection officer's too (an erasure held back is theirs).
        desk_roles = (*ALL_ROLES, Role.DATA_PROTECTION_OFFICER)
        self.desk, _ = token_client(self.db, clock, "other-desk", desk_roles, sites)
        self.clients: dict[Role, TestClient] = {}
        self.users: dict[Role, str] = {}
        for role in Role:
            client, user = token_client(self.db, clock, f"kept-{role.value}", (role,), sites[:1])
            with_form_secret(client)
            self.clients[role], self.users[role] = client, user
        adult = self.world.record("adult")
        twin = {
            "site_id": self.world.sites["A"],
            "consent": {"tracing": True, "share_with": ["ICRC"]},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "given_name": adult.names[0],
            "family_name": adult.names[1],
        }
        r = self.desk.post("/api/persons", json=twin)
        assert r.status_code == 201, r.text
        self.twin_id = str(r.json()["id"])
        self.path = Path(str(self.db.url.database))
        self.saved = self.path.with_name("saved.db")
        self._release()
        shutil.copy(self.path, self.saved)

    def _release(self) -> None:
        checkpointer = getattr(self.db, "_checkpointer", None)
        if checkpointer is not None:
            checkpointer.stop()
            self.db._checkpointer = None
        self.db.engine.dispose()

    def load(self) -> None:
        """The world as it was built, again."""
        self._release()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.saved, self.path)

    def ids(self, key: str = "") -> dict[str, str]:
        """The adult's ids (for the route ``key``: in the state offering its form)."""
        return {**self.world.record("adult").ids_for(key), "twin_id": self.twin_id}

    def close(self) -> None:
        for client in (self.desk, *self.clients.values()):
            client.close()
        self.db.dispose()


LABS: dict[str, Lab] = {}


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    LABS["sqlite"] = Lab(request)
    yield LABS["sqlite"]
    LABS.pop("sqlite").close()


def _post(client: TestClient, url: str, body: dict[str, str]) -> tuple[int, str]:
    try:
        r = client.post(url, data=body)
        return r.status_code, r.text
    except Exception:  # the app raised: a 500 for the caller
        return 500, traceback.format_exc()


# -- what a page shows again -------------------------------------------------------------


class Shown(html.parser.HTMLParser):
    """Every value a page's forms hold (inputs' values, textareas' text) and the text of
    its read-only lists of what was not recorded (``data-kept``)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[str] = []
        self._textarea = False
        self._kept = 0
        self._open: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") not in ("hidden", "password"):
            self.values.append(a.get("value") or "")
        elif tag == "textarea":
            self._textarea = True
            self.values.append("")
        if tag not in _Marks.VOID:
            kept = "data-kept" in a
            self._kept += kept
            self._open.append(kept)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = False
        if tag not in _Marks.VOID and self._open:
            self._kept -= self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[-1] += data
        elif self._kept:
            self.values.append(data)


def shown_again(text: str) -> str:
    page = Shown()
    page.feed(text)
    return "\n".join(page.values)


def _says_why(text: str) -> bool:
    page = _Marks()
    page.feed(text)
    said = {i for i, t in page.texts.items() if t.strip()}
    return bool(set(page.alerts) & said) or any(ids & said for ids in page.invalid.values())


def _filled(lab: Lab, case: KeptCase, url: str, body: dict[str, str]) -> tuple[dict, dict]:
    """The form as a user fills it: the route table's values, and a value of its own in
    every text control the page offers (the page learnt from a refusal of a value typed
    in it, as the form comes back after one); and the text typed (control -> value)."""
    client = lab.clients[case.role]
    bad = {**body, _sent_as(case.form): case.form.value}
    _, first = _post(client, url, bad)
    offered = forms_posting_to(first, url)
    assert offered, (case.id, "the form is not shown again")
    sent, typed = dict(body), {}
    for n, (name, control) in enumerate(sorted(offered[0].items())):
        if control.kind in ("select", "checkbox", "radio"):
            options = [o for o in control.options if o]
            if name not in sent and options:
                sent[name] = control.value if control.value in options else options[-1]
            continue
        if control.kind not in ("text", "textarea") or "[" in name and "[0]" not in name:
            continue
        if (case.form.route, name) in TYPED_AFRESH:
            continue
        template = str((CASES[case.form.route].body or {}).get(name, ""))
        if not PLACEHOLDER.search(template):  # a word of the route table's: one of its own
            leaf = name.rsplit(".", 1)[-1]
            letters = "".join(c for c in leaf if c.isalpha())[:12]
            sent[name] = TYPED.get(leaf) or f"Meanwhile{letters.capitalize()}{chr(97 + n % 26)}"
        typed[name] = sent[name]
    return sent, typed


@pytest.mark.parametrize(
    ("case", "change"),
    [pytest.param(c, ch, id=f"{c.form.route}|{ch.name}") for c, ch in MEANWHILE_CASES],
)
def test_a_form_refused_after_its_record_changed_keeps_what_was_typed(
    lab: Lab, case: KeptCase, change: Change
) -> None:
    lab.load()
    route = CASES[case.form.route]
    url, body = _base(lab, route, case.role)  # type: ignore[arg-type]
    sent, typed = _filled(lab, case, url, body)
    change.do(lab.desk, lab.ids(route.key))
    before = state(lab.db)
    status, text = _post(lab.clients[case.role], url, sent)
    said = f"{status} {route.key} {change.name}: {text[-800:] if status >= 500 else ''}"
    assert status < 500, said
    if status < 400:
        return  # done on the record as it is now: nothing refused, nothing lost
    after = state(lab.db)
    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert set(changed) <= READ_TABLES, (said, changed)  # (a)
    key = (route.key, change.name)
    if "data-error-status=" in text:  # (b)
        assert key in BARE or not typed, (said, re.findall(r"<h1[^>]*>(.*?)</h1>", text))
    assert _says_why(text), said  # (c)
    if key in NOTHING_KEPT or key in BARE:
        return
    shown = shown_again(text)
    lost = {name: value for name, value in typed.items() if value.strip() not in shown}
    assert not lost, (said, lost)  # (d)


def test_every_writing_form_is_met_by_a_change_or_says_why() -> None:
    """Each writing form naming a record has cases here (or is listed where the route
    world shows it nowhere again); each entry of ``BARE`` and ``NOTHING_KEPT`` is a
    case."""
    with_cases = {c.form.route for c, _ in MEANWHILE_CASES}
    typed_in = {c.form.route for c in FIRST_CASES}  # the forms with a field to type
    for form in _writing_forms():
        if _changes(form.key) and form.key in typed_in and form.key not in NOT_SHOWN_HERE:
            assert form.key in with_cases, form.key
    keys = {(c.form.route, ch.name) for c, ch in MEANWHILE_CASES}
    assert set(BARE) <= keys and set(NOTHING_KEPT) <= keys


# -- the two the last audit left -----------------------------------------------------------


def _alerts(text: str) -> list[str]:
    page = _Marks()
    page.feed(text)
    return [page.texts.get(i, "").strip() for i in page.alerts if page.texts.get(i, "").strip()]


@pytest.mark.parametrize("lang", ["en", "ar", "ku"])
def test_numbers_typed_for_a_manifest_dispatched_meanwhile_are_kept(lab: Lab, lang: str) -> None:
    """An officer scans two wristbands into "Add persons" while another dispatches the
    truck: the manifest's page (dispatched), why under the title in the reader's
    language, the numbers typed read-only to put on another manifest; nothing written.
    (It was the bare 409 page, the numbers lost.)"""
    lab.load()
    ids = lab.ids()
    numbers = "\n".join(
        lab.world.record(k).ids["registration_number"]
        for k in ("unaccompanied_child", "refused_tracing")
    )
    officer = lab.clients[Role.MOVEMENT_OFFICER]
    url = f"/manifests/{ids['manifest_id']}/persons"
    page = officer.get(f"/manifests/{ids['manifest_id']}").text
    assert forms_posting_to(page, url), "the draft offers Add persons"
    DISPATCHED.do(lab.desk, ids)
    before = state(lab.db)
    officer.cookies.set(LANG_COOKIE, lang)
    try:
        status, text = _post(officer, url, {"registration_numbers": numbers})
    finally:
        officer.cookies.delete(LANG_COOKIE)
    after = state(lab.db)
    assert {t for t in after if after[t] != before[t]} <= READ_TABLES
    assert status == 409, text[-600:]
    assert "data-error-status=" not in text and f'<html lang="{lang}"' in text
    assert not forms_posting_to(text, url)  # a dispatched manifest takes nobody
    page = _Marks()
    page.feed(text)
    why = page.texts.get("e-registration_numbers", "").strip()
    assert why in _alerts(text), _alerts(text)
    for n in numbers.split():
        assert n in shown_again(text), (n, shown_again(text))
    if lang != "en":
        _, english = _post(officer, url, {"registration_numbers": numbers})
        assert why and why not in _alerts(english)


ATTACH_MEANWHILE = {
    "case_closed": (CASE_CLOSED.do, 409, True),
    # Attached at another desk and rejected there: "already rejected for this case"
    # (shown among the case's candidates, so no longer among the results).
    "rejected": (None, 409, False),
    # Erased since the search: "person not found", as any person a tracing search does
    # not reach (409: the page shows persons), and no longer among the results.
    "erased": (None, 409, False),
}


@pytest.mark.parametrize("meanwhile", sorted(ATTACH_MEANWHILE))
def test_an_attach_refused_shows_the_search_again(lab: Lab, meanwhile: str) -> None:
    """A tracing officer searches from a case and presses "Attach as candidate" on a
    person found; meanwhile the case was closed, or the person attached and rejected,
    or erased, at another desk. The case page says why with the search as it was typed
    and its results (it used to show the case page alone, the search gone)."""
    lab.load()
    ids = lab.ids()
    child = lab.world.record("unaccompanied_child")
    tracer = lab.clients[Role.TRACING_OFFICER]
    search = {"name": " ".join(child.names), "sex": "m", "age": "13"}
    r = tracer.post(f"/tracing/cases/{ids['case_id']}/search", data=search)
    assert r.status_code == 200, r.text[-600:]
    url = f"/tracing/cases/{ids['case_id']}/candidates"
    offered = forms_posting_to(r.text, url)
    [attach] = [f for f in offered if f["person_id"].value == child.person_id]
    sent = {name: c.value or "" for name, c in attach.items()}  # the button's form
    change, status, listed = ATTACH_MEANWHILE[meanwhile]
    if change is not None:
        change(lab.desk, ids)
    elif meanwhile == "rejected":
        r = lab.desk.post(f"/api/{url.lstrip('/')}", json={"person_id": child.person_id})
        assert r.status_code in (200, 201), r.text
        [match] = [m for m in r.json()["matches"] if m["person"]["id"] == child.person_id]
        MATCH_REJECTED.do(lab.desk, {"match_id": match["id"]})
    else:
        ERASED.do(lab.desk, {"person_id": child.person_id})
    before = state(lab.db)
    got, text = _post(tracer, url, sent)
    after = state(lab.db)
    assert {t for t in after if after[t] != before[t]} <= READ_TABLES
    assert got == status, text[-600:]
    assert "data-error-status=" not in text
    assert _alerts(text)
    [search_form] = forms_posting_to(text, f"/tracing/cases/{ids['case_id']}/search")
    assert {k: search_form[k].value for k in search} == search
    results = text.partition('id="case-search-results"')[2].partition("</table>")[0]
    assert (child.ids["registration_number"] in results) == listed, results[:600]
