"""Parse an outbound URL into the one target the guard will judge: pure, no I/O.

Parsing follows httpx (the client that sends the request), and refuses anything another parser
could read differently: a backslash (browsers read ``http://a\\@b/`` as host ``a``; httpx as
``b``), control characters and spaces, user info, percent-escapes or odd characters in the
host, IPv6 zone ids, and numeric hosts written in any form but a dotted quad (``2130706433``,
``0x7f000001``, ``0177.0.0.1``, ``127.1`` and ``0`` all mean a loopback or unspecified address
to ``inet_aton``; they are refused as ``non_canonical_ip`` with the address they decode to).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

import httpx

from skillmarket.runtime.egress.addresses import IPAddress
from skillmarket.runtime.egress.errors import EgressBlocked

__all__ = ["Target", "check_url_text", "parse_host", "parse_ipv4_loose", "parse_target"]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 8192

_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Target:
    """Where a request goes: scheme, normalised ASCII host, port, and the IP if the host is one.

    ``host`` is lower case, IDNA-encoded, without a trailing dot; an IPv6 literal is in its
    compressed form without brackets.
    """

    scheme: str
    host: str
    port: int
    ip: IPAddress | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port)``: two URLs with the same origin may share credentials."""
        return (self.scheme, self.host, self.port)


def parse_target(
    url: str | httpx.URL,
    *,
    allowed_schemes: Collection[str] = ("http", "https"),
    allowed_ports: Collection[int] = (80, 443),
) -> Target:
    """Check a URL's syntax, scheme, user info, host and port; return its :class:`Target`.

    Raises :class:`EgressBlocked` with reason ``invalid_url``, ``scheme_not_allowed``,
    ``userinfo_not_allowed``, ``non_canonical_ip`` or ``port_not_allowed``. Addresses and
    allowlists are judged elsewhere.
    """
    # 1. Reject what parsers disagree on before parsing at all.
    if isinstance(url, str):
        check_url_text(url)
        try:
            url = httpx.URL(url)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise EgressBlocked("invalid_url") from exc
    # 2. Scheme and user info.
    scheme = url.scheme.lower()
    if scheme not in allowed_schemes:
        raise EgressBlocked("scheme_not_allowed", scheme=scheme[:32])
    if url.userinfo:
        raise EgressBlocked("userinfo_not_allowed")
    # 3. Host: a DNS name, a dotted quad, or an IPv6 literal; nothing in between.
    host, ip = parse_host(url.raw_host.decode("ascii", errors="replace"))
    # 4. Port: the scheme's default when absent.
    port = url.port if url.port is not None else DEFAULT_PORTS[scheme]
    if port not in allowed_ports:
        raise EgressBlocked("port_not_allowed", host=host, port=port)
    return Target(scheme=scheme, host=host, port=port, ip=ip)


def check_url_text(text: str) -> None:
    """Refuse a URL (or a redirect's ``Location``) with a backslash, a control character or
    a space, or over :data:`MAX_URL_LENGTH`: parsers disagree about those (``invalid_url``)."""
    if len(text) > MAX_URL_LENGTH or _UNSAFE_URL_CHARS.search(text):
        raise EgressBlocked("invalid_url")


def parse_host(raw: str) -> tuple[str, IPAddress | None]:
    """Normalise a URL host (as sent on the wire) and parse it if it is an IP literal.

    Returns ``(host, ip)``; raises :class:`EgressBlocked` (``invalid_url`` or
    ``non_canonical_ip``).
    """
    host = raw.lower()
    if not host:
        raise EgressBlocked("invalid_url")
    if ":" in host:  # IPv6 literal (the brackets are already gone)
        if "%" in host:
            raise EgressBlocked("invalid_url", host=host[:64])
        try:
            ip6 = IPv6Address(host)
        except ValueError as exc:
            raise EgressBlocked("invalid_url", host=host[:64]) from exc
        return str(ip6), ip6
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise EgressBlocked("invalid_url", host=host[:64])
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return host, None
    # A last label that is a number makes the host an IPv4 address (WHATWG URL, inet_aton).
    ip4 = parse_ipv4_loose(host)
    if ip4 is None:
        raise EgressBlocked("invalid_url", host=host[:64])
    if str(ip4) != host:
        raise EgressBlocked("non_canonical_ip", host=host[:64], address=str(ip4))
    return host, ip4


def parse_ipv4_loose(host: str) -> IPv4Address | None:
    """Decode an IPv4 address the way ``inet_aton`` does, or ``None`` if it is not one.

    Accepts 1–4 parts, each decimal, octal (leading ``0``) or hex (``0x``), with the last part
    filling the remaining bytes: ``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``169.254.43518``.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _parse_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _parse_number(part: str) -> int | None:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCTAL.fullmatch(part):
        return int(part, 8)
    if _DECIMAL.fullmatch(part):
        return int(part, 10)
    return None
