"""A correction (or a void) of a movement may not make the person's history one that the
rules for recording an event would refuse (on both databases): an event before the
person was born, a movement after their death (a death corrected to before later
movements made them alive again), a discharge before its admission, an arrival off a
truck before it left, a movement before their registration. Refused (422 naming the
field and the movement), nothing written (docs/api.md, "Corrections against the log")."""

from __future__ import annotations

from tests.api.helpers import errors, register, site
from tests.api.test_manifests import household
from tests.api.test_movement_times import events, location, on_the_road


def _moves(client, pid) -> list[dict]:
    return list(client.get(f"/api/persons/{pid}/movements").json())


def _id(client, pid, kind) -> str:
    [event] = [m for m in _moves(client, pid) if m["kind"] == kind and not m["corrected"]]
    return str(event["id"])


def _correct(client, event_id, **body):
    body.setdefault("note", "entered wrong")
    return client.post(f"/api/movements/{event_id}/corrections", json=body)


def _refused(client, database, pid, event_id, field, reason, **body):
    """The correction is refused naming ``field`` and ``reason``; nothing is written."""
    written, log, where = events(database), _moves(client, pid), location(client, pid)
    r = _correct(client, event_id, **body)
    assert r.status_code == 422, r.text
    assert errors(r) == {field: reason}
    assert (events(database), _moves(client, pid), location(client, pid)) == (written, log, where)


def _stay(client, clock):
    """Sara (born 2019-03-05) registered at the camp at 08:00, admitted to hospital at
    10:00, discharged back to the camp at 12:00."""
    camp = site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    pid = register(client, camp, given_name="Sara", birth_date="2019-03-05")["id"]
    clock.advance(hours=2)
    r = client.post(
        f"/api/persons/{pid}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    clock.advance(hours=2)
    r = client.post(f"/api/persons/{pid}/events", json={"kind": "discharged", "to_site_id": camp})
    assert r.status_code == 201, r.text
    clock.advance(hours=1)
    return pid, camp, hospital


def test_a_movement_corrected_to_before_the_birth_is_refused(client, database, clock):
    """Before, her registration corrected to 2019-03-01 was taken: registered four days
    before she was born. On or after her date of birth it is taken."""
    pid, camp, _ = _stay(client, clock)
    registered = _id(client, pid, "registered")
    _refused(
        client, database, pid, registered, "occurred_at",
        "is before the person's date of birth (2019-03-05): correct the date of birth or "
        "this time",
        kind="registered", to_site_id=camp, occurred_at="2019-03-01T09:00:00Z",
    )  # fmt: skip
    r = _correct(
        client, registered, kind="registered", to_site_id=camp, occurred_at="2019-03-05T09:00:00Z"
    )
    assert r.status_code == 201, r.text


def test_a_death_corrected_to_before_later_movements_is_refused(client, database, clock):
    """Recorded dead at 13:30; the death corrected to 09:00 (before her admission at
    10:00 and her discharge at 12:00) would fold her back to life: present at the camp.
    Before, it was taken and she was "present" again. The movements after it are
    corrected or voided first; then the death's time is taken."""
    pid, camp, hospital = _stay(client, clock)
    clock.advance(hours=1)
    died = {"kind": "deceased", "occurred_at": "2019-03-10T13:30:00Z"}
    r = client.post(f"/api/persons/{pid}/events", json=died)
    assert r.status_code == 201, r.text
    death = r.json()["id"]
    _refused(
        client, database, pid, death, "occurred_at",
        "the person has a movement recorded after this time (hospitalised at "
        "2019-03-10T10:00:00Z); a death is the last event of a person's history: correct "
        "or void that movement first",
        kind="deceased", occurred_at="2019-03-10T09:00:00Z",
    )  # fmt: skip
    assert location(client, pid)["state"] == "deceased"
    # An earlier movement corrected to after the death, or to a death itself: the same.
    _refused(
        client, database, pid, _id(client, pid, "discharged"), "occurred_at",
        "is after the person's recorded death (2019-03-10T13:30:00Z); nothing can follow a "
        "death: correct or void that event first",
        kind="discharged", from_site_id=hospital, to_site_id=camp,
        occurred_at="2019-03-10T13:45:00Z",
    )  # fmt: skip
    _refused(
        client, database, pid, _id(client, pid, "hospitalised"), "kind",
        "the person has a movement recorded after this time (discharged at "
        "2019-03-10T12:00:00Z); a death is the last event of a person's history: correct "
        "or void that movement first",
        kind="deceased",
    )  # fmt: skip
    # She died in hospital at 11:00: the discharge is voided, then the death moved.
    assert _correct(client, _id(client, pid, "discharged"), kind="voided").status_code == 201
    r = _correct(client, death, kind="deceased", occurred_at="2019-03-10T11:00:00Z")
    assert r.status_code == 201, r.text
    assert location(client, pid)["state"] == "deceased"


def test_a_discharge_before_its_admission_is_refused(client, database, clock):
    """A discharge corrected to before the admission, the admission corrected to after
    the discharge, or the admission voided while its discharge stands: the discharge
    would end no hospital stay. Before, each was taken (the log had her discharged from
    a hospital she had not entered, and in hospital after her discharge)."""
    pid, camp, hospital = _stay(client, clock)
    admission, discharge = _id(client, pid, "hospitalised"), _id(client, pid, "discharged")
    _refused(
        client, database, pid, discharge, "occurred_at",
        "the person is not in hospital at this time (they are present); a discharge ends "
        "a hospital stay",
        kind="discharged", from_site_id=hospital, to_site_id=camp,
        occurred_at="2019-03-10T09:00:00Z",
    )  # fmt: skip
    _refused(
        client, database, pid, admission, "occurred_at",
        "the discharge at 2019-03-10T12:00:00Z would end no hospital stay: correct or void "
        "the discharge first",
        kind="hospitalised", to_site_id=hospital, occurred_at="2019-03-10T12:30:00Z",
    )  # fmt: skip
    _refused(
        client, database, pid, admission, "kind",
        "the discharge at 2019-03-10T12:00:00Z would end no hospital stay: correct or void "
        "the discharge first",
        kind="voided",
    )  # fmt: skip
    # Within the stay both are corrections like any other; voided in turn, she never went.
    r = _correct(
        client, discharge, kind="discharged", from_site_id=hospital, to_site_id=camp,
        occurred_at="2019-03-10T11:00:00Z",
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert _correct(client, r.json()["id"], kind="voided").status_code == 201
    assert _correct(client, admission, kind="voided").status_code == 201
    assert (location(client, pid)["site_id"], location(client, pid)["state"]) == (camp, "present")


def test_a_second_admission_to_the_same_hospital_is_refused(client, database, clock):
    """Voiding the discharge between two admissions to one hospital would have her
    admitted twice with no discharge between (a new event is refused so, 409)."""
    pid, camp, hospital = _stay(client, clock)
    r = client.post(
        f"/api/persons/{pid}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    _refused(
        client, database, pid, _id(client, pid, "discharged"), "kind",
        "the admission at 2019-03-10T13:00:00Z would follow an admission to the same "
        "hospital with no discharge between: correct or void it first",
        kind="voided",
    )  # fmt: skip


def test_a_movement_before_the_registration_is_refused(client, database, clock):
    """The registration corrected to after her admission, or the admission to before
    her registration: in hospital before she was registered. Before, both were taken."""
    pid, camp, hospital = _stay(client, clock)
    _refused(
        client, database, pid, _id(client, pid, "registered"), "occurred_at",
        "is after the person's movement at 2019-03-10T10:00:00Z (hospitalised); their "
        "registration is the first event of their history",
        kind="registered", to_site_id=camp, occurred_at="2019-03-10T10:30:00Z",
    )  # fmt: skip
    _refused(
        client, database, pid, _id(client, pid, "hospitalised"), "occurred_at",
        "is before the person's registration (2019-03-10T08:00:00Z)",
        kind="hospitalised", to_site_id=hospital, occurred_at="2019-03-10T07:00:00Z",
    )  # fmt: skip
    # Nor a second registration (a merge of two records brings one; a correction not).
    _refused(
        client, database, pid, _id(client, pid, "discharged"), "kind",
        "the person is registered already (2019-03-10T08:00:00Z); their registration is the "
        "first event of their history",
        kind="registered", to_site_id=camp,
    )  # fmt: skip


def test_an_arrival_off_the_manifest_before_the_truck_left_is_refused(client, database, clock):
    """Someone checked in off the manifest (a discrepancy) arrived on that truck: their
    arrival corrected to before it left is refused as their check-in at that time was.
    Before, only the arrivals of those on the manifest were checked."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    rider = register(client, exit_point, given_name="Rider")["id"]
    stray = register(client, exit_point, given_name="Stray")["id"]  # 08:00, not on it
    clock.advance(hours=2)
    m, left = on_the_road(client, clock, exit_point, camp, [rider])  # left at 11:00
    clock.advance(hours=3)
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": stray})
    assert r.status_code == 200 and r.json()["status"] == "discrepancy_recorded", r.text
    _refused(
        client, database, stray, r.json()["movement_id"], "occurred_at",
        "is before the departure (2019-03-10T11:00:00Z)",
        kind="arrived", from_site_id=exit_point, to_site_id=camp,
        occurred_at="2019-03-10T09:00:00Z",
    )  # fmt: skip
    assert left.replace("+00:00", "Z") == "2019-03-10T11:00:00Z"


def test_corrections_and_voids_of_events_in_the_future(client, database, clock):
    """A correction to a time ahead of this clock is refused, as an event is; so is one
    that keeps the time of an event stamped ahead of it (a node whose clock ran ahead):
    the officer gives the right time. Voiding such an event is taken: a void has no time
    of its own. Before, the void was refused ("is in the future") and the event could
    only be replaced."""
    camp = site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    pid = register(client, camp)["id"]
    clock.advance(hours=2)
    r = client.post(
        f"/api/persons/{pid}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    admission = r.json()["id"]
    _refused(
        client, database, pid, admission, "occurred_at", "is in the future",
        kind="hospitalised", to_site_id=hospital, occurred_at="2019-03-10T11:00:00Z",
    )  # fmt: skip
    clock.advance(hours=-1)  # this clock set back: the admission is now ahead of it
    _refused(
        client, database, pid, admission, "occurred_at", "is in the future",
        kind="hospitalised", to_site_id=hospital,
    )  # fmt: skip
    _refused(
        client, database, pid, admission, "occurred_at", "is in the future",
        kind="voided", occurred_at="2019-03-10T10:30:00Z",
    )  # fmt: skip
    r = _correct(client, admission, kind="voided")
    assert r.status_code == 201, r.text
    assert (location(client, pid)["site_id"], location(client, pid)["state"]) == (camp, "present")


def test_a_voided_death_leaves_the_person_where_the_log_puts_them(client, database, clock):
    """A death recorded of the wrong person, voided: she is where her log puts her
    before it (in hospital), no longer deceased for tracing, and events can be recorded
    of her again."""
    pid, camp, hospital = _stay(client, clock)
    r = client.post(
        f"/api/persons/{pid}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    clock.advance(hours=1)
    death = client.post(f"/api/persons/{pid}/events", json={"kind": "deceased"}).json()["id"]
    assert location(client, pid)["state"] == "deceased"
    r = _correct(client, death, kind="voided", note="recorded of the wrong person")
    assert r.status_code == 201, r.text
    assert (location(client, pid)["site_id"], location(client, pid)["state"]) == (
        hospital, "hospitalised",
    )  # fmt: skip
    clock.advance(hours=1)
    r = client.post(f"/api/persons/{pid}/events", json={"kind": "discharged", "to_site_id": camp})
    assert r.status_code == 201, r.text


def test_a_check_in_of_someone_recorded_dead_is_refused(client, database, clock):
    """Found dead on the way (the truck due, recorded deceased): a check-in of theirs, on
    the manifest or off it, is refused (409 naming the field, nothing written), as a
    status event of theirs is. Before, it was taken: an arrival after the death, the
    person "present" at the camp again. Their household is checked in without them."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    family = household(client, exit_point, 2)
    stray = register(client, exit_point, given_name="Stray")["id"]
    m, _ = on_the_road(client, clock, exit_point, camp, family)
    clock.advance(hours=13)  # past the expected arrival
    for pid in (family[0], stray):
        r = client.post(f"/api/persons/{pid}/events", json={"kind": "deceased"})
        assert r.status_code == 201, r.text
    clock.advance(hours=1)
    written = events(database)
    for pid in (family[0], stray):
        r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": pid})
        assert r.status_code == 409, r.text
        assert errors(r) == {
            "person_id": "the person is recorded as deceased; correct that event first"
        }
        assert location(client, pid)["state"] == "deceased"
    assert events(database) == written
    hh = client.get(f"/api/persons/{family[1]}").json()["household_id"]
    r = client.post(f"/api/manifests/{m}/household-check-ins", json={"household_id": hh})
    assert r.status_code == 200, r.text
    assert [(x["person_id"], x["status"]) for x in r.json()["results"]] == [
        (family[1], "checked_in")
    ]
    assert location(client, family[0])["state"] == "deceased"
    assert location(client, family[1])["site_id"] == camp
    # The death voided (recorded of the wrong person), she is checked in like anyone.
    r = _correct(client, _id(client, family[0], "deceased"), kind="voided")
    assert r.status_code == 201, r.text
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": family[0]})
    assert r.status_code == 200 and r.json()["status"] == "checked_in", r.text


def test_a_movement_leaves_from_where_the_one_before_it_led(client, database, clock):
    """Admitted to the wrong hospital in the log: the discharge corrected to leave from
    the right one is refused while the admission says otherwise (a new event leaves
    from where the person is); the admission corrected first, then the discharge, both
    are taken. Before, the discharge was taken from a hospital she had not entered."""
    pid, camp, hospital = _stay(client, clock)
    clinic = site(client, "Clinic", kind="hospital")
    discharge = _id(client, pid, "discharged")
    _refused(
        client, database, pid, discharge, "from_site_id",
        "is not where the person was at this time: a movement leaves from the site the one "
        "before it led to",
        kind="discharged", from_site_id=clinic, to_site_id=camp,
    )  # fmt: skip
    r = _correct(
        client, _id(client, pid, "hospitalised"), kind="hospitalised", from_site_id=camp,
        to_site_id=clinic,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = _correct(client, discharge, kind="discharged", from_site_id=clinic, to_site_id=camp)
    assert r.status_code == 201, r.text
    assert (location(client, pid)["site_id"], location(client, pid)["state"]) == (camp, "present")
