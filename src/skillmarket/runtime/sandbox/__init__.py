"""Sandboxed script runtime: JavaScript (QuickJS) and Python, fresh per invocation.

See docs/sandbox.md for the layers, the interface and the limits.
"""

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
from skillmarket.runtime.sandbox.interfaces import (
    PROFILES,
    FetchRequest,
    FetchResponse,
    Language,
    Limits,
    Profile,
    ProfileName,
    ProxyFetch,
    SandboxConfig,
    ScriptResult,
)
from skillmarket.runtime.sandbox.runtime import ScriptRuntime

__all__ = [
    "PROFILES",
    "FetchRequest",
    "FetchResponse",
    "Language",
    "Limits",
    "Profile",
    "ProfileName",
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
