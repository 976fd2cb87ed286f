"""A candidate's probability, as the tracing queue, a case and their pages show it,
counts only the candidates the reader sees (on both databases). The engine ranks the
candidates of an enquiry against each other (their probabilities share one whole): a
figure so computed, shown to an officer of one site, said that candidates of other
sites (or persons who since refused tracing) competed with the one shown: 50% for a
name that matches in every part is a hidden second Khalid (docs/tracing.md,
"Probabilities")."""

from __future__ import annotations

from corridor.security.roles import Role
from tests.api.helpers import site, work_at
from tests.api.test_tracing import adult_sought, case_of, enquire, register_khalid
from tests.conftest import make_client


def _shown(reader, case_id) -> dict[str, float]:
    """person id -> probability, as the queue, the case and the queue page show it."""
    [item] = [i for i in reader.get("/api/tracing/queue").json() if i["case_id"] == case_id]
    queued = {m["person"]["id"]: m["probability"] for m in item["proposed_matches"]}
    case = reader.get(f"/api/tracing/cases/{case_id}").json()
    assert {m["person"]["id"]: m["probability"] for m in case["matches"]} == queued
    page = reader.get("/tracing").text
    for p in queued.values():
        assert f"({round(p * 100)}%)" in page
    return queued


def test_a_site_officer_sees_no_figure_counting_hidden_candidates(client, database, clock):
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    here = register_khalid(client, camp_a)["id"]
    there = register_khalid(client, camp_b)["id"]
    case_id = case_of(enquire(client, adult_sought()))["id"]
    both = _shown(client, case_id)
    assert set(both) == {here, there}
    officer = make_client(database, clock, (Role.PROTECTION_OFFICER,))
    work_at(officer, camp_a, admin=client)
    alone = _shown(officer, case_id)
    assert set(alone) == {here}
    # The protection officer of Camp A (tracing.read on their own sites) reads what
    # Khalid of Camp A justifies alone, more than he shares with the Khalid of Camp B.
    assert alone[here] > both[here]
    # The same figure as when Camp B's Khalid no longer wishes to be traced: he is
    # hidden from everyone then, and counts for no one.
    r = client.patch(f"/api/persons/{there}", json={"consent": {"tracing": False}})
    assert r.status_code == 200, r.text
    assert _shown(client, case_id) == alone
