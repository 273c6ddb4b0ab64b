"""Errors of the invocations domain. Failure codes an invocation can end with are in
:data:`FAILURE_CODES`; the ones raised at the API are the classes below."""

from __future__ import annotations

from skillmarket.errors import Conflict, Forbidden, InvalidInput, NotFound, SkillmarketError


class InvocationNotFound(NotFound):
    """No invocation with that id is visible to the caller."""

    code = "INVOCATION_NOT_FOUND"


class InputSchemaViolation(InvalidInput):
    """The input does not satisfy the skill's input_schema (details name the path)."""

    code = "INPUT_SCHEMA_VIOLATION"


class OutputSchemaViolation(InvalidInput):
    """The output does not satisfy the skill's output_schema (details name the path)."""

    code = "OUTPUT_SCHEMA_VIOLATION"


class NotInvocationPublisher(Forbidden):
    """Only the skill's publisher may claim or complete its open-mode invocations."""

    code = "NOT_INVOCATION_PUBLISHER"


class InvocationNotPending(Conflict):
    """The invocation is not waiting for its publisher (already claimed, done or expired)."""

    code = "INVOCATION_NOT_PENDING"


class InvocationNotFinished(Conflict):
    """The invocation has not completed (yet), so it has no receipt."""

    code = "INVOCATION_NOT_FINISHED"


class InvocationClaimedElsewhere(Conflict):
    """Another claim holds the lease on this invocation."""

    code = "INVOCATION_CLAIMED"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"


class TtlInvalid(InvalidInput):
    """An open-mode TTL outside 1 second to 24 hours."""

    code = "TTL_INVALID"


class ServiceNotDeclared(Forbidden):
    """A script's ``proxy_fetch`` named a service the skill's manifest does not declare."""

    code = "SERVICE_NOT_DECLARED"


class ProxyBudgetExceeded(SkillmarketError):
    """A call with the seller's credential would cost more than what is left of the
    invocation's hold (the buyer's ``max_cost``, or the estimate held at invoke)."""

    code = "PROXY_BUDGET_EXCEEDED"
    status = 402


# How an invocation can end when it does not succeed (the stored ``error_code``).
FAILURE_CODES = (
    "OUTPUT_SCHEMA_VIOLATION",
    "SCRIPT_TIMEOUT",
    "SCRIPT_MEMORY",
    "SCRIPT_ERROR",
    "SCRIPT_FORBIDDEN",
    "SANDBOX_DIED",
    "SANDBOX_UNAVAILABLE",
    "LLM_ERROR",
    "LLM_TIMEOUT",
    "INVOCATION_EXPIRED",
    "PASSPORT_REVOKED",
    "INVOCATION_INTERRUPTED",
    "STEP_OUTPUT_INVALID",
    "SERVICE_NOT_DECLARED",
    "SERVICE_NOT_CONNECTED",
    "PROXY_BUDGET_EXCEEDED",
)
