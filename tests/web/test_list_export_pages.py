"""The pages' "Export" (issue 13), on SQLite and PostgreSQL: the manifests list's file
holds the rows the page lists for its filter and order; the unaccounted, families and
search pages start a two-key export whose selection is the page's filter, approved on
its own page by a second officer, so that the file holds exactly the list's persons."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from corridor.security import export_file
from corridor.security.roles import Role
from tests.api.test_list_exports import build_world
from tests.support.worlds import Worlds
from tests.web.conftest import PageClient, csrf, page_client

PASSPHRASE = "sand storm over the river"
EXPORT_LINK = re.compile(r'<a href="(/exports/new\?[^"]+)"')


WORLDS = Worlds(build_world)  # built once a backend (tests/support/worlds.py)
opened, client, world = WORLDS.fixtures()


@pytest.fixture
def requester(database: Any, clock: Any, world: dict[str, Any]) -> Any:
    """A protection officer who also runs the trucks: sees the lists, may ask for exports."""
    roles = (Role.PROTECTION_OFFICER, Role.MOVEMENT_OFFICER)
    with page_client(database, clock, roles=roles, name="requester") as c:
        yield c


@pytest.fixture
def approver(database: Any, clock: Any, world: dict[str, Any]) -> Any:
    with page_client(database, clock, roles=(Role.SITE_MANAGER,), name="approver") as c:
        yield c


def _key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found, "the form carries no idempotency key"
    return found.group(1)


def _unescape(url: str) -> str:
    return url.replace("&amp;", "&")


def test_manifests_page_export_links_give_the_pages_rows(requester, world):
    sites = world["sites"]
    for given in ({}, {"site": sites["exit"], "sort": "vehicle"}, {"status": "dispatched"},
                  {"site": sites["b"], "sort": "-created"}, {"since": world["days"][1].isoformat()},
                  {"status": "received", "site": sites["a"]}):  # fmt: skip
        query = urlencode(given)
        page = requester.page(f"/manifests?{query}")
        listed = requester.get(f"/manifests.json?{query}").json()["manifests"]
        links = [_unescape(u) for u in re.findall(r'href="(/manifests/export/[^"]+)"', page)]
        assert [urlsplit(u).path for u in links] == ["/manifests/export/csv",
                                                     "/manifests/export/xlsx"]  # fmt: skip
        assert all(dict(parse_qsl(urlsplit(u).query)) == given for u in links)
        r = requester.get(links[0])
        assert r.status_code == 200, r.text
        rows = list(csv.DictReader(io.StringIO(r.content.decode())))
        assert [row["manifest_id"] for row in rows] == [m["id"] for m in listed], given


def test_manifests_page_export_bad_filter_names_the_field(requester, world):
    r = requester.get("/manifests/export/csv?since=2019-02-30")
    assert r.status_code == 422 and "since" in r.text
    r = requester.get("/manifests/export/csv?sort=nationality")
    assert r.status_code == 422 and "sort" in r.text


def _ask(requester: PageClient, link: str, reason: str = "for the camp committee") -> str:
    """Follow a list's Export link, read what it holds, ask: the export's page URL."""
    page = requester.page(link)
    r = requester.submit(
        "/exports", {**_hidden(page), "reason": reason, "format": "jsonl",
                     "idempotency_key": _key(page)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"])


def _hidden(page: str) -> dict[str, Any]:
    form = page[page.index('action="/exports"') :]
    form = form[: form.index("</form>")]
    out: dict[str, Any] = {}
    for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form):
        if name in ("csrf_token", "idempotency_key"):
            continue
        if name == "person_id":
            out.setdefault("person_id", []).append(value)
        else:
            out[name] = value
    return out


def _approve_and_download(requester: PageClient, approver: PageClient, url: str) -> bytes:
    # Not before the second key: the requester is offered no download, and a download
    # sent anyway is refused.
    page = requester.page(url)
    assert "waiting for a second person" in page and "/download" not in page
    r = requester.submit(f"{url}/download", {"passphrase": PASSPHRASE})
    assert r.status_code == 409, r.text[:300]
    page = approver.page(url)
    r = approver.submit(f"{url}/approve", {"idempotency_key": _key(page)})
    assert r.status_code == 200 and "approved" in r.text, r.text[:300]
    requester.page(url)
    r = requester.submit(f"{url}/download", {"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/octet-stream"
    _, content = export_file.open_file(r.content, PASSPHRASE)
    return content


def _ids(content: bytes) -> list[str]:
    return sorted(json.loads(line)["id"] for line in content.decode().splitlines() if line)


def test_unaccounted_page_export_holds_the_pages_persons(requester, approver, world):
    sites, days = world["sites"], world["days"]
    for given in ({}, {"site": sites["a"]}, {"since": days[1].isoformat()},
                  {"site": sites["exit"], "until": days[0].isoformat()}):  # fmt: skip
        query = urlencode(given)
        page = requester.page(f"/unaccounted?{query}")
        link = _unescape(EXPORT_LINK.search(page).group(1))  # type: ignore[union-attr]
        listed = requester.get(f"/unaccounted.json?{query}").json()
        assert listed["paging"]["total"] == len(listed["unaccounted"])  # one page here
        expected = sorted(u["person"]["id"] for u in listed["unaccounted"])
        url = _ask(requester, link)
        assert _ids(_approve_and_download(requester, approver, url)) == expected, given


def test_families_page_export_holds_the_pages_members(requester, approver, world):
    for given in ({}, {"alone": "1"}, {"site": world["sites"]["b"]}):
        query = urlencode(given)
        page = requester.page(f"/families?{query}")
        link = _unescape(EXPORT_LINK.search(page).group(1))  # type: ignore[union-attr]
        listed = requester.get(f"/families.json?{query}").json()["families"]
        expected = sorted(m["id"] for f in listed for m in f["members"] if m["id"])
        url = _ask(requester, link)
        words = approver.page(url)
        assert "members of families split across places" in words
        assert _ids(_approve_and_download(requester, approver, url)) == expected, given


def test_search_results_export_holds_the_persons_shown(requester, approver, world):
    page = requester.page("/search")
    r = requester.submit("/search", {"name": "Head05 Test"})
    assert r.status_code == 200, r.text[:300]
    shown = re.findall(r'<a href="/persons/([0-9a-f-]{36})"', r.text)
    assert shown and 'id="export-results"' in r.text
    requester.token = csrf(r.text)
    form = _hidden(r.text)
    assert sorted(form["person_id"]) == sorted(set(shown))
    r = requester.submit("/exports", {**form, "reason": "asked by the family",
                                      "idempotency_key": _key(r.text)},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    url = r.headers["location"]
    assert "persons shown by a search by name" in approver.page(url)
    assert _ids(_approve_and_download(requester, approver, url)) == sorted(set(shown))
    del page


def test_without_export_rights_no_link_and_403(database, clock, world):
    with page_client(database, clock, roles=(Role.MOVEMENT_OFFICER,), name="mover") as mover:
        page = mover.page("/unaccounted")
        assert "/exports/new" not in page
        assert mover.get("/exports/new?list=unaccounted").status_code == 403
        r = mover.submit("/exports", {"list": "unaccounted", "reason": "the list"})
        assert r.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("list=unaccounted&since=2019-02-30", "selection.since"),
        ("list=unaccounted&until=tomorrow", "selection.until"),
        ("list=families&since=2019-03-11", "selection.since"),
        ("list=everyone", "selection.list"),
    ],
)
def test_a_bad_filter_names_the_field(requester, world, query, field):
    r = requester.get(f"/exports/new?{query}")
    assert r.status_code == 422, r.text[:300]
    assert field in r.text


def test_asking_twice_with_one_key_asks_once(requester, database, world):
    from sqlalchemy import func, select

    from corridor.security.tables import export_requests

    page = requester.page("/exports/new?list=families&alone=1")
    form = {**_hidden(page), "reason": "for the committee", "idempotency_key": _key(page)}
    first = requester.submit("/exports", form, follow_redirects=False)
    again = requester.submit("/exports", form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(export_requests)).scalar() == 1


def test_the_desk_shows_a_waiting_lists_selection_and_its_persons(
    requester, database, clock, world
):
    listed = requester.get("/families.json?alone=1").json()["families"]
    members = {m["id"] for f in listed for m in f["members"] if m["id"]}
    page = requester.page("/exports/new?list=families&alone=1")
    requester.submit("/exports", {**_hidden(page), "reason": "for the committee",
                                  "idempotency_key": _key(page)})  # fmt: skip
    with page_client(database, clock, roles=(Role.DATA_PROTECTION_OFFICER,), name="dpo") as dpo:
        waiting = dpo.get("/dpo/exports.json").json()["exports"]
        assert [e["selection_text"] for e in waiting] == [
            "members of families split across places with a child alone, and children alone "
            "registered on their own"
        ]
        assert waiting[0]["persons"] == len(members)  # the list's persons, not the sites'
        assert "members of families split across places" in dpo.page("/dpo/exports")


# The export form sent with a selection or a choice its page did not offer (a hidden
# field changed by hand, a page kept open across an upgrade): what is changed, and the
# field the refusal names.
TAMPERED = {
    "list": ({"list": "everyone"}, "selection.list"),
    "filter": ({"alone": "1", "since": "2019-03-01"}, "selection.since"),
    "date": ({"list": "unaccounted", "alone": "", "since": "2019-02-30"}, "selection.since"),
    "site": ({"site": "0190aaaa-0000-7000-8000-000000000000"}, "form"),
    "format": ({"format": "pdf"}, "format"),
}


@pytest.mark.parametrize("tampered", sorted(TAMPERED))
def test_a_tampered_export_form_comes_back_with_the_reason(requester, database, world, tampered):
    """The export form's hidden selection (or its format) changed to something the page
    never offered: the form again, the reason typed kept, why in words (an alert naming
    the problem), nothing asked. (It was the bare error page, the reason lost.)"""
    from sqlalchemy import func, select

    from corridor.security.tables import export_requests
    from tests.web.test_refused_forms_keep_input import _lost, forms_posting_to

    page = requester.page("/exports/new?list=families&alone=1")
    changed, field = TAMPERED[tampered]
    reason = "asked by the camp committee on Tuesday"
    sent = {**_hidden(page), "reason": reason, "format": "csv", "idempotency_key": _key(page)}
    sent.update(changed)
    with database.read() as conn:
        before = conn.execute(select(func.count()).select_from(export_requests)).scalar_one()
    r = requester.submit("/exports", sent)
    assert 400 <= r.status_code < 500, r.text[-600:]
    assert "data-error-status" not in r.text, r.text[-1200:]
    assert forms_posting_to(r.text, "/exports"), r.text[-1200:]
    assert not _lost(r.text, "/exports", {"reason": reason})
    alerts = re.findall(r'role="alert"[^>]*>([^<]+)<', r.text)
    assert [a for a in alerts if a.strip()], r.text[-1200:]
    assert f'data-problem-field="{field}"' in r.text or f'id="e-{field}"' in r.text
    with database.read() as conn:
        after = conn.execute(select(func.count()).select_from(export_requests)).scalar_one()
    assert after == before
