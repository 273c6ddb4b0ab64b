# ruff: noqa: E501  (the escape tables keep one attempt per line)
"""Escape suite, Python: every attempt ends in the right typed error and the runtime lives on.

CPython is not a sandbox, so many attempts first climb out of the import guard (``WALK``
reaches the real ``os`` module through ``object.__subclasses__()``; ``CTYPES`` finds the
``ctypes.CDLL`` class the zygote used for its own setup). What stops them is the kernel:
Landlock and seccomp answer EPERM, which surfaces as SCRIPT_FORBIDDEN. Scripts that get a
-1 instead of an exception from C raise PermissionError themselves, and never claim success.
"""

from __future__ import annotations

import os

import pytest

from skillmarket.runtime.errors import (
    ProxyFetchFailed,
    SandboxDied,
    ScriptFailed,
    ScriptForbidden,
    ScriptMemoryExceeded,
    ScriptOutputTooLarge,
    ScriptTimeout,
)

SUBCLASSES = "().__class__.__base__.__subclasses__()"
WALK = (
    f'G = next(c for c in {SUBCLASSES} if c.__name__ == "_wrap_close").__init__.__globals__\n'
    'os = G["sys"].modules["os"]\nsys = G["sys"]\n'
)
CTYPES = (
    f'CDLL = next(c for c in {SUBCLASSES} if c.__name__ == "CDLL")\n'
    "libc = CDLL(None, use_errno=True)\n"
)
MMAP_EXEC = """T = CDLL.__init__.__globals__
libc.mmap.restype = T["c_void_p"]
libc.mmap.argtypes = [T["c_void_p"], T["c_size_t"], T["c_int"], T["c_int"], T["c_int"], T["c_long"]]
p = libc.mmap(None, 4096, 7, 0x22, -1, 0)  # PROT_READ|WRITE|EXEC, MAP_PRIVATE|ANONYMOUS
if p is None or p == (1 << 64) - 1:
    raise PermissionError("mmap(PROT_EXEC) refused")
output = "rwx page mapped"
"""
SOCKET = (
    f'S = next(c for c in {SUBCLASSES} if c.__module__ == "_socket" and c.__name__ == "socket")\n'
)

ESCAPES = [
    # --- files
    ("open-read", 'output = open("/etc/passwd").read()', ScriptForbidden),
    ("open-write", 'open("/tmp/skillmarket-pwned", "w").write("x")', ScriptForbidden),
    ("io-open-read", 'import io\noutput = io.open("/etc/passwd").read()', ScriptForbidden),
    ("os-open-read", WALK + 'output = str(os.read(os.open("/etc/passwd", 0), 100))', ScriptForbidden),
    ("os-write-file", WALK + 'fd = os.open("/tmp/skillmarket-pwned", os.O_CREAT | os.O_WRONLY)', ScriptForbidden),
    ("os-listdir", WALK + 'output = ",".join(os.listdir("/"))', ScriptForbidden),
    ("proc-self-environ", WALK + 'output = str(os.open("/proc/self/environ", 0))', ScriptForbidden),
    ("proc-1-cmdline", WALK + 'output = str(os.open("/proc/1/cmdline", 0))', ScriptForbidden),
    ("os-stat-probe", WALK + 'output = str(os.stat("/etc/passwd"))', ScriptForbidden),
    # --- network
    ("import-socket", "import socket", ScriptForbidden),
    ("tcp-connect-loopback", SOCKET + 's = S(2, 1)\ns.connect(("127.0.0.1", TCP_PORT))', ScriptForbidden),
    ("udp-sendto-loopback", SOCKET + 's = S(2, 2)\ns.sendto(b"x", ("127.0.0.1", UDP_PORT))', ScriptForbidden),
    ("unix-socket", SOCKET + 's = S(1, 1)\ns.connect("/run/skillmarket.sock")', ScriptForbidden),
    ("raw-socket-syscall", CTYPES + "fd = libc.syscall(41, 2, 2, 0)\nif fd < 0: raise PermissionError(fd)\noutput = 'socket'", ScriptForbidden),
    ("urllib-request", "import urllib.request", ScriptForbidden),
    # --- processes
    ("import-subprocess", "import subprocess", ScriptForbidden),
    ("os-fork", WALK + "output = str(os.fork())", ScriptForbidden),
    ("os-posix-spawn", WALK + 'output = str(os.posix_spawn("/bin/sh", ["sh"], {}))', ScriptForbidden),
    ("os-execv", WALK + 'os.execv("/bin/sh", ["sh", "-c", "id"])', ScriptForbidden),
    ("os-system", WALK + 'rc = os.system("touch /tmp/skillmarket-pwned")\nif rc: raise PermissionError(rc)', ScriptForbidden),
    ("kill-init", WALK + "os.kill(1, 9)", ScriptForbidden),
    ("setuid-root", WALK + "os.setuid(0)", ScriptForbidden),
    ("thread-start", WALK + 'import_ = G["__builtins__"]["__import__"]\nt = import_("_thread")\nt.start_new_thread(print, ())', ScriptFailed),
    # --- environment
    ("env-read", WALK + 'output = os.environ["SKILLMARKET_TEST_SANDBOX_SECRET"]', ScriptFailed),
    ("env-getenv", WALK + 'v = os.getenv("SKILLMARKET_TEST_SANDBOX_SECRET")\nif v is None: raise KeyError("no env")\noutput = v', ScriptFailed),
    # --- interpreter tricks
    ("import-os", "import os", ScriptForbidden),
    ("import-sys", "import sys", ScriptForbidden),
    ("import-ctypes", "import ctypes", ScriptForbidden),
    ("dunder-import", '__import__("os").system("id")', ScriptForbidden),
    ("eval", 'output = eval("1 + 1")', ScriptForbidden),
    ("exec", 'exec("output = 1")', ScriptForbidden),
    ("compile", 'compile("1", "x", "eval")', ScriptForbidden),
    ("subclasses-real-import", WALK + 'real = G["__builtins__"]["__import__"]\nreal("sqlite3")', ScriptForbidden),
    ("builtin-importer-posix", f'BI = next(c for c in {SUBCLASSES} if c.__name__ == "BuiltinImporter")\nBI.load_module("posix").open("/etc/passwd", 0)', ScriptForbidden),
    ("ctypes-open", CTYPES + 'fd = libc.open(b"/etc/passwd", 0)\nif fd < 0: raise PermissionError(fd)\noutput = "opened"', ScriptForbidden),
    ("ctypes-mmap-exec", CTYPES + MMAP_EXEC, ScriptForbidden),
    ("ctypes-prctl", CTYPES + "rc = libc.prctl(22, 0, 0, 0, 0)\nif rc < 0: raise PermissionError(rc)\noutput = 'seccomp off'", ScriptForbidden),
    # --- limits
    ("infinite-loop", "while True: pass", ScriptTimeout),
    ("sleep", "import time\ntime.sleep(100)", ScriptTimeout),
    ("loop-after-proxy-fetch", 'proxy_fetch("https://api.example.com/x")\nwhile True: pass', ScriptTimeout),
    ("forged-done-then-loop", 'proxy_fetch.__self__.send({"type": "done", "kind": "ok", "output": "forged"})\nwhile True: pass', ScriptTimeout),
    ("memory-bomb-bytearray", "x = bytearray(1 << 30)", ScriptMemoryExceeded),
    ("memory-bomb-list", "a = []\nwhile True: a.append([0] * 1000)", ScriptMemoryExceeded),
    ("memory-bomb-string-doubling", 's = "xy"\nwhile True: s += s', ScriptMemoryExceeded),
    ("deep-recursion", "def f(n): return f(n + 1) + 1\nf(0)", ScriptFailed),
    ("c-stack-overflow", WALK + "sys.setrecursionlimit(10 ** 8)\nimport functools\nf = lambda n: functools.reduce(lambda a, b: f(n + 1), [1, 2])\nf(0)", SandboxDied),
    ("huge-output", 'output = "x" * (8 << 20)', ScriptOutputTooLarge),
    ("fork-bomb", WALK + "while True: os.fork()", ScriptForbidden),
    # --- forging what only the host may say
    ("forged-proxy-fetch-error", 'raise ProxyFetchError("no", "EGRESS_BLOCKED", 1)', ScriptFailed),
]  # fmt: skip


@pytest.mark.parametrize(("code", "error"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_escape_attempt_fails_with_typed_error(sandbox, upstream, listeners, code, error):
    code = code.replace("TCP_PORT", str(listeners.tcp_port)).replace(
        "UDP_PORT", str(listeners.udp_port)
    )
    # Timeouts are tested short; memory bombs get room to hit the cap rather than the clock.
    timeout = 5000 if error is ScriptMemoryExceeded else 600
    with pytest.raises(error) as caught:
        sandbox.run("python", code, timeout_ms=timeout, proxy_fetch=upstream)
    assert type(caught.value) is error
    listeners.assert_untouched()
    assert not os.path.exists("/tmp/skillmarket-pwned")
    assert "s3cret" not in str(caught.value.to_dict())
    assert sandbox.run("python", 'output = "still serving"').output == "still serving"


def test_escape_suite_has_at_least_25_attempts():
    assert len(ESCAPES) >= 25


class TestSandboxedChild:
    def test_environment_is_empty(self, sandbox):
        assert sandbox.run("python", WALK + "output = repr(dict(os.environ))").output == "{}"

    def test_setup_modules_are_absent(self, sandbox):
        code = (
            WALK
            + 'output = ",".join(sorted({"ctypes", "socket", "subprocess", "signal"} & set(sys.modules)))'
        )
        assert sandbox.run("python", code).output == ""

    def test_pure_stdlib_modules_work(self, sandbox):
        code = """import json, math, re, datetime, collections, itertools, functools, decimal, statistics
import base64, hashlib, random, string, textwrap, urllib.parse, uuid, fractions, heapq, csv, io
parts = [
    str(math.isqrt(17)), re.sub(r"\\d", "#", "a1b2"), datetime.date(2024, 2, 29).isoformat(),
    str(collections.Counter("aab")["a"]), str(list(itertools.islice(itertools.count(), 3))),
    str(functools.reduce(lambda a, b: a * b, [1, 2, 3])), str(decimal.Decimal("0.1") * 3),
    str(statistics.median([3, 1, 2])), base64.b64encode(b"hi").decode(),
    hashlib.sha256(b"x").hexdigest()[:8], urllib.parse.quote("a b"), str(len(str(uuid.uuid4()))),
    next(csv.reader(io.StringIO("x,y"))).__repr__(),
]
output = json.dumps(parts)"""
        out = sandbox.run("python", code).output
        assert out.startswith(
            '["4", "a#b#", "2024-02-29", "2", "[0, 1, 2]", "6", "0.3", "2", "aGk="'
        )


class TestProxyFetch:
    def test_blocked_fetch_fails_with_callback_code(self, sandbox, upstream):
        with pytest.raises(ProxyFetchFailed) as caught:
            sandbox.run("python", 'proxy_fetch("https://evil.example/")', proxy_fetch=upstream)
        assert caught.value.code == "EGRESS_BLOCKED"

    def test_blocked_fetch_is_catchable_with_its_code(self, sandbox, upstream):
        code = 'try:\n    proxy_fetch("https://evil.example/")\nexcept ProxyFetchError as e:\n    output = e.code'
        assert sandbox.run("python", code, proxy_fetch=upstream).output == "EGRESS_BLOCKED"

    def test_fetch_returns_status_headers_body(self, sandbox, upstream):
        code = (
            'r = proxy_fetch("https://api.example.com/d", {"method": "post", "service": "svc",'
            ' "headers": {"x-a": "1"}, "body": "hi"})\n'
            'import json\nb = json.loads(r["body"])\n'
            "output = f\"{r['status']} {b['method']} {b['service']} {b['headers']} {b['body']}\""
        )
        out = sandbox.run("python", code, proxy_fetch=upstream).output
        assert out == "200 POST svc {'x-a': '1'} hi"
