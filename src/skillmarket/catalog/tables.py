"""Tables owned by the catalog domain.

The full-text index ``skill_search`` is dialect-specific (an FTS5 virtual table on SQLite, a
tsvector table with a GIN index on PostgreSQL), so it is created by the migration and used only
through :mod:`skillmarket.catalog.search`; it is not part of this metadata.
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

# Who owns a skill name: the first publisher of a name owns all its versions.
skill_names = sa.Table(
    "skill_names",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("publisher_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# One row per published name@version; immutable except for the deprecation and latest flags.
skills = sa.Table(
    "skills",
    metadata,
    # An integer key, so the full-text index (FTS5 rows are addressed by rowid) can point here.
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(64), sa.ForeignKey("skill_names.name"), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column(
        "publisher_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False, index=True
    ),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("execution_mode", sa.String(16), nullable=False),
    sa.Column("credential_mode", sa.String(16), nullable=False),
    sa.Column("trust_level_required", sa.String(2), nullable=False),
    sa.Column("price_cents", sa.BigInteger, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(71), nullable=False),
    sa.Column("is_latest", sa.Boolean, nullable=False, default=False),
    sa.Column("deprecated_at", UtcDateTime, nullable=True),
    sa.Column("deprecation_reason", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("name", "version"),
    sa.Index("ix_skills_latest", "is_latest", "name"),
)

skill_tags = sa.Table(
    "skill_tags",
    metadata,
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), primary_key=True),
    sa.Column("tag", sa.String(32), primary_key=True),
    sa.Index("ix_skill_tags_tag", "tag", "skill_id"),
)

# The prompts and code of a sealed skill version, envelope-encrypted: one data key per version,
# stored wrapped by a master key, and one AES-GCM ciphertext per field ("<step>.<field>").
skill_secrets = sa.Table(
    "skill_secrets",
    metadata,
    sa.Column("skill_id", sa.String(32), sa.ForeignKey("skills.id"), primary_key=True),
    sa.Column("kek_id", sa.String(64), nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
    sa.Column("commitment", sa.LargeBinary(32), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
)
