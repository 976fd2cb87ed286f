"""Fuzzing every operation of the OpenAPI document: no input makes the server fail (5xx).

Schemathesis generates bodies, paths and queries from the schema (valid and invalid);
whatever it sends, the answer is a 2xx or a 4xx in the one error shape.
"""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app


def _app():  # built at collection time: schemathesis needs the schema to parametrize
    folder = tempfile.mkdtemp(prefix="corridor-fuzz-")
    db = Database(f"sqlite:///{folder}/fuzz.db")
    upgrade(db)
    return create_app(Settings(database_url=str(db.url)), database=db)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_fails_with_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"status", "code", "message", "errors"}
