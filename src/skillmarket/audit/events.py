"""Audit event types, named in the seed's style (``skill.invoke``, ``skill.complete``)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every kind of event the audit log records."""

    OPERATOR_CREATE = "operator.create"
    API_KEY_CREATE = "api_key.create"
    API_KEY_REVOKE = "api_key.revoke"
    SKILL_PUBLISH = "skill.publish"
    SKILL_DEPRECATE = "skill.deprecate"
    LEDGER_POSTING = "ledger.posting"
