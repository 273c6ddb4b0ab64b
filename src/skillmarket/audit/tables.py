"""Tables owned by the audit domain.

``audit_events`` rows are the leaves of the Merkle log, in ``seq`` order from 0, each with its
RFC 6962 leaf hash. ``audit_head`` is the one row that serialises appends (a row lock on
PostgreSQL, BEGIN IMMEDIATE on SQLite); it holds the log size and the compact range (the roots
of the perfect subtrees covering the log), so the root at any append is O(log n) away.
``audit_checkpoints`` keeps every signed checkpoint; ``audit_visibility`` says which operators
may read an event (the actor and the parties it concerns; admins read all).
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(32), nullable=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Index("ix_audit_events_subject", "subject", "seq"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("frontier", sa.LargeBinary, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit_visibility = sa.Table(
    "audit_visibility",
    metadata,
    sa.Column("operator_id", sa.String(32), primary_key=True),
    sa.Column("seq", BigId, sa.ForeignKey("audit_events.seq"), primary_key=True),
)
