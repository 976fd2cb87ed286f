"""Issue 15 on the pages: the queue of probable duplicates side by side, a merge from
it (the old record's page then shows the survivor, which lists the old number with an
undo button), an unmerge, and "two different persons" emptying the queue for good."""

from __future__ import annotations

import re

import pytest

from corridor.domain.paging import Paging
from corridor.schemas import PersonIn, SiteIn
from corridor.services import Services
from corridor.web.i18n import LANG_COOKIE
from tests.web.conftest import PageClient, page_client

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m"}


def _camp(svc: Services) -> str:
    site = SiteIn(name="Camp Roj", kind="camp")
    return str(svc.sites.create(site, audit=svc.audit.operator_hook("test", "sites.admin"))["id"])


@pytest.fixture
def twice(database, clock) -> tuple[str, str]:
    """A camp and one man registered twice there."""
    svc = Services(database, clock)
    camp = _camp(svc)
    base = {"site_id": camp, "consent": {"tracing": True}, "purpose": "registration",
            "legal_basis": "vital_interest", "birth_date": "1980-03-02", **NAME}  # fmt: skip
    a, b = svc.registration.register_many(
        [PersonIn.model_validate(base), PersonIn.model_validate(base)],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return a, b


def _queued(c: PageClient, a: str, b: str) -> str:
    svc = c.app.state.services  # type: ignore[attr-defined]
    _, queued = svc.merges.propose([[a, b]], audit=svc.audit.operator_hook("test", "person.merge"))
    assert queued == 1
    return c.page("/duplicates")


def _number(c: PageClient, person_id: str) -> str:
    return str(c.get(f"/persons/{person_id}.json").json()["person"]["registration_number"])


def test_merge_from_the_queue_then_undo_it(database, clock, twice) -> None:
    a, b = twice
    with page_client(database, clock) as c:
        number_a, number_b = _number(c, a), _number(c, b)
        html = _queued(c, a, b)
        assert number_a in html and number_b in html
        assert "Why the engine proposes them" in html
        twin = c.get("/duplicates.json").json()
        assert [{p["id"] for p in pair["persons"]} for pair in twin["pairs"]] == [{a, b}]
        r = c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": "same man", "idempotency_key": KEY.findall(html)[0]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        assert r.headers["location"] == f"/persons/{a}"
        # The old record's page is the survivor's, which names the old number.
        old = c.page(f"/persons/{b}")
        assert 'id="merged-from"' in old and number_b in old
        assert c.get(f"/persons/{b}.json").json()["person"]["id"] == a
        assert "No probable duplicates to review." in c.page("/duplicates")
        key = KEY.findall(old)
        r = c.submit(
            f"/persons/{b}/unmerge",
            {"reason": "two men", "idempotency_key": key[0]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        assert c.get(f"/persons/{b}.json").json()["person"]["id"] == b
        assert 'id="merged-from"' not in c.page(f"/persons/{a}")


def test_two_different_persons_leave_the_queue_for_good(database, clock, twice) -> None:
    a, b = twice
    with page_client(database, clock) as c:
        html = _queued(c, a, b)
        c.cookies.set(LANG_COOKIE, "ar")
        assert "Two different persons" not in c.page("/duplicates")  # translated
        c.cookies.delete(LANG_COOKIE)
        html = c.page("/duplicates")
        r = c.submit(
            f"/persons/{a}/not-duplicate",
            {"other_person_id": b, "reason": "", "idempotency_key": KEY.findall(html)[-1]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        assert "No probable duplicates to review." in c.page("/duplicates")
        svc = c.app.state.services  # type: ignore[attr-defined]
        again = svc.merges.propose([[a, b]], audit=svc.audit.operator_hook("test", "person.merge"))
        assert again == ([], 0)


GIVEN = ["Adnan", "Bashar", "Chadi", "Daoud", "Ehab", "Fadi", "Ghassan", "Hadi", "Imad",
         "Jamal", "Karim", "Louai", "Majed", "Nabil", "Omar", "Rami", "Samir", "Tarek",
         "Wael", "Yaser", "Ziad"]  # fmt: skip


def test_the_queue_is_paged_on_the_page_and_the_api(database, clock) -> None:
    """21 pairs: the page shows 20 and a link to the second page, which shows the last;
    the API gives ``limit`` from ``offset`` with the total in ``X-Total-Count``; the
    pages hold every pair once, most probable first."""
    svc = Services(database, clock)
    camp = _camp(svc)
    people = [
        PersonIn.model_validate(
            {
                "site_id": camp,
                "consent": {"tracing": True},
                "purpose": "registration",
                "legal_basis": "vital_interest",
                "birth_date": f"19{60 + i}-03-02",
                "sex": "m",
                "given_name": name,
                "father_name": "Ali",
                "family_name": "Jabbouri",
            }
        )  # fmt: skip
        for i, name in enumerate(GIVEN)
        for _ in range(2)
    ]
    ids = svc.registration.register_many(
        people, audit=svc.audit.operator_hook("test", "person.write")
    )
    pairs = [ids[i : i + 2] for i in range(0, len(ids), 2)]
    _, queued = svc.merges.propose(pairs, audit=svc.audit.operator_hook("test", "person.merge"))
    assert queued == len(GIVEN) == 21
    with page_client(database, clock) as c:
        first = c.page("/duplicates")
        assert first.count('class="pair"') == 20
        assert "Showing 1–20 of 21" in first
        assert 'href="/duplicates?page=2"' in first
        second = c.page("/duplicates?page=2")
        assert second.count('class="pair"') == 1 and "Showing 21–21 of 21" in second
        twin = c.get("/duplicates.json?page=2").json()
        assert twin["paging"] == {"total": 21, "limit": 20, "offset": 20}
        assert c.get("/duplicates?page=0").status_code == 422
        seen: list[frozenset[str]] = []
        probabilities: list[float] = []
        for offset in range(0, 21, 8):
            r = c.get("/api/duplicates", params={"limit": 8, "offset": offset})
            assert r.status_code == 200, r.text
            assert r.headers["X-Total-Count"] == "21"
            assert len(r.json()) == min(8, 21 - offset)
            seen += [frozenset(p["id"] for p in pair["persons"]) for pair in r.json()]
            probabilities += [pair["probability"] for pair in r.json()]
        assert sorted(seen, key=sorted) == sorted((frozenset(p) for p in pairs), key=sorted)
        assert probabilities == sorted(probabilities, reverse=True)
        _, total = svc.merges.queue_page(paging=Paging(limit=5, offset=20))
        assert total == 21
        assert c.get("/api/duplicates", params={"limit": 501}).status_code == 422
        assert len(c.get("/api/duplicates").json()) == 21  # the default: the first 100


def test_a_refused_unmerge_says_why_on_the_persons_page(database, clock, twice) -> None:
    """The undo button sent again from a page opened before another officer undid the
    merge: refused (409 in the API), and the page says why, on the person's page the
    form was on (not the queue, which said nothing of it)."""
    a, b = twice
    with page_client(database, clock) as c:
        html = _queued(c, a, b)
        c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": "same man", "idempotency_key": KEY.findall(html)[0]},
        )
        old = c.page(f"/persons/{b}")
        first, stale = KEY.findall(old)[0], KEY.findall(c.page(f"/persons/{b}"))[0]
        r = c.submit(f"/persons/{b}/unmerge", {"reason": "two men", "idempotency_key": first})
        assert r.status_code == 200
        r = c.submit(
            f"/persons/{b}/unmerge", {"reason": "not the same man", "idempotency_key": stale}
        )
        assert r.status_code == 409  # a conflict, as its error page would answer it
        assert 'id="movements"' in r.text  # the person's page
        assert f'id="unmerge-{b}"' in r.text
        assert "this person is not merged into another" in r.text


def test_an_unmerge_reason_refused_is_marked_on_its_form(database, clock, twice) -> None:
    """A reason over the limit: the person's page again, the undo form's reason field
    marked invalid and described by why, what was typed kept."""
    a, b = twice
    with page_client(database, clock) as c:
        html = _queued(c, a, b)
        c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": "same man", "idempotency_key": KEY.findall(html)[0]},
        )
        key = KEY.findall(c.page(f"/persons/{b}"))[0]
        r = c.submit(f"/persons/{b}/unmerge", {"reason": "x" * 5000, "idempotency_key": key})
        assert r.status_code == 422
        form = r.text[r.text.index(f'action="/persons/{b}/unmerge"') :]
        form = form[: form.index("</form>")]
        assert f'aria-invalid="true" aria-describedby="unmerge-{b}"' in form
        assert f'id="unmerge-{b}">must have at most 4000 characters' in r.text
        assert r.text.count(f'id="unmerge-{b}"') == 1
        assert 'id="merged-from"' in r.text  # still merged


def _differing_on_tracing(database, clock) -> tuple[str, str]:
    """One man registered twice at a camp: the first record agreed to family tracing,
    the second refused it."""
    svc = Services(database, clock)
    camp = _camp(svc)
    base = {"site_id": camp, "purpose": "registration", "legal_basis": "vital_interest",
            "birth_date": "1980-03-02", **NAME}  # fmt: skip
    a, b = svc.registration.register_many(
        [
            PersonIn.model_validate({**base, "consent": {"tracing": True}}),
            PersonIn.model_validate({**base, "consent": {"tracing": False}}),
        ],
        audit=svc.audit.operator_hook("test", "person.write"),
    )
    return a, b


def test_a_pair_that_differs_on_tracing_asks_the_persons_decision(database, clock) -> None:
    """One record refused family tracing, the other agreed: each merge form asks what
    the person decides now; without it the merge is refused on that field; with it,
    the survivor holds that decision (docs/security.md, line 2)."""
    a, b = _differing_on_tracing(database, clock)
    with page_client(database, clock) as c:
        html = _queued(c, a, b)
        assert html.count('name="consent_tracing" value="false"') == 2  # both merge forms
        r = c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": "same man", "idempotency_key": KEY.findall(html)[0]},
        )
        assert r.status_code == 422 and "differ on consent to tracing" in r.text
        r = c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": "same man", "consent_tracing": "false",
             "idempotency_key": KEY.findall(r.text)[0]},
            follow_redirects=False,
        )  # fmt: skip
        assert r.status_code == 303, r.text[:500]
        assert c.get(f"/persons/{a}.json").json()["person"]["consent"]["tracing"] is False


def _form_of(html: str, action: str, other: str) -> str:
    """The form posting to ``action`` for the pair with ``other``."""
    forms = re.findall(r'<form method="post" action="([^"]+)".*?</form>', html, re.S)
    bodies = re.findall(r'(<form method="post" action="[^"]+".*?</form>)', html, re.S)
    pairs = zip(forms, bodies, strict=True)
    found = [b for a, b in pairs if a == action and f'value="{other}"' in b]
    assert len(found) == 1, action
    return found[0]


def test_a_refused_decision_shows_the_queue_with_what_was_typed(database, clock) -> None:
    """A merge refused (no decision on tracing; then a reason the schema refuses) comes
    back with its reason and decision still in that form, and only in that one: the
    officer corrects what was wrong instead of typing it all again."""
    a, b = _differing_on_tracing(database, clock)
    reason = "Same ID card number, photo checked"
    with page_client(database, clock) as c:
        html = _queued(c, a, b)
        r = c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": reason, "idempotency_key": KEY.findall(html)[0]},
        )
        assert r.status_code == 422
        assert f'value="{reason}"' in _form_of(r.text, f"/persons/{a}/merge", b)
        assert reason not in _form_of(r.text, f"/persons/{b}/merge", a)
        assert reason not in _form_of(r.text, f"/persons/{a}/not-duplicate", b)
        r = c.submit(
            f"/persons/{a}/merge",
            {"other_person_id": b, "reason": reason + "\x07", "consent_tracing": "false",
             "idempotency_key": KEY.findall(r.text)[0]},
        )  # fmt: skip
        assert r.status_code == 422
        kept = _form_of(r.text, f"/persons/{a}/merge", b)
        assert 'value="false" checked' in kept and 'value="true" required>' in kept
        assert "checked" not in _form_of(r.text, f"/persons/{b}/merge", a)
        r = c.submit(
            f"/persons/{a}/not-duplicate",
            {"other_person_id": b, "reason": "x" * 4001,
             "idempotency_key": KEY.findall(r.text)[-1]},
        )  # fmt: skip
        assert r.status_code == 422
        assert 'value="' + "x" * 4001 in _form_of(r.text, f"/persons/{a}/not-duplicate", b)
        assert len(c.get("/duplicates.json").json()["pairs"]) == 1  # nothing decided


@pytest.mark.parametrize("decision", ["merge", "not-duplicate"])
def test_a_pair_decided_meanwhile_says_why_and_keeps_the_reason(
    database, clock, twice, decision
) -> None:
    """Another officer merges the pair while this one types a reason: the queue (the pair
    gone from it) says why the decision was refused and shows the reason as typed; it
    used to answer 422 with no word of why and the reason lost."""
    a, b = twice
    reason = "Seen both at the desk: brothers, not one man"
    with page_client(database, clock) as c, page_client(database, clock, name="desk2") as d:
        html = _queued(c, a, b)
        key = KEY.search(_form_of(html, f"/persons/{a}/{decision}", b)).group(1)
        d.page("/duplicates")
        r = d.submit(f"/persons/{b}/merge", {"other_person_id": a, "reason": "one man"})
        assert r.status_code == 200, r.text[-400:]
        r = c.submit(
            f"/persons/{a}/{decision}",
            {"other_person_id": b, "reason": reason, "idempotency_key": key},
        )
        assert 400 <= r.status_code < 500, r.text[-400:]
        assert 'data-error-status="' not in r.text
        kept = r.text.partition("data-kept")[2].partition("</p>")[0]
        assert reason in kept, r.text[-1500:]
        assert re.search(r'role="alert" id="pair-[^"]+">[^<]+<', r.text)
