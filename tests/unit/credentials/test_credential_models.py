"""The checks a connect request must pass (pure)."""

from __future__ import annotations

import pytest

from skillmarket.credentials.errors import ServiceConnectionInvalid
from skillmarket.credentials.models import ServiceConnect, prepare


def request(**overrides):
    body = {"name": "example_api", "domain": "api.example.com", "secret": "tok_12345678"}
    return ServiceConnect.model_validate({**body, **overrides})


class TestPrepare:
    def test_domain_binds_its_registrable_domain(self):
        spec = prepare(request(domain="API.Example.co.uk."))
        assert (spec.domain, spec.registrable_domain) == ("api.example.co.uk", "example.co.uk")

    @pytest.mark.parametrize(
        "domain",
        [
            "1.2.3.4",
            "co.uk",
            "https://api.example.com",
            "api.example.com:443",
            "*.example.com",
            "api.example.com/x",
            "localhost",
            "[::1]",
        ],
    )
    def test_domain_fails_unless_one_host_with_a_registrable_domain(self, domain):
        with pytest.raises(ServiceConnectionInvalid) as caught:
            prepare(request(domain=domain))
        assert caught.value.details["field"] == "domain"

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"auth": "header"}, "header_name"),
            ({"auth": "query"}, "param_name"),
            ({"auth": "basic"}, "username"),
            ({"auth": "bearer", "header_name": "X-Key"}, "header_name"),
            ({"auth": "header", "header_name": "Host"}, "header_name"),
            ({"auth": "header", "header_name": "Proxy-Authorization"}, "header_name"),
            ({"auth": "header", "header_name": "X Key"}, "header_name"),
            ({"auth": "query", "param_name": "a&b"}, "param_name"),
            ({"auth": "basic", "username": "a:b"}, "username"),
            ({"secret": "short"}, "secret"),
            ({"secret": "line\r\nbreak-inside"}, "secret"),
            ({"secret": "non-ascii-é-secret"}, "secret"),
        ],
    )
    def test_fields_fail_when_they_do_not_fit_the_scheme(self, overrides, field):
        with pytest.raises(ServiceConnectionInvalid) as caught:
            prepare(request(**overrides))
        assert caught.value.details["field"] == field
        assert caught.value.code == "SERVICE_CONNECTION_INVALID"

    def test_each_scheme_keeps_its_name(self):
        assert prepare(request(auth="header", header_name="X-Api-Key")).auth_name == "X-Api-Key"
        assert prepare(request(auth="query", param_name="api_key")).auth_name == "api_key"
        spec = prepare(request(auth="basic", username="ada"))
        assert (spec.auth_name, spec.username) == (None, "ada")

    def test_secrets_never_show_in_reprs(self):
        raw = request(auth="basic", username="ada-user")
        assert "tok_12345678" not in repr(raw) and "ada-user" not in repr(raw)
        assert "tok_12345678" not in repr(prepare(raw))
