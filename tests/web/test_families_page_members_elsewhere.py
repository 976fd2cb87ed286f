"""A member of a split household outside the reader's sites is shown on the families page
without name, link or place ("a member at a site outside yours"), never as a link to
``/persons/None`` with an empty name (on both databases).

On the code before, such a member was a link to ``/persons/None`` with no text, and
their state read "elsewhere", untranslated."""

from __future__ import annotations

import html

from corridor.security.roles import Role
from corridor.storage import Database
from tests.api.helpers import BASIS, CONSENT, site, work_at
from tests.conftest import Clock, make_client
from tests.web.conftest import page_client


def test_a_member_outside_the_readers_sites_is_no_link(database: Database, clock: Clock) -> None:
    with make_client(database, clock) as desk:
        camp, exit_point = site(desk, "Camp A"), site(desk, "Exit")
        work_at(desk, camp, exit_point)
        r = desk.post("/api/households", json={
            "site_id": exit_point, "consent": CONSENT, **BASIS,
            "head": {"given_name": "Amal", "family_name": "Haddad", "sex": "f",
                     "estimated_age": 40},
            "members": [{"relationship": "child", "given_name": "Omar", "sex": "m",
                         "estimated_age": 8}],
        })  # fmt: skip
        assert r.status_code == 201, r.text
        mother, son = (m["id"] for m in r.json()["members"])
        truck = desk.post("/api/manifests", json={
            "vehicle": "Truck 1", "from_site_id": exit_point, "to_site_id": camp,
        }).json()["id"]  # fmt: skip
        r = desk.post(f"/api/manifests/{truck}/persons",
                      json={"person_ids": [mother], "separation_reason": "he follows"})
        assert r.status_code == 200, r.text
        assert desk.post(f"/api/manifests/{truck}/dispatch").status_code == 200
        clock.advance(hours=3)
        r = desk.post(f"/api/manifests/{truck}/check-ins", json={"person_id": mother})
        assert r.status_code in (200, 201), r.text

        # The officer works at Camp A only.
        officer = page_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
        me = officer.get("/api/auth/me").json()
        r = desk.put(f"/api/users/{me['user_id']}/sites", json={"site_ids": [camp]})
        assert r.status_code == 200, r.text
        listed = officer.get("/families.json")
        assert listed.status_code == 200, listed.text
        members = [m for f in listed.json()["families"] for m in f["members"]]
        assert [m["id"] for m in members] == [mother, None]
        assert son not in officer.get("/families.json").text
        page = html.unescape(officer.page("/families"))
        assert f'href="/persons/{mother}"' in page
        assert "/persons/None" not in page
        assert "A member at a site outside yours" in page
        assert ">elsewhere<" not in page and " elsewhere " not in page
        officer.close()
