"""Tables owned by the audit domain.

``audit_events`` rows are the leaves of the Merkle log, in ``seq`` order from 0. ``audit_head``
holds the one row that serialises appends (a row lock on PostgreSQL, BEGIN IMMEDIATE on
SQLite) and the log's current size.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import metadata

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(32), nullable=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Index("ix_audit_events_subject", "subject", "seq"),
    sa.Index("ix_audit_events_actor", "actor", "seq"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
