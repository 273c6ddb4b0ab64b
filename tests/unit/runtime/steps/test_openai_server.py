"""The fake chat-completions server itself: protocol shape, scripting, recording, delays."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.support.openai_server import CREATED, OpenAIServer, Reply, count_tokens

CHAT = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}


def post(
    server: OpenAIServer,
    body: object = CHAT,
    *,
    path: str = "/chat/completions",
    timeout: float = 5.0,
) -> httpx.Response:
    """POST JSON to the server (OpenAI-style base URL)."""
    with httpx.Client(timeout=timeout) as client:
        return client.post(server.base_url + path, json=body)


class TestOpenAIServer:
    def test_echo_is_a_deterministic_completion(self, openai_server):
        data = post(openai_server).json()
        content = json.dumps({"echo": "hello there"})
        assert data == {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": CREATED,
            "model": "openai/gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": count_tokens("hello there"),
                "completion_tokens": count_tokens(content),
                "total_tokens": count_tokens("hello there") + count_tokens(content),
            },
        }

    def test_records_requests(self, openai_server):
        with httpx.Client() as client:
            client.post(
                openai_server.openrouter_base_url + "/chat/completions",
                json={**CHAT, "messages": [{"role": "system", "content": "s"}, *CHAT["messages"]]},
                headers={"Authorization": "Bearer k"},
            )
        [request] = openai_server.requests
        assert (request.method, request.path) == ("POST", "/api/v1/chat/completions")
        assert request.headers["authorization"] == "Bearer k"
        assert request.json["model"] == "openai/gpt-4o"
        assert (request.message("system"), request.message("user")) == ("s", "hello there")
        assert request.message("assistant") is None

    def test_script_is_used_in_order_then_handler(self, openai_server):
        openai_server.script(Reply.error(503), Reply.completion("two", cost=0.0042))
        openai_server.handler = lambda request: Reply.completion(request.json["model"])
        first, second, third = (post(openai_server) for _ in range(3))
        assert first.status_code == 503
        assert first.json() == {
            "error": {"message": "upstream failure", "type": "server_error", "code": None}
        }
        assert second.json()["usage"]["cost"] == 0.0042
        assert second.json()["choices"][0]["message"]["content"] == "two"
        assert third.json()["choices"][0]["message"]["content"] == "openai/gpt-4o"

    def test_completion_without_usage(self, openai_server):
        openai_server.script(Reply.completion(include_usage=False))
        assert "usage" not in post(openai_server).json()

    def test_error_carries_retry_after(self, openai_server):
        openai_server.script(Reply.error(429, "slow down", code="rate_limited", retry_after=1))
        response = post(openai_server)
        assert (response.status_code, response.headers["retry-after"]) == (429, "1")
        assert response.json()["error"]["code"] == "rate_limited"

    def test_raw_reply_sends_exact_bytes(self, openai_server):
        openai_server.script(Reply.raw(b'{"choices": [', status=200))
        assert post(openai_server).content == b'{"choices": ['

    @pytest.mark.parametrize("path", ["/models", "/chat/completion"])
    def test_unknown_route_fails_not_found(self, openai_server, path):
        response = post(openai_server, path=path)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "invalid_request_error"

    def test_delayed_reply_ends_when_client_gives_up(self, openai_server):
        openai_server.script(Reply.completion("late").delayed(30))
        with pytest.raises(httpx.ReadTimeout):
            post(openai_server, timeout=0.2)
        started = time.monotonic()
        assert post(openai_server).status_code == 200  # not stuck behind the delayed one
        assert time.monotonic() - started < 5

    def test_reset_forgets_requests_script_and_handler(self, openai_server):
        openai_server.script(Reply.error(500), Reply.error(500))
        openai_server.handler = lambda request: Reply.error(418)
        post(openai_server)
        openai_server.reset()
        assert openai_server.requests == []
        assert post(openai_server).status_code == 200


class TestOpenAIServerLifecycle:
    def test_factory_starts_separate_servers(self, openai_server_factory):
        one, two = openai_server_factory(), openai_server_factory()
        assert one.port != two.port
        post(one)
        assert (len(one.requests), len(two.requests)) == (1, 0)

    def test_stop_releases_the_port_and_is_idempotent(self):
        server = OpenAIServer().start()
        post(server)
        server.stop()
        server.stop()
        with pytest.raises(httpx.ConnectError):
            post(server)

    def test_stop_is_prompt_with_a_reply_pending(self):
        server = OpenAIServer().start()
        server.script(Reply.completion().delayed(30))
        answers: list[int] = []
        caller = threading.Thread(target=lambda: answers.append(post(server).status_code))
        caller.start()
        while not server.requests:
            time.sleep(0.01)
        started = time.monotonic()
        server.stop()
        caller.join(timeout=10)
        assert time.monotonic() - started < 5
        assert answers == [503]
