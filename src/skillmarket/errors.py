"""The one error base of skillmarket.

Every failure a caller can see is a :class:`SkillmarketError` subclass carrying a stable
UPPER_SNAKE ``code``, an HTTP ``status`` and ``details`` (JSON-safe data a caller needs to act).
Each domain package defines its own subclasses in its ``errors.py``; the API renders all of them
in one shape::

    {"error": {"code": "...", "message": "...", "details": {...}}}

Hierarchy::

    SkillmarketError
     ├── NotFound            404
     ├── Unauthorized        401
     ├── Forbidden           403
     ├── Conflict            409
     └── InvalidInput        422   (and the domain-specific validation errors)
"""

from __future__ import annotations

from typing import Any, ClassVar


class SkillmarketError(Exception):
    """Base of every error with a stable code that the API, CLI and MCP server render."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # per-instance override of the class default

    def to_dict(self) -> dict[str, Any]:
        """The error as the public JSON body."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(SkillmarketError):
    """The named thing does not exist, or the caller may not know that it does."""

    code = "NOT_FOUND"
    status = 404


class Unauthorized(SkillmarketError):
    """No valid credentials were presented."""

    code = "UNAUTHORIZED"
    status = 401


class Forbidden(SkillmarketError):
    """The caller is known but may not do this."""

    code = "FORBIDDEN"
    status = 403


class Conflict(SkillmarketError):
    """The request clashes with the current state."""

    code = "CONFLICT"
    status = 409


class InvalidInput(SkillmarketError):
    """The request is well-formed JSON but its content is not acceptable."""

    code = "VALIDATION_ERROR"
    status = 422
