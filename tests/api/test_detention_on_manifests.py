"""A truck to a detention facility: the roles that may not see detention sites (a
movement officer, a registrar, a site manager) see where each person on it is going
nowhere, as a person's location withholds it; before, the manifest (its page, its list,
its export, the unaccounted list) gave the facility back for everyone on it, and the
answer to a "detained" event echoed the facility the log withholds. A protection officer
still sees it (on both databases)."""

from __future__ import annotations

import re

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.api.test_manifests import manifest
from tests.conftest import make_client

OPTION = re.compile(r"<option\b[^>]*>.*?</option>", re.S)


def test_a_truck_to_detention_withholds_the_facility(client, database, clock):
    exit_point = site(client, "Exit")
    facility = site(client, "Facility Zulu", kind="detention")
    on_truck = register(client, exit_point, given_name="Omar")["id"]
    held = register(client, exit_point, given_name="Karim")["id"]
    readers = {}
    for role in (Role.MOVEMENT_OFFICER, Role.REGISTRAR, Role.SITE_MANAGER):
        readers[role] = make_client(database, clock, (role,))
        work_at(readers[role], exit_point, facility, admin=client)
    officer = readers[Role.MOVEMENT_OFFICER]
    label = officer.get(f"/api/sites/{facility}").json()["name"]
    m = manifest(officer, exit_point, facility)
    answers = [
        officer.post(f"/api/manifests/{m}/persons", json={"person_ids": [on_truck]}),
        officer.post(f"/api/manifests/{m}/dispatch"),
        officer.post(
            f"/api/persons/{held}/events", json={"kind": "detained", "to_site_id": facility}
        ),
    ]
    for r in answers:
        assert r.status_code in (200, 201), r.text
        assert facility not in r.text, r.text
        assert r.json()["to_site_withheld"] is True
    paths = [
        f"/api/manifests/{m}",
        "/api/manifests",
        "/api/unaccounted",
        "/api/manifests/export/csv",
        f"/manifests/{m}",
        "/manifests",
        "/unaccounted",
    ]
    for role, reader in readers.items():
        for path in paths:
            r = reader.get(path)
            assert r.status_code == 200, (role, path, r.text[:300])
            text = OPTION.sub("", r.text)
            assert facility not in text, (role, path)
            assert label not in text, (role, path)
            if path.startswith("/api/") and "export" not in path:
                rows = r.json() if isinstance(r.json(), list) else [r.json()]
                assert all(row["to_site_withheld"] for row in rows), (role, path)
            elif not path.startswith("/api/"):
                assert "withheld" in text, (role, path)
    # The person's own log says the same: detained, the site withheld.
    [_, event] = officer.get(f"/api/persons/{held}/movements").json()
    assert event["to_site_id"] is None and event["to_site_withheld"] is True
    # A protection officer (this client holds every role) sees the facility everywhere:
    # its id in the API, its real name on the pages.
    for path in paths:
        text = client.get(path).text
        assert facility in text or "Facility Zulu" in text, path
    assert client.get(f"/api/manifests/{m}").json()["to_site_id"] == facility
    for reader in readers.values():
        reader.close()
