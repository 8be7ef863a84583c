"""The first schema: notes, scans, reports, review items, the audit log, users.

The audit log is append-only: on PostgreSQL a trigger function refuses UPDATE and DELETE,
on SQLite two triggers do the same (RAISE(ABORT)).

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_PG_FUNCTION = """
CREATE FUNCTION docgap_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION docgap_audit_append_only()
"""


def upgrade() -> None:
    """Create every table (and the append-only triggers of the audit log)."""
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_id", sa.String(255), nullable=False, index=True),
        sa.Column("source", sa.String(1024)),
        sa.Column("text", sa.Text),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("note_id", "text_sha256", name="uq_notes_note_text"),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("docgap_version", sa.String(64), nullable=False),
        sa.Column("pack", sa.String(64), nullable=False),
        sa.Column("lexicon_hash", sa.String(64), nullable=False, index=True),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_row_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False, index=True),
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False, index=True),
        sa.Column("status", sa.String(32)),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_id", sa.String(255), nullable=False, unique=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("assignee", sa.String(255), index=True),
        sa.Column("previous_status", sa.String(32)),
        sa.Column("status_changed_at", _TS),
        sa.Column("override_status", sa.String(32)),
        sa.Column("override_elements", sa.JSON),
        sa.Column("override_reason", sa.Text),
        sa.Column("query_text", sa.Text),
        sa.Column("response", sa.String(32)),
        sa.Column("final_code", sa.String(32)),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_id", sa.String(255), nullable=False, index=True),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("at", _TS, nullable=False, index=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before_state", sa.String(32)),
        sa.Column("after_state", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    """Drop every table and trigger of this revision."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS docgap_audit_append_only()")
    for table in ("users", "audit_log", "review_items", "reports", "scans", "notes"):
        op.drop_table(table)
