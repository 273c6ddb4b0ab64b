"""A real, local OpenAI-compatible chat-completions server for tests.

:class:`OpenAIServer` serves a tiny ASGI app with uvicorn in a background thread on a free
127.0.0.1 port. It answers ``POST /v1/chat/completions`` (``server.base_url``) and the
OpenRouter-style ``POST /api/v1/chat/completions`` (``server.openrouter_base_url``), records
every request, and answers with scripted :class:`Reply` objects::

    # conftest.py beside the tests (or pytest_plugins in the root conftest) makes the fixtures
    # available:  from tests.support.openai_server import openai_server, ...  # noqa: F401
    from tests.support.openai_server import Reply

    def test_something(openai_server):
        openai_server.script(Reply.error(503), Reply.completion("hi", cost=0.0042))
        ...  # point the code under test at openai_server.base_url
        assert openai_server.requests[-1].json["model"] == "openai/gpt-4o"

Scripted replies are used first, in order, one per request; then ``server.handler`` answers
(by default :meth:`Reply.echo`, whose content is ``{"echo": <user message>}`` as JSON, so a
chain of steps is deterministic). Token counts of echo replies are one token per four
characters, rounded up. Everything is deterministic: ids count up, ``created`` is fixed.

Fixtures: ``openai_server`` (one server per session, reset before and after each test: fast),
``openai_server_factory`` (fresh servers of your own, stopped after the test) and
``openai_server_session`` (the shared one, not reset: rarely what you want).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import uvicorn

CREATED = 1_700_000_000
PREFIXES = ("/v1", "/api/v1")


def count_tokens(text: str) -> int:
    """The fake tokenizer: one token per four characters, rounded up."""
    return -(-len(text) // 4)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of the request (empty when there are none)."""
        data = self.json
        return list(data.get("messages") or []) if isinstance(data, dict) else []

    def message(self, role: str) -> str | None:
        """The text of the last message with ``role`` (``system``, ``user``), if any."""
        found = [m.get("content") for m in self.messages if m.get("role") == role]
        return found[-1] if found else None


Body = bytes | dict[str, Any] | Callable[[RecordedRequest, int], dict[str, Any]]


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body (bytes, a JSON object, or a function of the request and
    the request's serial number), extra headers, and a delay before answering.

    A delayed reply stops waiting as soon as the client disconnects (a client timeout), so a
    long delay never holds up the test or the server's shutdown.
    """

    status: int = 200
    body: Body = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0

    @classmethod
    def completion(
        cls,
        content: str | None = "ok",
        *,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        cost: float | None = None,
        usage: dict[str, Any] | None = None,
        include_usage: bool = True,
        model: str | None = None,
        finish_reason: str = "stop",
    ) -> Reply:
        """A normal completion; ``cost`` adds OpenRouter's ``usage.cost`` (US dollars).

        ``usage`` replaces the whole usage block; ``include_usage=False`` leaves it out.
        """

        def build(request: RecordedRequest, serial: int) -> dict[str, Any]:
            block = usage
            if block is None:
                block = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
                if cost is not None:
                    block["cost"] = cost
            return _completion_body(
                request, serial, content, block if include_usage else None, model, finish_reason
            )

        return cls(body=build)

    @classmethod
    def echo(cls, *, cost: float | None = None, include_usage: bool = True) -> Reply:
        """A completion whose content is ``{"echo": <user message>}`` as JSON."""

        def build(request: RecordedRequest, serial: int) -> dict[str, Any]:
            content = json.dumps({"echo": request.message("user")})
            prompt = sum(count_tokens(str(m.get("content") or "")) for m in request.messages)
            block: dict[str, Any] | None = None
            if include_usage:
                block = {
                    "prompt_tokens": prompt,
                    "completion_tokens": count_tokens(content),
                    "total_tokens": prompt + count_tokens(content),
                }
                if cost is not None:
                    block["cost"] = cost
            return _completion_body(request, serial, content, block, None, "stop")

        return cls(body=build)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "upstream failure",
        *,
        code: str | int | None = None,
        type: str = "server_error",  # noqa: A002  (the protocol's field name)
        retry_after: float | None = None,
    ) -> Reply:
        """An error status with an OpenAI-style body ``{"error": {message, type, code}}``."""
        headers = (("retry-after", str(retry_after)),) if retry_after is not None else ()
        body = {"error": {"message": message, "type": type, "code": code}}
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def raw(
        cls, body: bytes, *, status: int = 200, content_type: str = "application/json"
    ) -> Reply:
        """Exactly these bytes, e.g. malformed JSON: ``Reply.raw(b'{"choices": [')``."""
        return cls(status=status, body=body, headers=(("content-type", content_type),))

    def delayed(self, seconds: float) -> Reply:
        """This reply, sent after ``seconds`` (or never, if the client gives up first)."""
        return replace(self, delay_seconds=seconds)


def _completion_body(
    request: RecordedRequest,
    serial: int,
    content: str | None,
    usage: dict[str, Any] | None,
    model: str | None,
    finish_reason: str,
) -> dict[str, Any]:
    data = request.json if isinstance(request.json, dict) else {}
    body: dict[str, Any] = {
        "id": f"chatcmpl-{serial}",
        "object": "chat.completion",
        "created": CREATED,
        "model": model or data.get("model") or "unknown",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


class OpenAIServer:
    """The fake chat-completions server; a context manager that starts and stops it."""

    def __init__(self, *, handler: Callable[[RecordedRequest], Reply] | None = None):
        self.handler: Callable[[RecordedRequest], Reply] = handler or (lambda _r: Reply.echo())
        self.requests: list[RecordedRequest] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``…/v1``) to hand to a client."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def openrouter_base_url(self) -> str:
        """The OpenRouter-style base URL (``…/api/v1``)."""
        return f"http://127.0.0.1:{self.port}/api/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order (after any still queued)."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget recorded requests and queued replies; restore the echo handler."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.handler = lambda _r: Reply.echo()

    def start(self) -> OpenAIServer:
        """Bind a free loopback port and serve until :meth:`stop`."""
        self._stopping.clear()
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then,
        # and without it every answer waits ~40 ms for a delayed ACK (Nagle).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws="none",
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, request: RecordedRequest) -> tuple[Reply, int]:
        with self._lock:
            self.requests.append(request)
            serial = len(self.requests)
            scripted = self._script.pop(0) if self._script else None
        return (scripted or self.handler(request)), serial

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = RecordedRequest(scope["method"], scope["path"], headers, body)
        if scope["method"] != "POST" or scope["path"] not in {
            f"{p}/chat/completions" for p in PREFIXES
        }:
            await _send(send, Reply.error(404, "no such route", type="invalid_request_error"))
            return
        reply, serial = self._next_reply(request)
        if reply.delay_seconds:
            waited = await self._wait(receive, reply.delay_seconds)
            if waited == "disconnected":
                return  # the client gave up: nobody to answer
            if waited == "stopping":
                reply = Reply.error(503, "the fake server is stopping")
        await _send(send, reply, request, serial)

    async def _wait(self, receive: Any, seconds: float) -> str:
        """Sleep ``seconds`` unless the client disconnects or the server stops first."""
        disconnected = asyncio.ensure_future(receive())
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                if self._stopping.is_set():
                    return "stopping"
                done, _ = await asyncio.wait({disconnected}, timeout=min(left, 0.05))
                if done:
                    return "disconnected"
            return "waited"
        finally:
            disconnected.cancel()


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(
    send: Any, reply: Reply, request: RecordedRequest | None = None, serial: int = 0
) -> None:
    payload = reply.body
    if callable(payload):
        assert request is not None
        payload = payload(request, serial)
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = dict(reply.headers)
    headers.setdefault("content-type", "application/json")
    headers["content-length"] = str(len(raw))
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": raw})


@pytest.fixture(scope="session")
def openai_server_session() -> Iterator[OpenAIServer]:
    """One fake server for the whole test session (use :func:`openai_server` in tests)."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(openai_server_session: OpenAIServer) -> Iterator[OpenAIServer]:
    """The running fake chat-completions server, reset for this test (echo unless scripted)."""
    openai_server_session.reset()
    yield openai_server_session
    openai_server_session.reset()


@pytest.fixture
def openai_server_factory() -> Iterator[Callable[..., OpenAIServer]]:
    """Start as many fake servers as a test needs; all are stopped after it."""
    started: list[OpenAIServer] = []

    def make(**kwargs: Any) -> OpenAIServer:
        server = OpenAIServer(**kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


__all__ = [
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "count_tokens",
    "openai_server",
    "openai_server_factory",
    "openai_server_session",
]
