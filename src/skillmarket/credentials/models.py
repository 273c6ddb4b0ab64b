"""Connected services as callers see them, and the checks a connect request must pass (pure).

An operator connects a service under a name (the pattern of a manifest's service names), with
the host it lives on and how the credential is presented:

- ``bearer``: ``Authorization: Bearer <secret>``;
- ``header``: ``<header_name>: <secret>`` (e.g. ``X-Api-Key``);
- ``query``: ``?<param_name>=<secret>`` added to the URL;
- ``basic``: ``Authorization: Basic base64(<username>:<secret>)``.

The credential may only be sent to HTTPS URLs whose registrable domain (eTLD+1) is the one of
the named host: connecting ``api.example.com`` binds ``example.com`` and its subdomains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from skillmarket.catalog.manifest import SERVICE_PATTERN
from skillmarket.credentials.errors import ServiceConnectionInvalid
from skillmarket.crypto.envelope import WrappedKey
from skillmarket.runtime.egress import (
    FORBIDDEN_REQUEST_HEADERS,
    Allowlist,
    EgressAllowlistInvalid,
    registrable_domain,
)

AuthScheme = Literal["bearer", "header", "query", "basic"]
AUTH_SCHEMES: tuple[AuthScheme, ...] = ("bearer", "header", "query", "basic")
MIN_SECRET_CHARS = 8  # shorter values could not be scrubbed from responses without mangling them
MAX_SECRET_CHARS = 8192
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")
_PARAM = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")  # it goes into a header: printable ASCII


class ServiceConnect(BaseModel):
    """What an operator sends to connect (or re-connect) a service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=SERVICE_PATTERN,
        description="The service name skills declare and scripts pass as `service`.",
    )
    domain: str = Field(
        min_length=1,
        max_length=253,
        description="The host the service lives on, e.g. `api.example.com`; the credential "
        "goes only to HTTPS URLs on its registrable domain (`example.com` and subdomains).",
    )
    auth: AuthScheme = Field("bearer", description="How the credential is presented.")
    header_name: str | None = Field(
        None, max_length=128, description="The header carrying the secret (auth `header`)."
    )
    param_name: str | None = Field(
        None, max_length=128, description="The query parameter carrying it (auth `query`)."
    )
    username: SecretStr | None = Field(
        None, max_length=1024, description="The user name (auth `basic`); kept encrypted."
    )
    secret: SecretStr = Field(
        max_length=MAX_SECRET_CHARS,
        description="The token, key or password. Stored encrypted, never returned.",
    )


class ServiceConnection(BaseModel):
    """A connected service as its operator sees it: never the credential."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    domain: str
    registrable_domain: str
    auth: AuthScheme
    header_name: str | None
    param_name: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, repr=False)
class Credential:
    """A decrypted credential, on the execution path only. Its repr shows no secret."""

    service: str
    registrable_domain: str
    scheme: AuthScheme
    auth_name: str | None
    secret: str
    username: str | None = None

    def __repr__(self) -> str:
        return f"Credential(service={self.service!r}, scheme={self.scheme!r}, secret='***')"


@dataclass(frozen=True)
class SealedCredential:
    """A connection as stored: where its credential may go and how, and the credential still
    encrypted (a data key wrapped by the master key, and the ciphertext)."""

    operator_id: str
    name: str
    registrable_domain: str
    scheme: AuthScheme
    auth_name: str | None
    key: WrappedKey
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True)
class ConnectionSpec:
    """A connect request after its checks: what is stored, in the clear and encrypted."""

    name: str
    domain: str
    registrable_domain: str
    scheme: AuthScheme
    auth_name: str | None
    secret: str
    username: str | None

    def __repr__(self) -> str:
        return f"ConnectionSpec(name={self.name!r}, scheme={self.scheme!r}, secret='***')"


def prepare(request: ServiceConnect) -> ConnectionSpec:
    """Check a connect request and normalise it (``SERVICE_CONNECTION_INVALID`` otherwise).

    1. The domain is one host name (no scheme, port, path or wildcard) with a registrable
       domain: not an IP address, not a public suffix such as ``co.uk``.
    2. Exactly the fields of the scheme are given: ``header_name`` for ``header`` (an HTTP
       token the transport does not own), ``param_name`` for ``query``, ``username`` for
       ``basic`` (without ``:``).
    3. The secret is 8 to 8192 printable ASCII characters (it goes into a header or a URL).
    """
    host = _host(request.domain)
    domain = registrable_domain(host)
    if domain is None:
        raise ServiceConnectionInvalid(
            "domain",
            "must be a host name under a registrable domain (not an IP address or a public suffix)",
        )
    scheme = request.auth
    given = {
        "header_name": request.header_name,
        "param_name": request.param_name,
        "username": request.username,
    }
    wanted = {"header": "header_name", "query": "param_name", "basic": "username"}.get(scheme)
    for name, value in given.items():
        if value is not None and name != wanted:
            raise ServiceConnectionInvalid(name, f"is not used by auth {scheme!r}")
    if wanted is not None and given[wanted] is None:
        raise ServiceConnectionInvalid(wanted, f"is required by auth {scheme!r}")
    auth_name = None
    if scheme == "header":
        auth_name = _header_name(request.header_name or "")
    elif scheme == "query":
        auth_name = request.param_name or ""
        if not _PARAM.match(auth_name):
            raise ServiceConnectionInvalid(
                "param_name", "must be 1-128 letters, digits, '.', '_', '~' or '-'"
            )
    username = request.username.get_secret_value() if request.username else None
    if username is not None and (not username or ":" in username or not _printable(username)):
        raise ServiceConnectionInvalid(
            "username", "must be 1-1024 printable ASCII characters without ':'"
        )
    secret = request.secret.get_secret_value()
    if len(secret) < MIN_SECRET_CHARS or not _printable(secret):
        raise ServiceConnectionInvalid(
            "secret", f"must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} printable ASCII characters"
        )
    return ConnectionSpec(request.name, host, domain, scheme, auth_name, secret, username)


def _host(domain: str) -> str:
    text = domain.strip()
    if text.startswith("*"):
        raise ServiceConnectionInvalid(
            "domain", "name one host; its registrable domain's subdomains are included"
        )
    try:
        compiled = Allowlist.from_entries([text])
    except EgressAllowlistInvalid:
        raise ServiceConnectionInvalid(
            "domain", "must be one host name: no scheme, port, path, wildcard or IP address"
        ) from None
    (host,) = compiled.exact
    return host


def _header_name(name: str) -> str:
    lower = name.lower()
    if not _TOKEN.match(name) or lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith("proxy-"):
        raise ServiceConnectionInvalid(
            "header_name", "must be an HTTP header name the transport does not own"
        )
    return name


def _printable(text: str) -> bool:
    return bool(_PRINTABLE.match(text))
