"""Domain allowlists (network whitelisting) and registrable domains: pure, no I/O.

A skill may declare the hosts it talks to. When it does, the list binds: every request and
every redirect hop must match one entry. Two kinds of entry:

- ``api.example.com``: exactly that host (case, a trailing dot and IDN spelling do not matter:
  ``bücher.example`` and ``xn--bcher-kva.example`` are the same entry).
- ``*.example.com``: any host strictly under ``example.com`` (``a.example.com``,
  ``a.b.example.com``), not ``example.com`` itself; list both to allow both. The part after
  ``*.`` must be a registrable domain or a name under one, never a public suffix: ``*.com``,
  ``*.co.uk`` and ``*.github.io`` would span unrelated owners and are refused.

IP addresses, ports, schemes, paths and other wildcards are not entries. An empty list allows
nothing; no list (``None``) leaves only the address rules. Public suffixes come from the Public
Suffix List bundled with ``publicsuffixlist`` (ICANN and private sections; nothing is fetched).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from publicsuffixlist import PublicSuffixList

from skillmarket.runtime.egress.errors import EgressAllowlistInvalid, EgressBlocked
from skillmarket.runtime.egress.urls import parse_host

__all__ = ["MAX_ALLOWLIST_ENTRIES", "Allowlist", "registrable_domain"]

MAX_ALLOWLIST_ENTRIES = 100
_FORBIDDEN_IN_ENTRY = re.compile(r"[\s/\\:@?#%*\[\]]")


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1) of a normalised host, or ``None`` for an IP address or
    a public suffix: ``api.example.co.uk`` → ``example.co.uk``; ``foo.github.io`` →
    ``foo.github.io``; ``co.uk`` → ``None``."""
    try:
        _, ip = parse_host(host)
    except EgressBlocked:
        return None
    if ip is not None:
        return None
    return _public_suffixes().privatesuffix(host.lower().rstrip("."))


@dataclass(frozen=True)
class Allowlist:
    """A compiled allowlist: exact hosts and ``*.`` domains, both normalised ASCII."""

    entries: tuple[str, ...]
    exact: frozenset[str]
    domains: tuple[str, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Allowlist:
        """Compile entries; raises :class:`EgressAllowlistInvalid` naming the first bad one."""
        if isinstance(entries, str):  # a lone string is a classic mistake: not a list of chars
            raise EgressAllowlistInvalid(entries, "the allowlist must be a list of entries")
        entries = tuple(entries)
        if len(entries) > MAX_ALLOWLIST_ENTRIES:
            raise EgressAllowlistInvalid(
                str(entries[MAX_ALLOWLIST_ENTRIES]), f"more than {MAX_ALLOWLIST_ENTRIES} entries"
            )
        exact: set[str] = set()
        domains: list[str] = []
        for entry in entries:
            wildcard, host = _compile_entry(entry)
            if wildcard:
                domains.append(host)
            else:
                exact.add(host)
        return cls(entries=entries, exact=frozenset(exact), domains=tuple(domains))

    def allows(self, host: str) -> bool:
        """Whether a normalised host (as in :class:`~.urls.Target`) matches an entry."""
        if host in self.exact:
            return True
        return any(host.endswith("." + domain) for domain in self.domains)


def _compile_entry(entry: object) -> tuple[bool, str]:
    # 1. Shape: a string naming a host, optionally behind one leading "*.".
    if not isinstance(entry, str):
        raise EgressAllowlistInvalid(repr(entry), "an entry must be a string")
    text = entry.strip().lower()
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    if not name or len(name) > 253 or _FORBIDDEN_IN_ENTRY.search(name):
        raise EgressAllowlistInvalid(
            entry, "not a host name or '*.' followed by a domain (no scheme, port or path)"
        )
    # 2. The same normalisation a request host gets: IDNA, lower case, no trailing dot.
    try:
        raw = httpx.URL(f"http://{name}/").raw_host.decode("ascii")
        host, ip = parse_host(raw)
    except (httpx.InvalidURL, UnicodeError, EgressBlocked) as exc:
        raise EgressAllowlistInvalid(entry, "not a valid host name") from exc
    if ip is not None:
        raise EgressAllowlistInvalid(entry, "IP addresses are not allowlist entries")
    # 3. A wildcard must stay inside one owner's domain.
    if wildcard and _public_suffixes().privatesuffix(host) is None:
        raise EgressAllowlistInvalid(entry, "'*.' over a public suffix spans unrelated owners")
    return wildcard, host
