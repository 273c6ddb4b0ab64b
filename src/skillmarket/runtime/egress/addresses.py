"""Which IP addresses skill code may reach: pure classification, no I/O.

An address is allowed only when it is publicly routable. Python's ``ipaddress`` flags are not a
deny list on their own (CGNAT ``100.64.0.0/10`` is neither private nor global; ``::7f00:1`` and
``192.0.0.9`` count as global; the tables move between Python releases), so the decision is:

1. Unwrap IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64
   ``64:ff9b::/96``, 6to4 ``2002::/16``, IPv4-compatible ``::/96``) and judge the embedded
   IPv4 address: ``[::ffff:127.0.0.1]`` is loopback. Teredo ``2001::/32`` is always refused.
2. Refuse cloud metadata endpoints by name (AWS, GCP, Azure, Alibaba, ECS/EKS).
3. Refuse the operator's extra denied networks.
4. Refuse our own table of special-purpose ranges (from the IANA registries).
5. IPv6 outside global unicast ``2000::/3`` is refused.
6. Refuse whatever ``ipaddress`` still considers not global (catches new IANA blocks).

An address that passes every step is public. Callers decide what to do with a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

__all__ = [
    "CLOUD_METADATA_ADDRESSES",
    "AddressRefusal",
    "IPAddress",
    "IPNetwork",
    "classify_address",
    "embedded_ipv4",
    "parse_network",
]

#: Instance-metadata and host-agent endpoints; never reachable, never allowable by config.
CLOUD_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle IMDS
        "169.254.169.253",  # AWS VPC DNS
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure WireServer (a public address, so named explicitly)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
    )
)

# Most specific first: the first matching row names the reason.
_IPV4_TABLE: tuple[tuple[str, IPv4Network], ...] = tuple(
    (reason, IPv4Network(net))
    for reason, net in (
        ("unspecified_address", "0.0.0.0/32"),
        ("reserved_address", "0.0.0.0/8"),  # "this network"
        ("loopback_address", "127.0.0.0/8"),
        ("private_address", "10.0.0.0/8"),
        ("private_address", "172.16.0.0/12"),
        ("private_address", "192.168.0.0/16"),
        ("cgnat_address", "100.64.0.0/10"),  # shared address space; Alibaba metadata lives here
        ("link_local_address", "169.254.0.0/16"),
        ("multicast_address", "224.0.0.0/4"),
        ("reserved_address", "192.0.0.0/24"),  # IETF protocol assignments
        ("reserved_address", "192.0.2.0/24"),  # documentation
        ("reserved_address", "192.88.99.0/24"),  # 6to4 relay anycast
        ("reserved_address", "198.18.0.0/15"),  # benchmarking
        ("reserved_address", "198.51.100.0/24"),  # documentation
        ("reserved_address", "203.0.113.0/24"),  # documentation
        ("reserved_address", "240.0.0.0/4"),  # future use and broadcast
    )
)

_IPV6_TABLE: tuple[tuple[str, IPv6Network], ...] = tuple(
    (reason, IPv6Network(net))
    for reason, net in (
        ("unspecified_address", "::/128"),
        ("loopback_address", "::1/128"),
        ("private_address", "fc00::/7"),  # unique local
        ("private_address", "fec0::/10"),  # deprecated site-local
        ("link_local_address", "fe80::/10"),
        ("multicast_address", "ff00::/8"),
        ("reserved_address", "2001::/23"),  # IETF protocol assignments, Teredo
        ("reserved_address", "2001:db8::/32"),  # documentation
        ("reserved_address", "3fff::/20"),  # documentation
    )
)

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_COMPATIBLE = IPv6Network("::/96")


@dataclass(frozen=True)
class AddressRefusal:
    """Why an address is refused: the reason code and, for a wrapped form, what it wraps."""

    reason: str
    address: str
    embedded_address: str | None = None
    form: str | None = None

    def details(self) -> dict[str, str]:
        """The refusal as error details (no ``None`` values)."""
        shown = {"address": self.address}
        if self.embedded_address is not None:
            shown["embedded_address"] = self.embedded_address
        if self.form is not None:
            shown["form"] = self.form
        return shown


def embedded_ipv4(ip: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, with the form's name, or ``None``.

    Forms: ``ipv4_mapped``, ``nat64``, ``6to4``, ``teredo`` (the client address) and
    ``ipv4_compatible`` (``::a.b.c.d``, deprecated; not ``::`` or ``::1``).
    """
    if ip in _MAPPED:
        return "ipv4_mapped", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return "nat64", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return "6to4", IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
    if ip in _TEREDO:
        return "teredo", IPv4Address(~int(ip) & 0xFFFFFFFF)
    if ip in _COMPATIBLE and int(ip) > 1:
        return "ipv4_compatible", IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify_address(
    ip: IPAddress, *, denied_networks: Iterable[IPNetwork] = ()
) -> AddressRefusal | None:
    """Why ``ip`` may not be reached, or ``None`` when it is a public address.

    ``denied_networks`` are the operator's additions to the built-in table.
    """
    denied = tuple(denied_networks)
    # 1. An IPv6 wrapper is judged by what it wraps, and by itself.
    if isinstance(ip, IPv6Address):
        wrapped = embedded_ipv4(ip)
        if wrapped is not None:
            form, inner = wrapped
            refusal = _classify_plain(inner, denied)
            if refusal is None and form in ("teredo", "ipv4_compatible"):
                refusal = AddressRefusal("reserved_address", str(inner))
            if refusal is not None:
                return AddressRefusal(refusal.reason, str(ip), str(inner), form)
            if form != "6to4":  # mapped and NAT64 carry a public v4 address: judged already
                return _check_denied_only(ip, denied)
    return _classify_plain(ip, denied)


def _check_denied_only(ip: IPAddress, denied: tuple[IPNetwork, ...]) -> AddressRefusal | None:
    if ip in CLOUD_METADATA_ADDRESSES:
        return AddressRefusal("cloud_metadata_address", str(ip))
    if any(ip in net for net in denied if net.version == ip.version):
        return AddressRefusal("denied_address", str(ip))
    return None


def _classify_plain(ip: IPAddress, denied: tuple[IPNetwork, ...]) -> AddressRefusal | None:
    # 2.–3. Metadata endpoints and the operator's networks.
    refusal = _check_denied_only(ip, denied)
    if refusal is not None:
        return refusal
    # 4. The special-purpose table.
    table = _IPV4_TABLE if isinstance(ip, IPv4Address) else _IPV6_TABLE
    for reason, net in table:
        if ip in net:
            return AddressRefusal(reason, str(ip))
    # 5. IPv6 outside global unicast is not an internet host.
    if isinstance(ip, IPv6Address) and ip not in _GLOBAL_UNICAST:
        return AddressRefusal("reserved_address", str(ip))
    # 6. Whatever Python knows to be special that our table does not.
    if not ip.is_global:
        return AddressRefusal("reserved_address", str(ip))
    return None


def parse_network(value: str) -> IPNetwork:
    """An operator-supplied network such as ``"203.0.113.0/24"`` (a bare address is a /32)."""
    return ip_network(value, strict=False)
