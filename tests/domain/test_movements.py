from datetime import UTC, datetime, timedelta

from corridor.domain.movements import Event, current_location

T0 = datetime(2019, 3, 1, 8, tzinfo=UTC)


def ev(i, kind, frm=None, to=None, hours=0, corrects=None, manifest=None):
    return Event(f"e{i}", i, kind, frm, to, T0 + timedelta(hours=hours), manifest, corrects)


def test_location_follows_the_log():
    log = [
        ev(1, "registered", to="exit"),
        ev(2, "dispatched", "exit", "camp", 1, manifest="m"),
        ev(3, "arrived", "exit", "camp", 5, manifest="m"),
    ]
    assert current_location(log[:2]).state == "in_transit"
    assert current_location(log[:2]).destination_site_id == "camp"
    loc = current_location(log)
    assert (loc.site_id, loc.state, loc.event_id) == ("camp", "present", "e3")


def test_events_count_in_time_order_whatever_the_recording_order():
    log = [
        ev(1, "registered", to="exit"),
        ev(3, "hospitalised", to="hosp", hours=1),
        ev(2, "transferred", "exit", "camp", hours=5),
    ]
    assert current_location(log).site_id == "camp"


def test_a_correction_replaces_the_event_it_names():
    log = [ev(1, "registered", to="exit"), ev(2, "detained", to="prison", hours=1)]
    assert current_location(log).state == "detained"
    voided = [*log, ev(3, "voided", corrects="e2", hours=1)]
    assert current_location(voided).site_id == "exit"
    restated = [*log, ev(3, "hospitalised", to="hosp", hours=1, corrects="e2")]
    assert (current_location(restated).site_id, current_location(restated).state) == (
        "hosp",
        "hospitalised",
    )


def test_deceased_keeps_the_last_site_and_release_without_destination_leaves():
    log = [ev(1, "registered", to="exit"), ev(2, "deceased", hours=2)]
    assert (current_location(log).site_id, current_location(log).state) == ("exit", "deceased")
    log = [ev(1, "registered", to="prison"), ev(2, "released", "prison", None, 2)]
    assert current_location(log).state == "left"
    assert current_location([]).state == "unknown"


def test_where_a_person_is_counted_depends_only_on_the_last_event():
    """The rule the database folds by (figures): after an event of a COUNTED_KINDS kind
    the person is counted at its destination, after any other at no site, whatever came
    before."""
    from corridor.domain.movements import (
        COUNTED_KINDS,
        EVENT_KINDS,
        UNKNOWN,
        Location,
        apply,
        counted_at,
    )

    t = datetime(2019, 3, 1, tzinfo=UTC)
    befores = [UNKNOWN, Location("a", "present", t, "e0"), Location(None, "in_transit", t, "e0")]
    for kind in EVENT_KINDS:
        if kind == "voided":
            continue
        for to in ("b", None):
            for before in befores:
                after = apply(before, Event("e1", 1, kind, "a", to, t))
                expected = to if kind in COUNTED_KINDS else None
                assert counted_at(after) == expected, (kind, to, before)


def test_moves_count_a_hospitalisation_a_detention_and_a_death_as_departures():
    from corridor.domain.movements import moves

    t = datetime(2019, 3, 1, tzinfo=UTC)
    events = [
        Event("e1", 1, "registered", None, "exit", t),
        Event("e2", 2, "hospitalised", "exit", "hospital", t),
        Event("e3", 3, "discharged", "hospital", "camp", t),
        Event("e4", 4, "detained", "camp", "detention", t),
        Event("e5", 5, "deceased", None, None, t),
    ]
    assert [(m.left, m.reached) for m in moves(events)] == [
        (None, "exit"),
        ("exit", "hospital"),
        ("hospital", "camp"),
        ("camp", "detention"),
        ("detention", None),
    ]
