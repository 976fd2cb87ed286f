"""Every list's ``offset`` has a ceiling (``paging.MAX_OFFSET``): an offset past the
databases' 64-bit integers reached SQLite and answered 500 (the schema fuzzing found
``GET /api/sync/conflicts?offset=9223372036854775808``, session 17). The routes are
taken from the route table, so a list added later is checked too; on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from corridor.domain.paging import MAX_OFFSET, Paging
from corridor.errors import ValidationFailed
from tests.api.helpers import errors
from tests.support.route_table import all_routes


def _paged(app):
    return sorted(
        route.path
        for route in all_routes(app)
        if "GET" in (route.methods or ())
        and "{" not in route.path
        and any(p.alias == "offset" for p in route.dependant.query_params)
    )


@pytest.mark.parametrize("offset", [MAX_OFFSET + 1, 2**63, 10**30])
def test_every_list_refuses_an_offset_past_the_ceiling_naming_the_field(client, offset):
    paths = _paged(client.app)
    assert len(paths) >= 5, paths  # manifests, unaccounted, families, conflicts, merges...
    for path in paths:
        r = client.get(path, params={"offset": offset})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert "offset" in errors(r), (path, r.json())


def test_every_list_answers_at_the_ceiling_with_no_rows(client):
    for path in _paged(client.app):
        r = client.get(path, params={"offset": MAX_OFFSET, "limit": 1})
        assert r.status_code == 200, (path, r.status_code, r.text[:200])


def test_paging_of_names_the_offset_past_the_ceiling():
    with pytest.raises(ValidationFailed) as raised:
        Paging.of(limit=10, offset=MAX_OFFSET + 1)
    assert [p.field for p in raised.value.problems] == ["offset"]
    assert Paging.of(limit=10, offset=MAX_OFFSET).offset == MAX_OFFSET
