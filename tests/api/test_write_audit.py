"""PROTECTION.md line 6 for writes: every write is audited inside its own transaction, and
a write refused for scope (404) or for a field (403) leaves one denial.

One table lists every kind of write over the API, each with what it must have audited.
The same table drives three checks: the write's events (action, persons, allowed); a write
whose audit append fails stores nothing (the write and its events are one transaction);
and, for the writes that can be refused for scope, one denial and no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security import audit
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.tables import metadata, persons
from tests.api.helpers import BASIS, CONSENT, person_body, register, site, work_at
from tests.conftest import make_client
from tests.support.route_table import all_routes
from tests.support.worlds import Worlds
from tests.web.conftest import PageClient, page_client

# Not compared: what the login machinery writes on its own (tokens, sessions, throttles),
# and the site keys a write finds or creates before its transaction opens (field_vault).
NOT_DATA = {"api_tokens", "sessions", "rate_events", "alerts", "site_keys"}
PASSPHRASE = "sand storm over the river"
# The persons a write must have audited: from its response, or fixed beforehand.
Persons = Callable[[Any], list[str | None]]


@dataclass
class Call:
    method: str
    url: str
    action: str
    persons: Persons
    json: Any = None
    params: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    by: TestClient | None = None
    form: dict[str, str] | None = None  # a page's form, posted by ``Story.pages``
    # Persons the answer shows that the write did not touch: audited as read, once.
    shown: tuple[str, Persons] | None = None


def fixed(*ids: str | None) -> Persons:
    return lambda _response: list(ids)


@dataclass
class Story:
    """Camp A and B, a hospital, an officer holding every operational role at all three
    (``admin``), and the database."""

    admin: TestClient
    database: Any
    clock: Any
    camp: str
    camp_b: str
    hospital: str
    extra: dict[str, TestClient] = field(default_factory=dict)

    def pages(self) -> PageClient:
        """A browser signed in with every operational role at every site so far."""
        if "pages" not in self.extra:
            self.extra["pages"] = page_client(self.database, self.clock, name="pages")
        client = self.extra["pages"]
        assert isinstance(client, PageClient)
        return client

    def number(self, person_id: str) -> str:
        return str(self.admin.get(f"/api/persons/{person_id}").json()["registration_number"])

    def client(self, name: str, roles: tuple[Role, ...], *sites: str) -> TestClient:
        if name not in self.extra:
            self.extra[name] = make_client(self.database, self.clock, roles=roles)
            work_at(self.extra[name], *sites, admin=self.admin)
        return self.extra[name]

    def person(self, site_id: str | None = None, **fields: Any) -> str:
        fields.setdefault("given_name", "Hassan")
        return str(register(self.admin, site_id or self.camp, **fields)["id"])

    def post(self, url: str, **kwargs: Any) -> Any:
        r = self.admin.post(url, **kwargs)
        assert r.is_success, r.text
        return r.json()

    def manifest(self, *people: str, to: str | None = None) -> str:
        body = {"vehicle": "Truck 7", "from_site_id": self.camp, "to_site_id": to or self.camp_b}
        manifest_id = str(self.post("/api/manifests", json=body)["id"])
        if people:
            self.post(f"/api/manifests/{manifest_id}/persons", json={"person_ids": list(people)})
        return manifest_id

    def dispatched(self, *people: str) -> str:
        manifest_id = self.manifest(*people)
        self.post(f"/api/manifests/{manifest_id}/dispatch")
        return manifest_id

    def enquiry(self) -> tuple[dict[str, Any], str]:
        """An enquiry for Khalid and his registration, proposed as a match."""
        khalid = self.person(
            given_name="Khaled", father_name="Ibrahim", family_name="Obeidi", sex="m",
            estimated_age=34,
        )  # fmt: skip
        body = {"enquirer": ENQUIRER, "sought": [SOUGHT]}
        return self.post("/api/tracing/enquiries", json=body), khalid

    def match_of(self, enquiry: dict[str, Any], person_id: str) -> str:
        [match] = [m for m in enquiry["cases"][0]["matches"] if m["person"]["id"] == person_id]
        return str(match["id"])

    def verified_case(self) -> tuple[str, str]:
        enquiry, khalid = self.enquiry()
        self.post(
            f"/api/tracing/matches/{self.match_of(enquiry, khalid)}/confirm",
            json={"reason": "photo"},
        )
        return str(enquiry["cases"][0]["id"]), khalid

    def export(self) -> str:
        return str(self.post("/api/exports", json={"reason": "lists for a partner"})["id"])

    def manager(self) -> TestClient:
        return self.client("manager", (Role.SITE_MANAGER,), self.camp, self.camp_b, self.hospital)

    def everyone_in_scope(self) -> list[str | None]:
        with self.database.read() as conn:
            ids = conn.execute(
                select(persons.c.id).where(
                    persons.c.site_id.in_([self.camp, self.camp_b, self.hospital])
                )
            ).scalars()
            return [str(i) for i in ids]


ENQUIRER = {
    "name": "Amira Haddad", "contact": "+49 151 2345 6789", "relationship": "mother",
    "location": "Berlin, Germany", "country": "DEU",
}  # fmt: skip
SOUGHT = {
    "given_name": "Khalid", "father_name": "Ibrahim", "family_name": "al-Obeidi", "sex": "m",
    "age": 34, "enquirer_is": "sibling",
}  # fmt: skip


def _register(s: Story) -> Call:
    body = person_body(s.camp, given_name="Nadia", family_name="Haddad")
    return Call("POST", "/api/persons", "person.write", lambda r: [r.json()["id"]], json=body)


def _household(s: Story) -> Call:
    body = {
        "site_id": s.camp,
        "head": {"given_name": "Omar", "family_name": "Saleh"},
        "members": [{"given_name": "Huda", "family_name": "Saleh", "relationship": "child"}],
        "consent": CONSENT,
        **BASIS,
    }
    return Call(
        "POST", "/api/households", "person.write",
        lambda r: [m["id"] for m in r.json()["members"]], json=body,
    )  # fmt: skip


def _patch(s: Story) -> Call:
    p = s.person()
    return Call("PATCH", f"/api/persons/{p}", "person.write", fixed(p), json={"father_name": "Ali"})


def _link(s: Story) -> Call:
    a, b = s.person(), s.person(given_name="Karim")
    body = {"person_id": a, "other_person_id": b, "kind": "sibling"}
    return Call("POST", "/api/relationships", "person.write", fixed(a, b), json=body)


def _event(s: Story) -> Call:
    p = s.person()
    body = {"kind": "hospitalised", "to_site_id": s.hospital}
    return Call("POST", f"/api/persons/{p}/events", "movement.write", fixed(p), json=body)


def _correction(s: Story) -> Call:
    p = s.person()
    event = s.post(
        f"/api/persons/{p}/events", json={"kind": "hospitalised", "to_site_id": s.hospital}
    )
    return Call(
        "POST", f"/api/movements/{event['id']}/corrections", "movement.write", fixed(p),
        json={"kind": "voided", "note": "entered by mistake"},
    )  # fmt: skip


def _erasure(s: Story) -> Call:
    p = s.person()
    body = {"ground": "consent_withdrawn", "confirm": True}
    return Call("POST", f"/api/persons/{p}/erasure", "person.export", fixed(p), json=body)


def _manifest_create(s: Story) -> Call:
    body = {"vehicle": "Truck 9", "from_site_id": s.camp, "to_site_id": s.camp_b}
    return Call("POST", "/api/manifests", "manifest.write", fixed(None), json=body)


def _manifest_fill(s: Story) -> Call:
    m, p, q = s.manifest(), s.person(), s.person(given_name="Karim")
    return Call(
        "POST", f"/api/manifests/{m}/persons", "manifest.write", fixed(p, q),
        json={"person_ids": [p, q]},
    )  # fmt: skip


def _manifest_remove(s: Story) -> Call:
    p = s.person()
    m = s.manifest(p)
    return Call("DELETE", f"/api/manifests/{m}/persons/{p}", "manifest.write", fixed(p))


def _dispatch(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.manifest(p, q)
    return Call("POST", f"/api/manifests/{m}/dispatch", "manifest.write", fixed(p, q))


def _check_in(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.dispatched(p, q)
    return Call(
        "POST", f"/api/manifests/{m}/check-ins", "manifest.write", fixed(p),
        json={"person_id": p},
    )  # fmt: skip


def _household_check_in(s: Story) -> Call:
    body = {
        "site_id": s.camp,
        "head": {"given_name": "Omar", "family_name": "Saleh"},
        "members": [{"given_name": "Huda", "family_name": "Saleh", "relationship": "child"}],
        "consent": CONSENT,
        **BASIS,
    }
    h = s.post("/api/households", json=body)
    p, q = (m["id"] for m in h["members"])
    m = s.dispatched(p, q)
    return Call(
        "POST", f"/api/manifests/{m}/household-check-ins", "manifest.write", fixed(p, q),
        json={"household_id": h["id"]},
    )  # fmt: skip


def _receive(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.dispatched(p, q)
    s.post(f"/api/manifests/{m}/check-ins", json={"person_id": p})
    # The receipt leaves q unaccounted for: the person it concerns. The answer (the
    # manifest) also shows p, checked in before: read, so audited as such.
    return Call(
        "POST", f"/api/manifests/{m}/receive", "manifest.write", fixed(q),
        shown=("manifest.read", fixed(p)),
    )  # fmt: skip


def _enquiry(s: Story) -> Call:
    khalid = s.person(
        given_name="Khaled", father_name="Ibrahim", family_name="Obeidi", sex="m",
        estimated_age=34,
    )  # fmt: skip
    body = {"enquirer": ENQUIRER, "sought": [SOUGHT]}
    return Call("POST", "/api/tracing/enquiries", "tracing.write", fixed(khalid), json=body)


def _confirm(s: Story) -> Call:
    enquiry, khalid = s.enquiry()
    url = f"/api/tracing/matches/{s.match_of(enquiry, khalid)}/confirm"
    return Call("POST", url, "tracing.write", fixed(khalid), json={"reason": "photo"})


def _reject(s: Story) -> Call:
    enquiry, khalid = s.enquiry()
    url = f"/api/tracing/matches/{s.match_of(enquiry, khalid)}/reject"
    return Call("POST", url, "tracing.write", fixed(khalid), json={"reason": "not him"})


def _disclosure(s: Story) -> Call:
    case, khalid = s.verified_case()
    body = {"decision": "agreed", "reason": "he wants his family to know"}
    url = f"/api/tracing/cases/{case}/disclosure"
    return Call("POST", url, "tracing.write", fixed(khalid), json=body)


def _transition(s: Story) -> Call:
    case, khalid = s.verified_case()
    body = {"decision": "agreed", "reason": "he wants his family to know"}
    s.post(f"/api/tracing/cases/{case}/disclosure", json=body)
    url = f"/api/tracing/cases/{case}/transitions"
    return Call("POST", url, "tracing.write", fixed(khalid), json={"to": "family_informed"})


def _import(s: Story) -> Call:
    s.person()  # the camp's key exists already
    data = b"given_name,family_name\nLayla,Haddad\nSalma,Haddad\n"
    return Call(
        "POST", "/api/imports/csv", "person.write", lambda r: r.json()["person_ids"],
        params={"site_id": s.camp}, files={"file": ("people.csv", data)},
    )  # fmt: skip


def _export_request(s: Story) -> Call:
    body = {"reason": "lists for a partner"}
    return Call("POST", "/api/exports", "export.bulk", fixed(None), json=body)


def _export_approve(s: Story) -> Call:
    export = s.export()
    url = f"/api/exports/{export}/approve"
    return Call("POST", url, "export.approve", fixed(None), by=s.manager())


def _export_download(s: Story) -> Call:
    s.person(), s.person(s.camp_b, given_name="Karim")
    export = s.export()
    r = s.manager().post(f"/api/exports/{export}/approve")
    assert r.status_code == 200, r.text
    return Call(
        "POST", f"/api/exports/{export}/download", "export.bulk",
        lambda _r: s.everyone_in_scope(), json={"passphrase": PASSPHRASE},
    )  # fmt: skip


def _site(s: Story) -> Call:
    body = {"name": "Camp C", "kind": "camp", "pcode": "SY08"}
    return Call("POST", "/api/sites", "sites.admin", fixed(None), json=body)


def _user_sites(s: Story) -> Call:
    user = s.client("registrar", (Role.REGISTRAR,), s.camp)
    me = user.get("/api/auth/me").json()["user_id"]
    body = {"site_ids": [s.camp, s.camp_b]}
    return Call("PUT", f"/api/users/{me}/sites", "users.admin", fixed(None), json=body)


WRITES: dict[str, Callable[[Story], Call]] = {
    "register": _register,
    "household": _household,
    "patch": _patch,
    "link": _link,
    "movement": _event,
    "correction": _correction,
    "erasure": _erasure,
    "manifest create": _manifest_create,
    "manifest fill": _manifest_fill,
    "manifest remove": _manifest_remove,
    "dispatch": _dispatch,
    "check-in": _check_in,
    "household check-in": _household_check_in,
    "receive": _receive,
    "enquiry": _enquiry,
    "match confirm": _confirm,
    "match reject": _reject,
    "disclosure": _disclosure,
    "case transition": _transition,
    "import": _import,
    "export request": _export_request,
    "export approve": _export_approve,
    "export download": _export_download,
    "site": _site,
    "user sites": _user_sites,
}


# The same writes from the pages (each answers 303 to the page that shows the result).
def _page_event(s: Story) -> Call:
    p = s.person()
    form = {"kind": "hospitalised", "to_site_id": s.hospital, "note": ""}
    return Call("POST", f"/persons/{p}/events", "movement.write", fixed(p), form=form)


def _page_health(s: Story) -> Call:
    p = s.person(estimated_age=6)
    form = {"muac_mm": "112", "oedema": "", "medical_note": "insulin twice a day"}
    return Call("POST", f"/persons/{p}/health", "person.write", fixed(p), form=form)


def _page_link(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    form = {"registration_number": s.number(q), "link_kind": "sibling"}
    return Call("POST", f"/persons/{p}/links", "person.write", fixed(p, q), form=form)


def _page_register(s: Story) -> Call:
    form = {
        "purpose": "registration and assistance", "legal_basis": "vital_interest",
        "consent_tracing": "1", "site_id": s.camp, "given_name": "Omar", "sex": "m",
    }  # fmt: skip
    created = lambda r: [r.headers["location"].rsplit("/", 1)[1]]  # noqa: E731
    return Call("POST", "/register", "person.write", created, form=form)


def _page_manifest(s: Story) -> Call:
    form = {"vehicle": "Truck 3", "from_site_id": s.camp, "to_site_id": s.camp_b}
    return Call("POST", "/manifests", "manifest.write", fixed(None), form=form)


def _page_fill(s: Story) -> Call:
    m, p = s.manifest(), s.person()
    form = {"registration_numbers": s.number(p)}
    return Call("POST", f"/manifests/{m}/persons", "manifest.write", fixed(p), form=form)


def _page_remove(s: Story) -> Call:
    p = s.person()
    m = s.manifest(p)
    form = {"person_id": p}
    return Call("POST", f"/manifests/{m}/remove", "manifest.write", fixed(p), form=form)


def _page_dispatch(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.manifest(p, q)
    return Call(
        "POST", f"/manifests/{m}/dispatch", "manifest.write", fixed(p, q), form={"confirmed": "yes"}
    )


def _page_check_in(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.dispatched(p, q)
    form = {"person_id": p}
    return Call("POST", f"/manifests/{m}/check-in", "manifest.write", fixed(p), form=form)


def _page_receive(s: Story) -> Call:
    p, q = s.person(), s.person(given_name="Karim")
    m = s.dispatched(p, q)
    s.post(f"/api/manifests/{m}/check-ins", json={"person_id": p})
    return Call(
        "POST", f"/manifests/{m}/receive", "manifest.write", fixed(q), form={"confirmed": "yes"}
    )


def _page_transition(s: Story) -> Call:
    case, khalid = s.verified_case()
    body = {"decision": "agreed", "reason": "he wants his family to know"}
    s.post(f"/api/tracing/cases/{case}/disclosure", json=body)
    form = {"to": "family_informed"}
    url = f"/tracing/cases/{case}/transitions"
    return Call("POST", url, "tracing.write", fixed(khalid), form=form)


WRITES.update(
    {
        "page movement": _page_event,
        "page health form": _page_health,
        "page link": _page_link,
        "page register": _page_register,
        "page manifest create": _page_manifest,
        "page manifest fill": _page_fill,
        "page manifest remove": _page_remove,
        "page dispatch": _page_dispatch,
        "page check-in": _page_check_in,
        "page receive": _page_receive,
        "page case transition": _page_transition,
    }
)


def _sites(admin: TestClient, clock: Any) -> tuple[str, str, str]:
    return site(admin, "Camp A"), site(admin, "Camp B"), site(admin, "Hospital", "hospital")


WORLDS = Worlds(_sites)  # built once a backend (tests/support/worlds.py)
opened = WORLDS.fixtures()[0]


@pytest.fixture
def story(database, clock, opened):
    admin, sites = opened
    s = Story(admin, database, clock, *sites)
    yield s
    for c in s.extra.values():
        c.app.state.services.close()  # the pages' tracing worker finishes before teardown
        c.close()


def prepare(kind: str, s: Story, table: dict[str, Callable[[Story], Call]]) -> Call:
    """The write to make, and for a page its signed-in browser holding a form token (made
    before anything is counted: signing in is audited too)."""
    call = table[kind](s)
    if call.form is not None:
        s.pages().page("/search")
    return call


def send(call: Call, s: Story) -> Any:
    if call.form is not None:
        return s.pages().submit(call.url, call.form, follow_redirects=False)
    return (call.by or s.admin).request(
        call.method, call.url, json=call.json, params=call.params, files=call.files
    )


def last_seq(database) -> int:
    with database.read() as conn:
        head = audit.head(conn)
    return 0 if head is None else head.seq


def events_after(database, seq: int) -> list[tuple[str, str | None, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events).where(audit_events.c.seq > seq).order_by(audit_events.c.seq)
        ).all()
    return [(r.action, r.person_id, r.outcome) for r in rows]


def snapshot(database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the login machinery's, in a stable order."""
    out = {}
    with database.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in NOT_DATA:
                continue
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


@pytest.mark.parametrize("kind", list(WRITES))
def test_each_write_audits_the_persons_it_touched(kind, story, database):
    call = prepare(kind, story, WRITES)
    before = last_seq(database)
    r = send(call, story)
    assert r.is_success or (call.form is not None and r.status_code == 303), r.text
    expected = sorted((call.action, pid, "allowed") for pid in call.persons(r))
    if call.shown:
        action, persons = call.shown
        expected += [(action, pid, "allowed") for pid in persons(r)]
    got = events_after(database, before)
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    with database.read() as conn:
        assert audit.verify(conn).ok


@pytest.mark.parametrize("kind", list(WRITES))
def test_a_write_whose_audit_fails_stores_nothing(kind, story, database, monkeypatch):
    call = prepare(kind, story, WRITES)
    before = snapshot(database)

    def broken(conn, events):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(audit, "append_many", broken)
    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError, match="audit log is unavailable"):
        send(call, story)
    monkeypatch.undo()
    assert snapshot(database) == before


# Writes an officer of camp B (every operational role, camp B only) may not do to camp A's
# records: each answers 404 (no existence oracle) and leaves one denial.
def _scope_patch(s: Story) -> Call:
    p = s.person()
    return Call("PATCH", f"/api/persons/{p}", "person.write", fixed(p), json={"father_name": "X"})


def _scope_event(s: Story) -> Call:
    p = s.person()
    body = {"kind": "hospitalised", "to_site_id": s.hospital}
    return Call("POST", f"/api/persons/{p}/events", "movement.write", fixed(p), json=body)


def _scope_correction(s: Story) -> Call:
    p = s.person()
    event = s.post(
        f"/api/persons/{p}/events", json={"kind": "hospitalised", "to_site_id": s.hospital}
    )
    return Call(
        "POST", f"/api/movements/{event['id']}/corrections", "movement.write", fixed(None),
        json={"kind": "voided", "note": "x"},
    )  # fmt: skip


def _scope_erasure(s: Story) -> Call:
    p = s.person()
    body = {"ground": "objection", "confirm": True}
    return Call("POST", f"/api/persons/{p}/erasure", "person.export", fixed(p), json=body)


def _scope_fill(s: Story) -> Call:
    m = s.manifest()
    q = s.person(s.camp_b)
    body = {"person_ids": [q]}
    return Call("POST", f"/api/manifests/{m}/persons", "manifest.write", fixed(None), json=body)


def _scope_remove(s: Story) -> Call:
    p = s.person()
    m = s.manifest(p)
    return Call("DELETE", f"/api/manifests/{m}/persons/{p}", "manifest.write", fixed(p))


def _scope_dispatch(s: Story) -> Call:
    m = s.manifest(s.person())
    return Call("POST", f"/api/manifests/{m}/dispatch", "manifest.write", fixed(None))


def _scope_check_in(s: Story) -> Call:
    p = s.person()
    m = s.manifest(p, to=s.hospital)
    s.post(f"/api/manifests/{m}/dispatch")
    body = {"person_id": p}
    return Call("POST", f"/api/manifests/{m}/check-ins", "manifest.write", fixed(None), json=body)


def _scope_import(s: Story) -> Call:
    return Call(
        "POST", "/api/imports/csv", "person.write", fixed(None), params={"site_id": s.camp},
        files={"file": ("people.csv", b"given_name\nLayla\n")},
    )  # fmt: skip


def _scope_approve(s: Story) -> Call:
    export = s.export()  # of camps A, B and the hospital: beyond camp B alone
    return Call("POST", f"/api/exports/{export}/approve", "export.approve", fixed(None))


def _scope_disclosure(s: Story) -> Call:
    case, _ = s.verified_case()
    body = {"decision": "agreed", "reason": "asked"}
    url = f"/api/tracing/cases/{case}/disclosure"
    return Call("POST", url, "tracing.write", fixed(None), json=body)


OUT_OF_SCOPE: dict[str, Callable[[Story], Call]] = {
    "patch": _scope_patch,
    "movement": _scope_event,
    "correction": _scope_correction,
    "erasure": _scope_erasure,
    "manifest fill": _scope_fill,
    "manifest remove": _scope_remove,
    "dispatch": _scope_dispatch,
    "check-in": _scope_check_in,
    "import": _scope_import,
    "export approve": _scope_approve,
    "disclosure": _scope_disclosure,
}
CAMP_B_ROLES = (
    Role.REGISTRAR,
    Role.MOVEMENT_OFFICER,
    Role.HEALTH,
    Role.PROTECTION_OFFICER,
    Role.SITE_MANAGER,
)


@pytest.mark.parametrize("kind", list(OUT_OF_SCOPE))
def test_a_write_refused_for_scope_leaves_one_denial_and_no_change(kind, story, database):
    call = prepare(kind, story, OUT_OF_SCOPE)
    call.by = story.client("camp B", CAMP_B_ROLES, story.camp_b)
    before, seq = snapshot(database), last_seq(database)
    r = send(call, story)
    assert r.status_code == 404, r.text
    [pid] = call.persons(r)
    assert events_after(database, seq) == [(call.action, pid, "denied")]
    after = snapshot(database)
    after["audit_events"] = before["audit_events"]  # the denial, checked above
    assert after == before


def test_a_write_refused_for_a_field_leaves_one_denial_and_no_change(story, database):
    """A registrar may not write medical details (403): one denial, nothing stored."""
    p = story.person()
    registrar = story.client("registrar", (Role.REGISTRAR,), story.camp)
    before, seq = snapshot(database), last_seq(database)
    r = registrar.patch(f"/api/persons/{p}", json={"vulnerabilities": {"muac_mm": 110}})
    assert r.status_code == 403, r.text
    assert events_after(database, seq) == [("person.write", p, "denied")]
    after = snapshot(database)
    after["audit_events"] = before["audit_events"]
    assert after == before


def test_a_denial_names_roles_that_fit_the_audit_column(story, database):
    """A caller none of whose five roles allows the write: the denial still fits
    ``audit_events.role`` (PostgreSQL refused the event, and answered 500, before)."""
    case, _ = story.verified_case()
    officer = story.client("camp B", CAMP_B_ROLES, story.camp_b)
    seq = last_seq(database)
    body = {"decision": "agreed", "reason": "asked"}
    assert officer.post(f"/api/tracing/cases/{case}/disclosure", json=body).status_code == 404
    with database.read() as conn:
        [role] = conn.execute(select(audit_events.c.role).where(audit_events.c.seq > seq)).scalars()
    assert role == "health+4" and len(role) <= audit_events.c.role.type.length


# POSTs that write nothing but the audit log (searches; a POST keeps names out of URLs),
# and the session's own forms (no person's data).
READS_BY_POST = {
    "/api/persons/search", "/api/persons/match", "/search", "/register/similar",
    "/tracing/cases/{case_id}/search",
    "/api/auth/login", "/api/auth/second-factor", "/api/auth/logout", "/api/auth/tokens",
    "/login", "/login/code", "/logout", "/language",
    "/api/auth/password", "/account/password",  # audited as account.password, by the user
}  # fmt: skip
# Writes by a site node, not by a user (issue 16, docs/sync.md "Over HTTP"): no account
# calls them; the node's signature over the bundle is the credential, what they apply is
# audited as ``sync.apply`` under the node's id, and a refused bundle writes nothing (an
# open route that audited every refusal would let anyone fill the audit chain).
SIGNED_BY_NODE = {"/api/sync/push", "/api/sync/pull"}


def test_every_write_route_is_gated_by_audited(client):
    """A write route (API or page) that does not take its caller from ``audited(action)``
    fails here: its refusals would go unaudited (and, with the services' required hook,
    it could not write at all)."""

    routes = [r for r in all_routes(client.app) if r.methods - {"GET", "HEAD"}]
    assert len(routes) > 40 and any(r.path.startswith("/api/") for r in routes)
    ungated = [
        f"{sorted(r.methods)} {r.path}"
        for r in routes
        if r.path not in READS_BY_POST | SIGNED_BY_NODE
        and not any(d.call.__qualname__.startswith("audited.") for d in r.dependant.dependencies)
    ]
    assert ungated == []


def test_a_legal_hold_from_the_command_line_names_the_person(story, database, services):
    """The operator's legal hold (``corridor retention hold``) touches one person: its
    event, in the hold's transaction, names them."""
    p = story.person()
    seq = last_seq(database)
    services.retention.set_hold(p, True, "cli:tester")
    assert events_after(database, seq) == [("retention.run", p, "allowed")]


def test_a_retention_run_audits_each_person_it_anonymised(story, database, services, clock):
    """``corridor retention run`` touches each expired person: one event each, in the
    run's transaction (and the person still registered recently is not named)."""
    old = story.person()
    clock.advance(days=366 * 6)
    recent = story.person(given_name="Reem")
    seq = last_seq(database)
    report = services.retention.run("cli:tester")
    assert old in {str(i) for i in report.disposed["person"]}
    got = events_after(database, seq)
    assert ("retention.run", old, "allowed") in got and all(e[0] == "retention.run" for e in got)
    assert len(got) == len(report.disposed["person"]) and recent not in {e[1] for e in got}
