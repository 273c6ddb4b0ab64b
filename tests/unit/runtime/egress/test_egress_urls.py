"""URL parsing: one target per URL, and nothing that two parsers could read differently."""

from __future__ import annotations

from ipaddress import ip_address

import httpx
import pytest

from skillmarket.runtime.egress.errors import EgressBlocked
from skillmarket.runtime.egress.urls import Target, parse_ipv4_loose, parse_target


def _reason(url: str | httpx.URL, **kwargs) -> str:
    with pytest.raises(EgressBlocked) as caught:
        parse_target(url, **kwargs)
    assert caught.value.code == "EGRESS_BLOCKED"
    return caught.value.reason


class TestParseTarget:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("http://example.com/", Target("http", "example.com", 80)),
            ("https://example.com/a?b=c#d", Target("https", "example.com", 443)),
            ("HTTPS://EXAMPLE.COM./", Target("https", "example.com", 443)),
            ("http://example.com:443/", Target("http", "example.com", 443)),
            ("http://bücher.example/", Target("http", "xn--bcher-kva.example", 80)),
            (
                "http://93.184.215.14/",
                Target("http", "93.184.215.14", 80, ip_address("93.184.215.14")),
            ),
            (
                "http://[2606:2800:21F:CB07:6820:80DA:AF6B:8B2C]/",
                Target(
                    "http",
                    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                    80,
                    ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
                ),
            ),
        ],
    )
    def test_parse_target_normalises(self, url, expected):
        assert parse_target(url) == expected

    def test_parse_target_accepts_an_httpx_url(self):
        assert parse_target(httpx.URL("http://example.com/")).host == "example.com"

    def test_parse_target_allows_a_configured_port(self):
        assert parse_target("http://example.com:8080/", allowed_ports={8080}).port == 8080

    @pytest.mark.parametrize(
        "url", ["file:///etc/passwd", "ftp://example.com/", "ws://example.com/", "//example.com/"]
    )
    def test_parse_target_fails_scheme_not_allowed(self, url):
        assert _reason(url) == "scheme_not_allowed"

    def test_parse_target_fails_scheme_outside_policy(self):
        assert _reason("http://example.com/", allowed_schemes={"https"}) == "scheme_not_allowed"

    @pytest.mark.parametrize("url", ["http://a@example.com/", "http://a:b@example.com/"])
    def test_parse_target_fails_userinfo(self, url):
        assert _reason(url) == "userinfo_not_allowed"

    @pytest.mark.parametrize(
        "url",
        [
            "http://example.com:22/",
            "http://example.com:8080/",
            "http://example.com:0/",
            "http://example.com:99999/",
        ],
    )
    def test_parse_target_fails_port_not_allowed(self, url):
        assert _reason(url) == "port_not_allowed"

    @pytest.mark.parametrize(
        "url",
        [
            "http://example.com\\@127.0.0.1/",
            "http://example.com /",
            "http://exam\tple.com/",
            "http://example.com/\x00",
            "http:///path",
            "http://%31%32%37.0.0.1/",
            "http://exa_mple..com/",
            "http://[example.com]/",
            "http://[fe80::1%25eth0]/",
            "http://256.1.1.1/",
            "http://1.2.3.4.5/",
            "http://08/",
            "http://" + "a" * 9000 + ".com/",
        ],
    )
    def test_parse_target_fails_invalid_url(self, url):
        assert _reason(url) == "invalid_url"

    @pytest.mark.parametrize(
        ("url", "address"),
        [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://169.254.43518/", "169.254.169.254"),
            ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254"),
        ],
    )
    def test_parse_target_fails_non_canonical_ip(self, url, address):
        with pytest.raises(EgressBlocked) as caught:
            parse_target(url)
        assert caught.value.details["reason"] == "non_canonical_ip"
        assert caught.value.details["address"] == address


class TestParseIpv4Loose:
    @pytest.mark.parametrize(
        ("text", "address"),
        [
            ("127.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("2852039166", "169.254.169.254"),
            ("0251.0376.0251.0376", "169.254.169.254"),
            ("0", "0.0.0.0"),
        ],
    )
    def test_parse_ipv4_loose_decodes_inet_aton_forms(self, text, address):
        assert parse_ipv4_loose(text) == ip_address(address)

    @pytest.mark.parametrize("text", ["256.0.0.1", "1.2.3.4.5", "08", "1..2", "0xg", "4294967296"])
    def test_parse_ipv4_loose_fails_out_of_range(self, text):
        assert parse_ipv4_loose(text) is None
