"""ratings and their stored totals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _total_columns() -> list[sa.Column]:
    return [
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        *(sa.Column(f"n{score}", sa.Integer(), nullable=False) for score in range(1, 6)),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("weighted_total", sa.Float(), nullable=False),
        sa.Column("anchor_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("half_life_seconds", sa.Float(), nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("invocation_id", sa.String(length=32), nullable=False),
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("skill_name", sa.String(length=64), nullable=False),
        sa.Column("skill_version", sa.String(length=64), nullable=False),
        sa.Column("rater_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_ratings_score")),
        sa.ForeignKeyConstraint(
            ["invocation_id"], ["invocations.id"], name=op.f("fk_ratings_invocation_id_invocations")
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["operators.id"], name=op.f("fk_ratings_rater_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_ratings_skill_id_skills")
        ),
        sa.ForeignKeyConstraint(
            ["skill_name"], ["skill_names.name"], name=op.f("fk_ratings_skill_name_skill_names")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ratings")),
        sa.UniqueConstraint("id", name=op.f("uq_ratings_id")),
        sa.UniqueConstraint("invocation_id", name=op.f("uq_ratings_invocation_id")),
    )
    op.create_index("ix_ratings_skill_name", "ratings", ["skill_name", "seq"], unique=False)
    op.create_index("ix_ratings_skill_id", "ratings", ["skill_id", "seq"], unique=False)
    op.create_index("ix_ratings_rater", "ratings", ["rater_id", "skill_name"], unique=False)
    op.create_table(
        "rating_totals",
        sa.Column("skill_name", sa.String(length=64), nullable=False),
        *_total_columns(),
        sa.ForeignKeyConstraint(
            ["skill_name"],
            ["skill_names.name"],
            name=op.f("fk_rating_totals_skill_name_skill_names"),
        ),
        sa.PrimaryKeyConstraint("skill_name", name=op.f("pk_rating_totals")),
    )
    op.create_index("ix_rating_totals_rank", "rating_totals", ["score", "count"], unique=False)
    op.create_table(
        "rating_version_totals",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        *_total_columns(),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_rating_version_totals_skill_id_skills")
        ),
        sa.PrimaryKeyConstraint("skill_id", name=op.f("pk_rating_version_totals")),
    )


def downgrade() -> None:
    op.drop_table("rating_version_totals")
    op.drop_index("ix_rating_totals_rank", table_name="rating_totals")
    op.drop_table("rating_totals")
    op.drop_index("ix_ratings_rater", table_name="ratings")
    op.drop_index("ix_ratings_skill_id", table_name="ratings")
    op.drop_index("ix_ratings_skill_name", table_name="ratings")
    op.drop_table("ratings")
