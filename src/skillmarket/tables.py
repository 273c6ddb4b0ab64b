"""Imports every domain's tables so the shared metadata is complete (for Alembic and tests)."""

from skillmarket.audit.tables import audit_events, audit_head
from skillmarket.catalog.tables import skill_names, skill_tags, skills
from skillmarket.identity.tables import api_keys, operators
from skillmarket.ledger.tables import (
    ledger_accounts,
    ledger_allowance_usage,
    ledger_entries,
    ledger_holds,
    ledger_postings,
)

__all__ = [
    "api_keys",
    "audit_events",
    "audit_head",
    "ledger_accounts",
    "ledger_allowance_usage",
    "ledger_entries",
    "ledger_holds",
    "ledger_postings",
    "operators",
    "skill_names",
    "skill_tags",
    "skills",
]
