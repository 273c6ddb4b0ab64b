"""Tables owned by the credentials domain.

One row per (operator, service name): where the credential may be sent (the registrable domain
of the host the operator named), how it is presented (the auth scheme, and the header or query
parameter name), and the credential itself, envelope-encrypted like sealed logic: a per-row
data key wrapped by the master key, a key commitment beside it, and the AES-GCM ciphertext bound
to the operator and the service name. Nothing here is ever plain text.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

service_connections = sa.Table(
    "service_connections",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("domain", sa.String(253), nullable=False),
    sa.Column("registrable_domain", sa.String(253), nullable=False),
    sa.Column("auth_scheme", sa.String(8), nullable=False),
    # The header (scheme "header") or query parameter (scheme "query") that carries the secret.
    sa.Column("auth_name", sa.String(128), nullable=True),
    sa.Column("kek_id", sa.String(64), nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("commitment", sa.LargeBinary(32), nullable=False),
    sa.Column("credential", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("operator_id", "name"),
    sa.CheckConstraint("auth_scheme IN ('bearer', 'header', 'query', 'basic')", name="auth_scheme"),
)
