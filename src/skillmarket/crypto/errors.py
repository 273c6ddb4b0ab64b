"""Errors of the crypto package."""

from __future__ import annotations

from skillmarket.errors import InvalidInput, SkillmarketError


class KeyStoreError(SkillmarketError):
    """A key file in the data dir is missing, unreadable, insecure or corrupt."""

    code = "KEY_STORE_ERROR"
    status = 500


class SealedValueInvalid(InvalidInput):
    """An ``enc_v1_`` value is not a well-formed HPKE ciphertext, or does not open."""

    code = "SEALED_VALUE_INVALID"


class DecryptionFailed(SkillmarketError):
    """Stored ciphertext does not open under its key and context (tampered or wrong key)."""

    code = "DECRYPTION_FAILED"
    status = 500
