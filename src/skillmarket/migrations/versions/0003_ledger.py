"""ledger: accounts, entries, postings, holds, allowance usage; the platform's accounts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:12:40.512318
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import skillmarket.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The platform's own accounts (skillmarket.ledger.accounts.PLATFORM_ACCOUNTS), written out so
# this revision never changes when the code does.
PLATFORM_ACCOUNTS = [
    ("platform:revenue", "revenue", "credit"),
    ("platform:upstream", "upstream", "credit"),
    ("platform:cash", "cash", "debit"),
    ("platform:absorbed", "absorbed", "debit"),
]


def upgrade() -> None:
    accounts = op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=True),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "normal_side IN ('debit', 'credit')", name=op.f("ck_ledger_accounts_normal_side")
        ),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_ledger_accounts_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_ledger_accounts_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_accounts_operator", ["operator_id", "kind"], unique=False)

    op.create_table(
        "ledger_allowance_usage",
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_ledger_allowance_usage_used_not_negative")),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_ledger_allowance_usage_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("operator_id", "month", name=op.f("pk_ledger_allowance_usage")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("invocation_id", sa.String(length=32), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("provider_ref", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('deposit', 'hold', 'capture', 'release', 'payout')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_ledger_entries_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_invocation_id"), ["invocation_id"], unique=False
        )

    op.create_table(
        "ledger_holds",
        sa.Column("invocation_id", sa.String(length=32), nullable=False),
        sa.Column("buyer_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.String(length=32), nullable=False),
        sa.Column("skill_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("price_kind", sa.String(length=16), nullable=False),
        sa.Column("commission_percent", sa.Integer(), nullable=False),
        sa.Column("estimate", sa.BigInteger(), nullable=False),
        sa.Column("max_cost", sa.BigInteger(), nullable=True),
        sa.Column("allowance_month", sa.String(length=7), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("charged", sa.BigInteger(), nullable=True),
        sa.Column("charge", sa.JSON(), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", skillmarket.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "price_kind IN ('list', 'allowance', 'overage')",
            name=op.f("ck_ledger_holds_price_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('held', 'captured', 'released')", name=op.f("ck_ledger_holds_status")
        ),
        sa.CheckConstraint(
            "amount >= price AND price >= 0", name=op.f("ck_ledger_holds_amount_covers_price")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["operators.id"], name=op.f("fk_ledger_holds_buyer_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["operators.id"], name=op.f("fk_ledger_holds_publisher_id_operators")
        ),
        sa.PrimaryKeyConstraint("invocation_id", name=op.f("pk_ledger_holds")),
    )
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_holds_buyer", ["buyer_id", "status"], unique=False)

    op.create_table(
        "ledger_postings",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account_id", sa.String(length=48), nullable=False),
        sa.Column("credit_account_id", sa.String(length=48), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("invocation_id", sa.String(length=32), nullable=True),
        sa.Column("skill_id", sa.String(length=32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("created_at", skillmarket.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_postings_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_ledger_postings_two_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_postings_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_postings_id")),
    )
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_postings_credit", ["credit_account_id", "seq"], unique=False
        )
        batch_op.create_index("ix_ledger_postings_debit", ["debit_account_id", "seq"], unique=False)
        batch_op.create_index("ix_ledger_postings_entry", ["entry_id"], unique=False)
        batch_op.create_index("ix_ledger_postings_invocation", ["invocation_id"], unique=False)

    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {
                "id": account_id,
                "kind": kind,
                "operator_id": None,
                "normal_side": side,
                "balance": 0,
                "created_at": now,
            }
            for account_id, kind, side in PLATFORM_ACCOUNTS
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_postings_invocation")
        batch_op.drop_index("ix_ledger_postings_entry")
        batch_op.drop_index("ix_ledger_postings_debit")
        batch_op.drop_index("ix_ledger_postings_credit")

    op.drop_table("ledger_postings")
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_holds_buyer")

    op.drop_table("ledger_holds")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_invocation_id"))

    op.drop_table("ledger_entries")
    op.drop_table("ledger_allowance_usage")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_accounts_operator")

    op.drop_table("ledger_accounts")
