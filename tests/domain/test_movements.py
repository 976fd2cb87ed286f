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
