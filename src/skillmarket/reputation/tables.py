"""Tables owned by the reputation domain.

``ratings`` holds every rating, one per completed invocation (the unique ``invocation_id``).
``rating_totals`` (per skill name, every version together) and ``rating_version_totals`` (per
skill version) hold the running sums of :class:`skillmarket.reputation.models.Totals`, updated
in the transaction that adds a rating, so a summary is one row read and search can filter and
order by rating without aggregating anything. ``half_life_seconds`` records the half-life the
weighted sums were made with: when the setting changes, they are rebuilt at start-up.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

ratings = sa.Table(
    "ratings",
    metadata,
    # An integer key orders ratings newest first and pages them stably.
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "invocation_id",
        sa.String(32),
        sa.ForeignKey("invocations.id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), nullable=False),
    sa.Column("skill_name", sa.String(64), sa.ForeignKey("skill_names.name"), nullable=False),
    sa.Column("skill_version", sa.String(64), nullable=False),
    sa.Column("rater_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("score BETWEEN 1 AND 5", name="score"),
    sa.Index("ix_ratings_skill_name", "skill_name", "seq"),
    sa.Index("ix_ratings_skill_id", "skill_id", "seq"),
    sa.Index("ix_ratings_rater", "rater_id", "skill_name"),
)


def _total_columns() -> list[sa.Column]:
    """The running sums of a set of ratings (see ``Totals``) and the figures search reads."""
    return [
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        *(sa.Column(f"n{score}", sa.Integer, nullable=False) for score in range(1, 6)),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("weighted_total", sa.Float, nullable=False),
        sa.Column("anchor_at", UtcDateTime, nullable=False),
        sa.Column("half_life_seconds", sa.Float, nullable=False),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    ]


rating_totals = sa.Table(
    "rating_totals",
    metadata,
    sa.Column("skill_name", sa.String(64), sa.ForeignKey("skill_names.name"), primary_key=True),
    *_total_columns(),
    # Search by rating walks rated skills best first along this index and stops at the page.
    sa.Index("ix_rating_totals_rank", "score", "count"),
)

rating_version_totals = sa.Table(
    "rating_version_totals",
    metadata,
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), primary_key=True),
    *_total_columns(),
)
