"""Egress errors: stable codes, one JSON shape, documented, and a complete public API."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import skillmarket.runtime.egress as egress
from skillmarket.errors import Forbidden, InvalidInput, SkillmarketError
from skillmarket.runtime.egress import (
    EgressAllowlistInvalid,
    EgressBlocked,
    EgressError,
    EgressResponseTooLarge,
    EgressTimeout,
    EgressTooManyRedirects,
    EgressUnreachable,
)

DOCS = Path(__file__).resolve().parents[4] / "docs"
ERRORS = [
    EgressError,
    EgressBlocked,
    EgressAllowlistInvalid,
    EgressUnreachable,
    EgressTimeout,
    EgressResponseTooLarge,
    EgressTooManyRedirects,
]


class TestEgressErrors:
    def test_every_egress_error_is_listed_here(self):
        def walk(cls):
            yield cls
            for sub in cls.__subclasses__():
                yield from walk(sub)

        assert set(walk(EgressError)) == set(ERRORS)

    @pytest.mark.parametrize("cls", ERRORS)
    def test_code_is_documented_with_its_status(self, cls):
        text = (DOCS / "errors.md").read_text()
        assert f"| `{cls.code}` | {cls.status} |" in text
        assert f"`{cls.code}`" in (DOCS / "egress.md").read_text()

    def test_blocked_renders_reason_and_host(self):
        error = EgressBlocked("private_address", host="internal.example", address="10.0.0.1")
        assert error.to_dict() == {
            "error": {
                "code": "EGRESS_BLOCKED",
                "message": "outbound request blocked: private_address (internal.example)",
                "details": {
                    "reason": "private_address",
                    "host": "internal.example",
                    "address": "10.0.0.1",
                },
            }
        }
        assert error.reason == "private_address"
        assert error.status == 403

    def test_errors_subclass_the_http_flavoured_bases(self):
        assert issubclass(EgressBlocked, Forbidden)
        assert issubclass(EgressAllowlistInvalid, InvalidInput)
        assert EgressAllowlistInvalid.status == 422
        assert all(issubclass(cls, SkillmarketError) for cls in ERRORS)

    def test_allowlist_error_truncates_the_entry(self):
        error = EgressAllowlistInvalid("x" * 1000, "not a host")
        assert len(error.details["entry"]) == 300


class TestEgressExports:
    def test_all_names_exist_and_are_documented(self):
        for name in egress.__all__:
            member = getattr(egress, name)
            if inspect.isclass(member) or inspect.isfunction(member):
                assert inspect.getdoc(member), name

    def test_all_lists_every_public_name(self):
        public = {
            name
            for name, member in vars(egress).items()
            if not name.startswith("_") and not inspect.ismodule(member)
        }
        assert public - {"annotations"} == set(egress.__all__)
