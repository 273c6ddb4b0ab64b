"""Errors of the egress guard.

Every outbound request from skill code passes the guard; each way it can fail is one of::

    SkillmarketError
     └── EgressError                      502  EGRESS_ERROR  base of every egress failure
          ├── EgressBlocked               403  EGRESS_BLOCKED  the policy refused the request
          ├── EgressAllowlistInvalid      422  EGRESS_ALLOWLIST_INVALID  a bad allowlist entry
          ├── EgressUnreachable           502  EGRESS_UNREACHABLE  DNS, connect or protocol failure
          ├── EgressTimeout               504  EGRESS_TIMEOUT  the total time cap passed
          ├── EgressResponseTooLarge      502  EGRESS_RESPONSE_TOO_LARGE  body over the size cap
          └── EgressTooManyRedirects      502  EGRESS_TOO_MANY_REDIRECTS  redirect chain too long

``EgressBlocked`` also subclasses :class:`~skillmarket.errors.Forbidden` and
``EgressAllowlistInvalid`` :class:`~skillmarket.errors.InvalidInput`, so a handler may catch
either the egress base or the HTTP-flavoured one.

Details name the host, never a path, query, header value, credential or body: a URL's query
string may carry an API key, and details end up in audit events and in the skill's view.
"""

from __future__ import annotations

from typing import Any

from skillmarket.errors import Forbidden, InvalidInput, SkillmarketError


class EgressError(SkillmarketError):
    """Base of every reason an outbound request did not produce a response."""

    code = "EGRESS_ERROR"
    status = 502


class EgressBlocked(EgressError, Forbidden):
    """The egress policy refused the request; ``details.reason`` says which rule.

    Reasons: ``invalid_url``, ``scheme_not_allowed``, ``userinfo_not_allowed``,
    ``port_not_allowed``, ``non_canonical_ip``, ``not_allowlisted``, ``method_not_allowed``,
    ``header_not_allowed``, ``request_too_large``, ``unix_socket_not_allowed`` and, for a
    refused address, ``loopback_address``, ``private_address``, ``link_local_address``,
    ``cgnat_address``, ``multicast_address``, ``reserved_address``, ``unspecified_address``,
    ``cloud_metadata_address`` or ``denied_address``.
    """

    code = "EGRESS_BLOCKED"
    status = 403

    def __init__(self, reason: str, *, host: str | None = None, **details: Any):
        shown = {"reason": reason}
        if host is not None:
            shown["host"] = host
        shown.update({k: v for k, v in details.items() if v is not None})
        where = f" ({host})" if host else ""
        super().__init__(f"outbound request blocked: {reason}{where}", details=shown)

    @property
    def reason(self) -> str:
        """The rule that refused the request, as in ``details.reason``."""
        return str(self.details["reason"])


class EgressAllowlistInvalid(EgressError, InvalidInput):
    """An allowlist entry is not a host name or a ``*.`` pattern over a registrable domain."""

    code = "EGRESS_ALLOWLIST_INVALID"
    status = 422

    def __init__(self, entry: str, problem: str):
        super().__init__(
            f"allowlist entry {entry!r}: {problem}",
            details={"entry": entry[:300], "problem": problem},
        )


class EgressUnreachable(EgressError):
    """The upstream could not be reached: ``details.reason`` is ``dns_failed``,
    ``connect_failed``, ``tls_failed`` (handshake or certificate), ``protocol_error`` or
    ``transport_error``."""

    code = "EGRESS_UNREACHABLE"
    status = 502

    def __init__(self, reason: str, *, host: str):
        super().__init__(
            f"upstream unreachable: {reason} ({host})", details={"reason": reason, "host": host}
        )


class EgressTimeout(EgressError):
    """The request (all redirect hops, DNS, connect and body) ran past its time cap."""

    code = "EGRESS_TIMEOUT"
    status = 504

    def __init__(self, *, host: str, timeout_ms: int):
        super().__init__(
            f"outbound request to {host} took longer than {timeout_ms} ms",
            details={"host": host, "timeout_ms": timeout_ms},
        )


class EgressResponseTooLarge(EgressError):
    """The response body grew past the size cap; reading stopped there."""

    code = "EGRESS_RESPONSE_TOO_LARGE"
    status = 502

    def __init__(self, *, host: str, max_bytes: int):
        super().__init__(
            f"response from {host} is larger than {max_bytes} bytes",
            details={"host": host, "max_bytes": max_bytes},
        )


class EgressTooManyRedirects(EgressError):
    """The upstream redirected more often than the policy allows."""

    code = "EGRESS_TOO_MANY_REDIRECTS"
    status = 502

    def __init__(self, *, host: str, max_redirects: int):
        super().__init__(
            f"more than {max_redirects} redirects, last from {host}",
            details={"host": host, "max_redirects": max_redirects},
        )
