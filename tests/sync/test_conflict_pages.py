"""Issue 16: the conflict review queue pages (``GET /api/sync/conflicts?limit&offset``,
the total in ``X-Total-Count``; ``/sync/conflicts?page=N`` with its pager), oldest
first, each page audited for the persons it shows only. Conflicts are made as in
tests/sync/test_conflicts.py. The central runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from corridor.schemas import ConsentIn, PersonPatch
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.web.i18n import LANG_COOKIE
from corridor.web.pages import conflicts as conflict_page
from tests.sync.helpers import hook, register
from tests.sync.test_conflicts import CENTRAL_PHONE, _client, _conflict, _to_central, _to_node
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


def _form_of(page: str) -> dict[str, str]:
    found = re.search(r'name="conflict_id" value="([^"]+)"', page)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found and key, page[-800:]
    return {"conflict_id": found.group(1), "idempotency_key": key.group(1)}


@pytest.mark.parametrize("lang", ["en", "ar", "ku"])
def test_a_conflict_decided_at_another_desk_meanwhile_says_so(pair, clock, lang) -> None:
    """Two officers open the queue; one decides (ours kept); the other, choosing theirs
    for the phone, presses Decide. The queue again (409, never the bare "Not found"
    page it was), saying in the reader's language that the conflict was decided
    meanwhile and how (ours kept for the phone), a link to the person, and the choice
    this officer made, shown read-only (not recorded); nothing written."""
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    with (
        page_client(central.db, clock, (Role.REGISTRAR,), "desk-one") as first,
        page_client(central.db, clock, (Role.REGISTRAR,), "desk-two") as second,
    ):
        mine = _form_of(second.page("/sync/conflicts"))
        theirs = _form_of(first.page("/sync/conflicts"))
        r = first.submit(f"/persons/{pid}/resolve-conflict", {**theirs, "choice.phone": "ours"})
        assert r.status_code == 200 and "no-conflicts" in r.text
        with central.db.read() as conn:
            before = conn.execute(select(func.count()).select_from(sync_changes)).scalar_one()
        second.cookies.set(LANG_COOKIE, lang)
        r = second.submit(f"/persons/{pid}/resolve-conflict", {**mine, "choice.phone": "theirs"})
        assert r.status_code == 409, r.text[-800:]
        assert "data-error-status" not in r.text and f'<html lang="{lang}"' in r.text
        decided = r.text.partition('id="decided-elsewhere"')[2].partition("</section>")[0]
        assert 'role="alert"' in decided and f'href="/persons/{pid}"' in decided, r.text[-1500:]
        assert 'data-outcome="phone:ours"' in decided and 'data-kept' in decided
        assert 'data-chosen="phone:theirs"' in decided
        english = "This conflict was decided meanwhile"
        assert (english in decided) == (lang == "en"), decided
    assert central.registration.get_person(pid)["phone"] == CENTRAL_PHONE  # ours kept
    with central.db.read() as conn:  # no change made (the refusal's audit aside)
        after = conn.execute(select(func.count()).select_from(sync_changes)).scalar_one()
    assert after == before


# An agency's name as an older node stored it, before names were held to 200 characters
# (tests/api: a 50,000-character agency was once registered).
OLD_AGENCY = "Committee for the families of the missing of the eastern governorates " * 4


@pytest.mark.parametrize("side", ["theirs", "ours"])
def test_an_agency_stored_before_its_length_limit_never_blocks_a_decision(
    pair, clock, side
) -> None:
    """The agencies to share with were changed apart, and one side holds an agency named
    at a length no form takes any more (stored before the limit existed: synced from
    an older node). The officer decides, on the page, taking that side's value: the
    decision is recorded with the name as it was kept (the limit applies to what is
    typed, not to what is kept), never refused for a value nobody typed here."""
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira", "+963933100001")
    _to_central(central, node)
    _to_node(central, node)
    old = ConsentIn.model_construct(tracing=True, share_with=["ICRC", OLD_AGENCY])
    new = ConsentIn(tracing=True, share_with=["UNHCR"])
    # The side holding the old name wrote it as an older version did: unchecked.
    central_consent, node_consent = (new, old) if side == "theirs" else (old, new)
    for s, consent in ((central, central_consent), (node, node_consent)):
        patch = PersonPatch.model_construct(consent=consent)
        s.registration.update_person(pid, patch, audit=hook(s, "person.write"))
    assert _to_central(central, node).conflicts == 1
    with page_client(central.db, clock, (Role.REGISTRAR,), "desk-one") as officer:
        page = officer.page("/sync/conflicts")
        fields = set(re.findall(r'name="choice\.([\w.]+)"', page))
        assert "consent_share_with" in fields, fields
        sent = {**_form_of(page), **{f"choice.{f}": "theirs" for f in fields}}
        r = officer.submit(f"/persons/{pid}/resolve-conflict", sent)
        assert r.status_code == 200 and "no-conflicts" in r.text, r.text[-1500:]
    assert central.registration.get_person(pid)["consent"]["share_with"] == list(
        node_consent.share_with
    )
