"""The egress guard: the one gate every outbound HTTP request from skill code passes.

Use :class:`EgressGuard` (``fetch`` and ``check_url``) from the sandbox's ``proxy_fetch`` and
from pipeline fetch steps, or :class:`EgressTransport` under any ``httpx.AsyncClient``. See
``docs/egress.md`` for the rules and why each exists.
"""

from skillmarket.runtime.egress.addresses import (
    CLOUD_METADATA_ADDRESSES,
    AddressRefusal,
    classify_address,
)
from skillmarket.runtime.egress.allowlist import Allowlist, registrable_domain
from skillmarket.runtime.egress.errors import (
    EgressAllowlistInvalid,
    EgressBlocked,
    EgressError,
    EgressResponseTooLarge,
    EgressTimeout,
    EgressTooManyRedirects,
    EgressUnreachable,
)
from skillmarket.runtime.egress.guard import (
    CREDENTIAL_HEADERS,
    FORBIDDEN_REQUEST_HEADERS,
    EgressGuard,
    EgressMetadata,
    EgressResponse,
)
from skillmarket.runtime.egress.policy import EgressPolicy
from skillmarket.runtime.egress.resolver import Resolver, StaticResolver, SystemResolver
from skillmarket.runtime.egress.transport import ALLOWLIST_EXTENSION, EgressTransport
from skillmarket.runtime.egress.urls import Target, parse_target

__all__ = [
    "ALLOWLIST_EXTENSION",
    "CLOUD_METADATA_ADDRESSES",
    "CREDENTIAL_HEADERS",
    "FORBIDDEN_REQUEST_HEADERS",
    "AddressRefusal",
    "Allowlist",
    "EgressAllowlistInvalid",
    "EgressBlocked",
    "EgressError",
    "EgressGuard",
    "EgressMetadata",
    "EgressPolicy",
    "EgressResponse",
    "EgressResponseTooLarge",
    "EgressTimeout",
    "EgressTooManyRedirects",
    "EgressTransport",
    "EgressUnreachable",
    "Resolver",
    "StaticResolver",
    "SystemResolver",
    "Target",
    "classify_address",
    "parse_target",
    "registrable_domain",
]
