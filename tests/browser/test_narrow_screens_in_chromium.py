"""Every main page at 360 px wide scrolls only up and down (issue 13: "at 360 px seven
pages scroll sideways by 69-403 px").

The pages come from the app's route table (every HTML page route; their ``.json`` twins
and forms aside), each visited by a user holding a role that may see it, with its path
parameters filled from the demo data: a person and household split across places, the
manifest with most persons, a tracing case and enquiry, a camp, a user."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from corridor.domain.export_selection import Selection
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role, default_matrix
from corridor.settings import Settings
from corridor.storage.security_tables import users
from corridor.storage.tables import manifest_items
from corridor.storage.tracing_tables import tracing_cases
from corridor.web import create_app
from corridor.web.i18n import LANG_COOKIE
from tests.browser.conftest import LiveServer, sign_in
from tests.support.route_table import route_cases

NARROW = {"width": 360, "height": 740}
# The role that visits a page of each action: one that sees the most of it.
PREFERRED = [
    Role.PROTECTION_OFFICER,
    Role.SITE_MANAGER,
    Role.REGISTRAR,
    Role.HEALTH,
    Role.DATA_PROTECTION_OFFICER,
    Role.ADMINISTRATOR,
    Role.COORDINATOR,
]
MATRIX = default_matrix()


def _role_for(action: str | None) -> Role | None:
    if action is None:
        return Role.PROTECTION_OFFICER
    for role in [*PREFERRED, *Role]:
        if MATRIX.allowed(role, action, same_site=True):
            return role
    return None


def _fillers(server: LiveServer) -> dict[str, str]:
    svc = server.services
    family = max(svc.figures.separated_families(), key=lambda f: len(f["members"]))
    person = next(m for m in family["members"] if m["id"])
    with server.database.read() as conn:
        manifest = conn.execute(
            select(manifest_items.c.manifest_id)
            .group_by(manifest_items.c.manifest_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        case = conn.execute(select(tracing_cases.c.id, tracing_cases.c.enquiry_id).limit(1)).one()
        user_id = conn.execute(select(users.c.id).limit(1)).scalar_one()
    # A list export waiting for its second key (the export's page).
    export = svc.exports.request(
        user_id,
        "for the camp committee",
        list(server.sites.values()),
        "jsonl",
        Selection.of({"list": "unaccounted"}),
        audit=svc.audit.operator_hook("test", "export.bulk"),
    )
    return {
        "person_id": person["id"],
        "household_id": family["household_id"],
        "manifest_id": manifest,
        "case_id": case.id,
        "enquiry_id": case.enquiry_id,
        "site_id": next(iter(server.sites.values())),
        "user_id": user_id,
        "export_id": export["id"],
    }


def _pages(server: LiveServer) -> dict[Role | None, list[str]]:
    """Role -> the pages (paths filled in) it visits; ``None``: signed out (login)."""
    fill = _fillers(server)
    out: dict[Role | None, list[str]] = {}
    key = MasterKey.generate().encoded()  # an app only to read its route table
    cases = route_cases(create_app(Settings(database_url="sqlite://", master_key=key)))
    for case in cases:
        if case.kind != "page" or "{fmt}" in case.path:  # a file (a list exported): no page
            continue
        path = case.path
        for name, value in fill.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, f"no filler for {case.path}"
        role = None if path == "/login" else _role_for(case.action)
        out.setdefault(role, []).append(path)
    return out


@pytest.mark.parametrize("lang", ["en", "ar"])  # Arabic: right to left, other words
def test_no_page_scrolls_sideways_at_360_px(browser: Any, live_server: LiveServer, lang: str):
    pages = _pages(live_server)
    assert sum(len(p) for p in pages.values()) >= 30, pages
    wide: list[str] = []
    for role, paths in pages.items():
        context = browser.new_context(viewport=NARROW, base_url=live_server.url, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15000)
        if role is not None:
            sign_in(page, live_server, role.value)
        if lang == "ar":
            context.add_cookies([{"name": LANG_COOKIE, "value": "ar", "url": live_server.url}])
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status < 500, (path, role)
            direction = page.evaluate("document.documentElement.dir")
            if direction:  # not an htmx fragment (a member's fields, a sought person's)
                assert direction == ("rtl" if lang == "ar" else "ltr"), path
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                wide.append(f"{path} ({role}): {overflow} px")
        context.close()
    assert not wide, "pages that scroll sideways at 360 px:\n" + "\n".join(wide)
