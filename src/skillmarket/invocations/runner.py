"""Running sealed and source invocations: each step in turn, fresh sandbox per script step.

The runner works on invocation ids; the in-process queue may also carry the run context the
invoke's transaction already read, which saves reading it again (a queue that crosses processes
would carry the id alone). Before every step it re-verifies the buyer's passport (for the first
step, in the transaction that loads the context: the invoke's, or the runner's own read), so a
revocation ends the invocation as ``terminated`` and nothing after that point runs. Every
step that ran is audited with its type, latency and the hashes of its input and output, and
its metered lines are billed, in the one transaction that finishes the invocation.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from skillmarket.catalog.manifest import LlmStep
from skillmarket.errors import SkillmarketError
from skillmarket.group_commit import GroupCommit
from skillmarket.identity.errors import PassportError
from skillmarket.invocations.metering import ProxyMeter
from skillmarket.invocations.models import InvocationView
from skillmarket.invocations.services import InvocationService, RunContext
from skillmarket.ledger.models import MeteredStep
from skillmarket.ledger.pricing import script_upstream_micros

logger = logging.getLogger(__name__)


class ScriptRunner(Protocol):
    """The sandbox (:class:`skillmarket.runtime.sandbox.ScriptRuntime`)."""

    async def run(
        self,
        runtime: Any,
        code: str,
        input: str,
        *,
        timeout_ms: int | None = ...,
        profile: Any = ...,
        proxy_fetch: Any = ...,
    ) -> Any:
        """Run a script once in a fresh sandbox."""


class LlmRunner(Protocol):
    """The LLM step executor."""

    async def run(
        self, step: Any, system_prompt: str, step_input: str, *, invocation_id: str
    ) -> Any:
        """Run one chat completion and meter it."""


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class BlockingCalls:
    """Runs the invocation path's blocking service calls (database, decryption) on a small
    thread pool of its own: ``loop.run_in_executor`` costs the event loop a fraction of the
    request thread pool's per-call machinery, and request handlers cannot starve it."""

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="skillmarket-invoke")

    async def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on a pool thread."""
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Wait for the calls under way, then stop the threads."""
        self._executor.shutdown(wait=True)


class InvocationRunner:
    """Executes invocations' steps with the sandbox and the LLM executor."""

    def __init__(
        self,
        service: InvocationService,
        scripts: ScriptRunner | None,
        llm: LlmRunner | None,
        proxy_factory: Callable[[RunContext, ProxyMeter], Any] | None = None,
        call: Callable[..., Awaitable[Any]] = run_in_threadpool,
        writes: GroupCommit | None = None,
    ):
        self.service = service
        self.scripts = scripts
        self.llm = llm
        self.proxy_factory = proxy_factory
        self.call = call  # how a blocking service call is made from the event loop
        # Where the run context is read and the finishing transaction goes, if not one
        # transaction each: one thread then does the invocation path's database work.
        self.writes = writes

    async def run(self, invocation_id: str, context: RunContext | None = None) -> InvocationView:
        """Run every step of a ``running`` invocation and finish it (never raises for a step
        failure: the invocation ends with the failure's code; a bug ends it as failed with
        ``INTERNAL_ERROR`` and nothing charged). ``context``, when given, is the one its invoke
        read; otherwise it is read here."""
        try:
            return await self._run(invocation_id, context)
        except Exception:
            logger.exception("invocation %s failed unexpectedly", invocation_id)
            return await self._finish(
                invocation_id,
                "failed",
                None,
                ("INTERNAL_ERROR", "the invocation failed inside the marketplace"),
                [],
                [],
            )

    async def _run(self, invocation_id: str, context: RunContext | None) -> InvocationView:
        if context is None:
            try:
                context = await self._read_context(invocation_id)
            except PassportError as exc:
                return await self._finish(
                    invocation_id, "terminated", None, (exc.code, exc.message), [], []
                )
        text, metered, audited = context.input_text, [], []
        meter = ProxyMeter(context.compute_budget_micros)
        for index, step in enumerate(context.steps):
            meter.start_step(index, metered)
            try:
                if index > 0:  # the first step's check was made with the context
                    await self.call(self.service.check_passport, context)
            except PassportError as exc:
                return await self._finish(
                    invocation_id, "terminated", None, (exc.code, exc.message), metered, audited
                )
            started = time.perf_counter()
            try:
                output, line = await self._run_step(context, meter, index, step, text)
            except SkillmarketError as exc:
                elapsed = int((time.perf_counter() - started) * 1000)
                # What ran is charged: the proxy calls that were answered, the script's runtime.
                metered.extend(meter.lines())
                if step["type"] == "script":
                    metered.append(
                        MeteredStep(
                            step=index,
                            type="script",
                            execution_ms=elapsed,
                            upstream_micros=script_upstream_micros(elapsed),
                        )
                    )
                # A revocation seen by proxy_fetch reaches us through the sandbox with its code.
                revoked = isinstance(exc, PassportError) or exc.code == "PASSPORT_REVOKED"
                status = "terminated" if revoked else "failed"
                return await self._finish(
                    invocation_id, status, None, (exc.code, exc.message), metered, audited
                )
            metered.extend(meter.lines())  # a step's proxy calls are paid before its runtime
            metered.append(line)
            audited.append(
                {
                    "step": index,
                    "type": step["type"],
                    "latency_ms": int((time.perf_counter() - started) * 1000),
                    "input_hash": _hash(text),
                    "output_hash": _hash(output),
                }
            )
            text = output
        return await self._finish(invocation_id, "completed", text, None, metered, audited)

    async def _read_context(self, invocation_id: str) -> RunContext:
        if self.writes is not None:
            return await self.writes.run(lambda conn: self.service.run_context(invocation_id, conn))
        return await self.call(self.service.run_context, invocation_id)

    async def _run_step(
        self, context: RunContext, meter: ProxyMeter, index: int, step: dict[str, Any], text: str
    ) -> tuple[str, MeteredStep]:
        if step["type"] == "script":
            if self.scripts is None:
                raise SkillmarketError(
                    "no script sandbox is configured", code="SANDBOX_UNAVAILABLE"
                )
            proxy = self.proxy_factory(context, meter) if self.proxy_factory else None
            result = await self.scripts.run(
                step["runtime"],
                step["code"],
                text,
                timeout_ms=step.get("timeout_ms"),
                proxy_fetch=proxy,
            )
            ms = int(result.duration_ms)
            return result.output, MeteredStep(
                step=index,
                type="script",
                execution_ms=ms,
                upstream_micros=script_upstream_micros(ms),
            )
        if self.llm is None:
            raise SkillmarketError("no LLM endpoint is configured", code="LLM_ERROR")
        result = await self.llm.run(
            LlmStep.model_validate(step),
            step["system_prompt"],
            text,
            invocation_id=context.invocation_id,
        )
        return result.output, MeteredStep(
            step=index,
            type="llm",
            model=result.model,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            upstream_micros=result.upstream_cost_micros,
        )

    async def _finish(
        self,
        invocation_id: str,
        status: str,
        output: str | None,
        error: tuple[str, str] | None,
        metered: list[MeteredStep],
        audited: list[dict[str, Any]],
    ) -> InvocationView:
        finish = functools.partial(
            self.service.finish,
            invocation_id,
            status=status,
            output_text=output,
            error=error,
            compute=metered,
            steps=audited,
        )
        if self.writes is not None:
            return await self.writes.run(lambda conn: finish(conn=conn))
        return await self.call(finish)


class InProcessQueue:
    """The default queue backend: asyncio tasks in this process, bounded by a semaphore.

    State is in the database, so a crash loses no record (the next start fails and refunds
    what was left running). An invocation id travels with, at most, the run context its
    invoke already read, which stays in this process's memory.
    """

    def __init__(
        self, handler: Callable[[str, RunContext | None], Awaitable[Any]], concurrency: int
    ):
        self.handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def submit(self, invocation_id: str, context: RunContext | None = None) -> asyncio.Task[Any]:
        """Start working on an invocation (once; a second submit returns the same task)."""
        task = self._tasks.get(invocation_id)
        if task is None:
            task = asyncio.create_task(self._work(invocation_id, context))
            self._tasks[invocation_id] = task
            task.add_done_callback(lambda _t: self._tasks.pop(invocation_id, None))
        return task

    async def _work(self, invocation_id: str, context: RunContext | None) -> Any:
        async with self._slots:
            try:
                return await self.handler(invocation_id, context)
            except Exception:  # noqa: BLE001  (logged; the row stays running until recovery)
                logger.exception("invocation %s crashed", invocation_id)
                raise

    def pending(self, invocation_id: str) -> asyncio.Task[Any] | None:
        """The task of an invocation still being worked on here, if any."""
        return self._tasks.get(invocation_id)

    async def close(self) -> None:
        """Wait for the work under way to end."""
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
