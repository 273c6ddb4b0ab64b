"""which server process runs which invocation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invocations", sa.Column("runner_id", sa.String(32), nullable=True))
    op.create_table(
        "invocation_runners",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("process_mark", sa.String(80), nullable=False),
        sa.Column("started_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invocation_runners")),
    )


def downgrade() -> None:
    op.drop_table("invocation_runners")
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("runner_id")
