# ruff: noqa: E501  (the escape tables keep one attempt per line)
"""Escape suite, JavaScript: every attempt ends in the right typed error and the runtime lives on.

A JS script has no file, socket, process or environment API at all; the attempts below probe
that (including the engine's own std/os modules and dynamic import), the disabled code
generators, the limits, and the proxy_fetch bridge against prototype pollution.
"""

from __future__ import annotations

import json

import pytest

from skillmarket.runtime.errors import (
    ProxyFetchFailed,
    ScriptFailed,
    ScriptForbidden,
    ScriptMemoryExceeded,
    ScriptOutputTooLarge,
    ScriptTimeout,
)

ESCAPES = [
    # --- eval and every Function constructor
    ("eval", 'return eval("1 + 1")', ScriptForbidden),
    ("indirect-eval", 'return (0, eval)("1 + 1")', ScriptForbidden),
    ("eval-by-computed-name", 'return globalThis["ev" + "al"]("1")', ScriptForbidden),
    ("function-constructor-new", 'return new Function("return 1")()', ScriptForbidden),
    ("function-constructor-call", 'return Function("return this")()', ScriptForbidden),
    ("function-prototype-constructor", 'return (function () {}).constructor("return 1")()', ScriptForbidden),
    ("async-function-constructor", "const F = (async () => {}).constructor; return await F('return 1')()", ScriptForbidden),
    ("generator-function-constructor", "const G = (function* () {}).constructor; return G('yield 1')", ScriptForbidden),
    ("async-generator-constructor", "const A = (async function* () {}).constructor; return A('yield 1')", ScriptForbidden),
    ("string-constructor-constructor", 'return "".constructor.constructor("return 1")()', ScriptForbidden),
    ("reflect-construct", 'return Reflect.construct(Function, ["return 1"])()', ScriptForbidden),
    ("descriptor-value", 'return Object.getOwnPropertyDescriptor(Function.prototype, "constructor").value("1")', ScriptForbidden),
    ("delete-then-use-constructor", 'delete Function.prototype.constructor; return (function () {}).constructor("1")', ScriptForbidden),
    ("redefine-eval", 'Object.defineProperty(globalThis, "eval", {value: (s) => s}); return eval("x")', ScriptFailed),
    # --- modules, files, processes, environment, network
    ("dynamic-import-fs", 'const fs = await import("fs"); return fs.readFileSync("/etc/passwd")', ScriptForbidden),
    ("dynamic-import-qjs-std", 'const std = await import("qjs:std"); return std.loadFile("/etc/passwd")', ScriptForbidden),
    ("require-child-process", 'return require("child_process").execSync("id").toString()', ScriptForbidden),
    ("fetch-tcp-loopback", 'await fetch("http://127.0.0.1:TCP_PORT/"); return "reached"', ScriptForbidden),
    ("proxy-fetch-loopback-blocked", 'await proxy_fetch("http://127.0.0.1:TCP_PORT/"); return "reached"', ProxyFetchFailed),
    ("std-read-file", 'return std.loadFile("/etc/passwd")', ScriptFailed),
    ("std-write-file", 'const f = std.open("/tmp/pwned", "w"); f.puts("x"); return "written"', ScriptFailed),
    ("os-exec-spawn", 'return String(os.exec(["/bin/sh", "-c", "id"]))', ScriptFailed),
    ("process-env", "return JSON.stringify(process.env)", ScriptFailed),
    ("deno-read-proc", 'return Deno.readTextFileSync("/proc/self/environ")', ScriptFailed),
    ("websocket-udp-ish", 'new WebSocket("ws://127.0.0.1:UDP_PORT"); return "sent"', ScriptFailed),
    ("xml-http-request", 'const x = new XMLHttpRequest(); x.open("GET", "http://127.0.0.1:TCP_PORT"); return "x"', ScriptFailed),
    ("webassembly", "return String(WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])))", ScriptFailed),
    ("atomics-wait-block", "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return 'x'", ScriptFailed),
    ("worker-thread", 'new Worker("data:text/javascript,1"); return "x"', ScriptFailed),
    # --- limits
    ("infinite-loop", "while (true) {}", ScriptTimeout),
    ("loop-after-await", "await null; for (;;) {}", ScriptTimeout),
    ("loop-after-proxy-fetch", 'await proxy_fetch("https://api.example.com/x"); for (;;) {}', ScriptTimeout),
    ("microtask-flood", "for (;;) await null;", ScriptTimeout),
    ("memory-bomb-arrays", "const a = []; for (;;) a.push(new Array(10000).fill(7))", ScriptMemoryExceeded),
    ("memory-bomb-small-objects", "const a = []; for (;;) a.push({x: a.length})", ScriptMemoryExceeded),
    ("memory-bomb-string-doubling", 'let s = "xy"; for (;;) s += s', ScriptMemoryExceeded),
    ("memory-bomb-arraybuffer", "return String(new ArrayBuffer(1 << 30).byteLength)", ScriptMemoryExceeded),
    ("deep-recursion", "const f = (n) => f(n + 1) + 1; return String(f(0))", ScriptFailed),
    ("huge-output", 'return "x".repeat(8 << 20)', ScriptOutputTooLarge),
    ("lone-surrogate-output", 'return "\\ud800"', ScriptFailed),
    # --- forging what only the host may say
    ("forged-proxy-fetch-error", 'throw new ProxyFetchError("no", "EGRESS_BLOCKED")', ScriptFailed),
]  # fmt: skip


@pytest.mark.parametrize(("code", "error"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_escape_attempt_fails_with_typed_error(sandbox, upstream, listeners, code, error):
    code = code.replace("TCP_PORT", str(listeners.tcp_port)).replace(
        "UDP_PORT", str(listeners.udp_port)
    )
    # Timeouts are tested short; memory bombs get room to hit the cap rather than the clock.
    timeout = 5000 if error is ScriptMemoryExceeded else 400
    with pytest.raises(error) as caught:
        sandbox.run("javascript", code, timeout_ms=timeout, proxy_fetch=upstream)
    assert type(caught.value) is error
    listeners.assert_untouched()
    assert sandbox.run("javascript", 'return "still serving"').output == "still serving"


def test_escape_suite_has_at_least_25_attempts():
    assert len(ESCAPES) >= 25


class TestPrototypePollution:
    POLLUTE = """
        Object.prototype.polluted = "yes";
        Array.prototype.push = () => { throw new Error("push hijacked"); };
        Array.prototype.join = () => "[]";
        JSON.stringify = () => '{"id": 1, "url": "http://169.254.169.254/latest"}';
        Object.prototype.toJSON = function () { return {url: "http://evil.example"}; };
        Map.prototype.set = function () { return this; };
        Promise.prototype.then = function () { return this; };
        String.prototype.toString = () => "http://evil.example";
    """

    def test_pollution_fails_to_leak_into_next_run(self, sandbox):
        for _ in range(4):  # every worker of the pool gets a polluted run
            sandbox.run("javascript", self.POLLUTE + 'return "done"')
        for _ in range(4):
            out = sandbox.run(
                "javascript", "return typeof ({}).polluted + typeof Object.prototype.toJSON"
            )
            assert out.output == "undefinedundefined"

    def test_pollution_fails_to_redirect_proxy_fetch(self, sandbox, upstream):
        code = (
            self.POLLUTE + 'const r = await proxy_fetch("https://api.example.com/a"); return r.body'
        )
        body = json.loads(sandbox.run("javascript", code, proxy_fetch=upstream).output)
        assert body["url"] == "https://api.example.com/a"
        assert [call.url for call in upstream.calls] == ["https://api.example.com/a"]

    def test_globals_expose_no_host_objects(self, sandbox):
        code = """
            const standard = new Set(["Object","Function","Error","EvalError","RangeError",
              "ReferenceError","SyntaxError","TypeError","URIError","InternalError",
              "AggregateError","SuppressedError","Iterator","Array","parseInt","parseFloat",
              "isNaN","isFinite","queueMicrotask","decodeURI","decodeURIComponent","encodeURI",
              "encodeURIComponent","escape","unescape","Infinity","NaN","undefined","eval",
              "Number","Boolean","String","Math","Reflect","Symbol","DisposableStack",
              "globalThis","BigInt","Date","RegExp","JSON","Proxy","Map","Set","WeakMap",
              "WeakSet","ArrayBuffer","Uint8ClampedArray","Int8Array","Uint8Array",
              "Int16Array","Uint16Array","Int32Array","Uint32Array","BigInt64Array",
              "BigUint64Array","Float16Array","Float32Array","Float64Array","DataView",
              "Promise","AsyncDisposableStack","WeakRef","FinalizationRegistry","DOMException",
              "btoa","atob","performance"]);
            return JSON.stringify(Object.getOwnPropertyNames(globalThis)
              .filter((n) => !standard.has(n)).sort());
        """
        extra = json.loads(sandbox.run("javascript", code).output)
        assert extra == ["ProxyFetchError", "fetch", "importScripts", "proxy_fetch", "require"]


class TestProxyFetch:
    def test_seed_proxy_example_runs(self, sandbox, upstream):
        code = """const response = await proxy_fetch("https://api.example.com/data", {
  method: "GET",
  service: "example_api"   // references a connected service
});
const data = JSON.parse(response.body);
return data.service + " " + response.status;"""
        assert sandbox.run("javascript", code, proxy_fetch=upstream).output == "example_api 200"

    def test_blocked_fetch_fails_with_callback_code(self, sandbox, upstream):
        with pytest.raises(ProxyFetchFailed) as caught:
            sandbox.run(
                "javascript", 'await proxy_fetch("https://evil.example/")', proxy_fetch=upstream
            )
        assert caught.value.code == "EGRESS_BLOCKED"
        assert caught.value.status == 403

    def test_blocked_fetch_is_catchable_with_its_code(self, sandbox, upstream):
        code = """try { await proxy_fetch("https://evil.example/") }
                  catch (e) { return e.name + ":" + e.code + ":" + (e instanceof ProxyFetchError) }"""
        out = sandbox.run("javascript", code, proxy_fetch=upstream).output
        assert out == "ProxyFetchError:EGRESS_BLOCKED:true"
