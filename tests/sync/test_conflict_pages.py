"""Issue 16: the conflict review queue pages (``GET /api/sync/conflicts?limit&offset``,
the total in ``X-Total-Count``; ``/sync/conflicts?page=N`` with its pager), oldest
first, each page audited for the persons it shows only. Conflicts are made as in
tests/sync/test_conflicts.py. The central runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE
from corridor.web.pages import conflicts as conflict_page
from tests.sync.test_conflicts import CENTRAL_PHONE, _client, _conflict
from tests.web.conftest import page_client

BIRTHS = ("1980-01-01", "1981-02-02", "1982-03-03")


def _reads(s: Services) -> list[str]:
    with s.db.read() as conn:
        return list(
            conn.execute(
                select(audit_events.c.person_id)
                .where(audit_events.c.action == "person.read")
                .order_by(audit_events.c.seq)
            ).scalars()
        )


def test_the_api_pages_the_queue_with_a_total(pair, clock) -> None:
    central, node, exit_point, _ = pair
    made = [_conflict(central, node, exit_point, birth) for birth in BIRTHS]
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)

    whole = officer.get("/api/sync/conflicts")
    assert whole.status_code == 200 and whole.headers["X-Total-Count"] == "3"
    assert [c["person_id"] for c in whole.json()] == made  # oldest first

    before = len(_reads(central))
    first = officer.get("/api/sync/conflicts", params={"limit": 2})
    assert first.headers["X-Total-Count"] == "3"
    assert [c["person_id"] for c in first.json()] == made[:2]
    assert _reads(central)[before:] == made[:2]  # only the persons shown are read
    rest = officer.get("/api/sync/conflicts", params={"limit": 2, "offset": 2})
    assert [c["person_id"] for c in rest.json()] == made[2:]
    assert rest.headers["X-Total-Count"] == "3"
    beyond = officer.get("/api/sync/conflicts", params={"limit": 2, "offset": 10})
    assert beyond.json() == [] and beyond.headers["X-Total-Count"] == "3"
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        r = officer.get("/api/sync/conflicts", params=bad)
        assert r.status_code == 422, (bad, r.text)


def test_the_page_pages_the_queue(pair, clock, monkeypatch) -> None:
    central, node, exit_point, _ = pair
    made = [_conflict(central, node, exit_point, birth) for birth in BIRTHS]
    monkeypatch.setattr(conflict_page, "CONFLICTS_A_PAGE", 2)
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)

    page = officer.get("/sync/conflicts")
    assert page.status_code == 200
    assert all('id="conflict-' in page.text for _ in made)
    assert page.text.count('class="pair" id="conflict-') == 2
    assert "Showing 1–2 of 3" in page.text and "/sync/conflicts?page=2" in page.text
    second = officer.get("/sync/conflicts", params={"page": 2})
    assert second.text.count('class="pair" id="conflict-') == 1
    assert "Showing 3–3 of 3" in second.text
    twin = officer.get("/sync/conflicts.json", params={"page": 2}).json()
    assert twin["paging"] == {"total": 3, "limit": 2, "offset": 2}
    assert [c["person_id"] for c in twin["conflicts"]] == made[2:]
    assert officer.get("/sync/conflicts", params={"page": 0}).status_code == 422


def test_a_refused_decision_keeps_the_choices_made(pair, clock) -> None:
    """A decision refused (here a field the conflict does not hold, sent beside the
    choices) shows the queue again with why, in the reader's language, and each choice
    as the officer made it. The radios used to fall back to "ours" on every field, so
    that a second press kept ours where the officer had chosen theirs, and why was said
    in English on the Arabic and Kurmanji pages."""
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    with page_client(central.db, clock, (Role.REGISTRAR,), "reg-exit") as officer:
        for lang in ("en", "ar", "ku"):
            officer.cookies.set(LANG_COOKIE, lang)
            page = officer.page("/sync/conflicts")
            found = re.search(r'name="conflict_id" value="([^"]+)"', page)
            assert found, page[-800:]
            sent = {
                "conflict_id": found.group(1),
                "choice.phone": "theirs",
                "choice.given_name": "theirs",  # not a field of this conflict
            }
            r = officer.submit(f"/persons/{pid}/resolve-conflict", sent)
            assert r.status_code == 422, r.text[-800:]
            assert re.search(r'name="choice.phone" value="theirs" checked', r.text), lang
            assert not re.search(r'name="choice.phone" value="ours" checked', r.text), lang
            why = re.search(r'<p class="error" role="alert"[^>]*>([^<]*)</p>', r.text)
            assert why, r.text[-800:]
            english = "not a field of this conflict"
            assert (why.group(1) == english) == (lang == "en"), (lang, why.group(1))
    assert central.registration.get_person(pid)["phone"] == CENTRAL_PHONE  # nothing taken
