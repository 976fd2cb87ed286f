"""``corridor retention run`` deletes the answers kept for retried writes once their day
is over (issue 12): they hold ids only, but nothing is kept longer than it serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import insert, select

from corridor.cli import main
from corridor.storage import Database
from corridor.storage.idempotency_tables import idempotency_keys
from corridor.storage.migrate import upgrade


def test_retention_run_purges_expired_keys_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    db = Database(url)
    upgrade(db)
    now = datetime.now(UTC)
    row = {"user_id": "u1", "request": "POST /api/households", "body_hash": "0" * 64}
    with db.transaction() as conn:
        conn.execute(
            insert(idempotency_keys),
            [
                {
                    **row,
                    "key": "old",
                    "status": 201,
                    "ref": {},
                    "created_at": now - timedelta(hours=25),
                },
                {
                    **row,
                    "key": "new",
                    "status": 201,
                    "ref": {},
                    "created_at": now - timedelta(hours=1),
                },
            ],
        )
    runner = CliRunner()
    env = {"CORRIDOR_DATABASE_URL": url}
    dry = runner.invoke(main, ["retention", "run", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "idempotency" not in dry.output  # a dry run changes nothing
    r = runner.invoke(main, ["retention", "run"], env=env)
    assert r.exit_code == 0, r.output
    assert "idempotency keys past their day: deleted 1" in r.output
    with db.read() as conn:
        assert [k for (k,) in conn.execute(select(idempotency_keys.c.key))] == ["new"]
    db.dispose()
