"""PROTECTION.md line 10 for tracing data: an enquiry whose cases all ended is anonymised
once each case is past the period of its outcome; figures and the case log stay; an
enquiry with a case still open, or on legal hold, stays."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from corridor.errors import NotFound
from corridor.schemas import PersonIn, SiteIn
from corridor.security.roles import Role
from corridor.security.tables import disposal_log
from corridor.security.users import Principal
from corridor.services.protection.accounts import Caller
from corridor.services.protection.retention import policy
from corridor.storage.tracing_tables import (
    tracing_case_events,
    tracing_case_keys,
    tracing_cases,
    tracing_enquiries,
    tracing_matches,
)
from corridor.tracing_schemas import DisclosureIn, EnquiryIn, MatchDecisionIn, TransitionIn

ACTOR = "cli:test"
OFFICER = Caller(
    Principal("officer-1", frozenset({Role.TRACING_OFFICER}), frozenset()),
    second_factor=True,
    scope=None,
)
ENQUIRER = {
    "name": "Amira Saleh Haddad",
    "contact": "+49 151 2345 6789",
    "relationship": "sibling",
    "location": "Berlin, Germany",
    "country": "DEU",
}
# What the enquirer told about the sought person and themself: none of it may be left.
PERSONAL = ("Amira", "+49 151", "Berlin", "Khalid", "Huda", "Salma", "Hajin", "Baghouz",
            "Abu Ibrahim", "a cousin in Gaziantep")  # fmt: skip


def _sought(given: str, family: str = "al-Obeidi") -> dict[str, object]:
    return {
        "given_name": given,
        "father_name": "Ibrahim",
        "family_name": family,
        "alternate_names": ["Abu Ibrahim"],
        "sex": "m",
        "age": 34,
        "nationality": "SYR",
        "place_of_origin": "Hajin",
        "mother_name": "Huda",
        "relatives_names": ["Salma Obeidi"],
        "last_seen_place": "Baghouz",
        "last_seen_date": "2019-02-20",
    }


def _enquire(services, *sought):
    body = EnquiryIn.model_validate(
        {"enquirer": ENQUIRER, "sought": list(sought), "note": "a cousin in Gaziantep"}
    )
    return services.tracing.create_enquiry(
        body, recorded_by="officer-1", audit=services.audit.operator_hook("test", "tracing.write")
    )


def _register(services, site_id, given, family="Obeidi"):
    body = PersonIn.model_validate(
        {"site_id": site_id, "consent": {"tracing": True}, "purpose": "registration",
         "legal_basis": "vital_interest", "given_name": given, "father_name": "Ibrahim",
         "family_name": family, "sex": "m", "estimated_age": 34}
    )  # fmt: skip
    return services.registration.register_person(
        body, audit=services.audit.operator_hook("test", "person.write")
    )["id"]


def _move(services, case_id, to, close_reason=None):
    body = TransitionIn.model_validate({"to": to, "close_reason": close_reason})
    return services.tracing.transition(
        case_id, body, OFFICER, audit=services.audit.operator_hook("test", "tracing.write")
    )


def _reunite(services, enquiry, person_id):
    """Confirm the proposed match, record the agreement, inform, reunite."""
    case = enquiry["cases"][0]
    [match] = [m for m in case["matches"] if m["person"]["id"] == person_id]
    services.tracing.confirm_match(
        match["id"],
        MatchDecisionIn(reason="photo"),
        OFFICER,
        audit=services.audit.operator_hook("test", "tracing.write"),
    )
    agreed = DisclosureIn.model_validate({"decision": "agreed", "reason": "he agreed"})
    services.tracing.decide_disclosure(
        case["id"], agreed, OFFICER, audit=services.audit.operator_hook("test", "tracing.write")
    )
    _move(services, case["id"], "family_informed")
    return _move(services, case["id"], "reunited")


def _rows(conn, table, column, value):
    return conn.execute(select(table).where(column == value)).mappings().all()


def test_tracing_categories_have_periods():
    rules = policy()
    assert rules["tracing_reunited"].period.days == 730
    assert rules["tracing_closed"].period == rules["person"].period
    assert all(rules[c].action == "anonymise" for c in ("tracing_reunited", "tracing_closed"))


def test_protection_10_an_ended_enquiry_is_anonymised_after_its_period(services, clock):
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    khaled = _register(services, camp, "Khaled")
    reunited = _enquire(services, _sought("Khalid"))
    assert reunited["cases"][0]["matches"]  # proposed, with an explanation naming both
    case = _reunite(services, reunited, khaled)
    assert case["state"] == "reunited"
    not_found = _enquire(services, _sought("Yusuf", "Hamdan"))
    still_open = _enquire(services, _sought("Omar", "Jabouri"))
    mixed = _enquire(services, _sought("Bilal", "Haddad"), _sought("Tariq", "Haddad"))
    _move(services, mixed["cases"][0]["id"], "closed", "deceased")  # the other stays open
    clock.advance(days=190)
    _move(services, not_found["cases"][0]["id"], "closed", "not_found")
    clock.advance(days=550)  # 740 days after the reunion: past 2 years, not past 5

    with services.db.read() as conn:
        before = {
            t.name: conn.execute(select(t).order_by(*t.primary_key.columns)).all()
            for t in (tracing_enquiries, tracing_cases, tracing_matches, tracing_case_events)
        }
    dry = services.retention.run(ACTOR, dry_run=True)
    assert dry.disposed == {"tracing_reunited": [reunited["id"]]}
    with services.db.read() as conn:
        for t in (tracing_enquiries, tracing_cases, tracing_matches, tracing_case_events):
            assert conn.execute(select(t).order_by(*t.primary_key.columns)).all() == before[t.name]
        assert conn.execute(select(disposal_log)).first() is None

    report = services.retention.run(ACTOR)
    assert report.disposed == {"tracing_reunited": [reunited["id"]]}
    case_id = reunited["cases"][0]["id"]
    with services.db.read() as conn:
        [e] = _rows(conn, tracing_enquiries, tracing_enquiries.c.id, reunited["id"])
        [c] = _rows(conn, tracing_cases, tracing_cases.c.id, case_id)
        matches = _rows(conn, tracing_matches, tracing_matches.c.case_id, case_id)
        keys = _rows(conn, tracing_case_keys, tracing_case_keys.c.case_id, case_id)
        log = conn.execute(select(disposal_log)).mappings().all()
        events_after = conn.execute(
            select(tracing_case_events).order_by(tracing_case_events.c.seq)
        ).all()
    # Gone: the enquirer, the sought person's description, the keys, names in matches.
    # The enquirer's sealed name, contact, location and note go whole (with nothing to
    # open, the tracing key is not needed); the views show empty text.
    assert e["sealed"] is None
    assert e["created_by"] is None and e["anonymised_at"] == clock()
    shown = services.tracing.views.enquiry(reunited["id"])
    assert shown["enquirer"] | {"note": shown["note"]} == {
        "name": "", "contact": "", "location": "", "note": None, "unavailable": False,
        "relationship": "sibling", "country": "DEU",
    }  # fmt: skip
    for f in ("full_name", "given_name", "father_name", "grandfather_name", "family_name",
              "name_original_script", "mother_name", "place_of_origin", "last_seen_place",
              "last_seen_date"):  # fmt: skip
        assert c[f] is None, f
    assert c["alternate_names"] == [] and c["relatives_names"] == []
    assert keys == []
    assert matches and all(m["reason"] is None for m in matches)
    assert all(x["text"] == "" and x["field"] for m in matches for x in m["explanation"])
    # ...with the sealed texts and the messages' parameters, which quote the names too.
    assert not {"sealed", "message"} & {k for m in matches for x in m["explanation"] for k in x}
    # Kept: what the figures count.
    assert (e["enquirer_relationship"], e["enquirer_country"]) == ("sibling", "DEU")
    assert (c["state"], c["disclosure"], c["found_person_id"]) == ("reunited", "agreed", khaled)
    assert (c["sex"], c["birth_year"], c["nationality"]) == ("m", 2019 - 34, "SYR")
    old_case = before["tracing_cases"][[r.id for r in before["tracing_cases"]].index(case_id)]
    assert (c["created_at"], c["updated_at"]) == (old_case.created_at, old_case.updated_at)
    # The case log is append-only: only the officers' free-text reasons of this enquiry's
    # cases are blanked ("he agreed" could name anyone); every other entry is as it was.
    reason = [c.name for c in tracing_case_events.columns].index("reason")
    assert [e[:reason] + e[reason + 1 :] for e in events_after] == [
        e[:reason] + e[reason + 1 :] for e in before["tracing_case_events"]
    ]
    for old, new in zip(before["tracing_case_events"], events_after, strict=True):
        assert new.reason == (None if old.case_id == case_id else old.reason)
    assert any(e.reason for e in before["tracing_case_events"] if e.case_id == case_id)
    # ...and the database still refuses any other change, and any deletion.
    for edit in (
        "UPDATE tracing_case_events SET reason = 'rewritten'",
        "UPDATE tracing_case_events SET to_state = 'open', reason = NULL",
        "UPDATE tracing_case_events SET recorded_by = 'someone else'",
        "DELETE FROM tracing_case_events",
    ):
        with pytest.raises(Exception, match="append-only"), services.db.transaction() as conn:
            conn.execute(text(edit))
    # Logged like a person: category, id, action, when, the period; never a value.
    assert [(r["category"], r["record_id"], r["action"]) for r in log] == [
        ("tracing_reunited", reunited["id"], "anonymised")
    ]
    assert log[0]["reason"] == "retention period of 730 days passed"
    assert log[0]["run_id"] == report.run_id and log[0]["disposed_at"] == clock()
    # Nothing of it is shown any more (the found person's own record has its own period).
    view = services.tracing.views.enquiry(reunited["id"])
    told = services.tracing.views.enquirer_view(reunited["id"])
    assert view["cases"][0]["state"] == "reunited"
    for value in PERSONAL:
        assert value not in str(view) and value not in str(told), value
    # The other enquiries are untouched.
    for kept in (not_found, still_open, mixed):
        again = services.tracing.views.enquiry(kept["id"])
        assert again["enquirer"]["name"] == ENQUIRER["name"]
        assert again["cases"][0]["sought"]["mother_name"] == "Huda"
    # Matching never finds it again: a new registration of the same names is proposed for
    # the open enquiries it fits, not for the anonymised one.
    _register(services, camp, "Khalid", "al-Obeidi")
    assert services.tracing.views.case(case_id)["matches"] == view["cases"][0]["matches"]
    assert services.retention.run(ACTOR).disposed == {}

    # Five years after "not found": that one goes too; the mixed one never while open.
    clock.advance(days=1826 - 550 + 1)
    report = services.retention.run(ACTOR)
    assert report.disposed["tracing_closed"] == [not_found["id"]]
    assert "tracing_reunited" not in report.disposed
    for kept in (still_open, mixed):
        assert services.tracing.views.enquiry(kept["id"])["enquirer"]["name"] == ENQUIRER["name"]


def test_an_enquiry_counts_from_its_last_case_to_end(services, clock):
    """A reunion two years after a death: the enquiry waits for the longer of the two."""
    both = _enquire(services, _sought("Bilal", "Haddad"), _sought("Tariq", "Haddad"))
    _move(services, both["cases"][0]["id"], "closed", "deceased")
    clock.advance(days=1500)
    _move(services, both["cases"][1]["id"], "closed", "no_contact_wished")
    clock.advance(days=1826 - 1500 + 1)  # 5 years after the first: not after the second
    assert services.retention.run(ACTOR).disposed == {}
    clock.advance(days=1500)
    assert services.retention.run(ACTOR).disposed == {"tracing_closed": [both["id"]]}


def test_an_enquiry_on_hold_stays(services, clock):
    held = _enquire(services, _sought("Yusuf", "Hamdan"))
    _move(services, held["cases"][0]["id"], "closed", "deceased")
    services.retention.set_enquiry_hold(held["id"], True, ACTOR)
    with pytest.raises(NotFound):
        services.retention.set_enquiry_hold("no-such-enquiry", True, ACTOR)
    clock.advance(days=1900)
    report = services.retention.run(ACTOR)
    assert report.disposed == {} and report.enquiries_kept_on_hold == 1
    assert services.tracing.views.enquiry(held["id"])["enquirer"]["name"] == ENQUIRER["name"]
    services.retention.set_enquiry_hold(held["id"], False, ACTOR)
    assert services.retention.run(ACTOR).disposed == {"tracing_closed": [held["id"]]}


def test_an_anonymised_person_leaves_no_name_in_match_explanations(services, clock):
    """A candidate's record past its period: the open case keeps the match, its figures
    and its own sought person, but the explanation no longer quotes the candidate."""
    camp = services.sites.create(
        SiteIn(name="Camp", kind="camp"), audit=services.audit.operator_hook("test", "sites.admin")
    )["id"]
    khaled = _register(services, camp, "Khaled")
    enquiry = _enquire(services, _sought("Khalid"))
    [match] = enquiry["cases"][0]["matches"]
    assert match["person"]["id"] == khaled
    assert any("Khaled" in x["text"] for x in match["explanation"])
    clock.advance(days=1830)
    report = services.retention.run(ACTOR)
    assert report.disposed == {"person": [khaled]}
    [after] = services.tracing.views.case(enquiry["cases"][0]["id"])["matches"]
    assert after["probability"] == match["probability"]
    assert [(x["field"], x["weight"], x["text"]) for x in after["explanation"]] == [
        (x["field"], x["weight"], "") for x in match["explanation"]
    ]
    # Nor does a translation of it: no message with the names as parameters is left.
    assert all(not getattr(x["text"], "params", None) for x in after["explanation"])
    assert services.tracing.views.enquiry(enquiry["id"])["cases"][0]["sought"]["given_name"] == (
        "Khalid"
    )
