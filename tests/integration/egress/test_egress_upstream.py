"""The guard end to end against a real local upstream: fetch, redirects, caps, headers, TLS.

Every guard here is the production class. It reaches 127.0.0.1 only through the explicit
``extra_allowed_addresses=["127.0.0.1"]`` and a policy that allows the upstream's port.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import httpx
import pytest

from skillmarket.runtime.egress import (
    ALLOWLIST_EXTENSION,
    Allowlist,
    EgressBlocked,
    EgressGuard,
    EgressPolicy,
    EgressResponseTooLarge,
    EgressTimeout,
    EgressTooManyRedirects,
    EgressTransport,
    EgressUnreachable,
    StaticResolver,
)

pytestmark = pytest.mark.anyio

DNS = {
    "upstream.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],
    "internal.test": ["10.0.0.1"],
    "loopback-two.test": ["127.0.0.2"],
}
SECRETS = {"Authorization": "Bearer s3cret", "Cookie": "sid=s3cret", "X-Api-Key": "s3cret"}


def guard_for(*ports: int, allowed: tuple[str, ...] = ("127.0.0.1",), **limits) -> EgressGuard:
    """A production guard that may reach ``allowed`` addresses on ``ports`` (and 80, 443)."""
    policy = EgressPolicy(allowed_ports=frozenset({80, 443, *ports}), **limits)
    return EgressGuard(policy, resolver=StaticResolver(DNS), extra_allowed_addresses=allowed)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redirect(upstream, to: str, status: int = 302, host: str = "upstream.test") -> str:
    """A URL on the upstream that answers with a redirect to ``to``."""
    return f"http://{host}:{upstream.port}/redirect?status={status}&to={quote(to, safe='')}"


class TestEgressGuardFetch:
    async def test_fetch_returns_status_headers_body_and_metadata(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch("GET", f"http://upstream.test:{upstream.port}/echo?q=1")
        echoed = json.loads(response.body)
        assert response.status == 200
        assert echoed["headers"]["host"] == f"upstream.test:{upstream.port}"
        assert echoed["headers"]["user-agent"] == "skillmarket-egress/1"
        assert response.header("X-Upstream") == "1"
        assert response.header("keep-alive") is None  # hop-by-hop headers are not passed on
        meta = response.metadata.to_dict()
        assert set(meta) == {
            "method",
            "host",
            "final_host",
            "status",
            "redirects",
            "bytes_sent",
            "bytes_received",
            "duration_ms",
            "address",
        }
        assert meta["method"] == "GET" and meta["host"] == meta["final_host"] == "upstream.test"
        assert meta["status"] == 200 and meta["redirects"] == 0
        assert meta["bytes_received"] == len(response.body) and meta["address"] == "127.0.0.1"
        assert meta["duration_ms"] > 0

    async def test_fetch_sends_method_body_and_caller_headers(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch(
                "post",
                f"http://upstream.test:{upstream.port}/echo",
                headers=[("X-Custom", "yes"), ("User-Agent", "skill/1")],
                body=b'{"a": 1}',
            )
        echoed = json.loads(response.body)
        assert echoed["method"] == "POST" and echoed["body"] == '{"a": 1}'
        assert echoed["headers"]["x-custom"] == "yes"
        assert echoed["headers"]["user-agent"] == "skill/1"
        assert response.metadata.bytes_sent == 8

    async def test_fetch_head_returns_no_body(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch("HEAD", f"http://upstream.test:{upstream.port}/echo")
        assert response.status == 200 and response.body == b""
        assert int(response.header("content-length")) > 0

    async def test_fetch_fails_body_of_another_type(self, upstream):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(TypeError):
                await guard.fetch("POST", f"http://upstream.test:{upstream.port}/", body={"a": 1})

    async def test_fetch_fails_without_the_test_allowance(self, upstream):
        async with guard_for(upstream.port, allowed=()) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("GET", f"http://upstream.test:{upstream.port}/echo")
        assert caught.value.details["reason"] == "loopback_address"
        assert upstream.seen == []

    async def test_fetch_fails_allowance_is_one_exact_address(self, upstream):
        async with guard_for(upstream.port) as guard:
            for url in (
                f"http://127.0.0.2:{upstream.port}/",
                f"http://loopback-two.test:{upstream.port}/",
                f"http://[::1]:{upstream.port}/",
            ):
                with pytest.raises(EgressBlocked) as caught:
                    await guard.fetch("GET", url)
                assert caught.value.details["reason"] == "loopback_address"
        assert upstream.seen == []

    async def test_fetch_fails_port_outside_policy_despite_allowance(self, upstream):
        async with guard_for() as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("GET", f"http://upstream.test:{upstream.port}/")
        assert caught.value.details["reason"] == "port_not_allowed"

    async def test_extra_allowance_fails_for_network_or_metadata(self):
        for bad in ("127.0.0.0/8", "169.254.169.254", "fd00:ec2::254", "0.0.0.0", "::"):
            with pytest.raises(ValueError):
                EgressGuard(extra_allowed_addresses=[bad])

    async def test_fetch_fails_unreachable_port(self):
        port = free_port()
        async with guard_for(port) as guard:
            with pytest.raises(EgressUnreachable) as caught:
                await guard.fetch("GET", f"http://upstream.test:{port}/")
        assert caught.value.details == {"reason": "connect_failed", "host": "upstream.test"}

    async def test_fetch_fails_unknown_name(self, upstream):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(EgressUnreachable) as caught:
                await guard.fetch("GET", f"http://nowhere.test:{upstream.port}/")
        assert caught.value.details["reason"] == "dns_failed"

    async def test_fetch_fails_allowlist_without_the_host(self, upstream):
        async with guard_for(upstream.port) as guard:
            url = f"http://upstream.test:{upstream.port}/echo"
            assert (await guard.fetch("GET", url, allowlist=["upstream.test"])).status == 200
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("GET", url, allowlist=["*.upstream.test", "other.test"])
        assert caught.value.details == {"reason": "not_allowlisted", "host": "upstream.test"}
        assert len(upstream.seen) == 1


class SequenceResolver:
    """Answers each lookup with the next entry of ``answers`` (the last one repeats)."""

    def __init__(self, *answers: list[str]):
        self.answers = [StaticResolver({"flip.test": a}) for a in answers]
        self.calls = 0

    async def resolve(self, host: str, port: int):
        """The next answer."""
        self.calls += 1
        return await self.answers[min(self.calls, len(self.answers)) - 1].resolve(host, port)


class TestEgressGuardDns:
    async def test_fetch_resolves_once_per_connection(self, upstream):
        resolver = SequenceResolver(["127.0.0.1"])
        policy = EgressPolicy(allowed_ports={upstream.port})
        async with EgressGuard(
            policy, resolver=resolver, extra_allowed_addresses=["127.0.0.1"]
        ) as guard:
            for _ in range(3):  # one kept-alive connection
                await guard.fetch("GET", f"http://flip.test:{upstream.port}/echo")
        assert resolver.calls == 1

    async def test_fetch_fails_rebinding_on_the_next_connection(self, upstream):
        resolver = SequenceResolver(["127.0.0.1"], ["10.0.0.1"])
        policy = EgressPolicy(allowed_ports={upstream.port})
        async with EgressGuard(
            policy, resolver=resolver, extra_allowed_addresses=["127.0.0.1"]
        ) as guard:
            first = await guard.fetch("GET", f"http://flip.test:{upstream.port}/close")
            assert first.body == b"closing"
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("GET", f"http://flip.test:{upstream.port}/echo")
        assert caught.value.details["address"] == "10.0.0.1"
        assert [seen.path for seen in upstream.seen] == ["/close"]


class TestEgressGuardRedirects:
    async def test_fetch_follows_same_origin_redirect_with_credentials(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch("GET", redirect(upstream, "/echo"), headers=SECRETS)
        echoed = json.loads(response.body)
        assert echoed["headers"]["authorization"] == "Bearer s3cret"
        assert response.metadata.redirects == 1

    async def test_fetch_drops_credentials_on_cross_origin_redirect(self, upstream):
        target = f"http://other.test:{upstream.port}/echo"
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch(
                "GET",
                redirect(upstream, target),
                headers={**SECRETS, "X-Custom": "kept"},
                sensitive_headers=["x-api-key"],
            )
        received = json.loads(response.body)["headers"]
        assert "authorization" not in received and "cookie" not in received
        assert "x-api-key" not in received and received["x-custom"] == "kept"
        assert response.metadata.final_host == "other.test"
        assert upstream.seen[0].headers["authorization"] == "Bearer s3cret"

    @pytest.mark.parametrize(
        ("location", "reason"),
        [
            ("http://169.254.169.254/latest/meta-data/", "cloud_metadata_address"),
            ("http://[::ffff:169.254.169.254]/latest/meta-data/", "cloud_metadata_address"),
            ("http://2130706433/", "non_canonical_ip"),
            ("http://internal.test/", "private_address"),
            ("http://127.0.0.2/", "loopback_address"),
            ("file:///etc/passwd", "scheme_not_allowed"),
            ("gopher://upstream.test/", "scheme_not_allowed"),
            ("http://upstream.test:22/", "port_not_allowed"),
            ("http://user@upstream.test/", "userinfo_not_allowed"),
            ("/\\127.0.0.2/", "invalid_url"),
        ],
    )
    async def test_fetch_fails_redirect_into_refused_space(self, upstream, location, reason):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("GET", redirect(upstream, location), headers=SECRETS)
        assert caught.value.details["reason"] == reason
        assert "s3cret" not in json.dumps(caught.value.to_dict())
        assert len(upstream.seen) == 1

    async def test_fetch_fails_redirect_outside_allowlist(self, upstream):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch(
                    "GET",
                    redirect(upstream, f"http://other.test:{upstream.port}/echo"),
                    allowlist=["upstream.test"],
                )
        assert caught.value.details == {"reason": "not_allowlisted", "host": "other.test"}

    async def test_fetch_fails_too_many_redirects(self, upstream):
        async with guard_for(upstream.port, max_redirects=3) as guard:
            with pytest.raises(EgressTooManyRedirects) as caught:
                await guard.fetch("GET", f"http://upstream.test:{upstream.port}/loop")
        assert caught.value.code == "EGRESS_TOO_MANY_REDIRECTS"
        assert len(upstream.seen) == 4

    async def test_fetch_turns_303_into_get_without_body(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch(
                "POST",
                redirect(upstream, "/echo", status=303),
                headers={"Content-Type": "application/json"},
                body=b"{}",
            )
        echoed = json.loads(response.body)
        assert echoed["method"] == "GET" and echoed["body"] == ""
        assert "content-type" not in echoed["headers"]
        assert response.metadata.method == "POST" and response.metadata.redirects == 1

    async def test_fetch_keeps_method_and_body_on_307(self, upstream):
        async with guard_for(upstream.port) as guard:
            response = await guard.fetch("PUT", redirect(upstream, "/echo", 307), body=b"data")
        echoed = json.loads(response.body)
        assert echoed["method"] == "PUT" and echoed["body"] == "data"
        assert response.metadata.bytes_sent == 8


class TestEgressGuardLimits:
    async def test_fetch_returns_body_at_the_cap(self, upstream):
        async with guard_for(upstream.port, max_response_bytes=10_000) as guard:
            response = await guard.fetch("GET", f"http://upstream.test:{upstream.port}/big?n=10000")
        assert len(response.body) == 10_000

    @pytest.mark.parametrize("route", ["big", "chunked"])
    async def test_fetch_fails_response_too_large(self, upstream, route):
        async with guard_for(upstream.port, max_response_bytes=10_000) as guard:
            with pytest.raises(EgressResponseTooLarge) as caught:
                await guard.fetch("GET", f"http://upstream.test:{upstream.port}/{route}?n=50000")
        assert caught.value.details == {"host": "upstream.test", "max_bytes": 10_000}

    @pytest.mark.parametrize("route", ["slow?s=2", "drip"])
    async def test_fetch_fails_total_time_cap(self, upstream, route):
        async with guard_for(upstream.port, total_timeout_s=0.3) as guard:
            with pytest.raises(EgressTimeout) as caught:
                await guard.fetch("GET", f"http://upstream.test:{upstream.port}/{route}")
        assert caught.value.details == {"host": "upstream.test", "timeout_ms": 300}

    @pytest.mark.parametrize(
        "header",
        [
            ("Host", "internal.test"),
            ("host", "x"),
            ("Content-Length", "0"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
            ("Keep-Alive", "timeout=1"),
            ("TE", "trailers"),
            ("Trailer", "X"),
            ("Upgrade", "websocket"),
            ("Expect", "100-continue"),
            ("Proxy-Authorization", "Basic x"),
            ("Proxy-Connection", "keep-alive"),
            ("Bad Header", "x"),
            ("X-Split", "a\r\nHost: internal.test"),
        ],
    )
    async def test_fetch_fails_header_not_allowed(self, upstream, header):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch(
                    "GET", f"http://upstream.test:{upstream.port}/echo", headers=[header]
                )
        assert caught.value.details["reason"] == "header_not_allowed"
        assert upstream.seen == []

    @pytest.mark.parametrize("method", ["CONNECT", "TRACE", "G ET", ""])
    async def test_fetch_fails_method_not_allowed(self, upstream, method):
        async with guard_for(upstream.port) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch(method, f"http://upstream.test:{upstream.port}/echo")
        assert caught.value.details["reason"] == "method_not_allowed"

    async def test_fetch_fails_request_too_large(self, upstream):
        async with guard_for(upstream.port, max_request_bytes=100) as guard:
            with pytest.raises(EgressBlocked) as caught:
                await guard.fetch("POST", f"http://upstream.test:{upstream.port}/", body=b"z" * 101)
        assert caught.value.details["reason"] == "request_too_large"
        assert upstream.seen == []


class TestEgressTransport:
    async def test_httpx_client_fetches_through_transport(self, upstream):
        transport = EgressTransport(
            EgressPolicy(allowed_ports={80, upstream.port}),
            resolver=StaticResolver(DNS),
            extra_allowed_addresses=["127.0.0.1"],
        )
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            ok = await client.get(redirect(upstream, "/echo"))
            assert ok.status_code == 200
            with pytest.raises(EgressBlocked) as caught:
                await client.get(redirect(upstream, "http://169.254.169.254/"))
        assert caught.value.details["reason"] == "cloud_metadata_address"

    async def test_transport_allowlist_and_request_allowlist_both_bind(self, upstream):
        transport = EgressTransport(
            EgressPolicy(allowed_ports={upstream.port}),
            resolver=StaticResolver(DNS),
            allowlist=["upstream.test", "other.test"],
            extra_allowed_addresses=["127.0.0.1"],
        )
        narrower = {ALLOWLIST_EXTENSION: Allowlist.from_entries(["other.test"])}
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(f"http://upstream.test:{upstream.port}/")).status_code == 200
            with pytest.raises(EgressBlocked):
                await client.get(f"http://upstream.test:{upstream.port}/", extensions=narrower)
            with pytest.raises(EgressBlocked):
                await client.get(f"http://internal.test:{upstream.port}/")

    async def test_transport_never_shares_a_connection_between_names(self, upstream):
        async with guard_for(upstream.port) as guard:
            for host in ("upstream.test", "upstream.test", "other.test"):
                await guard.fetch("GET", f"http://{host}:{upstream.port}/echo")
        ports = [seen.client_port for seen in upstream.seen]
        assert ports[0] == ports[1] != ports[2]


class TestEgressGuardTls:
    async def test_fetch_over_tls_keeps_sni_and_host(self, tls_upstream, pki):
        guard = EgressGuard(
            EgressPolicy(allowed_ports={tls_upstream.port}),
            resolver=StaticResolver(DNS),
            extra_allowed_addresses=["127.0.0.1"],
            ssl_context=pki.client_context(),
        )
        async with guard:
            response = await guard.fetch("GET", f"https://upstream.test:{tls_upstream.port}/echo")
        assert response.status == 200
        assert tls_upstream.sni == ["upstream.test"]
        assert tls_upstream.seen[0].headers["host"] == f"upstream.test:{tls_upstream.port}"
        assert response.metadata.address == "127.0.0.1"

    async def test_fetch_over_tls_fails_certificate_of_another_name(self, tls_upstream, pki):
        guard = EgressGuard(
            EgressPolicy(allowed_ports={tls_upstream.port}),
            resolver=StaticResolver(DNS),
            extra_allowed_addresses=["127.0.0.1"],
            ssl_context=pki.client_context(),
        )
        async with guard:
            with pytest.raises(EgressUnreachable) as caught:
                await guard.fetch("GET", f"https://other.test:{tls_upstream.port}/echo")
        assert caught.value.details == {"reason": "tls_failed", "host": "other.test"}
        assert tls_upstream.sni == ["other.test"] and tls_upstream.seen == []
