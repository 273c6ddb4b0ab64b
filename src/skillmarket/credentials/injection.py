"""Putting a credential on an outbound request, and taking it out of what comes back (pure).

:func:`inject` adds the credential the way its scheme says, after removing whatever the script
set in its place (its own ``Authorization``, the custom header, the query parameter), so a
script can neither see nor override the injected value. It also asks the upstream for an
uncompressed body (``Accept-Encoding: identity``), because a compressed echo of the secret could
not be found and scrubbed.

:func:`secret_forms` lists the spellings in which an upstream could echo the secret: as is,
percent-encoded (``quote`` and ``quote_plus``), as httpx encodes it into a query string,
HTML-escaped, JSON-escaped the ways common encoders do it and, for ``basic``, the base64 of
``username:password``. :func:`scrub` replaces
each of them, case-insensitively, in response headers and bodies before the script sees them.
Scrubbing is a second line: the first is that the credential only ever goes to its own domain.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import httpx

from skillmarket.credentials.models import MIN_SECRET_CHARS, Credential

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class Injected:
    """A request with its credential added: the URL and headers to send, the header names the
    egress guard must drop on a cross-origin redirect, and the pattern that finds the secret."""

    url: httpx.URL
    headers: tuple[tuple[str, str], ...]
    sensitive_headers: frozenset[str]
    secret_pattern: re.Pattern[str]

    def __repr__(self) -> str:
        return f"Injected(host={self.url.host!r}, headers={[k for k, _ in self.headers]!r})"


def basic_token(username: str, password: str) -> str:
    """The base64 of ``username:password`` for ``Authorization: Basic`` (RFC 7617, UTF-8)."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def inject(credential: Credential, url: str, headers: Mapping[str, str]) -> Injected:
    """The request with ``credential`` added and anything the script put in its place removed."""
    owned = {"accept-encoding"}
    target = httpx.URL(url)
    added: list[tuple[str, str]] = [("Accept-Encoding", "identity")]
    if credential.scheme in ("bearer", "basic"):
        owned.add("authorization")
        if credential.scheme == "bearer":
            value = f"Bearer {credential.secret}"
        else:
            value = f"Basic {basic_token(credential.username or '', credential.secret)}"
        added.append(("Authorization", value))
    elif credential.scheme == "header":
        name = credential.auth_name or ""
        owned.add(name.lower())
        added.append((name, credential.secret))
    else:
        target = target.copy_set_param(credential.auth_name or "", credential.secret)
    kept = [(k, v) for k, v in headers.items() if k.lower() not in owned]
    return Injected(
        url=target,
        headers=(*kept, *added),
        sensitive_headers=frozenset(owned - {"accept-encoding"}),
        secret_pattern=_pattern(secret_forms(credential)),
    )


def secret_forms(credential: Credential) -> tuple[str, ...]:
    """Every spelling of the secret an upstream could echo, longest first."""
    raw = [credential.secret]
    if credential.scheme == "basic":
        raw.append(basic_token(credential.username or "", credential.secret))
    forms: set[str] = set()
    for value in raw:
        forms.update(
            {
                value,
                quote(value, safe=""),
                quote_plus(value, safe=""),
                _httpx_query_form(value),
                html.escape(value),
                *_json_forms(value),
            }
        )
    return tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len, reverse=True))


def _json_forms(value: str) -> set[str]:
    """The value inside a JSON string as common encoders write it: plain, with ``/`` escaped
    (PHP), with ``<``, ``>`` and ``&`` as ``\\u00XX`` (Go), and both."""
    plain = json.dumps(value)[1:-1]
    go = plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {plain, plain.replace("/", "\\/"), go, go.replace("/", "\\/")}


def _httpx_query_form(value: str) -> str:
    query = httpx.URL("https://x.invalid/").copy_set_param("k", value).query.decode("ascii")
    return query.removeprefix("k=")


def _pattern(forms: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)


def scrub(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` with every form of the secret replaced by ``[REDACTED]``."""
    return pattern.sub(REDACTED, text)


def scrub_headers(headers: Iterable[tuple[str, str]], pattern: re.Pattern[str]) -> dict[str, str]:
    """Response headers for the script: secrets scrubbed, ``Set-Cookie`` dropped (a session
    the upstream opened for the credential is a credential too). Repeated headers are joined
    with ``, `` as HTTP allows."""
    out: dict[str, str] = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            continue
        clean = scrub(value, pattern)
        out[name] = f"{out[name]}, {clean}" if name in out else clean
    return out
