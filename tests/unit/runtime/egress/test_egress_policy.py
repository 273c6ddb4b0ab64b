"""The policy only narrows: it cannot name a non-HTTP scheme, CONNECT, or a bad limit."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from skillmarket.runtime.egress.policy import EgressPolicy


class TestEgressPolicy:
    def test_defaults_are_http_https_on_80_and_443(self):
        policy = EgressPolicy()
        assert policy.allowed_schemes == {"http", "https"}
        assert policy.allowed_ports == {80, 443}
        assert "CONNECT" not in policy.allowed_methods

    def test_normalises_collections(self):
        policy = EgressPolicy(
            allowed_schemes=["HTTPS"], allowed_ports=[8443], denied_networks=["203.0.113.5"]
        )
        assert policy.allowed_schemes == frozenset({"https"})
        assert policy.allowed_ports == frozenset({8443})
        assert policy.denied_networks == (ip_network("203.0.113.5/32"),)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"allowed_schemes": {"file"}},
            {"allowed_schemes": set()},
            {"allowed_ports": {0}},
            {"allowed_ports": {70000}},
            {"allowed_methods": {"GET", "CONNECT"}},
            {"allowed_methods": {"TRACE"}},
            {"max_redirects": -1},
            {"max_response_bytes": -1},
            {"total_timeout_s": 0},
            {"connect_timeout_s": -1},
            {"denied_networks": ["not a network"]},
        ],
    )
    def test_policy_fails_widening_or_bad_value(self, kwargs):
        with pytest.raises(ValueError):
            EgressPolicy(**kwargs)
