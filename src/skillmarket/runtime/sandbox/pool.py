"""A pool of sandbox workers of one language.

Workers are started at :meth:`WorkerPool.start`, handed out one invocation at a time, and
replaced in the background when they die, misbehave, hit an engine limit, or reach
``recycle_after`` runs. If a replacement cannot be started (for example a kernel layer vanished),
the pool fails closed: waiting and later callers get the :class:`SandboxUnavailable` error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from skillmarket.runtime.errors import SandboxUnavailable

log = logging.getLogger(__name__)


class PooledWorker(Protocol):
    """What the pool needs from a worker."""

    runs: int

    @property
    def pid(self) -> int:
        """The worker's process id."""
        ...

    @property
    def alive(self) -> bool:
        """Whether the worker can take another invocation."""
        ...

    async def close(self) -> None:
        """Stop the worker for good."""
        ...


W = TypeVar("W", bound=PooledWorker)


class WorkerPool(Generic[W]):
    """Idle workers in a queue; at most one invocation per worker at a time."""

    def __init__(
        self, name: str, factory: Callable[[], Awaitable[W]], size: int, recycle_after: int
    ):
        self.name = name
        self.factory = factory
        self.size = size
        self.recycle_after = recycle_after
        self.replaced = 0
        self._idle: asyncio.Queue[W | None] = asyncio.Queue()
        self._all: set[W] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: SandboxUnavailable | None = None
        self._closed = False

    async def start(self) -> None:
        """Start every worker; raise (after cleaning up) if any cannot start."""
        results = await asyncio.gather(
            *(self.factory() for _ in range(self.size)), return_exceptions=True
        )
        workers = [r for r in results if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        for worker in workers:
            self._all.add(worker)
            self._idle.put_nowait(worker)
        if errors:
            await self.close()
            raise errors[0]

    async def acquire(self) -> W:
        """Wait for an idle worker."""
        while True:
            if self._failure is not None:
                raise self._failure
            if self._closed:
                raise SandboxUnavailable(f"the {self.name} sandbox pool is closed")
            worker = await self._idle.get()
            if worker is None:  # wake-up sentinel after a failure
                self._idle.put_nowait(None)
                continue
            if worker.alive:
                return worker
            self._retire(worker)

    def release(self, worker: W, *, healthy: bool) -> None:
        """Give a worker back; unhealthy or worn-out workers are replaced."""
        if self._closed:
            self._spawn_task(worker.close())
            return
        if healthy and worker.alive and worker.runs < self.recycle_after:
            self._idle.put_nowait(worker)
        else:
            self._retire(worker)

    def _retire(self, worker: W) -> None:
        self._all.discard(worker)
        self._spawn_task(worker.close())
        self._spawn_task(self._replace())

    def _spawn_task(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self) -> None:
        delay = 0.05
        for attempt in range(4):
            if self._closed:
                return
            try:
                worker = await self.factory()
            except SandboxUnavailable as exc:
                log.error(
                    "cannot replace %s sandbox worker (attempt %d): %s", self.name, attempt + 1, exc
                )
                last: SandboxUnavailable = exc
                await asyncio.sleep(delay)
                delay *= 4
                continue
            if self._closed:
                await worker.close()
                return
            self.replaced += 1
            self._all.add(worker)
            self._idle.put_nowait(worker)
            return
        self._failure = last
        self._idle.put_nowait(None)

    def pids(self) -> list[int]:
        """Process ids of the workers currently in the pool."""
        return [worker.pid for worker in self._all if worker.alive]

    async def close(self) -> None:
        """Stop every worker and background task."""
        self._closed = True
        self._idle.put_nowait(None)
        workers, self._all = list(self._all), set()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
