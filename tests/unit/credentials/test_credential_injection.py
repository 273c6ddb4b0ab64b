"""Putting a credential on a request and scrubbing it from what comes back (pure)."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import httpx
import pytest

from skillmarket.credentials.injection import (
    REDACTED,
    basic_token,
    inject,
    scrub,
    scrub_headers,
    secret_forms,
)
from skillmarket.credentials.models import Credential

SECRET = 's3cr3t/t0ken+with=odd&chars "quoted"'


def cred(scheme="bearer", auth_name=None, username=None, secret=SECRET):
    return Credential("svc", "example.com", scheme, auth_name, secret, username)


class TestInject:
    def test_bearer_replaces_the_scripts_authorization(self):
        sent = inject(cred(), "https://api.example.com/x", {"authorization": "Bearer mine"})
        headers = dict(sent.headers)
        assert headers["Authorization"] == f"Bearer {SECRET}"
        assert "authorization" not in headers
        assert headers["Accept-Encoding"] == "identity"
        assert sent.sensitive_headers == {"authorization"}

    def test_custom_header_is_case_insensitive_and_sensitive(self):
        sent = inject(
            cred("header", "X-Api-Key"), "https://api.example.com/", {"x-api-KEY": "forged"}
        )
        assert [v for k, v in sent.headers if k.lower() == "x-api-key"] == [SECRET]
        assert sent.sensitive_headers == {"x-api-key"}

    def test_query_parameter_replaces_every_occurrence(self):
        sent = inject(
            cred("query", "api_key"), "https://api.example.com/p?a=1&api_key=x&api_key=y", {}
        )
        params = sent.url.params
        assert params.get_list("api_key") == [SECRET] and params["a"] == "1"

    def test_basic_is_base64_of_user_and_password(self):
        sent = inject(cred("basic", username="ada"), "https://api.example.com/", {})
        token = dict(sent.headers)["Authorization"].removeprefix("Basic ")
        assert base64.b64decode(token).decode() == f"ada:{SECRET}"

    def test_accept_encoding_of_the_script_is_overridden(self):
        sent = inject(cred(), "https://api.example.com/", {"Accept-Encoding": "gzip"})
        assert [v for k, v in sent.headers if k.lower() == "accept-encoding"] == ["identity"]

    def test_repr_shows_no_secret(self):
        sent = inject(cred("query", "k"), "https://api.example.com/", {})
        assert SECRET not in repr(sent) and "s3cr3t" not in repr(sent)
        assert "s3cr3t" not in repr(cred())


class TestScrub:
    @pytest.mark.parametrize(
        "echo",
        [
            SECRET,
            SECRET.upper(),
            quote(SECRET, safe=""),
            quote(SECRET, safe="").lower(),
            json.dumps(SECRET)[1:-1],
            json.dumps(SECRET)[1:-1].replace("/", "\\/").replace("&", "\\u0026"),
            html.escape(SECRET),
            httpx.URL("https://x/").copy_set_param("k", SECRET).query.decode()[2:],
        ],
    )
    def test_every_spelling_is_replaced(self, echo):
        pattern = inject(cred("query", "k"), "https://a.example.com/", {}).secret_pattern
        assert scrub(f"before {echo} after", pattern) == f"before {REDACTED} after"

    def test_basic_token_and_password_are_replaced(self):
        credential = cred("basic", username="ada")
        pattern = inject(credential, "https://a.example.com/", {}).secret_pattern
        text = f"auth=Basic {basic_token('ada', SECRET)}; pw={SECRET}"
        assert scrub(text, pattern) == f"auth=Basic {REDACTED}; pw={REDACTED}"

    def test_forms_are_longest_first_and_never_short(self):
        forms = secret_forms(cred("basic", username="ada"))
        assert list(forms) == sorted(forms, key=len, reverse=True)
        assert all(len(f) >= 8 for f in forms)

    def test_headers_are_scrubbed_and_set_cookie_dropped(self):
        pattern = inject(cred(), "https://a.example.com/", {}).secret_pattern
        out = scrub_headers(
            [("x-echo", f"Bearer {SECRET}"), ("set-cookie", "sid=1"), ("x-a", "1"), ("x-a", "2")],
            pattern,
        )
        assert out == {"x-echo": f"Bearer {REDACTED}", "x-a": "1, 2"}
