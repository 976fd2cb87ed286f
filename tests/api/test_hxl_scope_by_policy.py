"""The HXL report and imports take their site scope from the app's policy (the
authorisation file given in settings), as every other route does: on the code before,
``format_routes.site_scope`` read the shipped matrix, so a policy keeping coordinators to
their own sites still handed them every site's rows in ``GET /api/reports/hxl``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client
from tests.support.route_world import token_client

SHIPPED = Path(__file__).parents[2] / "corridor" / "security" / "data" / "authorisation.json"


def _own_site_coordinators(tmp_path: Path) -> str:
    policy = json.loads(SHIPPED.read_text())
    policy["roles"]["coordinator"]["allow"]["figures.read"] = "own_site"
    path = tmp_path / "authorisation.json"
    path.write_text(json.dumps(policy))
    return str(path)


def _sites_in(text: str) -> set[str]:
    rows = list(csv.reader(io.StringIO(text)))[2:]
    return {row[4] for row in rows}


def test_the_hxl_report_keeps_to_the_sites_the_policy_allows(database, clock, tmp_path) -> None:
    admin = make_client(database, clock)
    a, b = site(admin, "Camp A"), site(admin, "Camp B")
    work_at(admin, a, b)
    for camp in (a, b):
        for i in range(6):
            register(admin, camp, given_name=f"Hxl{i}", sex="f", birth_date="1990")
    coordinator, _ = token_client(
        database,
        clock,
        "coord-own-site",
        (Role.COORDINATOR,),
        [a],
        authorisation_file=_own_site_coordinators(tmp_path),
    )
    day = clock().date().isoformat()
    r = coordinator.get("/api/reports/hxl", params={"from": day, "to": day})
    assert r.status_code == 200, r.text
    assert _sites_in(r.text) == {a}
    # The shipped policy: coordinators read every site's figures.
    shipped, _ = token_client(database, clock, "coord-any-site", (Role.COORDINATOR,), [a])
    r = shipped.get("/api/reports/hxl", params={"from": day, "to": day})
    assert _sites_in(r.text) == {a, b}
