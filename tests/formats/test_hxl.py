"""The published HXL report: daily figures per site, validated with libhxl, small counts
suppressed."""

from __future__ import annotations

import io
import warnings
from datetime import date, datetime, timedelta

import pytest

from corridor.formats import hxl as hxl_format
from corridor.schemas import ConsentIn, PersonIn, StatusEventIn
from tests.formats.helpers import make_site


def _register(services, site, n, sex, birth, at, uasc=None):
    ids = services.registration.register_many(
        [
            PersonIn(
                site_id=site,
                given_name=f"P{i}",
                sex=sex,
                birth_date=birth,
                consent=ConsentIn(tracing=False),
                purpose="registration",
                legal_basis="vital_interest",
                registered_at=at,
                vulnerabilities={"uasc": uasc} if uasc else {},
            )
            for i in range(n)
        ],
        audit=services.audit.operator_hook("test", "person.write"),
    )
    return ids


def _hxl(text: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import hxl

        return list(hxl.data(io.BytesIO(text.encode("utf-8"))))


def _valid(text: str) -> bool:
    """libhxl's schema validation: dates, required columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import hxl

        errors: list = []
        schema = hxl.schema(
            [
                ["#valid_tag", "#valid_required", "#valid_datatype"],
                ["#date+reported", "true", "date"],
                ["#loc+code", "true", ""],
                ["#indicator+type", "true", ""],
                ["#affected+displaced+ind", "true", ""],
            ],
            callback=errors.append,
        )
        ok = schema.validate(hxl.data(io.BytesIO(text.encode("utf-8"))))
        assert errors == []
        cells = [v for row in hxl.data(io.BytesIO(text.encode("utf-8"))) for v in row.values[7:]]
        assert all(v == "<5" or v.isdigit() for v in cells)
        return bool(ok)


def test_daily_report_is_valid_hxl_with_suppression(services, clock):
    exit_point = make_site(services, "Baghouz exit", "exit_point")
    camp = make_site(services, "Al-Hol", "camp")
    day1 = clock()
    _register(services, exit_point, 7, "f", "1990", day1)
    _register(services, exit_point, 2, "m", "1985", day1)
    kids = _register(services, exit_point, 6, "m", "2010", day1, uasc="unaccompanied")
    clock.advance(days=1)
    for pid in kids:
        services.movements.record(
            pid,
            StatusEventIn(kind="transferred", to_site_id=camp),
            audit=services.audit.operator_hook("test", "movement.write"),
        )
    clock.advance(hours=1)
    day1_date = day1.date()
    rows = services.reports.daily(day1_date, day1_date + timedelta(days=1))
    text = hxl_format.render(rows)
    assert "Hassan" not in text and "P1" not in text  # aggregates only
    data = _hxl(text)
    assert _valid(text)
    tags = {c.display_tag for c in data[0].columns}
    assert {"#date+reported", "#loc+name", "#affected+displaced+ind+f+age_18_59"} <= tags
    assert "#affected+displaced+ind+m+age_60_" in tags
    table = {
        (r.get("#date"), r.get("#loc+name"), r.get("#indicator+type"), r.get("#loc+dest+type")): r
        for r in data
    }
    d1, d2 = day1_date.isoformat(), (day1_date + timedelta(days=1)).isoformat()
    arrivals = table[(d1, "Baghouz exit", "arrivals", None)]
    # Every count written is rounded to the nearest 5 (no row subtracted from another
    # gives a hidden count): 15, 7 women (5), 6 boys (5), 9 present (10).
    assert arrivals.get("#affected+displaced+ind") == "15"
    assert arrivals.get("#affected+displaced+ind+f+age_18_59") == "5"
    assert arrivals.get("#affected+displaced+ind+m+age_18_59") == "<5"  # 2 men
    assert arrivals.get("#affected+displaced+ind+m+age_5_11") == "<5"  # hidden with them
    transfers = table[(d2, "Baghouz exit", "transfers", "camp")]
    assert transfers.get("#affected+displaced+ind+m+age_5_11") == "5"
    assert table[(d2, "Al-Hol", "present", None)].get("#affected+displaced+ind") == "5"
    assert table[(d2, "Al-Hol", "unaccompanied", None)].get("#affected+displaced+ind") == "5"
    assert table[(d2, "Baghouz exit", "present", None)].get("#affected+displaced+ind") == "10"
    assert (d1, "Al-Hol", "present", None) not in table


@pytest.mark.parametrize(
    ("values", "total", "expected"),
    [
        ([5, 0, 6], 11, (["5", "0", "5"], "10")),
        ([1, 9, 9], 19, (["<5", "<5", "10"], "20")),
        ([1, 2, 9], 12, (["<5", "<5", "10"], "10")),
        ([4], 4, (["<5"], "<5")),
        ([3, 0], 3, (["<5", "<5"], "<5")),  # a hidden total hides its zeros too
    ],
)
def test_suppression(values, total, expected):
    assert hxl_format.suppress(values, total) == expected


def test_a_report_longer_than_a_year_is_refused(services):
    from corridor.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.reports.daily(date(2019, 1, 1), date(2020, 6, 1))
    with pytest.raises(ValidationFailed):
        services.reports.daily(date(2019, 3, 2), date(2019, 3, 1))


def test_no_rows_when_nothing_happened(services):
    text = hxl_format.render(services.reports.daily(date(2019, 3, 1), date(2019, 3, 2)))
    assert text.count("\n") == 2  # header and hashtags
    assert isinstance(datetime.now(), datetime)
