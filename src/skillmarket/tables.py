"""Imports every domain's tables so the shared metadata is complete (for Alembic and tests)."""

from skillmarket.audit.tables import (
    audit_checkpoints,
    audit_events,
    audit_head,
    audit_visibility,
)
from skillmarket.catalog.tables import skill_names, skill_secrets, skill_tags, skills
from skillmarket.credentials.tables import service_connections
from skillmarket.identity.tables import api_keys, operators, passports, trusted_issuers
from skillmarket.invocations.tables import invocations
from skillmarket.ledger.tables import (
    ledger_accounts,
    ledger_allowance_usage,
    ledger_entries,
    ledger_holds,
    ledger_postings,
)
from skillmarket.reputation.tables import rating_totals, rating_version_totals, ratings
from skillmarket.requests.tables import (
    skill_request_tags,
    skill_requests,
    skill_shape_names,
    skill_shapes,
)

__all__ = [
    "api_keys",
    "audit_checkpoints",
    "audit_events",
    "audit_head",
    "audit_visibility",
    "invocations",
    "ledger_accounts",
    "ledger_allowance_usage",
    "ledger_entries",
    "ledger_holds",
    "ledger_postings",
    "operators",
    "passports",
    "rating_totals",
    "rating_version_totals",
    "ratings",
    "service_connections",
    "skill_names",
    "skill_secrets",
    "skill_request_tags",
    "skill_requests",
    "skill_shape_names",
    "skill_shapes",
    "skill_tags",
    "skills",
    "trusted_issuers",
]
