"""Group commit: many callers' write jobs in shared transactions.

A job is a function of a connection that does one use case's writes (and may read) inside the
transaction it is given, and returns its answer. One writer thread takes every job that is
waiting, runs them one after the other in one transaction and commits once, so the fixed cost
of a transaction — BEGIN, the audit log's head lock and flush, the commit's page writes — is
shared by the whole batch. Under light load a batch is one job and nothing waits for company.

A job that raises rolls back its whole batch; the batch's jobs then run again, one transaction
each, so every job gets its own answer or its own error and nothing half-written stays. Jobs
must therefore do nothing outside the transaction that cannot be done twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from skillmarket.db import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], Any]
_STOP = object()


class GroupCommit:
    """A writer thread that runs write jobs in batches (see the module's docstring)."""

    def __init__(self, db: Database, *, max_batch: int = 64) -> None:
        self.db = db
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(
            target=self._work, name="skillmarket-group-commit", daemon=True
        )
        self._thread.start()

    async def run(self, job: Callable[[Connection], T]) -> T:
        """Run ``job`` in the next batch; its answer, or the error it raised."""
        if self._closed:
            raise RuntimeError("the group commit is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Finish the jobs already submitted, then stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        self._thread.join()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._jobs.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
            if batch:
                self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Job, concurrent.futures.Future[Any]]]) -> None:
        # A job whose caller gave up before it started (a cancelled request) is dropped; once
        # running, its future cannot be cancelled, so its answer can always be delivered.
        batch = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        if len(batch) > 1:
            try:
                with self.db.write() as conn:
                    answers = [job(conn) for job, _future in batch]
            except BaseException:  # noqa: BLE001  (each job runs again alone, gets its own error)
                pass
            else:
                for (_job, future), answer in zip(batch, answers, strict=True):
                    future.set_result(answer)
                return
        for job, future in batch:
            try:
                with self.db.write() as conn:
                    answer = job(conn)
            except BaseException as exc:  # noqa: BLE001  (handed to the job's caller)
                future.set_exception(exc)
            else:
                future.set_result(answer)
