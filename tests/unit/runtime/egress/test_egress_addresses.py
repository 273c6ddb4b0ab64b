"""Address classification: every special-purpose range refused with its reason; public passes."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from skillmarket.runtime.egress.addresses import classify_address, embedded_ipv4

REFUSED = [
    ("0.0.0.0", "unspecified_address"),
    ("0.1.2.3", "reserved_address"),
    ("127.0.0.1", "loopback_address"),
    ("127.255.255.254", "loopback_address"),
    ("10.0.0.1", "private_address"),
    ("172.16.0.1", "private_address"),
    ("172.31.255.255", "private_address"),
    ("192.168.1.1", "private_address"),
    ("100.64.0.1", "cgnat_address"),
    ("100.127.255.255", "cgnat_address"),
    ("169.254.0.1", "link_local_address"),
    ("169.254.169.254", "cloud_metadata_address"),
    ("169.254.170.2", "cloud_metadata_address"),
    ("100.100.100.200", "cloud_metadata_address"),
    ("168.63.129.16", "cloud_metadata_address"),
    ("224.0.0.1", "multicast_address"),
    ("239.255.255.250", "multicast_address"),
    ("192.0.0.9", "reserved_address"),  # Python calls this global; our table does not
    ("192.0.2.1", "reserved_address"),
    ("192.88.99.1", "reserved_address"),
    ("198.18.0.1", "reserved_address"),
    ("198.51.100.7", "reserved_address"),
    ("203.0.113.9", "reserved_address"),
    ("240.0.0.1", "reserved_address"),
    ("255.255.255.255", "reserved_address"),
    ("::", "unspecified_address"),
    ("::1", "loopback_address"),
    ("fc00::1", "private_address"),
    ("fd12:3456::1", "private_address"),
    ("fec0::1", "private_address"),
    ("fe80::1", "link_local_address"),
    ("fe80::1%eth0", "link_local_address"),
    ("ff02::1", "multicast_address"),
    ("fd00:ec2::254", "cloud_metadata_address"),
    ("2001:db8::1", "reserved_address"),
    ("3fff::1", "reserved_address"),
    ("100::1", "reserved_address"),
    ("5f00::1", "reserved_address"),
    ("64:ff9b:1::a00:1", "reserved_address"),
    ("::7f00:1", "loopback_address"),  # IPv4-compatible, Python calls it global
    ("::ffff:127.0.0.1", "loopback_address"),
    ("::ffff:10.1.2.3", "private_address"),
    ("::ffff:169.254.169.254", "cloud_metadata_address"),
    ("64:ff9b::7f00:1", "loopback_address"),
    ("64:ff9b::a9fe:a9fe", "cloud_metadata_address"),
    ("2002:7f00:1::1", "loopback_address"),
    ("2002:c0a8:101::", "private_address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved_address"),  # Teredo
]

PUBLIC = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "169.253.255.255",
    "223.255.255.255",
    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    "2a00:1450:4001:80b::200e",
    "::ffff:93.184.215.14",
    "64:ff9b::5db8:d70e",
    "2002:5db8:d70e::1",
]


class TestClassifyAddress:
    @pytest.mark.parametrize(("address", "reason"), REFUSED)
    def test_classify_fails_special_purpose_address(self, address, reason):
        refusal = classify_address(ip_address(address))
        assert refusal is not None
        assert refusal.reason == reason

    @pytest.mark.parametrize("address", PUBLIC)
    def test_classify_allows_public_address(self, address):
        assert classify_address(ip_address(address)) is None

    def test_classify_fails_operator_denied_network(self):
        refusal = classify_address(
            ip_address("93.184.215.14"), denied_networks=[ip_network("93.184.0.0/16")]
        )
        assert refusal is not None and refusal.reason == "denied_address"

    def test_classify_fails_operator_denied_network_behind_mapping(self):
        refusal = classify_address(
            ip_address("::ffff:93.184.215.14"), denied_networks=[ip_network("93.184.0.0/16")]
        )
        assert refusal is not None and refusal.reason == "denied_address"

    def test_classify_names_the_embedded_address(self):
        refusal = classify_address(ip_address("::ffff:169.254.169.254"))
        assert refusal is not None
        assert refusal.details() == {
            "address": "::ffff:a9fe:a9fe",
            "embedded_address": "169.254.169.254",
            "form": "ipv4_mapped",
        }


class TestEmbeddedIpv4:
    @pytest.mark.parametrize(
        ("address", "form", "inner"),
        [
            ("::ffff:7f00:1", "ipv4_mapped", "127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "nat64", "169.254.169.254"),
            ("2002:0a00:0001::5", "6to4", "10.0.0.1"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo", "192.0.2.45"),
            ("::a00:1", "ipv4_compatible", "10.0.0.1"),
        ],
    )
    def test_embedded_ipv4_unwraps_form(self, address, form, inner):
        assert embedded_ipv4(ip_address(address)) == (form, ip_address(inner))

    @pytest.mark.parametrize("address", ["::", "::1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    def test_embedded_ipv4_is_none_for_plain_ipv6(self, address):
        assert embedded_ipv4(ip_address(address)) is None
