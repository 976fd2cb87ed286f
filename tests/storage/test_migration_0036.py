"""Migration 0036 adds ``users.password_expired`` (an administrator's one-time password,
changed at the next sign-in): false for the users already there; downgrading drops it."""

from __future__ import annotations

from sqlalchemy import inspect, select

from corridor.security.roles import Role
from corridor.security.tables import users
from corridor.storage.migrate import current_revision, head_revision, upgrade
from tests.storage.steps import downgrade_to


def _columns(database) -> set[str]:
    return {c["name"] for c in inspect(database.engine).get_columns("users")}


def test_0036_flags_nobody_and_downgrades(client, database):
    svc = client.app.state.services
    user_id, _ = svc.accounts.create(
        "amina", "Amina", "a long test password", [Role.COORDINATOR], [],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )  # fmt: skip
    downgrade_to(database, "0035_links_removed")
    assert "password_expired" not in _columns(database)
    upgrade(database)
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        flags = dict(conn.execute(select(users.c.id, users.c.password_expired)).all())
    assert flags[user_id] is False and not any(flags.values())
    downgrade_to(database, "0035_links_removed")
    assert "password_expired" not in _columns(database)
    upgrade(database)


def test_0036_keeps_every_session_and_api_token_both_ways(client, database):
    """Dropping the column must not rebuild ``users`` on SQLite: a rebuild drops the
    table, and its ``ON DELETE CASCADE`` emptied ``api_tokens`` and ``sessions``, so
    every signed-in user and machine client was signed out by a downgrade (eight
    ``index_rebuilt_on_upgrade`` tests answered 401 after one)."""
    from sqlalchemy import func

    from corridor.security.tables import api_tokens, sessions

    def held() -> tuple[int, int]:
        with database.read() as conn:
            return (
                int(conn.execute(select(func.count()).select_from(api_tokens)).scalar() or 0),
                int(conn.execute(select(func.count()).select_from(sessions)).scalar() or 0),
            )

    assert client.get("/api/auth/me").status_code == 200
    before = held()
    assert before[0] >= 1
    downgrade_to(database, "0035_links_removed")
    assert held() == before
    upgrade(database)
    assert held() == before
    assert client.get("/api/auth/me").status_code == 200
