"""Identity errors: stable, distinct UPPER_SNAKE codes with fitting HTTP statuses."""

from __future__ import annotations

import inspect
import re

import pytest

from skillmarket.errors import Forbidden, SkillmarketError, Unauthorized
from skillmarket.identity import errors

ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, SkillmarketError) and cls.__module__ == errors.__name__
]

EXPECTED = {
    "PASSPORT_MALFORMED": 401,
    "PASSPORT_SIGNATURE_INVALID": 401,
    "PASSPORT_ISSUER_UNTRUSTED": 401,
    "PASSPORT_EXPIRED": 401,
    "PASSPORT_NOT_YET_VALID": 401,
    "PASSPORT_REVOKED": 401,
    "PASSPORT_OWNER_MISMATCH": 403,
    "TRUST_LEVEL_INSUFFICIENT": 403,
}


def test_codes_are_unique_upper_snake():
    codes = [cls.code for cls in ERRORS]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", code) for code in codes)


@pytest.mark.parametrize(("code", "status"), EXPECTED.items())
def test_contract_codes_have_their_status(code, status):
    (cls,) = [cls for cls in ERRORS if cls.code == code]
    assert cls.status == status


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_has_a_docstring(cls):
    assert cls.__doc__ and cls.__doc__.strip()


def test_verification_failures_share_a_base_and_an_http_base():
    failures = [cls for cls in ERRORS if cls is not errors.PassportError]
    failures = [cls for cls in failures if issubclass(cls, errors.PassportError)]
    assert len(failures) == 7
    for cls in failures:
        http_base = Forbidden if cls is errors.PassportOwnerMismatch else Unauthorized
        assert issubclass(cls, http_base)
        assert cls("x").to_dict()["error"]["code"] == cls.code
