"""The separated-families page lists a child registered on their own whom the site's
page counts among the children apart from every adult relative (on both databases).

On the code before, a protection officer read "1" on the camp's page and found no one
on the families page: it listed households only, and the child belongs to none."""

from __future__ import annotations

import html

from corridor.schemas import SiteIn
from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage import Database
from tests.api.helpers import register, work_at
from tests.conftest import Clock, make_client
from tests.web.conftest import page_client


def test_the_families_page_lists_the_child_the_camp_page_counts(
    database: Database, clock: Clock
) -> None:
    svc = Services(database, clock)
    admin = svc.audit.operator_hook("test", "sites.admin")
    camp, other = (
        svc.sites.create(SiteIn(name=name, kind="camp"), audit=admin)["id"]
        for name in ("Camp A", "Camp B")
    )
    with make_client(database, clock) as desk:
        work_at(desk, camp, other)
        yusuf = register(
            desk, camp, given_name="Yusuf", family_name="Darwish", sex="m", estimated_age=16,
            vulnerabilities={"uasc": "unaccompanied"},
        )["id"]  # fmt: skip
        mona = register(desk, camp, given_name="Mona", sex="f", estimated_age=9)["id"]
        uncle = register(desk, camp, given_name="Hamid", sex="m", birth_date="1975")["id"]
        r = desk.post(
            "/api/relationships",
            json={"person_id": mona, "other_person_id": uncle, "kind": "uncle_aunt"},
        )
        assert r.status_code == 201, r.text

    with page_client(database, clock, roles=(Role.PROTECTION_OFFICER,)) as officer:
        counted = officer.get(f"/sites/{camp}.json").json()["figures"]["children_alone"]
        assert counted == 1
        assert 'data-figure="children-alone">1<' in officer.page(f"/sites/{camp}")
        listed = officer.get("/families.json").json()
        alone = [
            m
            for f in listed["families"]
            for m in f["members"]
            if m["minor_apart_from_adult_relatives"] and m["site_id"] == camp
        ]
        assert [m["id"] for m in alone] == [yusuf]
        assert listed["paging"]["total"] == 1
        page = html.unescape(officer.page("/families"))
        assert f'href="/persons/{yusuf}"' in page and "Yusuf" in page and "Mona" not in page
        assert "Registered on their own, in no household" in page
        assert "1 child away from every adult relative" in page
        assert "1 household split across places or child on their own" in page
        assert f'href="/persons/{yusuf}"' in html.unescape(officer.page("/families?alone=1"))
        assert "Yusuf" not in officer.page(f"/families?site={other}")
