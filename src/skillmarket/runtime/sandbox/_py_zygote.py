"""Python zygote: a warm interpreter that forks one fresh, locked-down child per invocation
(started by the host as ``python -I -S _py_zygote.py CONFIG_JSON``).

Start-up pre-imports the allowed standard library, builds the seccomp filter once, reads the
Landlock ABI, and proves with a trial child that every layer applies (fail closed). Then, per
``run`` control message (a SOCK_SEQPACKET message carrying the child's socket via SCM_RIGHTS):

1. fork; the child calls ``_lockdown.lock_down`` and only then reads the script (``_py_child``);
2. the zygote watches the child's pidfd and the control socket together, so it can ``SIGKILL``
   the child when the host asks (wall-clock timeout) while never leaving control messages
   unread (reference/sandbox.md §7.8);
3. after ``wait4`` it reports the exit status, CPU time and peak RSS.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys

_SETUP_MODULES = (
    "ctypes",
    "_ctypes",
    "ctypes._endian",
    "socket",
    "_socket",
    "select",
    "signal",
    "resource",
    "_lockdown",
    "_py_zygote",
    "gc",
)


class Zygote:
    """Fork server state: control socket, prebuilt seccomp filter, Landlock ABI, settings."""

    def __init__(self, lockdown, child, ctl: socket.socket, config: dict):
        self.lockdown = lockdown
        self.child = child
        self.ctl = ctl
        self.config = config
        self.seccomp = lockdown.SeccompFilter(config["seccomp_library"])
        self.abi = lockdown.landlock_abi()
        lockdown.null_stdio()  # once here, so children skip it
        self.base_address_space = lockdown.current_address_space()
        self.forks = 0
        if self.abi < config["min_landlock_abi"]:
            raise lockdown.LockdownError(
                "landlock", f"kernel ABI {self.abi} < required {config['min_landlock_abi']}"
            )

    def send(self, message: dict) -> None:
        """One control message to the host."""
        self.ctl.sendall(json.dumps(message).encode())

    def fork_child(self, fd: int, memory_bytes: int, cpu_seconds: int, max_frame: int) -> int:
        """Fork a child that locks down on ``fd`` and then runs the script it reads there."""
        parent = os.getpid()
        self.forks += 1
        if self.forks % 64 == 0:  # keep the memory base in step with the zygote's own size
            self.base_address_space = self.lockdown.current_address_space()
        pid = os.fork()
        if pid:
            return pid
        status = 0
        try:
            self.ctl.close()
            fd = self.lockdown.lock_down(
                channel_fd=fd,
                seccomp=self.seccomp,
                abi=self.abi,
                memory_bytes=memory_bytes,
                cpu_seconds=cpu_seconds,
                parent_pid=parent,
                allow_unprivileged=self.config["allow_unprivileged"],
                base_address_space=self.base_address_space,
                stdio_ready=True,
            )
            for name in _SETUP_MODULES:
                sys.modules.pop(name, None)  # cosmetic: the kernel layers hold regardless (§7.15)
            self.child.execute(fd, max_frame)
        except self.lockdown.LockdownError as exc:
            self.child.Channel(fd, max_frame).send(
                {"type": "fatal", "layer": exc.layer, "message": str(exc)}
            )
            status = 3
        except BaseException:  # noqa: BLE001 — a child must never return into the zygote loop
            status = 4
        os._exit(status)

    def trial(self) -> None:
        """Prove that a child can lock down here; raise LockdownError naming the layer if not."""
        ours, theirs = socket.socketpair()
        pid = self.fork_child(theirs.fileno(), 64 << 20, 5, 1 << 16)
        theirs.close()
        ours.sendall(
            self.child._frames.encode_frame({"code": "output = ''", "input": "", "max_output": 16})
        )
        reply = self.child._frames.read_frame(ours.fileno(), 1 << 16)
        ours.close()
        os.waitpid(pid, 0)
        if reply.get("type") == "fatal":
            raise self.lockdown.LockdownError(reply["layer"], reply["message"])

    def serve(self) -> None:
        """Handle control messages until the host closes the socket."""
        while True:
            data, fds, _, _ = socket.recv_fds(self.ctl, 1 << 16, 4)
            if not data:
                return
            message = json.loads(data)
            if message.get("op") != "run" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue  # a late kill for a child already reaped
            self.supervise(message, fds[0])

    def supervise(self, message: dict, fd: int) -> None:
        """Run one child to completion, killing it on request; report how it ended."""
        pid = self.fork_child(
            fd, message["memory_bytes"], message["cpu_seconds"], message["max_frame"]
        )
        os.close(fd)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(self.ctl, select.POLLIN)
        killed = False
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if pidfd in ready:
                    break
                data, fds, _, _ = socket.recv_fds(self.ctl, 1 << 16, 4)
                for extra in fds:
                    os.close(extra)
                if not data or json.loads(data).get("id") == message["id"]:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)  # host gone, or asked
                    killed = True
                    if not data:
                        poller.unregister(self.ctl)
            _, status, usage = os.wait4(pid, 0)
        finally:
            os.close(pidfd)
        self.send(
            {
                "type": "exit",
                "id": message["id"],
                "status": status,
                "killed": killed,
                "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
                "maxrss_kb": usage.ru_maxrss,
            }
        )


def main(argv: list[str]) -> int:
    """Pre-import, build the layers, prove them, serve."""
    config = json.loads(argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import _lockdown
    import _py_child

    for name in sorted(_py_child.ALLOWED_MODULES):
        __import__(name)
    __import__("time").localtime()  # read the timezone now; /etc/localtime is gone later
    del sys.path[0]
    ctl = socket.socket(fileno=config["channel_fd"])
    try:
        zygote = Zygote(_lockdown, _py_child, ctl, config)
        zygote.trial()
    except _lockdown.LockdownError as exc:
        ctl.sendall(json.dumps({"type": "fatal", "layer": exc.layer, "message": str(exc)}).encode())
        return 3
    gc.freeze()  # keep start-up objects out of GC passes: fewer copy-on-write faults per child
    zygote.send({"type": "ready", "landlock_abi": zygote.abi})
    zygote.serve()
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv))
