"""Tables owned by the requests domain: the requests, and a schema signature per skill version.

``skill_shapes`` is derived data: one row per published skill version, written by the catalog's
listener in the catalog's own transaction (see :mod:`skillmarket.requests.index`), holding the
compacted schemas and the bits the matching pre-filter runs on in SQL. Versions are immutable,
so a row changes only when its version stops or starts being the latest live one (``live``).
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

# A need posted by an operator; public to every operator, closed only by its poster.
skill_requests = sa.Table(
    "skill_requests",
    metadata,
    # An integer key orders requests newest first and pages them stably.
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "poster_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False, index=True
    ),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("input_schema", sa.JSON, nullable=False),
    sa.Column("output_schema", sa.JSON, nullable=False),
    sa.Column("max_price_cents", sa.BigInteger, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(71), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
    sa.Index("ix_skill_requests_status", "status", "seq"),
)

skill_request_tags = sa.Table(
    "skill_request_tags",
    metadata,
    sa.Column("request_id", sa.String(32), sa.ForeignKey("skill_requests.id"), primary_key=True),
    sa.Column("tag", sa.String(32), primary_key=True),
    sa.Index("ix_skill_request_tags_tag", "tag", "request_id"),
)

skill_shapes = sa.Table(
    "skill_shapes",
    metadata,
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), primary_key=True),
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("price_cents", sa.BigInteger, nullable=False),
    # Root type bits (skillmarket.requests.shapes.BITS): what the input accepts, what the
    # output may give (0: unknown, passes every filter).
    sa.Column("accepts", sa.Integer, nullable=False),
    sa.Column("produces", sa.Integer, nullable=False),
    # How many "i" names the input requires (so the pre-filter can test "all of them are
    # given" with one grouped semi-join instead of a correlated anti-join).
    sa.Column("requires", sa.Integer, nullable=False),
    sa.Column("shape_version", sa.Integer, nullable=False),
    sa.Column("input_schema", sa.JSON, nullable=False),
    sa.Column("output_schema", sa.JSON, nullable=False),
    sa.Index("ix_skill_shapes_live", "live", "price_cents"),
)

# Top-level property names: side "i" = the input requires it, "o" = the output always gives it.
skill_shape_names = sa.Table(
    "skill_shape_names",
    metadata,
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skill_shapes.skill_id"), primary_key=True),
    sa.Column("side", sa.String(1), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Index("ix_skill_shape_names_side", "side", "name"),
)
