"""Errors of the audit log.

Every failure carries a stable UPPER_SNAKE ``code`` and the data a caller needs in
``details``. Hierarchy (code, HTTP status)::

    SkillmarketError
     └── AuditError                  AUDIT_ERROR                   422
          ├── AuditEventInvalid      AUDIT_EVENT_INVALID           422  event outside the profile
          ├── AuditRangeInvalid      AUDIT_RANGE_INVALID           422  index or size out of range
          ├── AuditProofInvalid      AUDIT_PROOF_INVALID           422  a proof does not verify
          ├── AuditLogTampered       AUDIT_LOG_TAMPERED            500  events do not give the root
          ├── AuditKeyInvalid        AUDIT_KEY_INVALID             422  bad key file, name or string
          ├── CheckpointMalformed    CHECKPOINT_MALFORMED          422  not a signed note/checkpoint
          ├── CheckpointSignatureInvalid
          │                          CHECKPOINT_SIGNATURE_INVALID  422  no trusted signature
          └── ReceiptInvalid         RECEIPT_INVALID               422  forged or unproven
"""

from __future__ import annotations

from skillmarket.errors import SkillmarketError


class AuditError(SkillmarketError):
    """Base of every audit-log error."""

    code = "AUDIT_ERROR"
    status = 422


class AuditEventInvalid(AuditError):
    """An audit event cannot be logged: it is outside the canonical JSON profile."""

    code = "AUDIT_EVENT_INVALID"


class AuditRangeInvalid(AuditError):
    """A leaf index or tree size is negative, too large or otherwise out of range."""

    code = "AUDIT_RANGE_INVALID"


class AuditProofInvalid(AuditError):
    """An inclusion or consistency proof does not verify."""

    code = "AUDIT_PROOF_INVALID"


class AuditLogTampered(AuditError):
    """The stored events do not hash to the root the log signed: the log was altered."""

    code = "AUDIT_LOG_TAMPERED"
    status = 500


class AuditKeyInvalid(AuditError):
    """A key file, key name or verifier key string is unusable."""

    code = "AUDIT_KEY_INVALID"


class CheckpointMalformed(AuditError):
    """The text is not a well-formed signed note or checkpoint."""

    code = "CHECKPOINT_MALFORMED"


class CheckpointSignatureInvalid(AuditError):
    """No signature from a trusted key verifies, or a trusted key's signature fails."""

    code = "CHECKPOINT_SIGNATURE_INVALID"


class ReceiptInvalid(AuditError):
    """A receipt is malformed, not signed by the log key, or its proof does not verify."""

    code = "RECEIPT_INVALID"
