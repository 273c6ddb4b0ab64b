"""Allowlists: exact hosts and '*.' domains, never over a public suffix."""

from __future__ import annotations

import pytest

from skillmarket.runtime.egress.allowlist import Allowlist, registrable_domain
from skillmarket.runtime.egress.errors import EgressAllowlistInvalid


class TestAllowlist:
    def test_allows_exact_host_only(self):
        rules = Allowlist.from_entries(["api.example.com"])
        assert rules.allows("api.example.com")
        assert not rules.allows("example.com")
        assert not rules.allows("x.api.example.com")
        assert not rules.allows("api.example.com.evil.test")

    def test_allows_subdomains_of_wildcard_not_the_apex(self):
        rules = Allowlist.from_entries(["*.example.com"])
        assert rules.allows("a.example.com")
        assert rules.allows("a.b.example.com")
        assert not rules.allows("example.com")
        assert not rules.allows("badexample.com")
        assert not rules.allows("example.com.evil.test")

    def test_normalises_case_trailing_dot_and_idn(self):
        rules = Allowlist.from_entries([" API.Example.COM. ", "bücher.example", "*.Straße.de"])
        assert rules.allows("api.example.com")
        assert rules.allows("xn--bcher-kva.example")
        assert rules.allows("a.xn--strae-oqa.de")

    def test_empty_allowlist_allows_nothing(self):
        assert not Allowlist.from_entries([]).allows("example.com")

    @pytest.mark.parametrize(
        "entry",
        [
            "*.com",
            "*.co.uk",
            "*.github.io",
            "*.s3.amazonaws.com",
            "*.localhost",
            "*.example",  # unknown TLD: treated as a public suffix
        ],
    )
    def test_from_entries_fails_wildcard_over_public_suffix(self, entry):
        with pytest.raises(EgressAllowlistInvalid) as caught:
            Allowlist.from_entries([entry])
        assert caught.value.code == "EGRESS_ALLOWLIST_INVALID"
        assert caught.value.details["entry"] == entry

    @pytest.mark.parametrize(
        "entry",
        [
            "",
            "*",
            "*.*.example.com",
            "a*.example.com",
            "https://example.com",
            "example.com/path",
            "example.com:443",
            "user@example.com",
            "127.0.0.1",
            "2130706433",
            "[::1]",
            "exa mple.com",
            "example..com",
            "ex%41mple.com",
        ],
    )
    def test_from_entries_fails_not_a_host(self, entry):
        with pytest.raises(EgressAllowlistInvalid):
            Allowlist.from_entries([entry])

    def test_from_entries_fails_non_string_entry(self):
        with pytest.raises(EgressAllowlistInvalid):
            Allowlist.from_entries([42])  # type: ignore[list-item]

    def test_from_entries_fails_a_lone_string(self):
        with pytest.raises(EgressAllowlistInvalid):
            Allowlist.from_entries("example.com")

    def test_from_entries_fails_too_many_entries(self):
        with pytest.raises(EgressAllowlistInvalid):
            Allowlist.from_entries([f"h{i}.example.com" for i in range(101)])


class TestRegistrableDomain:
    @pytest.mark.parametrize(
        ("host", "domain"),
        [
            ("api.example.com", "example.com"),
            ("example.com", "example.com"),
            ("a.b.example.co.uk", "example.co.uk"),
            ("foo.github.io", "foo.github.io"),
            ("xn--bcher-kva.de", "xn--bcher-kva.de"),
            ("API.Example.COM.", "example.com"),
            ("com", None),
            ("co.uk", None),
            ("github.io", None),
            ("93.184.215.14", None),
            ("::1", None),
        ],
    )
    def test_registrable_domain(self, host, domain):
        assert registrable_domain(host) == domain
