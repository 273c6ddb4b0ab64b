"""Run one LLM step against an OpenAI-compatible chat-completions endpoint, and meter it.

How a step runs (see docs/llm-steps.md):

1. The decrypted system prompt is the system message, the step input the user message; the
   step's ``model``, ``temperature`` and ``max_tokens`` are sent as they are, ``user`` carries
   the end user (or the invocation id) and a header carries the invocation id.
2. One ``POST {base_url}/chat/completions`` through the official ``openai`` client, with the
   client's own retries off. A 429 or 5xx is retried at most once after a short back-off;
   other statuses never are. The whole step, back-off included, has one timeout.
3. The answer is parsed strictly: JSON with a choice whose content is text, and a ``usage``
   block with integer token counts. A missing usage block fails the step (fail closed).
4. The cost is the upstream-reported ``usage.cost`` when there is one (OpenRouter always sends
   it), else the price table's; integer micro-dollars, rounded up. No markup here.

Nothing here logs or raises the system prompt, the step input or the model's answer: log lines
and error details carry metadata only (model, status, token counts, cost, timings).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import openai
from pydantic import SecretStr

from skillmarket.catalog.manifest import LlmStep
from skillmarket.config import Settings
from skillmarket.runtime.steps.errors import (
    LlmError,
    LlmModelUnpriced,
    LlmResponseInvalid,
    LlmTimeout,
    LlmUsageMissing,
)
from skillmarket.runtime.steps.pricing import PriceTable, upstream_cost_micros

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
INVOCATION_HEADER = "X-Skillmarket-Invocation-Id"
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
# Never forward OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment to another provider.
_NO_OPENAI_ACCOUNT_HEADERS = {"OpenAI-Organization": openai.omit, "OpenAI-Project": openai.omit}


@dataclass(frozen=True)
class LlmStepResult:
    """What one LLM step produced and what it cost upstream (integer micro-dollars)."""

    output: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    upstream_cost_micros: int
    latency_ms: int
    cost_source: Literal["upstream", "table"]
    attempts: int = 1
    response_id: str | None = None
    upstream_model: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class ParsedCompletion:
    """The parts of a chat-completion body that a step needs."""

    output: str
    prompt_tokens: int
    completion_tokens: int
    upstream_cost_micros: int | None
    response_id: str | None
    upstream_model: str | None
    finish_reason: str | None


class LlmStepExecutor:
    """Runs LLM steps through one ``openai.AsyncOpenAI`` client; close it with :meth:`aclose`.

    Use it as ``async with LlmStepExecutor.from_settings(settings) as executor: ...`` within
    one event loop. Concurrent :meth:`run` calls share the client's connection pool.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | SecretStr | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 1,
        retry_backoff_seconds: float = 0.5,
        price_table: PriceTable | None = None,
    ):
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if max_retries not in (0, 1):
            raise ValueError("max_retries is 0 or 1")
        if retry_backoff_seconds < 0:
            raise ValueError("retry_backoff_seconds cannot be negative")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self.base_url = base_url
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.retry_backoff_seconds = retry_backoff_seconds
        self.price_table = price_table or PriceTable()
        self._has_key = bool(key)
        self._headers: dict[str, Any] = dict(_NO_OPENAI_ACCOUNT_HEADERS)
        if not key:
            # The client insists on a key; without one we send no Authorization header at all.
            self._headers["Authorization"] = openai.omit
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key or "unused",
            timeout=timeout_seconds,
            max_retries=0,  # retries are ours: at most one, on 429 and 5xx only
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, price_table: PriceTable | None = None
    ) -> LlmStepExecutor:
        """An executor configured by the ``SKILLMARKET_LLM_*`` settings."""
        if price_table is None:
            path = settings.llm_price_table_path
            price_table = PriceTable.from_file(path) if path else PriceTable()
        return cls(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            retry_backoff_seconds=settings.llm_retry_backoff_seconds,
            price_table=price_table,
        )

    async def run(
        self,
        step: LlmStep,
        system_prompt: str,
        step_input: str,
        *,
        invocation_id: str,
        end_user: str | None = None,
        timeout_seconds: float | None = None,
    ) -> LlmStepResult:
        """Run ``step`` on ``step_input`` with the plaintext ``system_prompt``; meter it.

        ``end_user`` goes upstream as ``user`` (default: the invocation id), ``timeout_seconds``
        caps this call below the executor's timeout (e.g. what is left of an invocation's).
        Raises an :class:`LlmError` subclass on every failure.
        """
        timeout = self.timeout_seconds
        if timeout_seconds is not None:
            timeout = max(min(timeout_seconds, timeout), 0.0)
        meta: dict[str, Any] = {"model": step.model, "invocation_id": invocation_id}
        messages = [{"role": "user", "content": step_input}]
        if system_prompt:
            messages.insert(0, {"role": "system", "content": system_prompt})
        request: dict[str, Any] = {
            "model": step.model,
            "messages": messages,
            "temperature": step.temperature,
            "user": end_user or invocation_id,
            "extra_headers": {**self._headers, INVOCATION_HEADER: invocation_id},
        }
        if step.max_tokens is not None:
            request["max_tokens"] = step.max_tokens
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                body, attempts = await self._post(request, meta, timeout)
        except TimeoutError:
            raise self._timeout(meta, timeout) from None
        meta["attempts"] = attempts
        parsed = parse_completion(body, meta=meta)
        result = self._metered(step, parsed, meta, started)
        log.debug(
            "llm step done: invocation=%s model=%s prompt_tokens=%d completion_tokens=%d "
            "cost_micros=%d source=%s attempts=%d latency_ms=%d",
            invocation_id,
            step.model,
            result.prompt_tokens,
            result.completion_tokens,
            result.upstream_cost_micros,
            result.cost_source,
            attempts,
            result.latency_ms,
        )
        return result

    async def _post(
        self, request: dict[str, Any], meta: dict[str, Any], timeout: float
    ) -> tuple[bytes, int]:
        """POST the request; retry once on 429/5xx; return the raw body and the attempt count."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = max(deadline - time.monotonic(), 0.001)
            try:
                raw = await self._client.chat.completions.with_raw_response.create(
                    **request, timeout=remaining
                )
                return raw.content, attempt
            except openai.APIStatusError as exc:
                time_left = deadline - time.monotonic() > self.retry_backoff_seconds
                if attempt <= self.max_retries and _retryable(exc.status_code) and time_left:
                    log.warning(
                        "llm call failed, retrying: invocation=%s model=%s status=%d",
                        meta["invocation_id"],
                        meta["model"],
                        exc.status_code,
                    )
                    await asyncio.sleep(self.retry_backoff_seconds)
                    continue
                raise self._status_error(exc, meta, attempt) from None
            except openai.APITimeoutError:
                raise self._timeout(meta, timeout) from None
            except openai.APIConnectionError as exc:
                log.warning(
                    "llm call failed: invocation=%s model=%s cannot connect (%s)",
                    meta["invocation_id"],
                    meta["model"],
                    type(exc.__cause__ or exc).__name__,
                )
                raise LlmError(
                    "cannot reach the LLM upstream",
                    details={**meta, "upstream_status": None, "attempts": attempt},
                ) from None
            except openai.OpenAIError as exc:  # anything else the client may raise
                raise LlmError(
                    f"the LLM call failed ({type(exc).__name__})",
                    details={**meta, "upstream_status": None, "attempts": attempt},
                ) from None

    def _status_error(
        self, exc: openai.APIStatusError, meta: dict[str, Any], attempts: int
    ) -> LlmError:
        # The upstream's message is not passed on: some providers quote the request in it.
        details = {**meta, "upstream_status": exc.status_code, "attempts": attempts}
        details.update(_safe_error_fields(exc.body))
        log.warning(
            "llm call failed: invocation=%s model=%s status=%d code=%s",
            meta["invocation_id"],
            meta["model"],
            exc.status_code,
            details["upstream_code"],
        )
        hint = " (no API key is configured)" if exc.status_code == 401 and not self._has_key else ""
        return LlmError(f"the LLM upstream answered HTTP {exc.status_code}{hint}", details=details)

    @staticmethod
    def _timeout(meta: dict[str, Any], timeout: float) -> LlmTimeout:
        log.warning(
            "llm call timed out: invocation=%s model=%s after %.3gs",
            meta["invocation_id"],
            meta["model"],
            timeout,
        )
        return LlmTimeout(
            f"the LLM step did not finish within {timeout:g}s",
            details={**meta, "timeout_seconds": timeout},
        )

    def _metered(
        self, step: LlmStep, parsed: ParsedCompletion, meta: dict[str, Any], started: float
    ) -> LlmStepResult:
        cost = parsed.upstream_cost_micros
        source: Literal["upstream", "table"] = "upstream"
        if cost is None:
            source = "table"
            price = self.price_table.get(step.model)
            if price is None:
                raise LlmModelUnpriced(
                    f"model {step.model!r} has no price and the upstream reported no cost",
                    details={**meta, "response_id": parsed.response_id},
                )
            cost = price.cost_micros(parsed.prompt_tokens, parsed.completion_tokens)
        elif cost == 0 and parsed.prompt_tokens + parsed.completion_tokens > 0:
            log.warning("llm upstream reported cost 0 for a call with tokens: model=%s", step.model)
        return LlmStepResult(
            output=parsed.output,
            model=step.model,
            prompt_tokens=parsed.prompt_tokens,
            completion_tokens=parsed.completion_tokens,
            upstream_cost_micros=cost,
            latency_ms=round((time.perf_counter() - started) * 1000),
            cost_source=source,
            attempts=meta["attempts"],
            response_id=parsed.response_id,
            upstream_model=parsed.upstream_model,
            finish_reason=parsed.finish_reason,
        )

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._client.close()

    async def __aenter__(self) -> LlmStepExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def parse_completion(body: bytes, *, meta: dict[str, Any] | None = None) -> ParsedCompletion:
    """Parse a chat-completion body strictly (pure); ``meta`` is added to error details.

    Checks, in order: 1. JSON object; 2. not an error object; 3. a first choice with text
    content; 4. a usage block with integer token counts; 5. a well-formed cost if reported.
    """
    meta = meta or {}
    # 1. Decimals, not floats, so a reported cost converts exactly.
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("the LLM upstream's answer is not JSON", "malformed_json", meta) from None
    if not isinstance(data, dict):
        raise _invalid("the LLM upstream's answer is not a JSON object", "not_an_object", meta)
    # 2. OpenRouter may report a provider failure in a 200 body.
    if "error" in data and not data.get("choices"):
        details = {**meta, "upstream_status": 200, **_safe_error_fields(data["error"])}
        raise LlmError("the LLM upstream reported an error", details=details)
    # 3. The answer text.
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _invalid("the LLM upstream's answer has no choices", "no_choices", meta)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content:
        raise _invalid("the LLM upstream's answer has no content", "empty_content", meta)
    # 4. Token counts: without them the step cannot be metered, so it fails closed.
    usage = data.get("usage")
    tokens = _token_counts(usage)
    response_id = _str_or_none(data.get("id"))
    if tokens is None:
        raise LlmUsageMissing(
            "the LLM upstream's answer has no usage block, so it cannot be metered",
            details={**meta, "response_id": response_id},
        )
    # 5. The upstream's own cost, when it reports one.
    try:
        cost = upstream_cost_micros(usage)
    except ValueError:
        raise _invalid(
            "the LLM upstream reported an unreadable cost", "invalid_cost", meta
        ) from None
    finish = choices[0].get("finish_reason")
    return ParsedCompletion(
        output=content,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        upstream_cost_micros=cost,
        response_id=response_id,
        upstream_model=_str_or_none(data.get("model")),
        finish_reason=_str_or_none(finish),
    )


def _token_counts(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    if all(type(n) is int and n >= 0 for n in counts):
        return counts  # type: ignore[return-value]  # checked just above
    return None


def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _safe_error_fields(error: Any) -> dict[str, str | None]:
    """The upstream error's ``code`` and ``type`` when they are short identifiers, else None."""
    fields: dict[str, str | None] = {"upstream_code": None, "upstream_type": None}
    if isinstance(error, dict):
        for key in ("code", "type"):
            value = error.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                text = str(value)
                if _SAFE_TOKEN.match(text):
                    fields[f"upstream_{key}"] = text
    return fields


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _invalid(message: str, reason: str, meta: dict[str, Any]) -> LlmResponseInvalid:
    return LlmResponseInvalid(message, details={**meta, "reason": reason})


__all__ = [
    "DEFAULT_BASE_URL",
    "LlmStepExecutor",
    "LlmStepResult",
    "ParsedCompletion",
    "parse_completion",
]
