"""The public entry point: :class:`ScriptRuntime`.

Usage from an asyncio server::

    runtime = ScriptRuntime(SandboxConfig())
    await runtime.start()            # raises SandboxUnavailable if a mandatory layer is missing
    result = await runtime.run("python", code, input_json, timeout_ms=30_000, proxy_fetch=fetch)
    await runtime.close()

Each call gets a fresh sandbox (a new QuickJS context, or a newly forked Python child) inside a
worker process that the kernel has already locked down; see docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from skillmarket.errors import InvalidInput
from skillmarket.runtime.errors import SandboxUnavailable
from skillmarket.runtime.sandbox import _lockdown
from skillmarket.runtime.sandbox.bridge import FetchBridge
from skillmarket.runtime.sandbox.interfaces import (
    LANGUAGES,
    PROFILES,
    Language,
    Limits,
    ProfileName,
    ProxyFetch,
    SandboxConfig,
    ScriptResult,
)
from skillmarket.runtime.sandbox.js_host import JsWorker
from skillmarket.runtime.sandbox.outcome import result_or_raise
from skillmarket.runtime.sandbox.pool import WorkerPool
from skillmarket.runtime.sandbox.process import resolve_bwrap
from skillmarket.runtime.sandbox.py_host import Zygote


class ScriptRuntime:
    """Runs untrusted JavaScript and Python skill scripts in sandboxes, from asyncio."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._pools: dict[str, WorkerPool[Any]] = {}
        self._started = False

    async def start(self) -> None:
        """Check the mandatory kernel layers and start the worker pools.

        Raises :class:`SandboxUnavailable` naming every missing layer (fail closed).
        """
        problems = _lockdown.probe(
            self.config.seccomp_library,
            self.config.min_landlock_abi,
            self.config.allow_unprivileged,
        )
        if problems:
            raise SandboxUnavailable(
                "sandbox layers unavailable: " + "; ".join(problems), details={"problems": problems}
            )
        config = self.config = await resolve_bwrap(self.config)
        factories = {
            "javascript": lambda: JsWorker.start(config),
            "python": lambda: Zygote.start(config),
        }
        pools = {
            language: WorkerPool(
                language, factories[language], config.workers(language), config.recycle_after
            )
            for language in LANGUAGES
            if config.workers(language) > 0
        }
        try:
            await asyncio.gather(*(pool.start() for pool in pools.values()))
        except BaseException:
            await asyncio.gather(*(pool.close() for pool in pools.values()), return_exceptions=True)
            raise
        self._pools = dict(pools)
        self._started = True

    async def run(
        self,
        runtime: Language,
        code: str,
        input: str,  # noqa: A002 — the name scripts see
        *,
        timeout_ms: int | None = None,
        profile: ProfileName = "script",
        proxy_fetch: ProxyFetch | None = None,
    ) -> ScriptResult:
        """Run ``code`` once in a fresh sandbox and return its output.

        ``runtime`` is ``"javascript"`` (code is an async function body returning a string) or
        ``"python"`` (code reads ``input`` and sets ``output``). ``timeout_ms`` defaults to the
        profile's default and may not exceed its maximum. Raises the typed errors of
        :mod:`skillmarket.runtime.errors`, or ``InvalidInput`` for bad arguments.
        """
        limits = self.limits(runtime, code, input, timeout_ms=timeout_ms, profile=profile)
        pool = self._pools.get(runtime)
        if pool is None:
            raise SandboxUnavailable(
                f"the {runtime} sandbox is not running", details={"language": runtime}
            )
        bridge = FetchBridge(
            proxy_fetch,
            max_fetches=self.config.max_fetches,
            max_body=self.config.max_fetch_body_bytes,
        )
        worker = await pool.acquire()
        healthy = False
        started = time.perf_counter()
        try:
            outcome = await worker.run(code, input, limits, bridge)
            healthy = not outcome.get("recycle") and outcome.get("kind") != "died"
        finally:
            pool.release(worker, healthy=healthy)  # cancelled or crashed: the worker is replaced
        duration_ms = (time.perf_counter() - started) * 1000
        return result_or_raise(
            outcome, language=runtime, limits=limits, duration_ms=duration_ms, bridge=bridge
        )

    def limits(
        self,
        runtime: str,
        code: str,
        input: str,
        *,
        timeout_ms: int | None,
        profile: str,  # noqa: A002
    ) -> Limits:
        """Validate the arguments of :meth:`run` and resolve the limits of the run."""
        if runtime not in LANGUAGES:
            raise InvalidInput(
                f"runtime must be one of {', '.join(LANGUAGES)}", details={"runtime": runtime}
            )
        spec = PROFILES.get(profile)
        if spec is None:
            raise InvalidInput(
                f"profile must be one of {', '.join(PROFILES)}", details={"profile": profile}
            )
        timeout = spec.default_timeout_ms if timeout_ms is None else timeout_ms
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int)
            or not 1 <= timeout <= spec.max_timeout_ms
        ):
            raise InvalidInput(
                f"timeout_ms must be between 1 and {spec.max_timeout_ms} for the {profile} profile",
                details={"timeout_ms": timeout_ms},
            )
        if (
            not isinstance(code, str)
            or len(code.encode("utf-8", "surrogatepass")) > self.config.max_code_bytes
        ):
            raise InvalidInput(
                f"code must be a string of at most {self.config.max_code_bytes} bytes"
            )
        if (
            not isinstance(input, str)
            or len(input.encode("utf-8", "surrogatepass")) > self.config.max_input_bytes
        ):
            raise InvalidInput(
                f"input must be a string of at most {self.config.max_input_bytes} bytes"
            )
        return Limits(
            profile=spec.name,
            timeout_ms=timeout,
            memory_bytes=spec.memory_bytes,
            cpu_seconds=spec.cpu_budget(timeout),
            max_output_bytes=self.config.max_output_bytes,
        )

    def stats(self) -> dict[str, dict[str, int]]:
        """Pool sizes and replacement counts, per language (for health pages and tests)."""
        return {
            name: {"size": pool.size, "replaced": pool.replaced}
            for name, pool in self._pools.items()
        }

    def worker_pids(self) -> dict[str, list[int]]:
        """Process ids of the live workers (JS workers, Python zygotes), per language.

        With the bubblewrap layer on, these are the ``bwrap`` processes wrapping them.
        """
        return {name: sorted(pool.pids()) for name, pool in self._pools.items()}

    async def close(self) -> None:
        """Stop every worker. Safe to call twice."""
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(pool.close() for pool in pools), return_exceptions=True)

    async def __aenter__(self) -> ScriptRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
