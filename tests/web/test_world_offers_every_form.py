"""Every page form of the route table is offered by some page of the route table's world
(tests/support/route_world.py), so that the generated audits (protection, bad input,
input kept, translation, audit trail) post it in the state it is made for.

A form offered by no page of the world is posted by those audits only in a state that
refuses it before its work (a case that awaits no decision, a person not merged, an
erasure nobody holds): its refusal paths are exercised, never what it does, nor the
page it comes back on. The check walks every page of the route table (each filled with
the ids of every record of the world), signed in as a user holding every role at site A,
and collects where each POST form on them posts to; a form route that no page offers
under a record's ids for it (``Record.ids_for``) fails, unless ``NOT_OFFERED`` says why
no world can offer it.
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from corridor.domain.ids import uuid7
from corridor.security.roles import Role
from corridor.settings import Settings
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock, world_database
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases
from tests.support.route_world import (
    RECORDS,
    World,
    build_world,
    token_client,
    with_form_secret,
)

APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = route_cases(APP)
FORMS = [c for c in CASES if c.kind == "form"]
PAGES = [c for c in CASES if c.kind == "page"]
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
# Every role (the data protection officer's and the coordinator's desks included).
EVERY_ROLE = tuple(Role)
# Form routes no page of a signed-in user's world can offer, and why.
NOT_OFFERED = {
    "POST /login": "the sign-in form: offered to someone not signed in",
    "POST /login/code": "the sign-in's second step: offered between the two steps only",
}
# Form routes the world does not offer yet, and what it lacks: each is a gap of the
# generated audits (they post it only in a state that refuses it), to be closed by
# putting a record of tests/support/route_world.py in the state that offers it.
NOT_YET = {
    "POST /admin/users/{user_id}/reactivate": "no account of the world is deactivated "
    "(the route table posts it on the caller's own account)",
    "POST /admin/users/{user_id}/unlock": "no account of the world is locked",
    "POST /exports/{export_id}/download": "the world's exports are asked by officers "
    "who are none of the callers, and approved by nobody: only an approved export's "
    "asker is offered the download",
}
# Path parameters naming an account, not a record: any account the page offers the
# form on will do (the route table's callers act on their own, or on a spare token).
ACCOUNT_PARAMS = {"user_id", "token_id"}


class _Actions(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.posts: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.posts.add((a.get("action") or "").split("?", 1)[0])
        if a.get("hx-post"):  # a form's part posted as it is typed (similar persons)
            self.posts.add((a.get("hx-post") or "").split("?", 1)[0])


def _id_sets(world: World, user: str) -> Iterator[dict[str, str]]:
    """Each record's ids, and each state of it that offers a form (``Record.offers``)."""
    for kind in RECORDS:
        record = world.record(kind)
        for state in ({}, *record.offers.values()):
            yield {**record.ids, **state, "user_id": user}


def _requests(world: World, user: str) -> Iterator[tuple[RouteCase, str, dict[str, str] | None]]:
    """Every page of the route table and every form of it that reads (a search: its
    answer offers the forms on what it found), filled with each set of ids (``_id_sets``)."""
    seen: set[tuple[str, str]] = set()
    reads = [c for c in FORMS if NO_KEY.get(c.key, "").startswith("a read")]
    for ids in _id_sets(world, user):
        for case in (*PAGES, *reads):
            url = fill(case.path, {**ids, "fmt": case.fmt or ""})
            body = fill(case.body, ids) if case.kind == "form" else None
            if (case.key, url) not in seen and "{" not in url:
                seen.add((case.key, url))
                yield case, url, body


@pytest.fixture(scope="module")
def offered(request: pytest.FixtureRequest) -> Iterator[tuple[World, set[str], str]]:
    db = world_database(request, "sqlite", "world-offers")
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    sites = [world.sites[k] for k in ("A", "H", "D")]
    client, user = token_client(db, clock, "offers-every-role", EVERY_ROLE, sites)
    with_form_secret(client)
    actions: set[str] = set()
    for _case, url, body in _requests(world, user):
        r = client.get(url) if body is None else client.post(url, data=body)
        if r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html"):
            page = _Actions()
            page.feed(r.text)
            actions |= page.posts
    yield world, actions, user
    client.close()
    db.dispose()


def _filled(world: World, case: RouteCase, user: str) -> set[str]:
    return {
        fill(case.path, {**world.record(k).ids_for(case.key), "user_id": user})
        for k in RECORDS
    }


def _shape(url: str) -> str:
    return ID.sub("{id}", url)


ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_every_form_is_offered_by_a_page_of_the_world(
    offered: tuple[World, set[str], str],
) -> None:
    """A form route no page of the world offers (in the state of a record the route
    table fills it with) fails here: put a record of the world in the state that offers
    it (``Record.offers``), or say in ``NOT_OFFERED`` why no world can."""
    world, actions, user = offered
    shapes = {_shape(a) for a in actions}
    missing = []
    for case in FORMS:
        if case.key in NOT_OFFERED or case.key in NOT_YET:
            continue
        if set(case.params) & ACCOUNT_PARAMS:
            found = _shape(fill(case.path, dict.fromkeys(ACCOUNT_PARAMS, uuid7()))) in shapes
        else:
            found = bool(_filled(world, case, user) & actions)
        if not found:
            missing.append(case.key)
    assert not missing, "\n".join([*missing, "offered:", *sorted(shapes)])


def test_every_form_not_offered_is_still_not(offered: tuple[World, set[str], str]) -> None:
    """An entry of ``NOT_YET`` outlives its gap: once the world offers the form, the
    entry goes (and the audits post it as it is made for)."""
    world, actions, user = offered
    forms = {c.key: c for c in FORMS}
    assert set(NOT_OFFERED) | set(NOT_YET) <= set(forms)
    now_offered = [k for k in NOT_YET if _filled(world, forms[k], user) & actions]
    assert not now_offered, now_offered
