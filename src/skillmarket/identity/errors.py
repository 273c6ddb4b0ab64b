"""Errors of the identity domain.

Passport and trust errors, as the API renders them::

    SkillmarketError
     ├── PassportError                     401  base of every verification failure
     │    ├── PassportMalformed            401  PASSPORT_MALFORMED
     │    ├── PassportSignatureInvalid     401  PASSPORT_SIGNATURE_INVALID
     │    ├── PassportIssuerUntrusted      401  PASSPORT_ISSUER_UNTRUSTED
     │    ├── PassportExpired              401  PASSPORT_EXPIRED
     │    ├── PassportNotYetValid          401  PASSPORT_NOT_YET_VALID
     │    ├── PassportRevoked              401  PASSPORT_REVOKED
     │    └── PassportOwnerMismatch        403  PASSPORT_OWNER_MISMATCH
     ├── Forbidden
     │    └── TrustLevelInsufficient       403  TRUST_LEVEL_INSUFFICIENT
     ├── InvalidInput
     │    ├── PassportClaimInvalid         422  PASSPORT_CLAIM_INVALID
     │    ├── PassportTtlInvalid           422  PASSPORT_TTL_INVALID
     │    ├── PassportOwnerInvalid         422  PASSPORT_OWNER_INVALID
     │    ├── TrustLevelInvalid            422  TRUST_LEVEL_INVALID
     │    └── IssuerJwksInvalid            422  ISSUER_JWKS_INVALID
     ├── NotFound
     │    └── IssuerKeyNotFound            404  ISSUER_KEY_NOT_FOUND
     ├── Conflict
     │    ├── IssuerKeyActive              409  ISSUER_KEY_ACTIVE
     │    └── IssuerAlreadyTrusted         409  ISSUER_ALREADY_TRUSTED
     ├── IssuerKeyringError                500  base of keyring storage failures
          ├── IssuerKeyringCorrupt         500  ISSUER_KEYRING_CORRUPT
          └── IssuerKeyringInsecure        500  ISSUER_KEYRING_INSECURE

Operators and API keys::

     Unauthorized: ApiKeyMissing API_KEY_MISSING, ApiKeyInvalid API_KEY_INVALID,
                   ApiKeyRevoked API_KEY_REVOKED                                   401
     Forbidden:    AdminRequired ADMIN_REQUIRED                                    403
     NotFound:     OperatorNotFound OPERATOR_NOT_FOUND, ApiKeyNotFound API_KEY_NOT_FOUND  404
     Conflict:     OperatorNameTaken OPERATOR_NAME_TAKEN                           409

The verification failures also subclass :class:`~skillmarket.errors.Unauthorized` (or
:class:`~skillmarket.errors.Forbidden` for the owner mismatch), so a handler may catch either the
domain base or the HTTP-flavoured base.
"""

from __future__ import annotations

from skillmarket.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SkillmarketError,
    Unauthorized,
)

# --- passport verification -------------------------------------------------------------------


class PassportError(SkillmarketError):
    """Base of every reason a presented passport is not accepted."""

    code = "PASSPORT_INVALID"
    status = 401


class PassportMalformed(PassportError, Unauthorized):
    """The token is not a well-formed passport (bad JWT structure, header or claims)."""

    code = "PASSPORT_MALFORMED"


class PassportSignatureInvalid(PassportError, Unauthorized):
    """The signature does not match, or the token is not signed with alg ``Ed25519``."""

    code = "PASSPORT_SIGNATURE_INVALID"


class PassportIssuerUntrusted(PassportError, Unauthorized):
    """The issuer, or the issuer's key named by ``kid``, is not trusted here."""

    code = "PASSPORT_ISSUER_UNTRUSTED"


class PassportExpired(PassportError, Unauthorized):
    """The passport's ``exp`` has passed."""

    code = "PASSPORT_EXPIRED"


class PassportNotYetValid(PassportError, Unauthorized):
    """The passport's ``nbf`` (or ``iat``) lies in the future."""

    code = "PASSPORT_NOT_YET_VALID"


class PassportRevoked(PassportError, Unauthorized):
    """The passport was revoked by its issuer."""

    code = "PASSPORT_REVOKED"


class PassportOwnerMismatch(PassportError, Forbidden):
    """The passport belongs to another operator than the caller."""

    code = "PASSPORT_OWNER_MISMATCH"
    status = 403


# --- passport issuance -----------------------------------------------------------------------


class PassportClaimInvalid(InvalidInput):
    """An identity claim to issue has an unknown name or assurance."""

    code = "PASSPORT_CLAIM_INVALID"


class PassportTtlInvalid(InvalidInput):
    """The requested lifetime is not positive or exceeds the maximum."""

    code = "PASSPORT_TTL_INVALID"


class PassportOwnerInvalid(InvalidInput):
    """The owner to issue to is not an operator id."""

    code = "PASSPORT_OWNER_INVALID"


# --- trust levels ----------------------------------------------------------------------------


class TrustLevelInsufficient(Forbidden):
    """The passport lacks the identity claim (or its assurance) the required level needs.

    ``details`` name the gap: ``required_level``, ``missing_claim``, ``required_assurance`` and
    ``held_assurance`` (``None`` when the claim is absent).
    """

    code = "TRUST_LEVEL_INSUFFICIENT"


class TrustLevelInvalid(InvalidInput):
    """A trust level other than ``L0``, ``L1`` or ``L2`` was given."""

    code = "TRUST_LEVEL_INVALID"


# --- issuer keys -----------------------------------------------------------------------------


class IssuerJwksInvalid(InvalidInput):
    """An external issuer's JWKS is not a set of public Ed25519 keys with distinct ``kid``."""

    code = "ISSUER_JWKS_INVALID"


class IssuerKeyNotFound(NotFound):
    """The keyring has no key with that ``kid``."""

    code = "ISSUER_KEY_NOT_FOUND"


class IssuerKeyActive(Conflict):
    """The active signing key cannot be retired; rotate first."""

    code = "ISSUER_KEY_ACTIVE"


class IssuerAlreadyTrusted(Conflict):
    """An issuer with that ``iss`` is already trusted by this verifier."""

    code = "ISSUER_ALREADY_TRUSTED"


class IssuerKeyringError(SkillmarketError):
    """Base of failures to read or write the issuer keyring in the data dir."""

    code = "ISSUER_KEYRING_ERROR"
    status = 500


class IssuerKeyringCorrupt(IssuerKeyringError):
    """The keyring file cannot be parsed or fails its own consistency checks."""

    code = "ISSUER_KEYRING_CORRUPT"


class IssuerKeyringInsecure(IssuerKeyringError):
    """The keyring file is readable or writable by others than its owner (mode not 0600)."""

    code = "ISSUER_KEYRING_INSECURE"


# --- operators and API keys -------------------------------------------------------------------


class ApiKeyMissing(Unauthorized):
    """The request carried no ``Authorization: Bearer`` header."""

    code = "API_KEY_MISSING"


class ApiKeyInvalid(Unauthorized):
    """The bearer key is not one this marketplace issued."""

    code = "API_KEY_INVALID"


class ApiKeyRevoked(Unauthorized):
    """The bearer key was revoked."""

    code = "API_KEY_REVOKED"


class AdminRequired(Forbidden):
    """Only a marketplace admin may do this."""

    code = "ADMIN_REQUIRED"


class OperatorNotFound(NotFound):
    """No operator has that id."""

    code = "OPERATOR_NOT_FOUND"


class OperatorNameTaken(Conflict):
    """Another operator already has that name."""

    code = "OPERATOR_NAME_TAKEN"


class ApiKeyNotFound(NotFound):
    """The calling operator has no key with that id."""

    code = "API_KEY_NOT_FOUND"


class PassportNotFound(NotFound):
    """No passport with that id is registered here for the caller."""

    code = "PASSPORT_NOT_FOUND"


class IssuerNotFound(NotFound):
    """No external issuer with that ``iss`` is trusted."""

    code = "ISSUER_NOT_FOUND"
