"""connected services: operators' credentials for the credential proxy

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("registrable_domain", sa.String(length=253), nullable=False),
        sa.Column("auth_scheme", sa.String(length=8), nullable=False),
        sa.Column("auth_name", sa.String(length=128), nullable=True),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("credential", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "auth_scheme IN ('bearer', 'header', 'query', 'basic')",
            name=op.f("ck_service_connections_auth_scheme"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_service_connections_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_connections")),
        sa.UniqueConstraint(
            "operator_id", "name", name=op.f("uq_service_connections_operator_id_name")
        ),
    )


def downgrade() -> None:
    op.drop_table("service_connections")
