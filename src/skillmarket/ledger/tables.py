"""Tables owned by the ledger domain.

``ledger_postings`` is the book: append-only, one row per movement of an amount from a debit
account to a credit account. ``ledger_accounts.balance`` is a cache of what the postings say
(updated in the same transaction, checked by :meth:`LedgerService.verify`); its CHECK and the
conditional updates that maintain it keep every balance at zero or above. ``ledger_entries``
groups the postings of one business event (a deposit, a hold, a capture, a release, a payout).
"""

from __future__ import annotations

import sqlalchemy as sa

from skillmarket.db import UtcDateTime, metadata

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")

ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    # Readable ids: "wallet:op_…", "held:op_…", "earnings:op_…", "platform:revenue", …
    sa.Column("id", sa.String(48), primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=True),
    sa.Column("normal_side", sa.String(6), nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("balance >= 0", name="balance_not_negative"),
    sa.CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
    sa.Index("ix_ledger_accounts_operator", "operator_id", "kind"),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("invocation_id", sa.String(32), nullable=True, index=True),
    # Deposits: "deposit:<provider>:<provider_ref>"; payouts: "payout:<publisher>:<month>".
    sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
    sa.Column("provider_ref", sa.String(200), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(32), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('deposit', 'hold', 'capture', 'release', 'payout')", name="kind"),
)

ledger_postings = sa.Table(
    "ledger_postings",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("entry_id", sa.String(32), sa.ForeignKey("ledger_entries.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column(
        "debit_account_id", sa.String(48), sa.ForeignKey("ledger_accounts.id"), nullable=False
    ),
    sa.Column(
        "credit_account_id", sa.String(48), sa.ForeignKey("ledger_accounts.id"), nullable=False
    ),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("invocation_id", sa.String(32), nullable=True),
    sa.Column("skill_id", sa.String(32), nullable=True),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    sa.Index("ix_ledger_postings_debit", "debit_account_id", "seq"),
    sa.Index("ix_ledger_postings_credit", "credit_account_id", "seq"),
    sa.Index("ix_ledger_postings_invocation", "invocation_id"),
    sa.Index("ix_ledger_postings_entry", "entry_id"),
)

# One row per invocation that was priced: what was held and, once settled, what was charged.
ledger_holds = sa.Table(
    "ledger_holds",
    metadata,
    sa.Column("invocation_id", sa.String(32), primary_key=True),
    sa.Column("buyer_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("publisher_id", sa.String(32), sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("skill_id", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("price_kind", sa.String(16), nullable=False),
    sa.Column("commission_percent", sa.Integer, nullable=False),
    sa.Column("estimate", sa.BigInteger, nullable=False),
    sa.Column("max_cost", sa.BigInteger, nullable=True),
    sa.Column("allowance_month", sa.String(7), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("charged", sa.BigInteger, nullable=True),
    sa.Column("charge", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("settled_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("amount >= price AND price >= 0", name="amount_covers_price"),
    sa.CheckConstraint("status IN ('held', 'captured', 'released')", name="status"),
    sa.CheckConstraint("price_kind IN ('list', 'allowance', 'overage')", name="price_kind"),
    sa.Index("ix_ledger_holds_buyer", "buyer_id", "status"),
)

# Free-skill invocations counted against each buyer's monthly allowance.
ledger_allowance_usage = sa.Table(
    "ledger_allowance_usage",
    metadata,
    sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
    sa.CheckConstraint("used >= 0", name="used_not_negative"),
)
