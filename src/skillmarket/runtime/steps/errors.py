"""Errors of the step executors.

Hierarchy::

    SkillmarketError
     ├── LlmError                  LLM_ERROR               502  the upstream refused or failed
     │    ├── LlmTimeout           LLM_TIMEOUT             504  no answer within the step's timeout
     │    ├── LlmUsageMissing      LLM_USAGE_MISSING       502  an answer without token counts
     │    ├── LlmResponseInvalid   LLM_RESPONSE_INVALID    502  not JSON, no choices, empty content
     │    └── LlmModelUnpriced     LLM_MODEL_UNPRICED      502  no upstream cost and no table price
     └── LlmPriceTableInvalid      LLM_PRICE_TABLE_INVALID 500  the price table file is unusable

``except LlmError`` catches every failure of an LLM step. ``details`` never carries the system
prompt, the step input or the upstream's answer text: only metadata (model, status, attempts).
"""

from __future__ import annotations

from skillmarket.errors import SkillmarketError


class LlmError(SkillmarketError):
    """The upstream chat-completions endpoint answered with an error status or was unreachable.

    ``details.upstream_status`` is the HTTP status (``None`` when the connection failed) and
    ``details.upstream_code`` the upstream's short error code when it sent a safe one.
    """

    code = "LLM_ERROR"
    status = 502


class LlmTimeout(LlmError):
    """The step did not finish within its timeout (retries and back-off included)."""

    code = "LLM_TIMEOUT"
    status = 504


class LlmUsageMissing(LlmError):
    """The upstream answered without a usable ``usage`` block, so the step cannot be metered.

    The step fails closed rather than guess a cost; ``details.response_id`` lets an operator
    reconcile it with the upstream's own records.
    """

    code = "LLM_USAGE_MISSING"


class LlmResponseInvalid(LlmError):
    """The upstream's answer is not a chat completion: malformed JSON, no choices, no content."""

    code = "LLM_RESPONSE_INVALID"


class LlmModelUnpriced(LlmError):
    """The upstream reported no cost and the price table has no entry for the model."""

    code = "LLM_MODEL_UNPRICED"


class LlmPriceTableInvalid(SkillmarketError):
    """The price table file cannot be read or does not have the documented shape."""

    code = "LLM_PRICE_TABLE_INVALID"
    status = 500
