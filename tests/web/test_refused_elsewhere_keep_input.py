"""A page form refused because of something decided ELSEWHERE loses nothing the user
typed and says why, on every writing form of the route table
(tests/support/route_table.py).

tests/web/test_refused_forms_keep_input.py refuses a form for a value typed in it;
tests/web/test_refused_meanwhile_keep_input.py for a change another desk made here, one
the test can make. Here the write is refused by the service for what was decided where
the page cannot see it: the record gone (404: erased at another installation, out of
reach since), another desk or node having decided first (409), or the installation
being a site node, where the central decides (``TracingAtCentral``, 409). Every page
write goes through its idempotency key's ``Retry.run`` (docs/api.md, "Safe retries"):
the refusal is raised there, in place of the service, for each form as a user fills it
(every text control the page offers, a value of its own), in Arabic. Then:

(a) no 5xx; a 4xx (the refusal reached the page), nothing written (the audit of what the
    page shows, and of the denial, aside);
(b) never the bare error page (``data-error-status``) where something was typed;
(c) the page says why, in the reader's language (an alert, or the field marked; the
    English message nowhere on the page);
(d) every text typed comes back: in a form, or read-only (``data-kept``).

Forms whose handler takes no key (``NO_KEY``: the login, a read, a preference) are not
reached by such a refusal; each keyed form of the table with something to type is, but
those the route world shows nowhere again (``NOT_SHOWN_HERE``, each with the test that
checks it: a sync conflict decided elsewhere, tests/sync/test_conflict_pages.py; the
export form, tests/web/test_list_export_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from corridor.errors import Conflict, CorridorError, NotFound, TracingAtCentral
from corridor.text import N_
from corridor.web import retries
from corridor.web.i18n import LANG_COOKIE
from tests.api.test_bad_input_every_route import CASES, READ_TABLES, _base, state
from tests.support.route_table import NO_KEY
from tests.web.test_refused_forms_keep_input import FIRST_CASES, NOT_SHOWN_HERE, KeptCase
from tests.web.test_refused_meanwhile_keep_input import (
    LABS,
    PLACEHOLDER,
    Lab,
    _filled,
    _post,
    _says_why,
    shown_again,
)

# The record a form names (a path parameter, else a placeholder of its body) -> what a
# service answers when it is gone ("person not found"...).
RECORD_OF = {
    "person_id": "person",
    "registration_number": "person",
    "manifest_id": "manifest",
    "case_id": "case",
    "match_id": "match",
    "link_id": "link",
    "user_id": "user",
    "export_id": "export",
    "site_id": "site",
    "own_site_id": "site",
}


def _gone(route: str) -> CorridorError:
    case = CASES[route]
    named = [*case.params, *PLACEHOLDER.findall(str(case.body))]
    what = next((RECORD_OF[n] for n in named if n in RECORD_OF), "site")
    return NotFound(what)


# What is decided elsewhere: the form's route -> the refusal the service raises.
ELSEWHERE: dict[str, Callable[[str], CorridorError]] = {
    "gone": _gone,
    "decided_elsewhere": lambda route: Conflict(
        N_("The record was changed at the same moment; try again")
    ),
    "at_a_node": lambda route: TracingAtCentral(),
}
LANG = "ar"
# Refusals answered with the bare error page although something was typed, and why.
BARE: dict[tuple[str, str], str] = {
    ("POST /persons/{person_id}/links/{link_id}/remove", "gone"): "a family link not "
    "found is the 404 of any link not found, its denial naming the link's persons: a link "
    "of another site's person is not found alike, and no person is shown (no oracle; "
    "tests/api/test_route_table_protection.py)",
    ("POST /persons/{person_id}/merge", "gone"): "a person not found (erased meanwhile, "
    "or another site's) is the 404 of any person not found: the duplicates queue shown "
    "instead would show persons on a refusal (test_route_table_protection's out-of-scope "
    "and one-audit-event tests)",
    ("POST /persons/{person_id}/not-duplicate", "gone"): "as the merge",
    ("POST /persons/{person_id}/resolve-conflict", "gone"): "a conflict not found, or out "
    "of reach, is the 404 of any record not found: the queue shown instead would show "
    "persons on a refusal; one decided meanwhile comes back with how it was decided "
    "(tests/sync/test_conflict_pages.py)",
}
# A value of its kind where the words typed into every text control would be refused by
# the form itself (the refusal tried here must be the one that answers).
VALID = {"last_seen_date": "2019-02-20"}


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    if "sqlite" not in LABS:
        LABS["sqlite"] = Lab(request)
        yield LABS["sqlite"]
        LABS.pop("sqlite").close()
    else:
        yield LABS["sqlite"]


CASES_HERE = [
    pytest.param(c, name, id=f"{c.form.route}|{name}")
    for c in FIRST_CASES
    if c.form.route not in NO_KEY and c.form.route not in NOT_SHOWN_HERE
    for name in ELSEWHERE
]


@pytest.mark.parametrize(("case", "elsewhere"), CASES_HERE)
def test_a_form_refused_for_what_was_decided_elsewhere_keeps_what_was_typed(
    lab: Lab, case: KeptCase, elsewhere: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.load()
    route = CASES[case.form.route]
    url, body = _base(lab, route, case.role)  # type: ignore[arg-type]
    sent, typed = _filled(lab, case, url, body)
    for name in list(sent):
        if (leaf := name.rsplit(".", 1)[-1]) in VALID:
            sent[name] = VALID[leaf]
            if name in typed:
                typed[name] = sent[name]
    refusal = ELSEWHERE[elsewhere](route.key)
    reached: list[bool] = []

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        reached.append(True)
        raise refusal

    monkeypatch.setattr(retries.Retry, "run", refused)
    client = lab.clients[case.role]
    before = state(lab.db)
    client.cookies.set(LANG_COOKIE, LANG)
    try:
        status, text = _post(client, url, sent)
    finally:
        client.cookies.delete(LANG_COOKIE)
    said = f"{status} {route.key} {elsewhere}: {text[-800:] if status >= 500 else ''}"
    assert reached, (route.key, "the write takes no key: list it in NO_KEY")
    assert 400 <= status < 500, said  # (a)
    after = state(lab.db)
    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert set(changed) <= READ_TABLES, (said, changed)
    bare = "data-error-status=" in text
    if typed and (route.key, elsewhere) not in BARE:  # (b)
        assert not bare, (said, re.findall(r'role="alert">([^<]*)<', text))
    assert _says_why(text), said  # (c)
    assert f'<html lang="{LANG}"' in text and str(refusal.message) not in text, said
    if (route.key, elsewhere) in BARE:
        assert bare, (said, "answered with the form: take it out of BARE")
        return
    shown = shown_again(text)
    lost = {name: value for name, value in typed.items() if value.strip() not in shown}
    assert not lost, (said, lost)  # (d)


def test_every_keyed_form_with_something_to_type_is_tried() -> None:
    """Each page form of the table with a field to type and an idempotency key has its
    cases here."""
    tried = {c.values[0].form.route for c in CASES_HERE}
    keyed = {c.form.route for c in FIRST_CASES if c.form.route not in NO_KEY}
    assert tried == keyed - set(NOT_SHOWN_HERE) and tried
    assert {route for route, _ in BARE} <= tried and {e for _, e in BARE} <= set(ELSEWHERE)
