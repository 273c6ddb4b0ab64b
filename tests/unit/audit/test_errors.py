"""Audit error codes are stable, unique UPPER_SNAKE strings under the project error base."""

from __future__ import annotations

import re

from skillmarket.audit import errors
from skillmarket.errors import SkillmarketError

AUDIT_ERRORS = [
    obj
    for obj in vars(errors).values()
    if isinstance(obj, type) and issubclass(obj, errors.AuditError)
]


class TestAuditErrors:
    def test_codes_are_the_documented_ones(self):
        assert {e.code for e in AUDIT_ERRORS} == {
            "AUDIT_ERROR",
            "AUDIT_EVENT_INVALID",
            "AUDIT_RANGE_INVALID",
            "AUDIT_PROOF_INVALID",
            "AUDIT_LOG_TAMPERED",
            "AUDIT_KEY_INVALID",
            "CHECKPOINT_MALFORMED",
            "CHECKPOINT_SIGNATURE_INVALID",
            "RECEIPT_INVALID",
        }
        assert len({e.code for e in AUDIT_ERRORS}) == len(AUDIT_ERRORS)

    def test_every_error_is_documented_and_renders(self):
        for error in AUDIT_ERRORS:
            assert issubclass(error, SkillmarketError)
            assert re.fullmatch(r"[A-Z][A-Z0-9_]+", error.code)
            assert error.__doc__ and error.code in errors.__doc__
            body = error("boom", details={"reason": "x"}).to_dict()["error"]
            assert body == {"code": error.code, "message": "boom", "details": {"reason": "x"}}

    def test_tampering_is_a_server_side_failure(self):
        assert errors.AuditLogTampered.status == 500
        assert errors.AuditProofInvalid.status == 422
