"""the case log stays append-only, but retention may blank its free-text reasons

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Officers type a reason with each decision on a tracing case, and a reason may name
people. When retention anonymises an ended enquiry, that text must go too. The database
still refuses any DELETE of the case log and any UPDATE except one that only sets
``reason`` to NULL; every other column of a row stays as it was written.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Every column of tracing_case_events but ``reason``.
KEPT = (
    "seq", "case_id", "kind", "from_state", "to_state", "match_id", "disclosure",
    "by_child_rule", "recorded_by", "recorded_role", "recorded_at",
)  # fmt: skip
MESSAGE = "tracing_case_events is append-only"


def _sqlite_triggers(update_guard: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS tracing_case_events_no_update")
    op.execute(
        "CREATE TRIGGER tracing_case_events_no_update BEFORE UPDATE ON tracing_case_events "
        f"{update_guard}BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def _postgresql_function(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION corridor_tracing_append_only() RETURNS trigger AS $$ "
        f"BEGIN {body}RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT)
        _sqlite_triggers(f"WHEN NOT (NEW.reason IS NULL AND {same}) ")
    elif dialect == "postgresql":
        _postgresql_function(
            "IF TG_OP = 'UPDATE' AND NEW.reason IS NULL "
            "AND to_jsonb(NEW) - 'reason' = to_jsonb(OLD) - 'reason' THEN RETURN NEW; END IF; "
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers("")
    elif dialect == "postgresql":
        _postgresql_function("")
