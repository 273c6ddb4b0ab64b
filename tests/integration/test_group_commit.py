"""Group commit on a real store: batches, a failing job among others, cancelled jobs."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.audit.tables import audit_events
from skillmarket.group_commit import GroupCommit


def subjects(database) -> dict[str, int]:
    with database.read() as conn:
        return {r.subject: r.seq for r in conn.execute(sa.select(audit_events))}


def appender(name: str):
    return lambda conn: log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject=name)


@pytest.fixture
def group(database):
    writes = GroupCommit(database)
    commits = []
    sa.event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    yield writes, commits
    writes.close()


def test_jobs_that_wait_together_commit_together(services, database, group):
    writes, commits = group
    release = threading.Event()

    def first(conn):
        release.wait(10)  # holds the writer while the others queue up
        return appender("first")(conn)

    async def main():
        head = asyncio.ensure_future(writes.run(first))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(writes.run(appender(f"job-{i}"))) for i in range(20)]
        await asyncio.sleep(0.05)
        release.set()
        return await head, await asyncio.gather(*rest)

    first_seq, seqs = asyncio.run(main())
    assert len(commits) == 2  # the first job alone, then the twenty in one transaction
    stored = subjects(database)
    assert stored["first"] == first_seq
    assert [stored[f"job-{i}"] for i in range(20)] == seqs == list(range(seqs[0], seqs[0] + 20))
    assert services.audit.verify().events == len(stored)


def test_a_failing_job_fails_alone(services, database, group):
    writes, _commits = group
    release = threading.Event()

    def blocker(conn):
        release.wait(10)
        return appender("blocker")(conn)

    def broken(conn):
        appender("broken")(conn)
        raise ValueError("this job is wrong")

    async def main():
        head = asyncio.ensure_future(writes.run(blocker))
        await asyncio.sleep(0.05)
        jobs = [writes.run(appender("before")), writes.run(broken), writes.run(appender("after"))]
        tasks = [asyncio.ensure_future(j) for j in jobs]
        await asyncio.sleep(0.05)
        release.set()
        await head
        return await asyncio.gather(*tasks, return_exceptions=True)

    before, error, after = asyncio.run(main())
    assert isinstance(error, ValueError) and str(error) == "this job is wrong"
    stored = subjects(database)
    assert "broken" not in stored
    assert stored["before"] == before and stored["after"] == after == before + 1
    assert services.audit.verify().events == len(stored)


def test_close_finishes_what_was_submitted_then_refuses_more(database):
    writes = GroupCommit(database)
    release = threading.Event()

    def slow(conn):
        release.wait(10)
        return appender("slow")(conn)

    async def main():
        tasks = [
            asyncio.ensure_future(writes.run(slow)),
            asyncio.ensure_future(writes.run(appender("queued"))),
        ]
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().run_in_executor(None, writes.close)
        release.set()
        await closing
        done = await asyncio.gather(*tasks)
        with pytest.raises(RuntimeError, match="closed"):
            await writes.run(appender("too late"))
        return done

    asyncio.run(main())
    stored = subjects(database)
    assert {"slow", "queued"} <= set(stored) and "too late" not in stored


def test_a_job_cancelled_before_it_starts_never_runs(database, group):
    writes, _commits = group
    release = threading.Event()

    def blocker(conn):
        release.wait(10)
        return appender("blocker")(conn)

    async def main():
        head = asyncio.ensure_future(writes.run(blocker))
        await asyncio.sleep(0.05)
        dropped = asyncio.ensure_future(writes.run(appender("dropped")))
        await asyncio.sleep(0.05)
        dropped.cancel()
        release.set()
        await head
        kept = await writes.run(appender("kept"))
        return kept

    asyncio.run(main())
    stored = subjects(database)
    assert "kept" in stored and "dropped" not in stored
