"""SSRF payloads: every one refused with EGRESS_BLOCKED, by the decision and by a real fetch.

Names resolve through a StaticResolver built here, mapping test names the way real DNS would
(``localhost`` to loopback, rebinding names to a public and a private answer, ...). The guard
is the production guard: no extra allowed addresses, default ports. The ``no_network`` fixture
makes any attempt to open a socket fail the test, so a regression can never send traffic.
"""

from __future__ import annotations

from ipaddress import ip_address

import httpcore
import pytest

from skillmarket.runtime.egress import (
    EgressBlocked,
    EgressGuard,
    EgressPolicy,
    EgressUnreachable,
    StaticResolver,
)

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.215.14"
PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

DNS = {
    "public.example": [PUBLIC],
    "public6.example": [PUBLIC6],
    "localhost": ["127.0.0.1", "::1"],
    "foo.localhost": ["127.0.0.1"],
    "localtest.me": ["127.0.0.1"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "169.254.169.254.nip.io": ["169.254.169.254"],
    "metadata.google.internal": ["169.254.169.254"],
    "mixed.example": [PUBLIC, "10.0.0.5"],
    "rebind.example": [PUBLIC, "127.0.0.1"],
    "mixed6.example": [PUBLIC6, "fd00::1"],
    "internal.example": ["192.168.1.10"],
    "cgnat.example": ["100.64.0.1"],
    "alibaba.example": ["100.100.100.200"],
    "mapped.example": ["::ffff:169.254.169.254"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example": ["2002:7f00:1::1"],
    "zero.example": ["0.0.0.0"],
    "linklocal6.example": ["fe80::1"],
    "xn--bcher-kva.example": ["127.0.0.1"],
}

PAYLOADS = [
    # alternative IPv4 encodings of loopback, unspecified and the metadata endpoint
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://127.0.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://2852039166/latest/meta-data/",
    "http://0xA9FEA9FE/",
    "http://169.254.43518/",
    "http://0251.0376.0251.0376/",
    "http://127.0.0.1./",
    "http://127%2e0%2e0%2e1/",
    # plain special-purpose IPv4
    "http://127.0.0.1/",
    "http://127.255.255.254/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://100.100.100.200/latest/meta-data/",
    "http://168.63.129.16/machine",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.0.9/",
    "http://198.18.0.1/",
    # IPv6 literals and IPv4-carrying forms
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[::127.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    # names whose answers are (partly) private
    "http://localhost/",
    "http://LOCALHOST./",
    "http://LocalHost:80/",
    "http://foo.localhost/",
    "http://localtest.me/",
    "http://127.0.0.1.nip.io/",
    "http://169.254.169.254.nip.io/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://mixed.example/",
    "http://rebind.example/",
    "http://mixed6.example/",
    "http://internal.example/",
    "http://cgnat.example/",
    "http://alibaba.example/",
    "http://mapped.example/",
    "http://nat64.example/",
    "http://sixtofour.example/",
    "http://zero.example/",
    "http://linklocal6.example/",
    # IDN
    "http://bücher.example/",
    "http://xn--bcher-kva.example/",
    "http://ⓛocalhost/",
    "http://①②⑦.0.0.1/",
    "http://127。0。0。1/",
    # user info, fragments and backslashes
    "http://evil.com@127.0.0.1/",
    "http://public.example@127.0.0.1/",
    "http://user:pass@public.example/",
    "http://127.0.0.1#@public.example/",
    "http://127.0.0.1:80#@public.example/",
    "http://public.example\\@127.0.0.1/",
    "http://127.0.0.1\\@public.example/",
    "http:\\\\127.0.0.1\\",
    "http://public.example:80\\@127.0.0.1/",
    "http://public.example /",
    "http://public.example\t/",
    "http:///127.0.0.1/",
    "http://[public.example]/",
    # schemes other than http and https
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_GET%20/",
    "ftp://public.example/",
    "data:text/plain,hello",
    "dict://127.0.0.1:11211/stat",
    "ldap://public.example/",
    "ws://public.example/",
    "javascript:alert(1)",
    "//public.example/",
    # ports other than 80 and 443
    "http://public.example:22/",
    "http://public.example:8080/",
    "https://public.example:6379/",
    "http://public.example:0/",
    "http://public.example:99999/",
    "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:25/",
]

NOT_OVER_BLOCKED = [
    ("http://public.example/", [PUBLIC]),
    ("https://public.example/path?q=1#frag", [PUBLIC]),
    ("HTTP://PUBLIC.EXAMPLE./", [PUBLIC]),
    ("http://public.example:80/", [PUBLIC]),
    ("https://public6.example:443/", [PUBLIC6]),
    (f"http://{PUBLIC}/", [PUBLIC]),
    (f"http://[{PUBLIC6}]/", [PUBLIC6]),
    ("http://[::ffff:93.184.215.14]/", ["::ffff:93.184.215.14"]),
    ("http://[64:ff9b::5db8:d70e]/", ["64:ff9b::5db8:d70e"]),
    ("http://8.8.8.8/", ["8.8.8.8"]),
    ("http://100.128.0.1/", ["100.128.0.1"]),
    ("http://172.32.0.1/", ["172.32.0.1"]),
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test, without sending anything, if the guard ever tries to open a socket."""

    async def refuse(self, host, port, *args, **kwargs):
        raise AssertionError(f"the guard tried to connect to {host}:{port}")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", refuse)


@pytest.fixture
async def guard():
    async with EgressGuard(EgressPolicy(), resolver=StaticResolver(DNS)) as guard:
        yield guard


def test_there_are_at_least_sixty_payloads():
    assert len(set(PAYLOADS)) == len(PAYLOADS) >= 60


class TestEgressGuardSsrf:
    @pytest.mark.parametrize("url", PAYLOADS)
    async def test_check_url_fails_ssrf_payload(self, guard, url):
        with pytest.raises(EgressBlocked) as caught:
            await guard.check_url(url)
        assert caught.value.code == "EGRESS_BLOCKED"
        assert caught.value.status == 403

    @pytest.mark.parametrize("url", PAYLOADS)
    async def test_fetch_fails_ssrf_payload(self, guard, no_network, url):
        with pytest.raises(EgressBlocked) as caught:
            await guard.fetch("GET", url, headers={"Authorization": "Bearer secret-token"})
        assert caught.value.code == "EGRESS_BLOCKED"
        assert "secret-token" not in repr(caught.value.to_dict())

    @pytest.mark.parametrize(("url", "addresses"), NOT_OVER_BLOCKED)
    async def test_check_url_allows_public_target(self, guard, url, addresses):
        assert await guard.check_url(url) == tuple(ip_address(a) for a in addresses)

    async def test_check_url_fails_mixed_answers_naming_the_private_one(self, guard):
        with pytest.raises(EgressBlocked) as caught:
            await guard.check_url("http://rebind.example/")
        assert caught.value.details == {
            "reason": "loopback_address",
            "host": "rebind.example",
            "address": "127.0.0.1",
        }

    async def test_check_url_fails_unresolvable_name(self, guard):
        with pytest.raises(EgressUnreachable) as caught:
            await guard.check_url("http://nowhere.example/")
        assert caught.value.details == {"reason": "dns_failed", "host": "nowhere.example"}
