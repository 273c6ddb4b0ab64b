"""The egress policy: the operator's knobs, with defaults that are safe as they are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from skillmarket.runtime.egress.addresses import IPNetwork, parse_network

__all__ = ["DEFAULT_METHODS", "EgressPolicy"]

DEFAULT_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class EgressPolicy:
    """What outbound requests may do. Every field narrows; nothing here turns a check off.

    - ``allowed_schemes``: a subset of ``http`` and ``https``.
    - ``allowed_ports``: TCP ports a URL may name (default 80 and 443).
    - ``allowed_methods``: HTTP methods (no ``CONNECT`` or ``TRACE`` by default).
    - ``denied_networks``: extra ranges to refuse on top of the built-in table.
    - ``max_redirects``: hops followed before ``EGRESS_TOO_MANY_REDIRECTS`` (0: none).
    - ``max_request_bytes`` / ``max_response_bytes``: body caps, request and response.
    - ``connect_timeout_s``: per connection attempt; ``total_timeout_s``: the whole fetch,
      every hop, DNS, connect and body included.
    - ``user_agent``: sent when the caller sets none.
    """

    allowed_schemes: frozenset[str] = _SCHEMES
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allowed_methods: frozenset[str] = DEFAULT_METHODS
    denied_networks: tuple[IPNetwork, ...] = field(default=())
    max_redirects: int = 5
    max_request_bytes: int = 1024 * 1024
    max_response_bytes: int = 5 * 1024 * 1024
    connect_timeout_s: float = 5.0
    total_timeout_s: float = 30.0
    user_agent: str = "skillmarket-egress/1"

    def __post_init__(self) -> None:
        schemes = frozenset(s.lower() for s in self.allowed_schemes)
        if not schemes or not schemes <= _SCHEMES:
            raise ValueError("allowed_schemes must be a non-empty subset of {'http', 'https'}")
        ports = frozenset(int(p) for p in self.allowed_ports)
        if not all(1 <= p <= 65535 for p in ports):
            raise ValueError("allowed_ports must be TCP ports (1-65535)")
        methods = frozenset(m.upper() for m in self.allowed_methods)
        if methods & {"CONNECT", "TRACE"}:
            raise ValueError("CONNECT and TRACE cannot be allowed")
        numbers = (self.max_request_bytes, self.max_response_bytes)
        if self.max_redirects < 0 or min(numbers) < 0:
            raise ValueError("limits must not be negative")
        if self.connect_timeout_s <= 0 or self.total_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        object.__setattr__(self, "allowed_schemes", schemes)
        object.__setattr__(self, "allowed_ports", ports)
        object.__setattr__(self, "allowed_methods", methods)
        object.__setattr__(self, "denied_networks", _networks(self.denied_networks))


def _networks(values: Iterable[IPNetwork | str]) -> tuple[IPNetwork, ...]:
    return tuple(v if not isinstance(v, str) else parse_network(v) for v in values)
