"""skill requests and skill schema signatures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00.000000

The signature rows of skills published before this revision are filled in at start-up by
RequestsService.sync_shapes(), which also rebuilds them when the signature format changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "skill_requests",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("poster_id", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("input_schema", sa.JSON(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=False),
        sa.Column("max_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=71), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_skill_requests_status")),
        sa.ForeignKeyConstraint(
            ["poster_id"], ["operators.id"], name=op.f("fk_skill_requests_poster_id_operators")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_skill_requests")),
        sa.UniqueConstraint("id", name=op.f("uq_skill_requests_id")),
    )
    op.create_index(
        op.f("ix_skill_requests_poster_id"), "skill_requests", ["poster_id"], unique=False
    )
    op.create_index("ix_skill_requests_status", "skill_requests", ["status", "seq"], unique=False)
    op.create_table(
        "skill_request_tags",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["skill_requests.id"],
            name=op.f("fk_skill_request_tags_request_id_skill_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "tag", name=op.f("pk_skill_request_tags")),
    )
    op.create_index(
        "ix_skill_request_tags_tag", "skill_request_tags", ["tag", "request_id"], unique=False
    )
    op.create_table(
        "skill_shapes",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("accepts", sa.Integer(), nullable=False),
        sa.Column("produces", sa.Integer(), nullable=False),
        sa.Column("requires", sa.Integer(), nullable=False),
        sa.Column("shape_version", sa.Integer(), nullable=False),
        sa.Column("input_schema", sa.JSON(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_skill_shapes_skill_id_skills")
        ),
        sa.PrimaryKeyConstraint("skill_id", name=op.f("pk_skill_shapes")),
    )
    op.create_index("ix_skill_shapes_live", "skill_shapes", ["live", "price_cents"], unique=False)
    op.create_table(
        "skill_shape_names",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["skill_id"],
            ["skill_shapes.skill_id"],
            name=op.f("fk_skill_shape_names_skill_id_skill_shapes"),
        ),
        sa.PrimaryKeyConstraint("skill_id", "side", "name", name=op.f("pk_skill_shape_names")),
    )
    op.create_index(
        "ix_skill_shape_names_side", "skill_shape_names", ["side", "name"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_skill_shape_names_side", table_name="skill_shape_names")
    op.drop_table("skill_shape_names")
    op.drop_index("ix_skill_shapes_live", table_name="skill_shapes")
    op.drop_table("skill_shapes")
    op.drop_index("ix_skill_request_tags_tag", table_name="skill_request_tags")
    op.drop_table("skill_request_tags")
    op.drop_index("ix_skill_requests_status", table_name="skill_requests")
    op.drop_index(op.f("ix_skill_requests_poster_id"), table_name="skill_requests")
    op.drop_table("skill_requests")
