"""Fuzzing every operation of the OpenAPI document, for each role (PROTECTION.md 15): no
input makes the server fail (5xx), and no operation works without credentials.

Schemathesis generates bodies, paths and queries from the schema (valid and invalid);
each case is sent once without credentials (401, but for logging in), once as an officer
holding every operational role, and once as an officer of a single role (each role in
turn); whatever it sends, the answer is a 2xx or a 4xx in the one error shape.
"""

from __future__ import annotations

import itertools
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from corridor.security.roles import Role, default_matrix
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app
from tests.conftest import ALL_ROLES, MASTER_KEY

# Logging in, and the health check (no personal data: docs/deploy.md "Health checks").
# A site node's push and pull: the bundle's signature, by a node the central enrolled,
# is the credential (corridor/web/sync_routes.py); anything else is refused, 400.
OPEN = {
    "/api/auth/login",
    "/api/auth/second-factor",
    "/api/auth/logout",
    "/api/health",
    "/api/sync/push",
    "/api/sync/pull",
}


def _app_and_tokens():  # built at collection time: schemathesis needs the schema
    folder = tempfile.mkdtemp(prefix="corridor-fuzz-")
    db = Database(f"sqlite:///{folder}/fuzz.db")
    upgrade(db)
    settings = Settings(database_url=str(db.url), master_key=MASTER_KEY, tracing_checks="inline")
    app = create_app(settings, database=db)
    accounts = app.state.services.accounts
    matrix = default_matrix()
    tokens = {}
    for name, roles in [("all", ALL_ROLES), *((r.value, (r,)) for r in Role)]:
        user_id, _ = accounts.create(
            f"fuzz-{name}",
            "Fuzzer",
            "a long fuzz password",
            roles,
            [],
            audit=app.state.services.audit.operator_hook("test", "users.admin"),
        )
        scopes = [a for a in matrix.actions if any(matrix.allowed(r, a, True) for r in roles)]
        with db.transaction() as conn:
            tokens[name] = accounts.tokens.issue(conn, user_id, "fuzz", scopes).secret
    return app, tokens


APP, TOKENS = _app_and_tokens()
ROLE_TURNS = itertools.cycle([r.value for r in Role])
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_protection_15_no_operation_fails_with_a_server_error(case):
    anonymous = case.call()
    documented = case.method.upper() == case.operation.method.upper()
    if case.path not in OPEN and documented:  # (other methods: 405, whoever asks)
        # 401; or 400/422 for a body that cannot even be read, refused before anyone is
        # asked who they are. Never an answer that works.
        assert anonymous.status_code in (400, 401, 422), (case.method, case.path, anonymous.text)
    # Every case as the officer holding every role, and as one single-role officer in
    # turn: over an operation's examples each role gets its share.
    single = next(ROLE_TURNS)
    for role, token in (("all", TOKENS["all"]), (single, TOKENS[single])):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (role, case.method, case.path, response.text[:300])
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"status", "code", "message", "errors"}
