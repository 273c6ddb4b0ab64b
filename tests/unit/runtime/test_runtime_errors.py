"""The runtime's typed errors: stable codes, one base, the public JSON shape."""

from __future__ import annotations

import pytest

import skillmarket.runtime.sandbox as sandbox_package
from skillmarket.errors import SkillmarketError
from skillmarket.runtime import errors

CODES = {
    errors.ScriptTimeout: "SCRIPT_TIMEOUT",
    errors.ScriptMemoryExceeded: "SCRIPT_MEMORY",
    errors.ScriptFailed: "SCRIPT_ERROR",
    errors.ScriptOutputTooLarge: "SCRIPT_ERROR",
    errors.ScriptForbidden: "SCRIPT_FORBIDDEN",
    errors.SandboxDied: "SANDBOX_DIED",
    errors.SandboxUnavailable: "SANDBOX_UNAVAILABLE",
    errors.ProxyFetchFailed: "PROXY_FETCH_FAILED",
}


class TestErrors:
    @pytest.mark.parametrize(
        ("cls", "code"), CODES.items(), ids=lambda x: getattr(x, "__name__", x)
    )
    def test_code_is_stable(self, cls, code):
        assert cls.code == code
        assert issubclass(cls, errors.ScriptRuntimeError)
        assert issubclass(cls, SkillmarketError)
        assert cls.__doc__

    def test_error_renders_public_shape(self):
        err = errors.ScriptFailed("TypeError: boom (line 3)", details={"line": 3})
        assert err.to_dict() == {
            "error": {
                "code": "SCRIPT_ERROR",
                "message": "TypeError: boom (line 3)",
                "details": {"line": 3},
            }
        }

    def test_proxy_fetch_failed_carries_callback_code_and_status(self):
        err = errors.ProxyFetchFailed("blocked", code="EGRESS_BLOCKED", status=403)
        assert (err.code, err.status) == ("EGRESS_BLOCKED", 403)
        assert errors.ProxyFetchFailed("x").code == "PROXY_FETCH_FAILED"

    def test_exports_are_complete(self):
        assert set(errors.__all__) <= set(sandbox_package.__all__)
        for name in sandbox_package.__all__:
            assert getattr(sandbox_package, name) is not None
