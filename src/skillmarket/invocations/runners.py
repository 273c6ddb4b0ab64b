"""Which server process runs which invocation, and which of those processes are gone.

Several ``serve`` processes may share one store (PostgreSQL scale-out). Each registers a
runner: its host, pid and a mark of the process (the boot id and the process's start time, so
a pid that another process reuses later does not pass for it), and refreshes a heartbeat
while it lives. A sealed or source invocation records the runner that runs it.

A runner is gone when, on this host, its process no longer exists (or its pid now belongs to
another process), or, on any host, its heartbeat is older than :data:`RUNNER_TIMEOUT`. Only the
invocations of gone runners are failed and refunded, so a server that starts never touches the
work of another one that is alive. "This host" is the host name together with the pid
namespace: containers that share a host name but not their pids only go by heartbeats.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.db import Database, utcnow
from skillmarket.ids import new_id
from skillmarket.invocations.tables import invocation_runners

RUNNER_TIMEOUT = timedelta(seconds=60)  # twelve missed heartbeats at the default sweep


def process_mark(pid: int) -> str | None:
    """The boot id and start time of process ``pid`` (Linux ``/proc``); ``None`` if it is gone."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


def this_host() -> str:
    """This host as runners see it: its name and this process's pid namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"[:255]


def _row(runner_id: str) -> dict[str, object]:
    now = utcnow()
    return {
        "id": runner_id,
        "host": this_host(),
        "pid": os.getpid(),
        "process_mark": process_mark(os.getpid()) or "",
        "started_at": now,
        "heartbeat_at": now,
    }


def register(db: Database) -> str:
    """Register this process as a runner; returns its id."""
    runner_id = new_id("runner")
    with db.write() as conn:
        conn.execute(invocation_runners.insert().values(**_row(runner_id)))
    return runner_id


def heartbeat(db: Database, runner_id: str) -> None:
    """This runner is alive now. A runner that another server took for gone (it missed its
    heartbeats, say while the store was unreachable) registers again."""
    with db.write() as conn:
        moved = conn.execute(
            invocation_runners.update()
            .where(invocation_runners.c.id == runner_id)
            .values(heartbeat_at=utcnow())
        ).rowcount
        if moved == 0:
            conn.execute(invocation_runners.insert().values(**_row(runner_id)))


def unregister(db: Database, runner_id: str) -> None:
    """This runner stops (its invocations are finished)."""
    with db.write() as conn:
        conn.execute(invocation_runners.delete().where(invocation_runners.c.id == runner_id))


def gone(conn: Connection, now: datetime | None = None) -> list[str]:
    """The ids of registered runners that are gone (see the module's docstring)."""
    now = now or utcnow()
    host = this_host()
    found = []
    for row in conn.execute(sa.select(invocation_runners)):
        stale = row.heartbeat_at < now - RUNNER_TIMEOUT
        dead_here = (
            row.host == host
            and bool(row.process_mark)  # without /proc, only the heartbeat tells
            and process_mark(row.pid) != row.process_mark
        )
        if stale or dead_here:
            found.append(row.id)
    return found
