"""What a forked Python child does after it has locked itself down (stdlib only).

It reads ``{"code", "input", "max_output"}`` from its channel, executes the code with ``input``
bound and a guarded set of builtins, and reports one ``done`` frame. ``proxy_fetch`` is a
synchronous call over the same channel. The import guard and the disabled builtins give clear
``SCRIPT_FORBIDDEN`` errors; the boundary itself is the kernel layers underneath.
"""

from __future__ import annotations

import builtins

import _frames

# Pure standard-library modules a script may import; the zygote imports them all up front
# (nothing can be loaded from disk after Landlock).
ALLOWED_MODULES = frozenset(
    """
    abc array base64 binascii bisect calendar cmath collections collections.abc contextlib copy
    csv dataclasses datetime decimal difflib enum fractions functools hashlib heapq hmac html io
    itertools json math numbers operator pprint random re secrets statistics string struct
    textwrap time typing unicodedata urllib urllib.parse uuid zlib
    """.split()  # noqa: SIM905 — a word list reads better than 40 quoted names
)
DISABLED_BUILTINS = ("open", "eval", "exec", "compile", "breakpoint", "help", "exit", "quit")


class SandboxForbidden(PermissionError):
    """Raised for an operation the sandbox forbids (``open``, ``eval``, ``exec`` …)."""


class ForbiddenImport(ImportError):
    """Raised when a script imports a module outside the allowed standard library."""


class ProxyFetchError(Exception):
    """A ``proxy_fetch`` call was refused or failed; ``code`` says why (e.g. EGRESS_BLOCKED)."""

    def __init__(self, message: str, code: str, fetch_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.fetch_id = fetch_id


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    if level != 0 or name not in ALLOWED_MODULES:
        raise ForbiddenImport(f"SCRIPT_FORBIDDEN: module '{name}' is not available in the sandbox")
    module = builtins.__import__(name, globals, locals, fromlist, level)
    for item in fromlist or ():
        if not hasattr(module, item) and f"{name}.{item}" not in ALLOWED_MODULES:
            raise ForbiddenImport(f"SCRIPT_FORBIDDEN: module '{name}.{item}' is not available")
    return module


def _disabled(what: str):
    def thrower(*_args, **_kwargs):
        """Refuse, whatever the arguments."""
        raise SandboxForbidden(f"SCRIPT_FORBIDDEN: {what} is disabled in the sandbox")

    return thrower


def safe_builtins() -> dict:
    """The builtins a script sees: the real ones minus file access, eval/exec and raw import."""
    table = dict(builtins.__dict__)
    for name in DISABLED_BUILTINS:
        table[name] = _disabled(f"{name}()")
    table["__import__"] = _guarded_import
    return table


def _skill_line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<skill>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def describe(exc: BaseException) -> dict:
    """Classify an exception that escaped the script into an outcome."""
    if isinstance(exc, MemoryError):
        return {"kind": "memory", "message": "MemoryError"}
    kind = "error"
    # ModuleNotFoundError: past the guard, a module the zygote did not preload cannot be read
    # from disk any more, so the import was forbidden in effect.
    if isinstance(exc, (SandboxForbidden, ForbiddenImport, PermissionError, ModuleNotFoundError)):
        kind = "forbidden"
    outcome = {
        "kind": kind,
        "name": type(exc).__name__,
        "message": str(exc)[:2000],
        "line": _skill_line(exc),
    }
    if isinstance(exc, ProxyFetchError) and exc.fetch_id is not None:
        outcome.update(kind="fetch", fetch_id=exc.fetch_id, code=str(exc.code))
    if isinstance(exc, RecursionError):
        outcome["reason"] = "stack_overflow"
    return outcome


class Channel:
    """The child's one way out: frames to and from the host."""

    def __init__(self, fd: int, max_frame: int):
        self.fd = fd
        self.max_frame = max_frame
        self.fetches = 0

    def send(self, message: dict) -> None:
        """Write one frame."""
        _frames.write_all(self.fd, _frames.encode_frame(message))

    def proxy_fetch(self, url, options=None, /, **kwargs):
        """``proxy_fetch(url, {method, service, headers, body})`` → ``{status, headers, body}``."""
        opts = dict(options or {})
        opts.update(kwargs)
        self.fetches += 1
        headers = {str(k): str(v) for k, v in dict(opts.get("headers") or {}).items()}
        request = {
            "id": self.fetches,
            "url": str(url),
            "method": opts.get("method"),
            "service": opts.get("service"),
            "headers": headers,
            "body": opts.get("body"),
        }
        for key in ("method", "service", "body"):
            if request[key] is not None:
                request[key] = str(request[key])
        self.send({"type": "fetch", "request": request})
        reply = _frames.read_frame(self.fd, self.max_frame)
        payload = reply.get("payload") or {}
        if reply.get("ok"):
            return payload
        raise ProxyFetchError(str(payload.get("message")), str(payload.get("code")), self.fetches)


def execute(fd: int, max_frame: int) -> None:
    """Read the script, run it, report one ``done`` frame."""
    channel = Channel(fd, max_frame)
    request = _frames.read_frame(fd, max_frame)
    scope = {
        "__builtins__": safe_builtins(),
        "__name__": "__skill__",
        "input": request["input"],
        "proxy_fetch": channel.proxy_fetch,
        "ProxyFetchError": ProxyFetchError,
    }
    try:
        exec(compile(request["code"], "<skill>", "exec"), scope)  # noqa: S102 — inside the sandbox
        outcome = _output_outcome(scope.get("output"), request["max_output"])
    except MemoryError:
        scope.clear()  # drop the script's objects so reporting has memory to work with
        outcome = {"kind": "memory", "message": "MemoryError"}
    except BaseException as exc:  # noqa: BLE001 — everything the script raises is reported
        outcome = describe(exc)
    scope.clear()
    outcome["type"] = "done"
    try:
        channel.send(outcome)
    except UnicodeEncodeError:
        channel.send(
            {
                "type": "done",
                "kind": "error",
                "name": "UnicodeEncodeError",
                "message": "output is not valid Unicode",
                "line": None,
            }
        )


def _output_outcome(output, max_output: int) -> dict:
    if output is None:
        return {
            "kind": "type",
            "name": "TypeError",
            "message": "the script did not set output",
            "line": None,
        }
    if not isinstance(output, str):
        return {
            "kind": "type",
            "name": "TypeError",
            "line": None,
            "message": f"output must be a string, not {type(output).__name__}",
        }
    if len(output) > max_output or len(output.encode("utf-8", "surrogatepass")) > max_output:
        return {"kind": "output_too_large", "name": "ValueError", "message": str(len(output))}
    return {"kind": "ok", "output": output}
