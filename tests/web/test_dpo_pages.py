"""The data protection officer's desk (issue 12): who opened a record, alerts, the
disposal log, exports waiting for approval, legal holds, the audit chain's check and the
evacuation drill behind a typed confirmation; in English and Arabic."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from corridor.domain.ids import format_registration_number, new_registration_number
from corridor.schemas import PersonIn, SiteIn
from corridor.security.crypto import MasterKey
from corridor.security.ratelimit import Limit
from corridor.security.roles import Role
from corridor.security.tables import audit_events, site_keys
from corridor.services import Services
from corridor.storage.metadata import metadata
from corridor.storage.tables import persons
from corridor.web.i18n import LANG_COOKIE
from tests.conftest import MASTER_KEY
from tests.security.test_audit import tamper
from tests.web.conftest import PASSWORD, page_client

DPO = (Role.DATA_PROTECTION_OFFICER,)
CANARY = "Zaynabcanary"
PHONE = "+963 944 123 987"
ENQUIRY = {
    "enquirer": {
        "name": "Amira Haddad",
        "contact": "+49 151 2345 6789",
        "relationship": "sibling",
        "location": "Berlin",
        "country": "DEU",
    },
    "sought": [{"given_name": "Omar", "family_name": "Haddad", "enquirer_is": "sibling"}],
}
DESK = [
    "/dpo",
    "/dpo/audit",
    "/dpo/alerts",
    "/dpo/disposals",
    "/dpo/exports",
    "/dpo/holds",
    "/dpo/verify",
    "/dpo/drill",
]


@pytest.fixture
def svc(database, clock) -> Services:
    return Services(database, clock, MasterKey.from_text(MASTER_KEY))


@pytest.fixture
def camp(svc) -> dict[str, str]:
    audit = svc.audit.operator_hook("test", "sites.admin")
    return {
        name: svc.sites.create(SiteIn(name=name, kind="camp"), audit=audit)["id"]
        for name in ("Camp North", "Camp South")
    }


def register(svc: Services, site_id: str, given: str = CANARY) -> dict:
    return svc.registration.register_person(
        PersonIn.model_validate(
            {
                "site_id": site_id,
                "given_name": given,
                "family_name": "al-Test",
                "sex": "f",
                "estimated_age": 30,
                "phone": PHONE,
                "consent": {"tracing": True},
                "purpose": "registration and assistance",
                "legal_basis": "vital_interest",
            }
        ),
        audit=svc.audit.operator_hook("test", "person.write"),
    )


def events(database, after: int = 0, **where: str) -> list[dict]:
    query = select(audit_events).where(audit_events.c.seq > after)
    for column, value in where.items():
        query = query.where(audit_events.c[column] == value)
    with database.read() as conn:
        return [dict(r) for r in conn.execute(query.order_by(audit_events.c.seq)).mappings()]


def last_seq(database) -> int:
    rows = events(database)
    return rows[-1]["seq"] if rows else 0


def test_the_dpo_gets_a_menu_and_a_home_page_whose_links_answer(database, clock, camp):
    """Before issue 12 the home page offered the sites' dashboards (figures.read), which
    answered 'Not allowed' to the data protection officer, and the menu was empty."""
    dpo = page_client(database, clock, DPO, "dpo")
    home = dpo.page("/")
    assert "{# dpo menu #}" not in home and 'href="/dpo"' in home
    links = set(re.findall(r'href="(/[^"]*)"', home)) - {"/static/corridor.css"}
    assert not any(link.startswith("/sites/") for link in links)
    for link in sorted(links | set(DESK)):
        if link in ("/docs", "/openapi.json", "/"):
            continue
        r = dpo.get(link)
        assert r.status_code == 200, (link, r.status_code, r.text[:300])
        for item in DESK:
            assert f'href="{item}"' in r.text, (link, item)  # the menu, on every page
    # Another role sees no desk and is refused by the role gate.
    registrar = page_client(database, clock, (Role.REGISTRAR,), "registrar")
    assert 'href="/dpo' not in registrar.page("/")
    for link in DESK:
        assert registrar.get(link).status_code == 403, link


def test_who_opened_a_record_by_registration_number_without_the_name(database, clock, camp, svc):
    person = register(svc, camp["Camp North"])
    officer = page_client(database, clock, (Role.REGISTRAR,), "reg-officer")
    officer.page(f"/persons/{person['id']}")
    dpo = page_client(database, clock, DPO, "dpo")
    dpo.page("/dpo/audit")
    before = last_seq(database)
    number = person["registration_number"].replace("-", "").lower()  # as typed
    r = dpo.submit("/dpo/audit", {"person": number})
    assert r.status_code == 200
    rows = re.findall(r"<tr data-outcome=\"(\w+)\">(.*?)</tr>", r.text, re.S)
    opened = [cells for outcome, cells in rows if "reg-officer" in cells]
    assert opened and "registrar" in opened[0] and "opened the record" in opened[0]
    assert "case work on this person" in opened[0]  # the purpose
    assert person["id"] in r.text and person["registration_number"] in r.text
    # Never the person's fields: no name, no phone.
    assert CANARY not in r.text and "123 987" not in r.text and "123987" not in r.text
    # The look is audited: one event, for this person, by the officer, as audit.read.
    looked = events(database, before)
    assert [(e["action"], e["person_id"], e["role"], e["outcome"]) for e in looked] == [
        ("audit.read", person["id"], "data_protection_officer", "allowed")
    ]
    # The same page by id, and its .json twin.
    twin = dpo.get(f"/dpo/persons/{person['id']}/audit.json").json()
    assert twin["trail"]["registration_number"] == person["registration_number"]
    kinds = {(e["action"], e["outcome"]) for e in twin["trail"]["entries"]}
    assert ("person.read", "allowed") in kinds and ("audit.read", "allowed") in kinds
    assert set(twin["trail"]["entries"][0]) == {
        "seq", "occurred_at", "user_id", "username", "role", "action", "purpose", "outcome"
    }  # fmt: skip


def test_a_wrong_or_unknown_number_is_said_on_the_field(database, clock, camp, svc):
    dpo = page_client(database, clock, DPO, "dpo")
    dpo.page("/dpo/audit")
    r = dpo.submit("/dpo/audit", {"person": "K7M4-Q2XA-9"})
    assert r.status_code == 422 and "check character does not match" in r.text
    assert 'aria-invalid="true"' in r.text and 'value="K7M4-Q2XA-9"' in r.text
    person = register(svc, camp["Camp North"])
    svc.retention.erase(
        person["id"], "objection", audit=svc.audit.operator_hook("test", "person.export")
    )
    # A number never given is not found; the erased person's old number is (next test).
    r = dpo.submit("/dpo/audit", {"person": format_registration_number(new_registration_number())})
    assert r.status_code == 404 and "person not found" in r.text
    r = dpo.get(f"/dpo/persons/{person['id']}/audit")
    assert r.status_code == 200 and "anonymised" in r.text  # the id still leads to it
    dpo.cookies.set(LANG_COOKIE, "ar")
    dpo.page("/dpo/audit")
    r = dpo.submit("/dpo/audit", {"person": "nothing"})
    assert r.status_code == 422 and 'dir="rtl"' in r.text and "must have" not in r.text


def test_an_erased_persons_old_wristband_number_still_finds_what_happened(
    database, clock, camp, svc
):
    """"What happened to wristband X?" after X's holder was erased: the erasure replaced
    the number (no plain number is kept), and on the code before the desk answered
    "person not found"; the record id alone led to the trail. Now a keyed hash of each
    number the person held (their own, one given before a renumbering, and a record's
    merged into them) is kept with the audit subject, so the old number leads to the
    anonymised record's trail; the number itself is stored nowhere."""
    person = register(svc, camp["Camp North"])
    twin = register(svc, camp["Camp North"])
    operator = svc.audit.operator_hook("test", "person.merge")
    svc.merges.merge(person["id"], twin["id"], "registered twice", "test", audit=operator)
    officer = page_client(database, clock, (Role.REGISTRAR,), "reg-officer")
    officer.page(f"/persons/{person['id']}")
    svc.retention.erase(
        person["id"], "objection", audit=svc.audit.operator_hook("test", "person.export")
    )
    numbers = [p["registration_number"] for p in (person, twin)]
    with database.read() as conn:
        held = [str(v) for row in conn.execute(select(persons)).all() for v in row]
        kept = [str(v) for t in metadata.sorted_tables for r in conn.execute(select(t)) for v in r]
    assert not any(n.replace("-", "") in v.replace("-", "") for n in numbers for v in held + kept)
    dpo = page_client(database, clock, DPO, "dpo")
    for number in (numbers[0].replace("-", "").lower(), numbers[1]):  # as typed, as printed
        dpo.page("/dpo/audit")
        before = last_seq(database)
        r = dpo.submit("/dpo/audit", {"person": number})
        assert r.status_code == 200, r.text
        assert person["id"] in r.text and "anonymised" in r.text
        rows = re.findall(r"<tr data-outcome=\"(\w+)\">(.*?)</tr>", r.text, re.S)
        assert [c for _, c in rows if "reg-officer" in c and "opened the record" in c]
        assert CANARY not in r.text and "123 987" not in r.text
        looked = events(database, before)
        assert [(e["action"], e["person_id"]) for e in looked] == [("audit.read", person["id"])]


@pytest.mark.parametrize(
    ("lang", "request_words", "merged_words", "ground_words"),
    [
        ("en", "erased at the person's request", "erased with it", "consent withdrawn"),
        ("ar", "مُحي بطلب من الشخص", "مُحي معه", "سحب الموافقة"),
        ("ku", "li ser daxwaza kesê hate jêbirin", "bi wî re hate jêbirin",
         "razîbûn hate vegerandin"),  # fmt: skip
    ],
)
def test_the_disposal_log_says_why_in_words_in_the_pages_language(
    database, clock, camp, svc, lang, request_words, merged_words, ground_words
):
    """The reason of an erasure (and of the record merged into the person erased) was
    the stored English with the ground's code, "(consent_withdrawn)", on every page:
    now in words, in the page's language; a retention run's reason too."""
    person = register(svc, camp["Camp North"])
    twin = register(svc, camp["Camp North"])
    operator = svc.audit.operator_hook("test", "person.merge")
    svc.merges.merge(person["id"], twin["id"], "registered twice", "test", audit=operator)
    svc.retention.erase(
        person["id"], "consent_withdrawn", audit=svc.audit.operator_hook("test", "person.export")
    )
    dpo = page_client(database, clock, DPO, "dpo")
    dpo.cookies.set(LANG_COOKIE, lang)
    page = html.unescape(dpo.page("/dpo/disposals"))
    cells = r'<td dir="ltr">([0-9a-f-]{36})</td><td>[^<]*</td><td dir="auto">([^<]*)</td>'
    rows = dict(re.findall(cells, page))
    assert "consent_withdrawn" not in page
    assert request_words in rows[person["id"]] and ground_words in rows[person["id"]]
    assert merged_words in rows[twin["id"]] and ground_words in rows[twin["id"]]


def test_alerts_show_enumeration_and_locked_accounts(database, clock, camp, svc):
    people = [register(svc, camp["Camp North"], f"Person{i}")["id"] for i in range(3)]
    officer = page_client(database, clock, (Role.REGISTRAR,), "curious")
    officer.app.state.services.accounts.lookups.limit = Limit(  # type: ignore[attr-defined]
        "person.lookup", 2, timedelta(hours=1)
    )
    officer.app.state.services.accounts.lookups.per_role = {}  # type: ignore[attr-defined]
    for pid in people[:2]:
        officer.page(f"/persons/{pid}")
    assert officer.get(f"/persons/{people[2]}").status_code == 429
    # Someone guessing a password: locked after three failures (a lower limit here).
    guessed = page_client(database, clock, (Role.REGISTRAR,), "guessed")
    guard = guessed.app.state.services.accounts.guard  # type: ignore[attr-defined]
    guard.lockout = Limit("login.lockout", 3, timedelta(hours=24))
    guessed.cookies.clear()
    for _ in range(3):
        guessed.page("/login")
        guessed.submit("/login", {"username": "guessed", "password": "not " + PASSWORD})

    dpo = page_client(database, clock, DPO, "dpo")
    page = dpo.page("/dpo/alerts")
    alerts = page.split('id="alerts"')[1].split("</table>")[0]
    assert "too many persons looked up" in alerts and "curious" in alerts
    assert "Person" not in page  # ids and counts, never a name
    lockouts = page.split('id="lockouts"')[1].split("</table>")[0]
    assert "guessed" in lockouts and "curious" not in lockouts
    # The refused look-up is in the person's accesses, denied.
    trail = dpo.get(f"/dpo/persons/{people[2]}/audit.json").json()["trail"]["entries"]
    assert ("person.read", "denied") in {(e["action"], e["outcome"]) for e in trail}


def test_disposal_log_and_exports_waiting(database, clock, camp, svc):
    erased = register(svc, camp["Camp North"])
    svc.retention.erase(
        erased["id"], "objection", audit=svc.audit.operator_hook("test", "person.export")
    )
    register(svc, camp["Camp North"], "Other")
    register(svc, camp["Camp South"], "Third")
    asker = page_client(database, clock, (Role.PROTECTION_OFFICER,), "asker")
    asker_id = asker.get("/api/auth/me").json()["user_id"]
    r = asker.post("/api/exports", json={"reason": "monthly list for UNHCR"})
    assert r.status_code == 201, r.text
    done = asker.post("/api/exports", json={"reason": "approved one"})
    approver = page_client(database, clock, (Role.SITE_MANAGER,), "approver")
    assert approver.post(f"/api/exports/{done.json()['id']}/approve").status_code == 200

    dpo = page_client(database, clock, DPO, "dpo")
    page = dpo.page("/dpo/disposals")
    assert erased["id"] in page and "erasure at the person's request" in page
    assert "anonymised" in page and CANARY not in page
    waiting = dpo.get("/dpo/exports.json").json()["exports"]
    assert [e["reason"] for e in waiting] == ["monthly list for UNHCR"]
    [e] = waiting
    # Both camps, not the erased person: no file holds them (the count said 3 before,
    # one more than the file would hold).
    assert e["requested_by"] == asker_id and e["persons"] == 2
    assert sorted(e["sites"]) == ["Camp North", "Camp South"]
    page = dpo.page("/dpo/exports")
    assert "monthly list for UNHCR" in page and "approved one" not in page
    assert "approve" not in page.split('id="exports"')[1].lower().split("</table>")[0]


def test_a_legal_hold_placed_and_lifted_from_the_page_is_audited(database, clock, camp, svc):
    person = register(svc, camp["Camp North"])
    dpo = page_client(database, clock, DPO, "dpo")
    dpo.page("/dpo/holds")
    before = last_seq(database)
    r = dpo.submit(
        "/dpo/holds",
        {"kind": "person", "ref": person["registration_number"], "hold": "place"},
    )
    assert r.status_code == 200 and "now on legal hold" in r.text
    with database.read() as conn:
        held = conn.execute(select(persons.c.legal_hold).where(persons.c.id == person["id"]))
        assert held.scalar() is True
    [placed] = events(database, before)
    assert (placed["action"], placed["person_id"], placed["purpose"], placed["role"]) == (
        "retention.hold",
        person["id"],
        "legal hold placed",
        "data_protection_officer",
    )
    # The list names the person by number (audited), never by name.
    page = dpo.page("/dpo/holds")
    assert person["registration_number"] in page and CANARY not in page
    before = last_seq(database)
    r = dpo.submit("/dpo/holds", {"kind": "person", "ref": person["id"], "hold": "lift"})
    assert r.status_code == 200 and "is lifted" in r.text
    assert [(e["action"], e["purpose"]) for e in events(database, before)] == [
        ("retention.hold", "legal hold lifted")
    ]
    # A tracing enquiry: held, listed by id, lifted from the list's button.
    tracer = page_client(database, clock, (Role.TRACING_OFFICER,), "tracer")
    enquiry = tracer.post("/api/tracing/enquiries", json=ENQUIRY)
    assert enquiry.status_code == 201, enquiry.text
    enquiry_id = enquiry.json()["id"]
    r = dpo.submit("/dpo/holds", {"kind": "enquiry", "ref": enquiry_id, "hold": "place"})
    assert r.status_code == 200 and "tracing enquiry is now on legal hold" in r.text
    holds = dpo.get("/dpo/holds.json").json()["holds"]
    assert [e["enquiry_id"] for e in holds["enquiries"]] == [enquiry_id]
    assert holds["persons"] == []  # lifted above
    page = dpo.page("/dpo/holds")
    assert "Amira" not in page  # the enquirer stays out of the desk
    r = dpo.submit("/dpo/holds", {"kind": "enquiry", "ref": enquiry_id, "hold": "lift"})
    assert r.status_code == 200 and dpo.get("/dpo/holds.json").json()["holds"]["enquiries"] == []
    # An unknown record changes nothing and says so.
    before = last_seq(database)
    r = dpo.submit("/dpo/holds", {"kind": "enquiry", "ref": "no-such-enquiry", "hold": "place"})
    assert r.status_code == 404 and "enquiry not found" in r.text
    assert [e for e in events(database, before) if e["action"] == "retention.hold"] == []


def test_audit_check_is_ok_then_names_the_first_broken_row(database, clock, camp, svc):
    register(svc, camp["Camp North"])
    dpo = page_client(database, clock, DPO, "dpo")
    check = dpo.get("/dpo/verify.json").json()["check"]
    assert check["ok"] is True and check["checked"] >= 3 and check["head_seq"] == check["checked"]
    assert "The chain is whole" in dpo.page("/dpo/verify")
    with database.transaction() as conn:
        tamper(conn, "UPDATE audit_events SET purpose = 'nothing to see' WHERE seq = 2")
    check = dpo.get("/dpo/verify.json").json()["check"]
    assert (check["ok"], check["broken_seq"], check["checked"]) == (False, 2, 1)
    page = dpo.page("/dpo/verify")
    assert "broken at row 2" in page and 'data-ok="false"' in page


def _phone_of(officer, person_id: str) -> str | None:
    """The phone as a protection officer's page shows it (None once unreadable)."""
    r = officer.get(f"/persons/{person_id}.json")
    assert r.status_code == 200, r.text[:300]
    return r.json()["person"]["phone"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_evacuation_drill_needs_the_sites_name_typed(database, clock, camp, svc, lang):
    north = register(svc, camp["Camp North"])
    south = register(svc, camp["Camp South"], "Southperson")
    protection = page_client(database, clock, (Role.PROTECTION_OFFICER,), "po")
    assert _phone_of(protection, north["id"]) is not None
    dpo = page_client(database, clock, DPO, "dpo")
    dpo.cookies.set(LANG_COOKIE, lang)
    page = dpo.page(f"/dpo/drill/{camp['Camp North']}")
    assert "Camp North" in page and 'name="confirm"' in page

    def live() -> int:
        with database.read() as conn:
            rows = conn.execute(
                select(site_keys.c.state).where(site_keys.c.site_id == camp["Camp North"])
            ).scalars()
            return sum(state != "destroyed" for state in rows)

    keys_before, seq = live(), last_seq(database)
    assert keys_before >= 1
    for wrong in ("Camp north", "Camp South", "", "yes"):
        r = dpo.submit(f"/dpo/drill/{camp['Camp North']}", {"confirm": wrong})
        assert r.status_code == 422, wrong
        assert 'id="e-confirm"' in r.text
        if lang == "en":
            assert "nothing was destroyed" in r.text
        else:
            assert 'dir="rtl"' in r.text and "nothing was destroyed" not in r.text
    assert live() == keys_before and events(database, seq, action="keys.destroy") == []
    assert _phone_of(protection, north["id"]) is not None

    r = dpo.submit(f"/dpo/drill/{camp['Camp North']}", {"confirm": " Camp North "})
    assert r.status_code == 200 and 'id="drill-result"' in r.text
    assert live() == 0
    [drill] = events(database, seq, action="keys.destroy")
    assert (drill["site_id"], drill["role"], drill["person_id"]) == (
        camp["Camp North"],
        "data_protection_officer",
        None,
    )
    assert _phone_of(protection, north["id"]) is None  # unreadable for ever
    assert _phone_of(protection, south["id"]) is not None  # the other site untouched


def test_a_drill_or_hold_whose_audit_fails_changes_nothing(database, clock, camp, svc):
    """The destruction and the hold commit with their audit event or not at all."""
    person = register(svc, camp["Camp North"])

    def broken(conn, person_ids) -> None:
        raise RuntimeError("the audit log is unavailable")

    with pytest.raises(RuntimeError):
        svc.keys.drill(camp["Camp North"], "Camp North", audit=broken)
    with pytest.raises(RuntimeError):
        svc.retention.hold("person", person["id"], True, audit=broken)
    with database.read() as conn:
        states = conn.execute(
            select(site_keys.c.state).where(site_keys.c.site_id == camp["Camp North"])
        ).scalars()
        assert "destroyed" not in set(states)
        held = conn.execute(select(persons.c.legal_hold).where(persons.c.id == person["id"]))
        assert held.scalar() is False
    assert svc.registration.get_person(person["id"])["phone"] is not None


def test_a_drill_sent_twice_destroys_once_and_answers_the_first_count(database, clock, camp, svc):
    """The drill form carries a key: sent again (a double tap), nothing more is
    destroyed and the page shows the first count, not "0 keys destroyed". A hold sent
    twice is placed once (one audit event)."""
    register(svc, camp["Camp North"])
    person = register(svc, camp["Camp North"], "Heldperson")
    dpo = page_client(database, clock, DPO, "dpo")
    page = dpo.page(f"/dpo/drill/{camp['Camp North']}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    seq = last_seq(database)
    form = {"confirm": "Camp North", "idempotency_key": key.group(1)}
    first = dpo.submit(f"/dpo/drill/{camp['Camp North']}", form)
    again = dpo.submit(f"/dpo/drill/{camp['Camp North']}", form)
    assert first.status_code == again.status_code == 200, again.text[:300]
    count = re.search(r'id="drill-result">(\d+)', first.text)
    assert count is not None and int(count.group(1)) >= 1
    assert re.search(r'id="drill-result">(\d+)', again.text).group(1) == count.group(1)  # type: ignore[union-attr]
    assert len(events(database, seq, action="keys.destroy")) == 1

    dpo.page("/dpo/holds")
    seq = last_seq(database)
    hold = {"kind": "person", "ref": person["registration_number"], "hold": "place"}
    for _ in range(2):
        r = dpo.submit("/dpo/holds", {**hold, "idempotency_key": "hold-1"})
        assert r.status_code == 200 and "now on legal hold" in r.text
    assert len(events(database, seq, action="retention.hold")) == 1
