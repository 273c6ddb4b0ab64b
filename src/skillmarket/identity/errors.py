"""Errors of the identity domain."""

from __future__ import annotations

from skillmarket.errors import Conflict, Forbidden, NotFound, Unauthorized


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
