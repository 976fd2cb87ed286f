"""Fuzzing every operation of the OpenAPI document: no input makes the server fail (5xx).

Schemathesis generates bodies, paths and queries from the schema (valid and invalid);
whatever it sends, the answer is a 2xx or a 4xx in the one error shape.
"""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from corridor.security.roles import default_matrix
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app
from tests.conftest import ALL_ROLES, MASTER_KEY


def _app_and_token():  # built at collection time: schemathesis needs the schema
    folder = tempfile.mkdtemp(prefix="corridor-fuzz-")
    db = Database(f"sqlite:///{folder}/fuzz.db")
    upgrade(db)
    app = create_app(Settings(database_url=str(db.url), master_key=MASTER_KEY), database=db)
    accounts = app.state.services.accounts
    user_id, _ = accounts.create("fuzzer", "Fuzzer", "a long fuzz password", ALL_ROLES, [])
    with db.transaction() as conn:
        token = accounts.tokens.issue(conn, user_id, "fuzz", default_matrix().actions)
    return app, token.secret


APP, TOKEN = _app_and_token()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_fails_with_a_server_error(case):
    # As an officer holding every operational role, so that requests get past the gate.
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"status", "code", "message", "errors"}
