"""An erasure (a data-subject request, a retention run) leaves the figures as they were,
on both databases: a site manager planned with them.

Anonymising cut the birth date to its year, which the figures read as 1 July: an age
estimated at 18 in March became 17 again until July, in today's figures and in the
published figures (HXL) of the days before. A head of household with an estimated age
of 18 and his sister of 10 were no children apart from every adult relative; once he
was erased, both were. Now an estimated age (the registration date less the age, both
kept) stays as it was, and an exact birth date keeps its year with a representative day
that keeps the person's age bracket on every day they were counted
(``domain.birth.anonymised_birth``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.storage import Database
from corridor.storage.tables import persons
from tests.api.helpers import BASIS, CONSENT, register, site

REGISTERED = date(2019, 3, 10)  # the clock fixture's first day, 08:00 UTC


def _post(client: TestClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(url, json=body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _household(client: TestClient, site_id: str, head: dict[str, Any], **member: Any) -> list[str]:
    body = {"site_id": site_id, "consent": CONSENT, **BASIS, "head": head,
            "members": [{"relationship": "sibling", **member}]}  # fmt: skip
    return [m["id"] for m in _post(client, "/api/households", body)["members"]]


def _erase(client: TestClient, person_id: str) -> None:
    _post(client, f"/api/persons/{person_id}/erasure", {"ground": "objection", "confirm": True})


def _figures(client: TestClient, site_id: str, last: date) -> dict[str, Any]:
    window = {"from": REGISTERED.isoformat(), "to": last.isoformat()}
    r = client.get(f"/api/sites/{site_id}/figures", params=window)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _published(client: TestClient, last: date) -> dict[tuple[str, str, str], dict[str, int]]:
    """The HXL report's rows from the registration day to ``last``, before small counts
    are withheld: (day, site, figure) -> counts by sex and age bracket."""
    rows = client.app.state.services.reports.daily(REGISTERED, last)  # type: ignore[attr-defined]
    return {
        (r["date"], r["site_id"], r["figure"]): {f"{s}/{b}": n for (s, b), n in r["counts"].items()}
        for r in rows
    }


def _stored(database: Database, person_id: str) -> tuple[date, str]:
    with database.read() as conn:
        row = conn.execute(
            select(persons.c.birth_date, persons.c.birth_precision).where(
                persons.c.id == person_id
            )
        ).one()
    return row.birth_date, row.birth_precision


def test_erasing_a_head_with_an_estimated_age_of_18_changes_no_figure(client, clock, database):
    camp = site(client, "Camp A")
    bashir, rima = _household(
        client, camp, {"given_name": "Bashir", "sex": "m", "estimated_age": 18},
        given_name="Rima", sex="f", estimated_age=10,
    )  # fmt: skip
    clock.advance(days=2, hours=3)
    today = REGISTERED + timedelta(days=2)
    before = _figures(client, camp, today)
    assert before["present"]["by_sex_bracket"]["m"]["18-59"] == 1
    assert before["present"]["by_sex_bracket"]["f"]["5-11"] == 1
    assert before["children_alone"] == 0
    published = _published(client, today)
    assert published[(REGISTERED.isoformat(), camp, "arrivals")] == {"m/18-59": 1, "f/5-11": 1}

    # Bashir asks that his data be erased: the figures, today's and the days before, and
    # the report of those days stay as they were (on the code before: Bashir 17, two
    # children apart from every adult relative).
    _erase(client, bashir)
    assert _figures(client, camp, today) == before
    assert _published(client, today) == published
    # What stays of his age is his estimate and its day, nothing more than the birth
    # year and the registration date say: the date is the registration day 18 years on.
    erased = client.get(f"/api/persons/{bashir}").json()
    assert (erased["birth_date"], erased["estimated_age_at_registration"]) == ("2001", 18)
    assert _stored(database, bashir) == (date(2001, 3, 10), "estimated")

    # Five years and a day on, the retention run anonymises Rima too: the days counted
    # before are still what they were.
    clock.advance(days=5 * 366)
    report = client.app.state.services.retention.run("test")
    assert sorted(report.disposed["person"]) == [rima]
    assert _published(client, today) == published
    assert _figures(client, camp, today)["daily"] == before["daily"]


def test_erasing_a_head_with_an_exact_birth_date_changes_no_figure(client, clock, database):
    camp = site(client, "Camp A")
    # Salma turned 18 on 20 February; her brother is 7.
    salma, sami = _household(
        client, camp, {"given_name": "Salma", "sex": "f", "birth_date": "2001-02-20"},
        given_name="Sami", sex="m", birth_date="2012-01-15",
    )  # fmt: skip
    # Nour was born in the same year, on 3 January: 18 on the same days.
    nour = register(client, camp, given_name="Nour", sex="f", birth_date="2001-01-03")["id"]
    clock.advance(days=2, hours=3)
    today = REGISTERED + timedelta(days=2)
    before = _figures(client, camp, today)
    assert before["present"]["by_sex_bracket"]["f"]["18-59"] == 2
    assert before["children_alone"] == 0
    published = _published(client, today)

    _erase(client, salma)
    _erase(client, nour)
    assert _figures(client, camp, today) == before  # on the code before: 2 children alone
    assert _published(client, today) == published
    # The day and the month are gone: both keep 2001 and the one day of it that the
    # brackets of their days counted give (18 or more on 10 March 2019), the middle day
    # of 1 January to 10 March 2001.
    assert _stored(database, salma) == _stored(database, nour) == (date(2001, 2, 4), "anonymised")
    assert client.get(f"/api/persons/{salma}").json()["birth_date"] == "2001"

    clock.advance(days=5 * 366)
    report = client.app.state.services.retention.run("test")
    assert sorted(report.disposed["person"]) == [sami]
    assert _published(client, today) == published
    assert _figures(client, camp, today)["daily"] == before["daily"]


def test_a_bracket_reached_between_registration_and_erasure_shifts_the_fewest_days(
    client, clock, database
):
    """Adam turned 5 on 3 June 2019, between his registration (10 March) and his
    erasure (1 September): the day cannot be kept. Any 5th birthday from 11 March to
    1 September 2019 gives the figures of his first and last days; the representative is
    the middle one, 6 June (2014-06-06): the report of 3, 4 and 5 June counts him 0-4 (on
    the code before, read as 1 July: every day from 3 to 30 June). Every other day, and
    today's figures, are what they were."""
    camp = site(client, "Camp A")
    adam = register(client, camp, given_name="Adam", sex="m", birth_date="2014-06-03")["id"]
    register(client, camp, given_name="Huda", sex="f", birth_date="1990-05-05")
    today = date(2019, 9, 1)
    clock.advance(days=(today - REGISTERED).days)
    before = _figures(client, camp, today)
    published = _published(client, today)

    _erase(client, adam)
    after = _published(client, today)
    shifted = sorted(k[0] for k in published if published[k] != after.get(k))
    assert shifted == ["2019-06-03", "2019-06-04", "2019-06-05"]
    assert after[("2019-06-04", camp, "present")] == {"m/0-4": 1, "f/18-59": 1}
    assert set(after) == set(published)
    now = _figures(client, camp, today)
    assert now["present"] == before["present"] and now["daily"] == before["daily"]
    assert _stored(database, adam) == (date(2014, 6, 6), "anonymised")
