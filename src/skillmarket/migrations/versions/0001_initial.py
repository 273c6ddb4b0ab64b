"""initial schema: operators, keys, catalog, audit

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 05:04:18.198741
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import skillmarket.db
from skillmarket.catalog.search import POSTGRES_DDL, SQLITE_DDL

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_subject", ["subject", "seq"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_visibility",
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["audit_events.seq"], name=op.f("fk_audit_visibility_seq_audit_events")
        ),
        sa.PrimaryKeyConstraint("operator_id", "seq", name=op.f("pk_audit_visibility")),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tier IN ('free', 'developer', 'studio', 'enterprise')", name=op.f("ck_operators_tier")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_api_keys_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_operator_id"), ["operator_id"], unique=False)

    op.create_table(
        "skill_names",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("publisher_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["operators.id"], name=op.f("fk_skill_names_publisher_id_operators")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_skill_names")),
    )
    op.create_table(
        "skills",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("publisher_id", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("execution_mode", sa.String(length=16), nullable=False),
        sa.Column("credential_mode", sa.String(length=16), nullable=False),
        sa.Column("trust_level_required", sa.String(length=2), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=71), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("deprecated_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deprecation_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["skill_names.name"], name=op.f("fk_skills_name_skill_names")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["operators.id"], name=op.f("fk_skills_publisher_id_operators")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_skills")),
        sa.UniqueConstraint("id", name=op.f("uq_skills_id")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_skills_name_version")),
    )
    with op.batch_alter_table("skills", schema=None) as batch_op:
        batch_op.create_index("ix_skills_latest", ["is_latest", "name"], unique=False)
        batch_op.create_index(batch_op.f("ix_skills_publisher_id"), ["publisher_id"], unique=False)

    op.create_table(
        "skill_tags",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_skill_tags_skill_id_skills")
        ),
        sa.PrimaryKeyConstraint("skill_id", "tag", name=op.f("pk_skill_tags")),
    )
    with op.batch_alter_table("skill_tags", schema=None) as batch_op:
        batch_op.create_index("ix_skill_tags_tag", ["tag", "skill_id"], unique=False)

    op.create_table(
        "skill_secrets",
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_skill_secrets_skill_id_skills")
        ),
        sa.PrimaryKeyConstraint("skill_id", name=op.f("pk_skill_secrets")),
    )
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("size"), sa.column("frontier")),
        [{"id": 1, "size": 0, "frontier": b""}],
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_DDL)
    else:
        for statement in POSTGRES_DDL:
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE skill_search")
    with op.batch_alter_table("skill_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_skill_tags_tag")

    op.drop_table("skill_secrets")
    op.drop_table("skill_tags")
    with op.batch_alter_table("skills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skills_publisher_id"))
        batch_op.drop_index("ix_skills_latest")

    op.drop_table("skills")
    op.drop_table("skill_names")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_operator_id"))

    op.drop_table("api_keys")
    op.drop_table("operators")
    op.drop_table("audit_visibility")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")

    op.drop_table("audit_events")
