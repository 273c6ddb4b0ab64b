"""Imports every domain's tables so the shared metadata is complete (for Alembic and tests)."""

from skillmarket.audit.tables import (
    audit_checkpoints,
    audit_events,
    audit_head,
    audit_visibility,
)
from skillmarket.catalog.tables import skill_names, skill_tags, skills
from skillmarket.identity.tables import api_keys, operators, passports, trusted_issuers
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
    "operators",
    "passports",
    "skill_names",
    "skill_request_tags",
    "skill_requests",
    "skill_shape_names",
    "skill_shapes",
    "skill_tags",
    "skills",
    "trusted_issuers",
]
