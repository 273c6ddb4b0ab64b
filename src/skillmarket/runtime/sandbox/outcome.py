"""Turn a worker's outcome (a small dict with a ``kind``) into a result or a typed error.

Pure rules, no I/O; shared by both languages. Outcome kinds: ``ok``, ``timeout``, ``memory``,
``error``, ``type``, ``output_too_large``, ``forbidden``, ``fetch``, ``aborted``, ``died``,
``unavailable``.
"""

from __future__ import annotations

from typing import Any

from skillmarket.errors import SkillmarketError
from skillmarket.runtime.errors import (
    ProxyFetchFailed,
    SandboxDied,
    SandboxUnavailable,
    ScriptFailed,
    ScriptForbidden,
    ScriptMemoryExceeded,
    ScriptOutputTooLarge,
    ScriptTimeout,
)
from skillmarket.runtime.sandbox.bridge import FetchBridge
from skillmarket.runtime.sandbox.interfaces import Language, Limits, ScriptResult


def result_or_raise(
    outcome: dict[str, Any],
    *,
    language: Language,
    limits: Limits,
    duration_ms: float,
    bridge: FetchBridge,
) -> ScriptResult:
    """Return the :class:`ScriptResult` of a successful outcome, else raise its typed error."""
    kind = outcome.get("kind")
    cpu_ms = float(outcome.get("cpu_ms") or 0.0)
    if kind == "ok" and isinstance(outcome.get("output"), str):
        output = outcome["output"]
        if len(output.encode("utf-8", "surrogatepass")) > limits.max_output_bytes:
            raise _too_large(language, limits)
        return ScriptResult(output, language, duration_ms, cpu_ms, bridge.count)
    details: dict[str, Any] = {
        "language": language,
        "duration_ms": round(duration_ms, 3),
        "cpu_ms": cpu_ms,
    }
    if kind in ("timeout", "aborted"):
        details["timeout_ms"] = limits.timeout_ms
        raise ScriptTimeout(f"script exceeded its {limits.timeout_ms} ms timeout", details=details)
    if kind == "memory":
        details["memory_bytes"] = limits.memory_bytes
        raise ScriptMemoryExceeded(
            f"script exceeded its {limits.memory_bytes // (1 << 20)} MB memory limit",
            details=details,
        )
    if kind == "output_too_large":
        raise _too_large(language, limits)
    if kind == "fetch":
        original = bridge.errors.get(_int(outcome.get("fetch_id")))
        if original is not None:
            raise _fetch_failed(original, details) from original
    if kind == "died":
        details["reason"] = str(outcome.get("reason", "unknown"))
        raise SandboxDied(f"the sandbox process died ({details['reason']})", details=details)
    if kind == "unavailable":
        raise SandboxUnavailable(
            str(outcome.get("message")), details={"layer": outcome.get("layer")}
        )
    details.update(error_type=str(outcome.get("name", "Error")), line=outcome.get("line"))
    if outcome.get("reason"):
        details["reason"] = outcome["reason"]
    message = _message(outcome)
    if kind == "forbidden":
        raise ScriptForbidden(message, details=details)
    raise ScriptFailed(message, details=details)


def _message(outcome: dict[str, Any]) -> str:
    name = str(outcome.get("name", "Error"))
    text = str(outcome.get("message", ""))[:2000]
    line = outcome.get("line")
    where = f" (line {line})" if isinstance(line, int) else ""
    return f"{name}: {text}{where}" if text else f"{name}{where}"


def _too_large(language: Language, limits: Limits) -> ScriptOutputTooLarge:
    return ScriptOutputTooLarge(
        f"script output exceeds {limits.max_output_bytes} bytes",
        details={
            "language": language,
            "reason": "output_too_large",
            "limit_bytes": limits.max_output_bytes,
        },
    )


def _fetch_failed(original: BaseException, details: dict[str, Any]) -> ProxyFetchFailed:
    if isinstance(original, SkillmarketError):
        return ProxyFetchFailed(
            original.message,
            details={**details, **original.details},
            code=original.code,
            status=original.status,
        )
    return ProxyFetchFailed("proxy_fetch failed", details=details)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
