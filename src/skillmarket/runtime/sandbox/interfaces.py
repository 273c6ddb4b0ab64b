"""Data types of the script runtime: fetch callback contract, results, profiles, settings.

Pure values, no I/O. ``ProxyFetch`` is how the rest of the product plugs in: the credential
proxy, the egress guard and the revocation re-check (``before_fetch``) are all just an async
callable handed to :meth:`ScriptRuntime.run` per invocation.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["javascript", "python"]
ProfileName = Literal["script", "pipeline"]
LANGUAGES: tuple[Language, ...] = ("javascript", "python")

MiB = 1 << 20


@dataclass(frozen=True)
class FetchRequest:
    """An outbound HTTP request a script asked for with ``proxy_fetch(url, {...})``.

    Validated by the runtime before the callback sees it: ``method`` is upper-case letters,
    headers are strings, sizes are bounded. Nothing else about it is trusted.
    """

    url: str
    method: str = "GET"
    service: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class FetchResponse:
    """What the script receives back: ``{status, headers, body}``."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""


ProxyFetch = Callable[[FetchRequest], Awaitable[FetchResponse]]
"""Host callback serving ``proxy_fetch``. Raise a ``SkillmarketError`` (e.g. code
``EGRESS_BLOCKED``) to refuse: the script sees a catchable ``ProxyFetchError`` with that
``code``; left uncaught, the run fails with :class:`ProxyFetchFailed` carrying the same code."""


@dataclass(frozen=True)
class ScriptResult:
    """A successful invocation: the output string and what metering needs."""

    output: str
    language: Language
    duration_ms: float
    cpu_ms: float
    fetch_count: int


@dataclass(frozen=True)
class Profile:
    """Resource limits of one kind of invocation."""

    name: ProfileName
    memory_bytes: int
    default_timeout_ms: int
    max_timeout_ms: int
    cpu_seconds: int | None  # None: the CPU budget equals the wall-clock timeout

    def cpu_budget(self, timeout_ms: int) -> int:
        """Whole CPU seconds allowed for a run with this wall-clock timeout."""
        if self.cpu_seconds is not None:
            return self.cpu_seconds
        return max(1, -(-timeout_ms // 1000))


PROFILES: Mapping[str, Profile] = {
    # Skill scripts (seed "Sandbox guarantees"): 30 s default, up to 60 s per skill, 128 MB.
    "script": Profile("script", 128 * MiB, 30_000, 60_000, None),
    # Agent-built pipeline transforms (seed "Pipeline sandbox"): 50 MB, 5 s CPU.
    "pipeline": Profile("pipeline", 50 * MiB, 5_000, 5_000, 5),
}


@dataclass(frozen=True)
class Limits:
    """The limits one run is started with (resolved from a profile and a timeout)."""

    profile: ProfileName
    timeout_ms: int
    memory_bytes: int
    cpu_seconds: int
    max_output_bytes: int


@dataclass(frozen=True)
class SandboxConfig:
    """Settings of the runtime; every field has a default that works on the reference machine."""

    js_workers: int | None = None
    """JavaScript worker processes; None means one per CPU core, 0 disables JavaScript."""
    python_workers: int | None = None
    """Python zygotes (each runs one child at a time); None means one per core, 0 disables."""
    recycle_after: int = 1000
    """A worker or zygote is replaced after this many runs."""
    max_code_bytes: int = 1 * MiB
    max_input_bytes: int = 8 * MiB
    max_output_bytes: int = 1 * MiB
    max_fetches: int = 50
    """proxy_fetch calls allowed per run; more fail with FETCH_LIMIT inside the script."""
    max_fetch_body_bytes: int = 4 * MiB
    """Largest request or response body crossing proxy_fetch."""
    seccomp_library: str = "libseccomp.so.2"
    min_landlock_abi: int = 1
    """Landlock is mandatory; ABI 4 adds TCP rules and 6 signal scoping when available."""
    allow_unprivileged: bool = False
    """As non-root the uid drop is impossible: refuse (default) or run as the service's uid."""
    bwrap: Literal["off", "auto", "required"] = "auto"
    """Optional namespace layer: wrap workers in bubblewrap (new net/pid/ipc/uts namespaces).
    ``auto`` uses it when it works here, ``required`` refuses to start without it."""
    bwrap_path: str = "bwrap"
    start_timeout_s: float = 10.0

    def frame_limit(self) -> int:
        """Largest channel frame either side accepts: any legal payload, JSON-escaped.

        JSON may spend 6 bytes per character (``\u0001``), so a legal 1 MiB output of control
        characters must still fit; anything larger is a protocol violation.
        """
        payload = max(
            self.max_code_bytes + self.max_input_bytes,
            self.max_output_bytes,
            self.max_fetch_body_bytes,
        )
        return 6 * payload + (1 << 16)

    def workers(self, language: Language) -> int:
        """Resolved pool size for a language."""
        size = self.js_workers if language == "javascript" else self.python_workers
        return os.cpu_count() or 1 if size is None else size
