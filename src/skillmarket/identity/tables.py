"""Tables owned by the identity domain."""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("tier IN ('free', 'developer', 'studio', 'enterprise')", name="tier"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "operator_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False, index=True
    ),
    sa.Column("prefix", sa.String(24), nullable=False),
    # SHA-256 of the whole key: keys carry 160 random bits, so a fast hash is the right tool
    # (as for GitHub and PyPI tokens); the plaintext is shown once and never stored.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(100), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

# Passports this marketplace issued or an operator registered. The token is kept so that an
# invoke can name a passport by id; it grants nothing without its owner's API key.
passports = sa.Table(
    "passports",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "operator_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False, index=True
    ),
    sa.Column("issuer", sa.String(200), nullable=False),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("claims", sa.JSON, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revocation_reason", sa.String(500), nullable=True),
)

# External issuers an admin trusts, by JWKS.
trusted_issuers = sa.Table(
    "trusted_issuers",
    metadata,
    sa.Column("issuer", sa.String(200), primary_key=True),
    sa.Column("jwks", sa.JSON, nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
)
