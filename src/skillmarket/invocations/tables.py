"""Tables owned by the invocations domain.

The queue only ever carries invocation ids: status, lease, expiry, result and cost live here.
Inputs and outputs are stored encrypted under a per-invocation data key (``secrets``), with
their SHA-256 hashes in the clear for receipts and the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

invocations = sa.Table(
    "invocations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), nullable=False),
    sa.Column("skill_fingerprint", sa.String(71), nullable=False),
    sa.Column("execution_mode", sa.String(16), nullable=False),
    sa.Column("buyer_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("publisher_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("passport_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("input_hash", sa.String(71), nullable=False),
    sa.Column("output_hash", sa.String(71), nullable=True),
    sa.Column("secrets", sa.JSON, nullable=False),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_message", sa.String(500), nullable=True),
    sa.Column("cost", sa.JSON, nullable=True),
    sa.Column("receipt", sa.JSON, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    # The server process that runs a sealed or source invocation (invocation_runners.id).
    sa.Column("runner_id", sa.String(32), nullable=True),
    sa.UniqueConstraint("buyer_id", "idempotency_key"),
    sa.Index("ix_invocations_pending", "publisher_id", "status", "created_at"),
    sa.Index("ix_invocations_status_expires", "status", "expires_at"),
    sa.Index("ix_invocations_buyer", "buyer_id", "created_at"),
)

# One row per server process that runs invocations, refreshed while it lives.
invocation_runners = sa.Table(
    "invocation_runners",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    # The boot id and the process's start time: a pid reused by another process has another.
    sa.Column("process_mark", sa.String(80), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
)
