"""invocations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:01:20.788155
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invocations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("skill_fingerprint", sa.String(length=71), nullable=False),
        sa.Column("execution_mode", sa.String(length=16), nullable=False),
        sa.Column("buyer_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.String(length=32), nullable=False),
        sa.Column("passport_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("input_hash", sa.String(length=71), nullable=False),
        sa.Column("output_hash", sa.String(length=71), nullable=True),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("cost", sa.JSON(), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("expires_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["operators.id"], name=op.f("fk_invocations_buyer_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["operators.id"], name=op.f("fk_invocations_publisher_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_invocations_skill_id_skills")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invocations")),
        sa.UniqueConstraint(
            "buyer_id", "idempotency_key", name=op.f("uq_invocations_buyer_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("invocations", schema=None) as batch_op:
        batch_op.create_index("ix_invocations_buyer", ["buyer_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_invocations_pending", ["publisher_id", "status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_invocations_status_expires", ["status", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invocations", schema=None) as batch_op:
        batch_op.drop_index("ix_invocations_status_expires")
        batch_op.drop_index("ix_invocations_pending")
        batch_op.drop_index("ix_invocations_buyer")

    op.drop_table("invocations")
