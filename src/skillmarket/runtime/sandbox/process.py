"""Starting and stopping sandbox worker processes (shared by the JS worker and the zygote).

A worker is ``sys.executable -I -S <worker script> CONFIG_JSON`` with an empty environment,
stdin/stdout/stderr on /dev/null, its own session, and exactly one extra fd: its channel. With
``bwrap`` enabled the command is prefixed by bubblewrap, adding empty network, PID, IPC and UTS
namespaces (an optional layer; the mandatory ones are applied inside the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import select
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from skillmarket.runtime.errors import SandboxUnavailable
from skillmarket.runtime.sandbox.interfaces import SandboxConfig

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


def bwrap_prefix(config: SandboxConfig) -> list[str]:
    """The bubblewrap command prefix in force, or ``[]`` when the layer is off or unavailable."""
    if config.bwrap == "off":
        return []
    path = shutil.which(config.bwrap_path)
    if path is None:
        if config.bwrap == "required":
            raise SandboxUnavailable(
                "bwrap: bubblewrap is required by configuration but not installed "
                "(apt install bubblewrap)",
                details={"layer": "bwrap"},
            )
        return []
    # No user namespace: as root bwrap is privileged already, and the worker must still be
    # able to drop to uid nobody inside (a user namespace maps only one uid). The file system
    # is the host's, read-only: Landlock denies every access anyway, and hiding paths such as
    # /tmp would only break interpreters installed there.
    return [
        path,
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--",
    ]


async def resolve_bwrap(config: SandboxConfig) -> SandboxConfig:
    """Decide the optional namespace layer once: ``auto`` becomes ``required`` or ``off``.

    ``auto`` tries ``bwrap … /bin/true``; if bubblewrap is missing or cannot create the
    namespaces here (e.g. inside an unprivileged container) the layer is skipped with a log
    line. ``required`` fails closed instead.
    """
    if config.bwrap == "off":
        return config
    prefix = bwrap_prefix(config)
    ok = False
    if prefix:
        process = await asyncio.create_subprocess_exec(
            *prefix, "/bin/true", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        ok = await process.wait() == 0
    if ok:
        return dataclasses.replace(config, bwrap="required")
    if config.bwrap == "required":
        raise SandboxUnavailable(
            "bwrap: bubblewrap cannot create namespaces here", details={"layer": "bwrap"}
        )
    log.warning("optional namespace layer (bubblewrap) unavailable; running without it")
    return dataclasses.replace(config, bwrap="off")


class WorkerProcess:
    """A started worker process and the host end of its channel socket."""

    def __init__(self, process: asyncio.subprocess.Process, sock: socket.socket):
        self.process = process
        self.sock = sock
        # A pidfd turns readable the moment the process exits, before asyncio reaps it and
        # sets ``returncode``: how a worker killed while idle is noticed before a run is sent.
        self._pidfd = os.pidfd_open(process.pid)

    @property
    def exited(self) -> bool:
        """Whether the process has exited (reaped or not)."""
        if self._pidfd < 0:
            return True
        return bool(select.select([self._pidfd], [], [], 0)[0])

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    async def kill(self) -> None:
        """SIGKILL the process (it and its sandboxes die) and reap it."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
        self.sock.close()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


async def start_worker(
    script: str, config: SandboxConfig, settings: dict[str, Any], sock_type: int
) -> WorkerProcess:
    """Start ``script`` with a fresh socketpair of ``sock_type``; the child's end is passed."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, sock_type)
    theirs.set_inheritable(True)
    payload = {
        **settings,
        "channel_fd": theirs.fileno(),
        "seccomp_library": config.seccomp_library,
        "min_landlock_abi": max(1, config.min_landlock_abi),
        "allow_unprivileged": config.allow_unprivileged,
    }
    command = [
        *bwrap_prefix(config),
        sys.executable,
        "-I",
        "-S",
        str(HERE / script),
        json.dumps(payload),
    ]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            pass_fds=(theirs.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={},
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        raise SandboxUnavailable(f"cannot start sandbox worker: {exc}") from exc
    finally:
        theirs.close()
    return WorkerProcess(process, ours)
