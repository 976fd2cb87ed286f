"""The shipped demo: deterministic for a seed, and it tells the stories of DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from corridor.demo.scenario import build_demo
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.migrate import upgrade

END = datetime(2019, 3, 24, 12, tzinfo=UTC)


def _build(path, seed=7):
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    summary = build_demo(db, seed=seed, households=150, days=6, end=END)
    return db, summary


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db, summary = _build(tmp_path_factory.mktemp("demo") / "demo.db")
    yield Services(db, lambda: END), summary
    db.dispose()


def _names(svc: Services) -> list[tuple[str, str, str | None]]:
    from sqlalchemy import select

    from corridor.storage.tables import persons

    with svc.db.read() as conn:
        rows = conn.execute(
            select(
                persons.c.given_name_original, persons.c.family_name, persons.c.muac_status
            ).order_by(persons.c.id)
        ).all()
    return [tuple(r) for r in rows]


def test_same_seed_same_people(demo, tmp_path):
    svc, summary = demo
    db2, summary2 = _build(tmp_path / "again.db")
    assert summary2 == summary
    assert _names(Services(db2)) == _names(svc)
    db2.dispose()


def test_the_twins_and_the_detained_father(demo):
    svc, _ = demo
    families = svc.figures.separated_families()
    by_name = {m["name"].split(" (")[0]: (m, f) for f in families for m in f["members"]}
    hassan, twins = by_name["Hassan Ahmed Ibrahim al-Khalaf"]
    hussein, _ = by_name["Hussein Ahmed Ibrahim al-Khalaf"]
    assert hassan["site_name"] == "Field hospital"
    assert hussein["site_name"] == "Camp A (Al-Hol)"
    mother = next(m for m in twins["members"] if m["relationship_to_head"] == "head")
    assert mother["site_name"] == "Camp A (Al-Hol)"
    father, family = next(v for k, v in by_name.items() if k.startswith("Abdullah Youssef Hamid"))
    # Where he is held is sealed: the view shows the facility's neutral label.
    assert father["site_name"].startswith("Detention facility ")
    assert "Hasakah" not in father["site_name"]
    others = {m["site_name"] for m in family["members"] if m["id"] != father["id"]}
    assert others == {"Camp A (Al-Hol)"}


def test_the_scenario_has_every_kind_of_site_and_problem(demo):
    svc, summary = demo
    kinds = {s["kind"] for s in svc.sites.all()}
    assert kinds == {"exit_point", "screening", "camp", "hospital", "detention"}
    assert summary["persons"] > 400
    assert summary["separated families"] > 0
    assert summary["discrepancies (arrived on the wrong truck)"] > 0
    exit_point = next(s for s in svc.sites.all() if s["kind"] == "exit_point")
    figures = svc.figures.site_figures(exit_point["id"])
    assert sum(d["arrivals"]["total"] for d in figures["daily"]) == summary["persons"]


def test_relatives_abroad_have_candidates_waiting_a_separated_child_first(demo):
    svc, summary = demo
    assert summary["tracing enquiries"] >= 3
    queue = svc.tracing.views.queue()
    assert all(item["state"] == "possible_match" for item in queue)
    first = queue[0]
    assert first["priority"] == "uasc"
    best = first["proposed_matches"][0]
    assert best["person"]["uasc"] == "separated" and best["probability"] > 0.8
    assert "mother's name" in {e["field"] for e in best["explanation"]}
    sought = {item["sought"]["name"]: item for item in queue}
    father = sought["Abdallah Yusuf al-Jubouri"]["proposed_matches"][0]["person"]
    assert father["name"].startswith("Abdullah Youssef Hamid al-Jabouri")
