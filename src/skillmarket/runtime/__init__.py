"""Skill execution runtime. The script sandbox lives in :mod:`skillmarket.runtime.sandbox`."""

from skillmarket.runtime.errors import (
    ProxyFetchFailed,
    SandboxDied,
    SandboxUnavailable,
    ScriptFailed,
    ScriptForbidden,
    ScriptMemoryExceeded,
    ScriptOutputTooLarge,
    ScriptRuntimeError,
    ScriptTimeout,
)
from skillmarket.runtime.sandbox import (
    FetchRequest,
    FetchResponse,
    ProxyFetch,
    SandboxConfig,
    ScriptResult,
    ScriptRuntime,
)

__all__ = [
    "FetchRequest",
    "FetchResponse",
    "ProxyFetch",
    "ProxyFetchFailed",
    "SandboxConfig",
    "SandboxDied",
    "SandboxUnavailable",
    "ScriptFailed",
    "ScriptForbidden",
    "ScriptMemoryExceeded",
    "ScriptOutputTooLarge",
    "ScriptResult",
    "ScriptRuntime",
    "ScriptRuntimeError",
    "ScriptTimeout",
]
