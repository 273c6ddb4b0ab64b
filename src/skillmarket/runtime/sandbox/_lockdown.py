"""Kernel layers that lock a sandbox process down (worker side, stdlib + ctypes only).

Applied once by the JavaScript worker and by every forked Python child, before any user code
is read. Each layer either applies or raises :class:`LockdownError` naming the layer, and the
caller refuses to run (fail closed). The steps, in order:

1. close every fd except 0-2 (re-pointed at /dev/null) and the one channel fd (kept >= 200);
2. clear the environment;
3. create the Landlock ruleset (needs a free fd, so before RLIMIT_NOFILE);
4. rlimits: address space, CPU, FSIZE=0, NOFILE=3, NPROC=0, CORE=0, MEMLOCK=0, MSGQUEUE=0;
5. drop to uid/gid nobody (65534) with no supplementary groups;
6. parent-death signal and non-dumpable (after the uid change, which clears both);
7. PR_SET_NO_NEW_PRIVS;
8. Landlock restrict_self: every handled file right, TCP bind/connect, signal and abstract
   unix-socket scopes, with no rule added, so all of it is denied;
9. seccomp allowlist, default EPERM; mmap/mprotect only without PROT_EXEC.

``libseccomp.so.2`` is loaded by soname, never via ``ctypes.util.find_library`` (that spawns
``ldconfig``, slow and impossible inside bwrap).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal

NOBODY_UID = 65534
NOBODY_GID = 65534
CHANNEL_FD = 250  # setup fds stay high so nothing clobbers them (reference/sandbox.md §7.9)

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_PR_GET_NO_NEW_PRIVS = 39
_PR_GET_SECCOMP = 21
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SYS_LANDLOCK_CREATE_RULESET = 444  # same number on every architecture
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_PROT_EXEC = 0x4

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_MASKED_EQ = 7
_EPERM = 1

# Everything a JSON transform in CPython or QuickJS needs once started (strace-verified):
# I/O on already-open fds, memory without PROT_EXEC, signals bookkeeping, clocks, exit.
ALLOWED_SYSCALLS = tuple(
    """
    read write readv writev close lseek fstat brk munmap mremap madvise futex
    rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack
    clock_gettime clock_getres gettimeofday clock_nanosleep nanosleep
    getrandom getpid gettid sched_yield exit exit_group
    """.split()  # noqa: SIM905 — a word list reads better than 40 quoted names
)
NO_EXEC_SYSCALLS = ("mmap", "mprotect")


class LockdownError(Exception):
    """A mandatory layer could not be applied; ``layer`` names it."""

    def __init__(self, layer: str, message: str):
        super().__init__(f"{layer}: {message}")
        self.layer = layer


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _LandlockRulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


class SeccompFilter:
    """A seccomp allowlist built once (e.g. in the zygote) and loaded in each sandbox process."""

    def __init__(self, library: str = "libseccomp.so.2"):
        try:
            self._lib = ctypes.CDLL(library, use_errno=True)
        except OSError as exc:
            raise LockdownError(
                "seccomp", f"cannot load {library} ({exc}); install libseccomp2"
            ) from exc
        lib = self._lib
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self._ctx = lib.seccomp_init(0x00050000 | _EPERM)  # SCMP_ACT_ERRNO(EPERM)
        if not self._ctx:
            raise LockdownError("seccomp", "seccomp_init failed")
        for name in ALLOWED_SYSCALLS:
            self._allow(name, None)
        no_exec = _ArgCmp(2, _SCMP_CMP_MASKED_EQ, _PROT_EXEC, 0)  # (prot & PROT_EXEC) == 0
        for name in NO_EXEC_SYSCALLS:
            self._allow(name, no_exec)
        # Compile to BPF once; loading it is then one prctl per process (libseccomp would
        # regenerate the program on every seccomp_load, ~0.25 ms per forked child).
        self._bpf = ctypes.create_string_buffer(self._export())
        self._program = _SockFprog(len(self._bpf.raw) // 8, ctypes.addressof(self._bpf))

    def _export(self) -> bytes:
        self._lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        read_end, write_end = os.pipe()
        try:
            rc = self._lib.seccomp_export_bpf(self._ctx, write_end)
            os.close(write_end)
            write_end = -1
            if rc < 0:
                raise LockdownError("seccomp", f"cannot compile the filter: errno {-rc}")
            chunks = []
            while chunk := os.read(read_end, 65536):
                chunks.append(chunk)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        program = b"".join(chunks)
        if not program or len(program) % 8:
            raise LockdownError("seccomp", "compiled filter is empty or malformed")
        return program

    def _allow(self, name: str, cmp: _ArgCmp | None) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not on this architecture; nothing to allow
        args = ctypes.pointer(cmp) if cmp is not None else None
        rc = self._lib.seccomp_rule_add_array(
            self._ctx, _SCMP_ACT_ALLOW, number, 1 if cmp else 0, args
        )
        if rc < 0:
            raise LockdownError("seccomp", f"cannot add rule for {name}: errno {-rc}")

    def load(self) -> None:
        """Install the filter on the calling process (irreversible; needs no-new-privs)."""
        libc = _libc()
        rc = libc.prctl(
            ctypes.c_int(_PR_SET_SECCOMP),
            ctypes.c_ulong(_SECCOMP_MODE_FILTER),
            ctypes.byref(self._program),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        if rc != 0:
            raise LockdownError(
                "seccomp", f"loading the filter failed: {os.strerror(ctypes.get_errno())}"
            )


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is absent or disabled."""
    libc = _libc()
    abi = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(abi, 0)


def landlock_ruleset(abi: int) -> int:
    """Create a ruleset that handles every right this ABI knows; returns its fd."""
    fs = (1 << 13) - 1  # ABI 1: execute … make_sym
    if abi >= 2:
        fs |= 1 << 13  # refer
    if abi >= 3:
        fs |= 1 << 14  # truncate
    if abi >= 5:
        fs |= 1 << 15  # ioctl_dev
    net = 0b11 if abi >= 4 else 0  # bind_tcp, connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix socket, signal
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = _LandlockRulesetAttr(fs, net, scoped)
    libc = _libc()
    fd = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    if fd < 0:
        raise LockdownError("landlock", f"create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    return fd


def _prctl(option: int, arg: int = 0) -> int:
    libc = _libc()
    return libc.prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )


def null_stdio() -> None:
    """Point fds 0-2 at /dev/null (never a regular file: RLIMIT_FSIZE=0 would hit it, §7.7)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def isolate_fds(channel_fd: int, stdio_ready: bool = False) -> int:
    """Move the channel to ``CHANNEL_FD``, null 0-2 (unless done already), close the rest."""
    if channel_fd != CHANNEL_FD:
        os.dup2(channel_fd, CHANNEL_FD, inheritable=False)
        os.close(channel_fd)
    if not stdio_ready:
        null_stdio()
    os.closerange(3, CHANNEL_FD)
    os.closerange(CHANNEL_FD + 1, 1 << 16)
    return CHANNEL_FD


def set_rlimits(address_space: int | None, cpu_seconds: int | None) -> None:
    """Apply the rlimits; soft equals hard so an unprivileged process cannot raise them."""
    limits = [
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
        (resource.RLIMIT_NOFILE, 3),
    ]
    if address_space is not None:
        limits.append((resource.RLIMIT_AS, address_space))
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    if cpu_seconds is not None:
        # Soft limit sends SIGXCPU, the hard one a second later SIGKILL.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def drop_privileges(allow_unprivileged: bool) -> None:
    """Become uid/gid nobody; as non-root either refuse or (opt-in) keep the service's uid."""
    if os.geteuid() != 0:
        if allow_unprivileged:
            return
        raise LockdownError("uid", "cannot drop to uid nobody: not running as root")
    os.setgroups([])
    os.setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID)
    os.setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID)
    if os.getresuid() != (NOBODY_UID,) * 3 or os.getresgid() != (NOBODY_GID,) * 3:
        raise LockdownError("uid", "uid/gid did not change to nobody")


def current_address_space() -> int:
    """Virtual size of this process in bytes (the base the memory cap is added to)."""
    with open("/proc/self/statm", "rb") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def lock_down(
    *,
    channel_fd: int,
    seccomp: SeccompFilter,
    abi: int,
    memory_bytes: int | None,
    cpu_seconds: int | None,
    parent_pid: int,
    allow_unprivileged: bool = False,
    base_address_space: int | None = None,
    stdio_ready: bool = False,
) -> int:
    """Apply every layer in order (see module docstring); returns the channel fd.

    A zygote passes ``base_address_space`` (its own size, measured once) and
    ``stdio_ready`` so that each forked child skips work the zygote did already.
    """
    fd = isolate_fds(channel_fd, stdio_ready)  # 1
    os.environ.clear()  # 2
    if abi < 1:
        raise LockdownError("landlock", "Landlock is not available in this kernel (ABI 0)")
    base = base_address_space if base_address_space is not None else current_address_space()
    address_space = base + memory_bytes if memory_bytes else None
    ruleset = landlock_ruleset(abi)  # 3
    set_rlimits(address_space, cpu_seconds)  # 4
    drop_privileges(allow_unprivileged)  # 5
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # 6
    _prctl(_PR_SET_DUMPABLE, 0)
    if os.getppid() != parent_pid:
        raise LockdownError("parent", "parent exited during start-up")
    if _prctl(_PR_SET_NO_NEW_PRIVS, 1) != 0 or _prctl(_PR_GET_NO_NEW_PRIVS) != 1:  # 7
        raise LockdownError("no_new_privs", "PR_SET_NO_NEW_PRIVS failed")
    libc = _libc()
    rc = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)
    )
    if rc != 0:  # 8
        raise LockdownError("landlock", f"restrict_self failed: {os.strerror(ctypes.get_errno())}")
    os.close(ruleset)
    seccomp.load()  # 9
    # prctl is not on the allowlist: seeing it denied proves the filter is in force.
    if _prctl(_PR_GET_SECCOMP) != -1 or ctypes.get_errno() != _EPERM:
        raise LockdownError("seccomp", "filter is not in force after loading")
    return fd


def probe(seccomp_library: str, min_landlock_abi: int, allow_unprivileged: bool) -> list[str]:
    """Check, without applying anything, that every mandatory layer is available.

    Returns human-readable problems; an empty list means the sandbox can run here.
    """
    problems = []
    abi = landlock_abi()
    if abi < max(min_landlock_abi, 1):
        problems.append(f"landlock: kernel ABI {abi} < required {max(min_landlock_abi, 1)}")
    try:
        SeccompFilter(seccomp_library)
    except LockdownError as exc:
        problems.append(str(exc))
    if os.geteuid() != 0 and not allow_unprivileged:
        problems.append("uid: cannot drop to uid nobody: not running as root")
    return problems
