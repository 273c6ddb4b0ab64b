"""Typed errors of the script runtime.

Every failure of a script invocation is one of these, each with a stable code::

    SkillmarketError
     └── ScriptRuntimeError              (base of this package)
          ├── ScriptTimeout              SCRIPT_TIMEOUT       wall clock or CPU budget spent
          ├── ScriptMemoryExceeded       SCRIPT_MEMORY        memory cap of the profile hit
          ├── ScriptFailed               SCRIPT_ERROR         the script threw (message, line)
          │    └── ScriptOutputTooLarge  SCRIPT_ERROR         output over the size limit
          ├── ScriptForbidden            SCRIPT_FORBIDDEN     blocked: eval, open, import …
          ├── ProxyFetchFailed           <callback's code>    an uncaught proxy_fetch failure
          ├── SandboxDied                SANDBOX_DIED         the worker crashed or broke protocol
          └── SandboxUnavailable         SANDBOX_UNAVAILABLE  a mandatory kernel layer is missing

A :class:`ProxyFetchFailed` carries the code of the error the host callback raised (for example
``EGRESS_BLOCKED``) so that an uncaught egress denial fails the run with that code.
"""

from __future__ import annotations

from typing import Any

from skillmarket.errors import SkillmarketError

__all__ = [
    "ProxyFetchFailed",
    "SandboxDied",
    "SandboxUnavailable",
    "ScriptFailed",
    "ScriptForbidden",
    "ScriptMemoryExceeded",
    "ScriptOutputTooLarge",
    "ScriptRuntimeError",
    "ScriptTimeout",
]


class ScriptRuntimeError(SkillmarketError):
    """Base of every script-runtime failure."""

    code = "SCRIPT_ERROR"
    status = 422


class ScriptTimeout(ScriptRuntimeError):
    """The script ran past its wall-clock timeout or its CPU budget and was stopped."""

    code = "SCRIPT_TIMEOUT"
    status = 408


class ScriptMemoryExceeded(ScriptRuntimeError):
    """The script allocated more memory than its profile allows."""

    code = "SCRIPT_MEMORY"
    status = 422


class ScriptFailed(ScriptRuntimeError):
    """The script threw or raised; ``details`` holds ``error_type``, ``line`` when known."""

    code = "SCRIPT_ERROR"
    status = 422


class ScriptOutputTooLarge(ScriptFailed):
    """The script's output exceeded the output size limit."""


class ScriptForbidden(ScriptRuntimeError):
    """The script attempted an operation the sandbox forbids (eval, files, sockets, processes …)."""

    code = "SCRIPT_FORBIDDEN"
    status = 403


class ProxyFetchFailed(ScriptRuntimeError):
    """A ``proxy_fetch`` call failed and the script did not catch it.

    ``code`` is the code the host callback raised (e.g. ``EGRESS_BLOCKED``), or
    ``PROXY_FETCH_FAILED`` when the callback failed with an untyped exception. The original
    exception is the ``__cause__``.
    """

    code = "PROXY_FETCH_FAILED"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, details=details, code=code)
        if status is not None:
            self.status = status  # type: ignore[misc]  # mirror the callback error's status


class SandboxDied(ScriptRuntimeError):
    """The sandbox process died or broke the protocol; it has been replaced."""

    code = "SANDBOX_DIED"
    status = 500


class SandboxUnavailable(ScriptRuntimeError):
    """A mandatory isolation layer cannot be applied, so the runtime refuses to run scripts."""

    code = "SANDBOX_UNAVAILABLE"
    status = 503
