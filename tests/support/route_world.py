"""A world of records of every kind, and one logged-in client per role, for the test
generated from the route table (tests/api/test_route_table_protection.py).

Sites: A (a camp, where every role's user works), B (another camp: out of the callers'
scope), C (a camp B sends people to), H (a hospital) and D (a detention facility whose real
name and locality are canaries). Records, all registered at A but the last:

- ``adult``: the head of a household, with ``child`` (4 years old), ``detained`` (her
  husband, taken to D on a truck, whose manifest is his) and ``hospitalised`` (her
  mother, moved to H) in it;
- ``unaccompanied_child``: 13, alone, unaccompanied;
- ``refused_tracing``: did not consent to tracing;
- (the detained husband's enquiry is decided: confirmed, and he agreed that the
  enquirer learns where he is held);
- ``other_site``: the head of a household at B, on a manifest from B to C.

Every person carries a canary (a value found nowhere else) in each restricted text field:
phone, document number, note, origin locality and medical note; the detained husband's
and the hospitalised mother's movement events carry one in their notes, written by a
movement officer (``detention_event_note``: the note of his detention, the same canary as
why he travels apart on the truck to D; ``medical_event_note``: the note of her hospital
admission; see ``gate.EVENT_NOTE_FIELDS``); the adult's own note is written again by a
health officer of A (``medical_person_note``) and the detained husband's by a protection
officer of A (``detention_person_note``; see ``gate.PERSON_NOTE_FIELDS``), so that a
route showing a person's note to a role outside its writer's group fails; and
restricted flags and
answers (Washington Group, medical flags, MUAC and oedema for the child, unaccompanied
status), checked by key in JSON answers. Each record also has its own tracing enquiry
(the adult's also seeks site B's head), household, movements and (for A and B) a
manifest and an export.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.roles import Role, default_matrix
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.tables import relationships
from corridor.web import create_app
from corridor.web.csrf import CSRF_COOKIE, HEADER, token_for
from tests.conftest import ALL_ROLES, MASTER_KEY, Clock
from tests.support.route_table import ENQUIRER

if TYPE_CHECKING:
    from corridor.services import Services

PASSWORD = "a long test password"
RECORDS = (
    "adult",
    "child",
    "unaccompanied_child",
    "detained",
    "hospitalised",
    "refused_tracing",
    "other_site",
)
# Text canaries: the restricted field (as the matrix names it) -> a value's stem.
TEXT_FIELDS = ("phone", "documents", "note", "origin_locality", "medical_note")
# Notes of movement events (and manifests), planted on one record each: the matrix field
# -> (the record, a value's stem).
EVENT_NOTES = {
    "detention_event_note": ("detained", "Cnydetnote"),
    "medical_event_note": ("hospitalised", "Cnyhospnote"),
}
# A person's own note written again by an officer of a field group (the note as the
# person's ``note`` shows it): the matrix field -> (the record, a value's stem, the role).
PERSON_NOTES = {
    "medical_person_note": ("adult", "Cnyhealthpnote", Role.HEALTH),
    "detention_person_note": ("detained", "Cnyprotpnote", Role.PROTECTION_OFFICER),
}
# Restricted values that are not text: the matrix field -> (key in a JSON answer, value).
# Checked on JSON answers by key (a number or a flag is no canary in a page's text).
WG = ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
FLAG_FIELDS: dict[str, tuple[str, Any]] = {
    "serious_medical_condition": ("serious_medical_condition", True),
    "injury": ("injury", True),
    "pregnant_lactating": ("pregnant_lactating", True),
    **{f"wg_{d}": (d, 3) for d in WG},
}
CHILD_FLAG_FIELDS: dict[str, tuple[str, Any]] = {
    "muac_mm": ("muac_mm", 113),
    "oedema": ("oedema", True),
}
UASC_FIELD: dict[str, tuple[str, Any]] = {"uasc": ("uasc", "unaccompanied")}
DETENTION_NAME = "Qalaat Xerxiyya Facility"
DETENTION_LOCALITY = "Wadi Zumurrudiyya"
FAMILY_NAMES = {
    "adult": "Barakzawi",
    "child": "Barakzawi",
    "unaccompanied_child": "Tamimzadeh",
    "detained": "Haddoushi",
    "hospitalised": "Kurdaliyya",
    "refused_tracing": "Sabbaghiyya",
    "other_site": "Qassabiyya",
}
GIVEN_NAMES = {
    "adult": "Hamid",
    "child": "Rima",
    "unaccompanied_child": "Yusuf",
    "detained": "Khalid",
    "hospitalised": "Samira",
    "refused_tracing": "Nour",
    "other_site": "Zubaida",
}
AGES = {"child": 4, "unaccompanied_child": 13}


@dataclass
class Record:
    kind: str  # one of RECORDS
    matrix_kind: str  # "person" or "minor" (the authorisation matrix's record kinds)
    person_id: str
    site_id: str
    ids: dict[str, str]  # path parameter -> value, for this record
    text_canaries: dict[str, str]  # matrix field -> the value as shown to an all-seeing user
    flags: dict[str, tuple[str, Any]]  # matrix field -> (JSON key, planted value)
    names: tuple[str, str]
    # Route key -> the ids under which the record is in the state that offers the route's
    # form (a case awaiting the found person's decision, a pair queued, a merge to undo):
    # ``ids_for``.
    offers: dict[str, dict[str, str]] = field(default_factory=dict)

    def ids_for(self, key: str) -> dict[str, str]:
        """The record's ids for the route ``key``: its own, with those of the record's
        state that offers the route's form where it has one (``offers``)."""
        return {**self.ids, **self.offers.get(key, {})}


@dataclass
class World:
    sites: dict[str, str]  # "A", "B", "C", "H", "D" -> id
    records: dict[str, Record]
    person_ids: set[str] = field(default_factory=set)  # every person of the world
    role_users: dict[Role, str] = field(default_factory=dict)

    def record(self, kind: str) -> Record:
        return self.records[kind]


def close_worlds(envs: dict[Any, Any]) -> None:
    """A module's teardown of the worlds it built: every client closed, every database
    disposed of, and the module's cache emptied."""
    for built in envs.values():
        for client in built.clients.values():
            client.close()
        built.db.dispose()
    envs.clear()


def token_client(
    database: Database,
    clock: Clock,
    name: str,
    roles: tuple[Role, ...],
    site_ids: list[str],
    master_key: str = MASTER_KEY,
    **policy: Any,
) -> tuple[TestClient, str]:
    """A client of a fresh app on ``database``: a user ``name`` holding ``roles`` at
    ``site_ids``, logged in with password and TOTP, then acting with an API token scoped
    to every action its roles allow (as tests/conftest.py ``make_client`` does). ``policy``:
    settings of the app (``small_counts_below=3``)."""
    settings = Settings(
        database_url=str(database.url), master_key=master_key, tracing_checks="inline", **policy
    )
    app = create_app(settings, database=database, clock=clock)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    svc = app.state.services
    user_id, secret = svc.accounts.create(
        name, name, PASSWORD, roles, site_ids, audit=svc.audit.operator_hook("test", "users.admin")
    )
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    if secret:
        r = client.post("/api/auth/second-factor", json={"code": pyotp.TOTP(secret).at(clock())})
        assert r.status_code == 200, r.text
    matrix = default_matrix()
    scopes = [a for a in matrix.actions if any(matrix.allowed(r, a, True) for r in roles)]
    if scopes:
        r = client.post("/api/auth/tokens", json={"name": "tests", "scopes": scopes})
        assert r.status_code == 201, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        client.cookies.clear()
    me = client.get("/api/auth/me").json()
    return client, str(me["user_id"])


def _ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201)), (r.request.url, r.status_code, r.text[:500])
    return r.json()


def _details(kind: str, n: int) -> dict[str, Any]:
    """A person's details with a canary in every restricted field."""
    vulnerabilities: dict[str, Any] = {
        "serious_medical_condition": True,
        "injury": True,
        "medical_note": f"Cnymednote{n}x",
        "washington_group": dict.fromkeys(WG, 3),
    }
    if kind == "child":
        vulnerabilities |= {"muac_mm": 113, "oedema": True}
    if kind == "unaccompanied_child":
        vulnerabilities["uasc"] = "unaccompanied"
    if kind in ("adult", "other_site"):
        vulnerabilities["pregnant_lactating"] = True
    details: dict[str, Any] = {
        "given_name": GIVEN_NAMES[kind],
        "family_name": FAMILY_NAMES[kind],
        "sex": "m" if kind in ("unaccompanied_child", "detained") else "f",
        "phone": f"+963 944 71{n} 8{n}{n}",
        "documents": [{"type": "national_id", "number": f"CNYDOC{n}Q{n}"}],
        "note": f"Cnynote{n}x",
        "origin_locality": f"Cnyorigin{n}x",
        "vulnerabilities": vulnerabilities,
        "nationality": "SYR",
    }
    if kind in AGES:
        details["estimated_age"] = AGES[kind]
    elif kind == "hospitalised":  # the adult's mother: a generation older (plausibility)
        details["birth_date"] = f"{1940 + n}"
    else:
        details["birth_date"] = f"{1970 + n}"
    return details


def build_world(database: Database, clock: Clock) -> World:
    """Register the world through the API, as officers of A and of B holding every
    operational role, and read each record back to learn how its canaries are shown."""
    basis = {"purpose": "registration and assistance", "legal_basis": "vital_interest"}
    consent = {"tracing": True, "share_with": ["ICRC"]}
    a_admin, a_user = token_client(database, clock, "world-a", ALL_ROLES, [])
    sites: dict[str, str] = {}
    for key, kind, name, extra in (
        ("A", "camp", "Camp Alpha", {}),
        ("B", "camp", "Camp Bravo", {}),
        ("C", "camp", "Camp Charlie", {}),
        ("H", "hospital", "Hospital Hotel", {}),
        ("D", "detention", DETENTION_NAME, {"locality": DETENTION_LOCALITY}),
    ):
        site = {"name": name, "kind": kind, "pcode": "SY08", **extra}
        sites[key] = str(_ok(a_admin.post("/api/sites", json=site))["id"])
    services = a_admin.app.state.services  # type: ignore[attr-defined]
    services.accounts.set_sites(
        a_user,
        [sites["A"], sites["H"], sites["D"]],
        audit=services.audit.operator_hook("test", "users.admin"),
    )
    b_admin, b_user = token_client(database, clock, "world-b", ALL_ROLES, [sites["B"], sites["C"]])
    # A movement officer of A records the detention and the hospital admission, notes
    # included: a role outside their groups may write those notes (not read them back).
    mover_sites = [sites["A"], sites["H"], sites["D"]]
    a_mover, _ = token_client(
        database, clock, "world-a-mover", (Role.MOVEMENT_OFFICER,), mover_sites
    )
    note_of = {f: f"{stem}{i}x" for i, (f, (_, stem)) in enumerate(EVENT_NOTES.items(), 1)}

    persons: dict[str, dict[str, Any]] = {}
    body: dict[str, Any]
    households: dict[str, str] = {}
    n = iter(range(1, 100))
    # A household at A: the adult, her child, her detained husband and her hospitalised
    # mother (a family the detention and the hospital separate); one at B (other_site).
    for head, members, client, site_key in (
        (
            "adult",
            (("child", "child"), ("detained", "spouse"), ("hospitalised", "parent")),
            a_admin,
            "A",
        ),
        ("other_site", (), b_admin, "B"),
    ):
        body = {
            "site_id": sites[site_key],
            "consent": consent,
            **basis,
            "head": _details(head, next(n)),
            "members": [{"relationship": rel, **_details(kind, next(n))} for kind, rel in members],
        }
        household = _ok(client.post("/api/households", json=body))
        for kind, shown in zip((head, *(k for k, _ in members)), household["members"], strict=True):
            persons[kind] = shown
            households[kind] = str(household["id"])
    # A relative of site B's head, at B, linked to her: a family link of site B's.
    sibling = _ok(
        b_admin.post(
            "/api/persons",
            json={"site_id": sites["B"], "consent": consent, **basis, "given_name": "Rt"},
        )
    )
    body = {"person_id": persons["other_site"]["id"], "other_person_id": sibling["id"]}
    _ok(b_admin.post("/api/relationships", json={**body, "kind": "sibling"}))
    # A relative of nobody yet, at A: the other end of the link the route table's
    # ``POST /api/relationships`` records for each of A's records (site B's sibling for
    # site B's head: its site's person).
    cousin = _ok(
        a_admin.post(
            "/api/persons",
            json={"site_id": sites["A"], "consent": consent, **basis, "given_name": "Rt"},
        )
    )
    relatives = {"A": cousin, "B": sibling}
    for kind in ("unaccompanied_child", "refused_tracing"):
        body = {
            "site_id": sites["A"],
            "consent": {"tracing": kind != "refused_tracing", "share_with": []},
            **basis,
            **_details(kind, next(n)),
        }
        person = _ok(a_admin.post("/api/persons", json=body))
        persons[kind] = person
        households[kind] = str(person.get("household_id") or "")
    # The husband taken to D on a truck of A's (checked in there, the arrival closed),
    # then recorded as detained there: the manifest's destination is where he is held.
    truck = _ok(
        a_admin.post(
            "/api/manifests",
            json={"vehicle": "truck 9", "from_site_id": sites["A"], "to_site_id": sites["D"]},
        )
    )
    detained_id = persons["detained"]["id"]
    for path, sent in (
        (
            "persons",
            {"person_ids": [detained_id], "separation_reason": note_of["detention_event_note"]},
        ),
        ("dispatch", None),
        ("check-ins", {"person_id": detained_id}),
        ("receive", None),
    ):
        _ok(a_admin.post(f"/api/manifests/{truck['id']}/{path}", json=sent))
    for kind, place in (("detained", "D"), ("hospitalised", "H")):
        [note] = [note_of[f] for f, (k, _) in EVENT_NOTES.items() if k == kind]
        _ok(
            a_mover.post(
                f"/api/persons/{persons[kind]['id']}/events",
                json={"kind": kind, "to_site_id": sites[place], "note": note},
            )
        )
    a_mover.close()
    # A health officer and a protection officer of A write a person's own note again:
    # only their group reads it now (a registrar, a movement officer, a site manager...
    # do not). The note registered (by a user holding every role: every group's, which
    # neither officer may overwrite) is cleared first.
    person_note_of = {}
    for i, (f, (kind, stem, role)) in enumerate(PERSON_NOTES.items(), 1):
        _ok(a_admin.patch(f"/api/persons/{persons[kind]['id']}", json={"note": None}))
        writer, _ = token_client(database, clock, f"world-a-{role.value}", (role,), [sites["A"]])
        person_note_of[f] = f"{stem}{i}x"
        _ok(
            writer.patch(
                f"/api/persons/{persons[kind]['id']}", json={"note": person_note_of[f]}
            )
        )
        writer.close()
    # Manifests: a draft at A (the adult and the child on it), one dispatched from the
    # hospital to A (the hospitalised mother: A checks her in and receives it), one
    # dispatched from B.
    manifests: dict[str, str] = {}
    for key, client, src, dst, people in (
        ("A", a_admin, "A", "H", [persons["adult"]["id"], persons["child"]["id"]]),
        ("H", a_admin, "H", "A", [persons["hospitalised"]["id"]]),
        ("B", b_admin, "B", "C", [persons["other_site"]["id"]]),
    ):
        m = _ok(
            client.post(
                "/api/manifests",
                json={"vehicle": "truck 7", "from_site_id": sites[src], "to_site_id": sites[dst]},
            )
        )
        manifests[key] = str(m["id"])
        _ok(
            client.post(
                f"/api/manifests/{m['id']}/persons",
                json={"person_ids": people, "separation_reason": "medical referral"},
            )
        )
    _ok(a_admin.post(f"/api/manifests/{manifests['H']}/dispatch"))
    _ok(b_admin.post(f"/api/manifests/{manifests['B']}/dispatch"))
    # Two drafts of their own (A to the hospital), offered to the record who refused
    # tracing (``Record.offers``): one with her on it, for the removal from a manifest
    # (every dispatch of the route table runs before every removal, so a removal from
    # the adult's draft finds it dispatched: refused, 409); one with the cousin of
    # nobody on it, for the dispatch (every movement of the route table runs before
    # it and takes each record to the hospital: a draft of theirs no longer leaves
    # from where they are, 422). Else neither write would ever be seen done.
    drafts: dict[str, str] = {}
    for name, passenger in (("removal", persons["refused_tracing"]), ("dispatch", cousin)):
        draft = _ok(
            a_admin.post(
                "/api/manifests",
                json={"vehicle": "truck 8", "from_site_id": sites["A"], "to_site_id": sites["H"]},
            )
        )
        _ok(
            a_admin.post(
                f"/api/manifests/{draft['id']}/persons", json={"person_ids": [passenger["id"]]}
            )
        )
        drafts[name] = str(draft["id"])
    # An enquiry for each record (seeking it by name), and an export at A and at B.
    enquiries: dict[str, dict[str, Any]] = {}
    # The adult's enquiry also seeks site B's head (a family the corridor split between
    # two camps): read by a role confined to A, it shows nothing of her.
    for kind in RECORDS:
        sought = [
            {"given_name": GIVEN_NAMES[k], "family_name": FAMILY_NAMES[k], "enquirer_is": "sibling"}
            for k in ((kind, "other_site") if kind == "adult" else (kind,))
        ]
        body = {"enquirer": ENQUIRER, "sought": sought}
        enquiries[kind] = _ok(a_admin.post("/api/tracing/enquiries", json=body))
    # The detained husband was found and agreed that his sibling learns where he is held:
    # his case is in the state that tells the most (the enquirer view holds the place),
    # from the start, so that every read sees it whatever ran before it (on the code
    # before, only a read run after the disclosure form found the facility told to a
    # tracing officer: the test failed or passed by the order the tests ran in).
    detained_id = str(persons["detained"]["id"])
    case = _own_case(enquiries["detained"], "detained")
    [match] = [m for m in case["matches"] if m["person"]["id"] == detained_id]
    _ok(a_admin.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "seen"}))
    _ok(
        a_admin.post(
            f"/api/tracing/cases/{case['id']}/disclosure",
            json={"decision": "agreed", "reason": "he asked us to tell his sibling"},
        )
    )
    told = _ok(a_admin.get(f"/api/tracing/enquiries/{enquiries['detained']['id']}/enquirer-view"))
    assert told["sought"][0]["site"]["id"] == sites["D"], told
    # Exports asked for by protection officers of A alone and of B alone (an export
    # covers its asker's sites).
    exports = {}
    for key in ("A", "B"):
        asker, _ = token_client(
            database, clock, f"world-{key}-po", (Role.PROTECTION_OFFICER,), [sites[key]]
        )
        exports[key] = str(_ok(asker.post("/api/exports", json={"reason": "monthly list"}))["id"])
        asker.close()

    offers = _offering_states(a_admin, sites["A"], persons, basis)
    offers["adult"] |= _node_states(database, clock, sites["A"])
    offers["refused_tracing"] = {
        **{key: {"manifest_id": drafts["removal"]} for key in REMOVAL_FORMS},
        **{key: {"manifest_id": drafts["dispatch"]} for key in DISPATCH_FORMS},
    }

    links: dict[str, str] = {}
    with database.read() as conn:
        for kind in RECORDS:
            found = conn.execute(
                select(relationships.c.id)
                .where(relationships.c.person_id == str(persons[kind]["id"]))
                .order_by(relationships.c.created_at, relationships.c.id)
            ).scalar()
            if found is not None:
                links[kind] = str(found)
    records: dict[str, Record] = {}
    for kind in RECORDS:
        person = persons[kind]
        pid = str(person["id"])
        client = b_admin if kind == "other_site" else a_admin
        shown = _ok(client.get(f"/api/persons/{pid}"))
        movements = _ok(client.get(f"/api/persons/{pid}/movements"))
        site_key = "B" if kind == "other_site" else "A"
        case = _own_case(enquiries[kind], kind)
        match = next((m for m in case["matches"] if m["person"]["id"] == pid), None)
        if match is None:  # refused tracing: never a candidate; the adult's match stands in
            match = _own_case(enquiries["adult"], "adult")["matches"][0]
        ids = {
            "person_id": pid,
            "site_id": sites[site_key],
            "own_site_id": sites["A"],
            "household_id": households[kind] or households["adult"],
            "manifest_id": truck["id"]
            if kind == "detained"
            else manifests["H" if kind == "hospitalised" else site_key],
            "event_id": str(movements[0]["id"]),
            # A family link of the person (of the adult's, for a person without one).
            "link_id": links.get(kind) or links["adult"],
            "enquiry_id": str(enquiries[kind]["id"]),
            "case_id": str(case["id"]),
            "match_id": str(match["id"]),
            "export_id": exports[site_key],
            "registration_number": str(shown["registration_number"]),
            # The person's note as it is: the route table's correction writes it again
            # (a role that may not read it is refused), so that no write of the table
            # takes a canary away before a read of it is checked.
            "note": str(shown["note"]),
            "given_name": GIVEN_NAMES[kind],
            "family_name": FAMILY_NAMES[kind],
            # Where a movement of the route table takes the person, and where a truck it
            # makes goes (from the record's site): the hospital, whatever the record.
            "hospital_id": sites["H"],
            # A person of the record's site not linked to them: the other end of a new
            # family link (the route table's ``POST /api/relationships``).
            "relative_id": str(relatives[site_key]["id"]),
            "relative_number": str(relatives[site_key]["registration_number"]),
            # The person a merge or a "two persons" decision names beside the record:
            # itself (refused) but where the record has a pair queued (``offers``).
            "other_person_id": pid,
            # A sync conflict or a held erasure of the record's: one nobody has but
            # where the record's state has one (``offers``).
            "conflict_id": NO_CONFLICT,
        }
        text = {
            "phone": str(shown["phone"]),
            "documents": str(shown["documents"][0]["number"]),
            "note": str(shown["note"]),
            "origin_locality": str(shown["origin"]["locality"]),
            "medical_note": str(shown["vulnerabilities"]["medical_note"]),
        }
        for f, (k, _) in EVENT_NOTES.items():
            if k == kind:  # the canary is real: the log shows it to a user who sees all
                assert note_of[f] in [m["note"] for m in movements], (kind, movements)
                text[f] = note_of[f]
        for f, (k, _, _) in PERSON_NOTES.items():
            if k == kind:  # the canary is real: the person's note as a user sees it all
                assert shown["note"] == person_note_of[f], (kind, shown["note"])
                text[f] = person_note_of[f]
        flags = dict(FLAG_FIELDS)
        if kind not in ("adult", "other_site"):
            flags.pop("pregnant_lactating")
        if kind == "child":
            flags |= CHILD_FLAG_FIELDS
        if kind == "unaccompanied_child":
            flags |= UASC_FIELD
        # The planted values as the API shows them to a user who may see them all: the
        # canaries below are real (a renamed field fails here, not silently later).
        pairs = set(walk_json_pairs(shown))
        for f, (key, value) in flags.items():
            assert (key, repr(value)) in pairs, (kind, f, key, value)
        records[kind] = Record(
            kind=kind,
            matrix_kind="minor" if kind in AGES else "person",
            person_id=pid,
            site_id=sites[site_key],
            ids=ids,
            text_canaries=text,
            flags=flags,
            names=(GIVEN_NAMES[kind], FAMILY_NAMES[kind]),
            offers=offers.get(kind, {}),
        )
    # The detention canaries are real: a protection officer sees where the husband is held.
    detained = a_admin.get(f"/api/persons/{records['detained'].person_id}").text
    assert sites["D"] in detained, detained[:300]
    assert DETENTION_NAME in a_admin.get(f"/api/sites/{sites['D']}").text
    world = World(sites=sites, records=records)
    world.person_ids = {r.person_id for r in records.values()}
    world.person_ids |= {v for o in offers.values() for ids in o.values() for v in ids.values()}
    world.person_ids &= _person_ids(database)
    a_admin.close()
    b_admin.close()
    return world


# The forms that act on a record in a state none of the records above is in, and the
# ids (path parameters and placeholders) of the state the world puts the adult in for
# each: ``_offering_states``. tests/web/test_world_offers_every_form.py fails on a form
# no page of the world offers.
DISCLOSURE_FORMS = (
    "POST /tracing/cases/{case_id}/disclosure",
    "POST /api/tracing/cases/{case_id}/disclosure",
)
MERGE_FORMS = ("POST /persons/{person_id}/merge", "POST /api/persons/{person_id}/merge")
APART_FORMS = (
    "POST /persons/{person_id}/not-duplicate",
    "POST /api/persons/{person_id}/not-duplicate",
)
REMOVAL_FORMS = (
    "DELETE /api/manifests/{manifest_id}/persons/{person_id}",
    "POST /manifests/{manifest_id}/remove",
)
DISPATCH_FORMS = (
    "POST /api/manifests/{manifest_id}/dispatch",
    "POST /manifests/{manifest_id}/dispatch",
)
UNMERGE_FORMS = ("POST /persons/{person_id}/unmerge", "POST /api/persons/{person_id}/unmerge")
# The adult registered again, at her own site: her names as another clerk spelt them, her
# sex and birth year, nothing else (no restricted field: the adult's canaries stay hers
# alone; her own spelling stays as rare as it was, so that a search or an import finds
# her as before); she refused tracing on each of these registrations, so that no enquiry
# takes them for candidates (a merge asks her again: the form's ``consent_tracing``).
# Each queued with her as a duplicates run queues a pair: merged into her, to merge, and
# two persons.
TWICE = (("Hameed", "Barakzawy"), ("Hamed", "Barakzai"), ("Hamied", "Barakzawee"))


# A second relative who asks for the adult (her cousin): her case awaits the adult's
# decision.
SECOND_ENQUIRER = {**ENQUIRER, "name": "Salma Barakzawi", "relationship": "cousin"}
THIRD_ENQUIRER = {**ENQUIRER, "name": "Idris Barakzawi", "relationship": "uncle_aunt"}
REJECT_FORMS = (
    "POST /tracing/matches/{match_id}/reject",
    "POST /api/tracing/matches/{match_id}/reject",
)


def _offering_states(
    admin: TestClient, site_a: str, persons: dict[str, dict[str, Any]], basis: dict[str, str]
) -> dict[str, dict[str, dict[str, str]]]:
    """Put the adult in the states that offer the forms no record offers as built: a
    second enquiry (another relative's) whose match with her is confirmed, awaiting her
    decision (the disclosure form); three registrations of her again, each queued with
    her as a probable duplicate (issue 15): one merged into her (the unmerge form on her
    page), one to merge and one to keep apart (the duplicates queue's two forms). The
    record kind -> route key -> the ids of the state offering it (``Record.offers``)."""
    adult = persons["adult"]
    birth_year = str(_ok(admin.get(f"/api/persons/{adult['id']}"))["birth_date"])[:4]
    again = []
    for given, family in TWICE:
        body = {
            "site_id": site_a,
            "consent": {"tracing": False, "share_with": []},
            **basis,
            "given_name": given,
            "family_name": family,
            "sex": "f",
            "birth_date": birth_year,
            "nationality": "SYR",
        }
        again.append(str(_ok(admin.post("/api/persons", json=body))["id"]))
    merged, to_merge, apart = again
    # Queued as a duplicates run queues them (``corridor duplicates``): each with her.
    services = admin.app.state.services  # type: ignore[attr-defined]
    services.merges.propose(
        [[adult["id"], other] for other in again],
        audit=services.audit.operator_hook("world", "person.merge"),
    )
    queued = {frozenset(p["id"] for p in pair["persons"]) for pair in _queue(admin)}
    for other in again:
        assert frozenset((adult["id"], other)) in queued, ("not queued as her duplicate", queued)
    _ok(
        admin.post(
            f"/api/persons/{adult['id']}/merge",
            json={"other_person_id": merged, "reason": "registered twice", "consent_tracing": True},
        )
    )
    relative = SECOND_ENQUIRER
    sought = [{"given_name": GIVEN_NAMES["adult"], "family_name": FAMILY_NAMES["adult"]}]
    enquiry = _ok(
        admin.post(
            "/api/tracing/enquiries",
            json={"enquirer": relative, "sought": [{**sought[0], "enquirer_is": "cousin"}]},
        )
    )
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == adult["id"]]
    _ok(admin.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "seen"}))
    # A third relative who asks for her (her uncle): his case's match with her stays
    # proposed for the rejection forms (every confirmation of the route table runs
    # before every rejection, on each record's own match: refused then, 409).
    asked = {"enquirer": THIRD_ENQUIRER, "sought": [{**sought[0], "enquirer_is": "uncle_aunt"}]}
    uncle = _ok(admin.post("/api/tracing/enquiries", json=asked))
    [proposed] = [
        (c["id"], m["id"])
        for c in uncle["cases"]
        for m in c["matches"]
        if m["person"]["id"] == adult["id"]
    ]
    offers: dict[str, dict[str, str]] = {}
    for key in REJECT_FORMS:
        offers[key] = {"case_id": str(proposed[0]), "match_id": str(proposed[1])}
    for key in DISCLOSURE_FORMS:
        offers[key] = {"case_id": str(case["id"])}
    for keys, other in ((MERGE_FORMS, to_merge), (APART_FORMS, apart)):
        offers |= {key: {"other_person_id": other} for key in keys}
    offers |= {key: {"person_id": merged} for key in UNMERGE_FORMS}
    return {"adult": offers}


NO_CONFLICT = "0190aaaa-0000-7000-8000-000000000000"
HOLD_FORMS = (
    "POST /persons/{person_id}/resolve-hold",
    "POST /api/persons/{person_id}/resolve-hold",
)
CONFLICT_FORMS = (
    "POST /persons/{person_id}/resolve-conflict",
    "POST /api/persons/{person_id}/resolve-conflict",
)
_NODE_TEMPLATE: list[Path] = []


def _node_database() -> Database:
    """A migrated SQLite file of its own for a site node (migrated once per process,
    copied for each world)."""
    import shutil
    import tempfile

    from corridor.upgrade import upgrade

    folder = Path(tempfile.mkdtemp(prefix="route-world-node-"))
    if not _NODE_TEMPLATE:
        template = folder / "template.db"
        db = Database(f"sqlite:///{template}")
        upgrade(db)
        db.dispose()
        _NODE_TEMPLATE.append(template)
    path = folder / "node.db"
    shutil.copy(_NODE_TEMPLATE[0], path)
    return Database(f"sqlite:///{path}")


def _node_states(database: Database, clock: Clock, site_id: str) -> dict[str, dict[str, str]]:
    """What a desk of site A (a site node, issue 16) leaves to decide at the central: a
    sync conflict (a person it registered and sent, whose phone the central and the desk
    then corrected apart: the ``resolve-conflict`` forms) and an erasure held back (a
    person it registered and sent, on whom the central placed a legal hold while the
    desk, apart, erased her: the ``resolve-hold`` forms; docs/sync.md, "Erasure and legal
    holds across nodes"). The route key -> the ids of each state (``Record.offers``)."""
    from corridor.schemas import PersonPatch
    from corridor.sync.conflicts import ConflictReview
    from corridor.sync.holds import HeldErasures
    from corridor.sync.service import SyncService
    from tests.sync.helpers import person_body

    central, node, _ = _enrolled(database, clock, site_id, _node_database(), "World desk A")
    try:
        at_node, at_central = SyncService.of(node), SyncService.of(central)
        write = node.audit.operator_hook("world", "person.write")
        body = person_body(site_id, "Heldback", "+963933107799")
        held = str(node.registration.register_person(body, audit=write)["id"])
        body = person_body(site_id, "Twochanges", "+963933107788")
        apart = str(node.registration.register_person(body, audit=write)["id"])
        node_id = str(at_node.identity()["id"])
        applied_here = central.audit.operator_hook("world", "sync.apply")
        applied_there = node.audit.operator_hook("world", "sync.apply")
        at_central.import_bundle(at_node.export(), audit=applied_here)
        at_node.import_bundle(at_central.export(node_id), audit=applied_there)
        central.retention.hold(
            "person", held, True, audit=central.audit.operator_hook("world", "retention.hold")
        )
        for services, phone in ((central, "+963933107711"), (node, "+963933107722")):
            services.registration.update_person(
                apart,
                PersonPatch(phone=phone),
                audit=services.audit.operator_hook("world", "person.write"),
            )
        node.retention.erase(
            held, "the person's request", audit=node.audit.operator_hook("world", "person.export")
        )
        at_central.import_bundle(at_node.export(), audit=applied_here)
        [hold] = [c for c in HeldErasures.of(central).queue() if c["person_id"] == held]
        [conflict] = [c for c in ConflictReview.of(central).queue() if c["person_id"] == apart]
    finally:
        node.db.dispose()
    offers = {key: {"person_id": held, "conflict_id": str(hold["id"])} for key in HOLD_FORMS}
    ids = {"person_id": apart, "conflict_id": str(conflict["id"])}
    return offers | {key: ids for key in CONFLICT_FORMS}


def _queue(client: TestClient) -> list[dict[str, Any]]:
    found = _ok(client.get("/api/duplicates"))
    return list(found["items"] if isinstance(found, dict) else found)


def _person_ids(database: Database) -> set[str]:
    from corridor.storage.tables import persons

    with database.read() as conn:
        return {str(p) for p in conn.execute(select(persons.c.id)).scalars()}


def _own_case(enquiry: dict[str, Any], kind: str) -> dict[str, Any]:
    """The case of an enquiry that seeks the record ``kind``."""
    [case] = [c for c in enquiry["cases"] if c["sought"]["given_name"] == GIVEN_NAMES[kind]]
    return case


def walk_json(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from walk_json(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_json(v)


def walk_json_pairs(value: Any) -> Iterator[tuple[str, str]]:
    """``walk_json`` with each value as its ``repr`` (hashable)."""
    for k, v in walk_json(value):
        yield k, repr(v)


def enrol_node_behind(database: Database, clock: Clock, site_id: str, node_file: Path) -> str:
    """A site node of ``site_id`` (its own SQLite file, ``node_file``, copied from the
    template) enrolled at the world's installation, which becomes its central: it
    registered two persons and pulled without pushing them, so the central knows from
    its marks that two of its changes have not arrived (a small count of persons on the
    sync state, for the figures test). The node's id."""
    from corridor.sync.service import SyncService
    from tests.sync.helpers import person_body

    node_db = Database(f"sqlite:///{node_file}")
    central, node, node_id = _enrolled(database, clock, site_id, node_db, "World desk")
    try:
        write = node.audit.operator_hook("world", "person.write")
        for i in range(2):
            node.registration.register_person(
                person_body(site_id, f"Behind{i}", f"+96393310770{i}"), audit=write
            )
        SyncService.of(central).answer_pull(SyncService.of(node).export(changes=False))
        return node_id
    finally:
        node.db.dispose()


def _enrolled(
    database: Database, clock: Clock, site_id: str, node_db: Database, name: str
) -> tuple[Services, Services, str]:
    """The world's installation (the central) and a site node of ``site_id`` on
    ``node_db`` with a key of its own, enrolled there as `corridor node init / approve /
    join` do it; the node's id. The caller disposes of the node's database."""
    from corridor.security.crypto import MasterKey
    from corridor.services import Services
    from corridor.sync import keys
    from corridor.sync.service import SyncService

    central = Services(database, clock, MasterKey.from_text(MASTER_KEY))
    node = Services(node_db, clock, MasterKey.generate())
    at_node, at_central = SyncService.of(node), SyncService.of(central)
    request = at_node.init_node("https://central.example", site_id, name)
    hook = central.audit.operator_admin_hook("world", "sites.admin")
    grant = at_central.approve(request, "cli:world", audit=hook)
    fingerprint = keys.fingerprint(grant["grant"]["central_signing_public"])
    at_node.join(grant, fingerprint, audit=node.audit.operator_admin_hook("world", "sites.admin"))
    return central, node, str(request["request"]["node_id"])


def with_form_secret(client: TestClient) -> TestClient:
    """``client``, able to post the page forms: a browser secret in its cookie and, in its
    header, the token of a request with no session (corridor/web/csrf.py)."""
    secret = secrets.token_urlsafe(16)
    client.cookies.set(CSRF_COOKIE, secret)
    client.headers[HEADER] = token_for(secret, None)
    return client
