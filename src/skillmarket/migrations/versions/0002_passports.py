"""passports and trusted issuers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:25:03.621044
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_issuers",
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("added_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", name=op.f("pk_trusted_issuers")),
    )
    op.create_table(
        "passports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("issued_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_passports_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passports")),
    )
    with op.batch_alter_table("passports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passports_operator_id"), ["operator_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("passports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passports_operator_id"))

    op.drop_table("passports")
    op.drop_table("trusted_issuers")
