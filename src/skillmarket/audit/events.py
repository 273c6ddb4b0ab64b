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
    PASSPORT_ISSUE = "passport.issue"
    PASSPORT_REGISTER = "passport.register"
    PASSPORT_REVOKE = "passport.revoke"
    ISSUER_TRUST = "issuer.trust"
    ISSUER_DISTRUST = "issuer.distrust"
    ISSUER_KEY_ROTATE = "issuer.key_rotate"
    MASTER_KEY_ROTATE = "master_key.rotate"
    SKILL_INVOKE = "skill.invoke"
    SKILL_STEP = "skill.step"
    SKILL_CLAIM = "skill.claim"
    SKILL_COMPLETE = "skill.complete"
    SKILL_FAIL = "skill.fail"
    SKILL_EXPIRE = "skill.expire"
    SKILL_TERMINATE = "skill.terminate"
    PROXY_CALL = "proxy.call"
    SERVICE_CONNECT = "service.connect"
    SERVICE_REPLACE = "service.replace"
    SERVICE_DISCONNECT = "service.disconnect"
    LEDGER_POSTING = "ledger.posting"
    REQUEST_POST = "request.post"
    REQUEST_CLOSE = "request.close"
    SKILL_RATE = "skill.rate"
