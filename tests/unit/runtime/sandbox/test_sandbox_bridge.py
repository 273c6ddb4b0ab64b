"""proxy_fetch host side: request validation and callback error handling."""

from __future__ import annotations

import asyncio

import pytest

from skillmarket.errors import SkillmarketError
from skillmarket.runtime.sandbox import FetchRequest, FetchResponse
from skillmarket.runtime.sandbox.bridge import FetchBridge, FetchRefused, parse_request


class Revoked(SkillmarketError):
    code = "PASSPORT_REVOKED"
    status = 403


def serve(bridge: FetchBridge, raw, fetch_id: int = 1):
    return asyncio.run(bridge.serve(fetch_id, raw))


class TestParseRequest:
    def test_valid_request_is_normalised(self):
        req = parse_request({"url": "https://a/x", "method": "post", "headers": {"a": "1"}}, 100)
        assert req == FetchRequest("https://a/x", "POST", None, {"a": "1"}, None)

    @pytest.mark.parametrize(
        "raw",
        [
            "https://a",
            {"url": ""},
            {"url": 5},
            {"url": "https://a", "method": "GET /x"},
            {"url": "https://a", "headers": {"a": 1}},
            {"url": "https://a", "headers": {str(i): "v" for i in range(101)}},
            {"url": "https://a", "service": ["x"]},
        ],
    )
    def test_parse_fails_invalid(self, raw):
        with pytest.raises(FetchRefused) as caught:
            parse_request(raw, 100)
        assert caught.value.code == "FETCH_INVALID"

    def test_parse_fails_body_too_large(self):
        with pytest.raises(FetchRefused) as caught:
            parse_request({"url": "https://a", "body": "x" * 101}, 100)
        assert caught.value.code == "FETCH_TOO_LARGE"


class TestFetchBridge:
    def test_serve_returns_response(self):
        async def ok(request):
            return FetchResponse(201, {"k": "v"}, request.url)

        bridge = FetchBridge(ok, max_fetches=5, max_body=100)
        assert serve(bridge, {"url": "https://a"}) == (
            True,
            {"status": 201, "headers": {"k": "v"}, "body": "https://a"},
        )
        assert bridge.count == 1

    def test_serve_fails_without_callback(self):
        ok, payload = serve(FetchBridge(None, max_fetches=5, max_body=100), {"url": "https://a"})
        assert (ok, payload["code"]) == (False, "PROXY_FETCH_DISABLED")

    def test_serve_fails_past_fetch_limit(self):
        async def ok(request):
            return FetchResponse(200)

        bridge = FetchBridge(ok, max_fetches=1, max_body=100)
        serve(bridge, {"url": "https://a"}, 1)
        assert serve(bridge, {"url": "https://a"}, 2)[1]["code"] == "FETCH_LIMIT"

    def test_serve_fails_with_callback_code_and_remembers_it(self):
        async def revoked(request):
            raise Revoked("passport revoked")

        bridge = FetchBridge(revoked, max_fetches=5, max_body=100)
        assert serve(bridge, {"url": "https://a"}, 7) == (
            False,
            {"code": "PASSPORT_REVOKED", "message": "passport revoked"},
        )
        assert isinstance(bridge.errors[7], Revoked)

    def test_serve_fails_generic_for_callback_bug(self):
        async def buggy(request):
            raise RuntimeError("internal host name db-7.internal")

        bridge = FetchBridge(buggy, max_fetches=5, max_body=100)
        ok, payload = serve(bridge, {"url": "https://a"}, 3)
        assert (ok, payload) == (
            False,
            {"code": "PROXY_FETCH_FAILED", "message": "proxy_fetch failed"},
        )
        assert isinstance(bridge.errors[3], RuntimeError)

    def test_serve_fails_for_oversized_response(self):
        async def big(request):
            return FetchResponse(200, {}, "x" * 101)

        ok, payload = serve(FetchBridge(big, max_fetches=5, max_body=100), {"url": "https://a"})
        assert (ok, payload["code"]) == (False, "FETCH_TOO_LARGE")
