"""The invocation engine of one server process: sandbox, LLM executor, egress guard, runner,
queue and the expiry sweeper, started and stopped with the app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from skillmarket.config import Settings
from skillmarket.credentials.services import CredentialService
from skillmarket.db import utcnow
from skillmarket.group_commit import GroupCommit
from skillmarket.invocations import runners
from skillmarket.invocations.proxy import proxy_for
from skillmarket.invocations.runner import BlockingCalls, InProcessQueue, InvocationRunner
from skillmarket.invocations.services import InvocationService
from skillmarket.runtime.egress import EgressGuard
from skillmarket.runtime.sandbox import SandboxConfig, ScriptRuntime
from skillmarket.runtime.steps.llm import LlmStepExecutor

logger = logging.getLogger(__name__)

# How old a running invocation of this process must be before the sweeper takes it for lost
# when no task runs it: far longer than the moment between an invoke's commit and its submit.
ORPHAN_AFTER = timedelta(seconds=60)


class LazyScriptRuntime:
    """The sandbox pool, started on the first script step (a server that only serves open
    and LLM skills never forks a worker)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.runtime = ScriptRuntime(config)
        self._started = False
        self._lock = asyncio.Lock()

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        """Start the pool if needed, then run the script."""
        if not self._started:
            async with self._lock:
                if not self._started:
                    await self.runtime.start()
                    self._started = True
        return await self.runtime.run(*args, **kwargs)

    async def close(self) -> None:
        """Stop the workers, if they were started."""
        if self._started:
            await self.runtime.close()


class Engine:
    """Everything that runs invocations in this process."""

    def __init__(
        self,
        settings: Settings,
        invocations: InvocationService,
        credentials: CredentialService,
        *,
        guard: EgressGuard | None = None,
    ):
        self.settings = settings
        self.invocations = invocations
        self.scripts = LazyScriptRuntime(settings.sandbox_config())
        self.llm = LlmStepExecutor.from_settings(settings)
        # Tests pass a guard that resolves their test host names; production uses the default.
        self.guard = guard or EgressGuard()
        self.call = BlockingCalls(settings.invocation_threads_for(invocations.db.is_sqlite))
        # Invoke and finish transactions of concurrent invocations commit together.
        self.writes = GroupCommit(invocations.db)
        self.runner = InvocationRunner(
            invocations,
            self.scripts,
            self.llm,
            proxy_for(invocations, credentials, self.guard),
            call=self.call,
            writes=self.writes,
        )
        self.queue = InProcessQueue(self.runner.run, settings.invocation_concurrency)
        self._sweeper: asyncio.Task[None] | None = None
        self.runner_id: str | None = None  # set by start()

    async def start(self) -> None:
        """Register this process as a runner, fail and refund what stopped processes left
        running, then start sweeping."""
        self.runner_id = await run_in_threadpool(runners.register, self.invocations.db)
        await self._recover(unassigned=True)
        self._sweeper = asyncio.create_task(self._sweep())

    async def _recover(self, *, unassigned: bool) -> None:
        recover = functools.partial(self.invocations.recover_interrupted, unassigned=unassigned)
        recovered = await run_in_threadpool(recover)
        if recovered:
            logger.warning("failed and refunded %d invocations left running by a stop", recovered)

    async def fail_orphans(self) -> int:
        """Fail and refund this process's ``running`` invocations that no task here runs any
        more, once they are :data:`ORPHAN_AFTER` old; returns how many.

        A run ends in its finishing transaction; one whose task died before that (the store
        unreachable when it finished, a bug) or that never got a task (its request cancelled
        between the invoke's commit and the queue) would otherwise stay ``running``, holding
        the buyer's funds, until this process stops.
        """
        if self.runner_id is None:
            return 0
        older = await run_in_threadpool(
            self.invocations.running_of, self.runner_id, utcnow() - ORPHAN_AFTER
        )
        orphans = [i for i in older if self.queue.pending(i) is None]
        if orphans:
            reason = "the server lost track of its run; nothing was charged"
            await run_in_threadpool(self.invocations.fail_interrupted, orphans, reason)
            logger.warning("failed and refunded %d invocations no task ran", len(orphans))
        return len(orphans)

    async def _sweep(self) -> None:
        """Every sweep interval: the heartbeat, expired open invocations, the invocations of
        server processes that are gone, and this process's own lost ones."""
        while True:
            await asyncio.sleep(self.settings.sweep_interval_seconds)
            try:
                await run_in_threadpool(runners.heartbeat, self.invocations.db, self.runner_id)
                await run_in_threadpool(self.invocations.expire_due)
                await self._recover(unassigned=False)
                await self.fail_orphans()
            except Exception:  # noqa: BLE001  (sweep again later; the failure is logged)
                logger.exception("sweeping expired invocations failed")

    async def stop(self) -> None:
        """Finish the work under way, then release every resource."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.queue.close()
        if self.runner_id is not None:  # everything it ran is finished
            await run_in_threadpool(runners.unregister, self.invocations.db, self.runner_id)
        await self.scripts.close()
        await self.llm.aclose()
        await self.guard.aclose()
        self.call.close()
        self.writes.close()
