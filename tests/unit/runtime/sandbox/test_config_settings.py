"""The SKILLMARKET_SANDBOX_* settings reach the sandbox's configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skillmarket.config import Settings
from skillmarket.runtime.sandbox import SandboxConfig


def test_defaults_are_the_sandbox_defaults():
    assert Settings().sandbox_config() == SandboxConfig()


def test_environment_sets_pool_sizes_recycling_and_layers(monkeypatch):
    monkeypatch.setenv("SKILLMARKET_SANDBOX_JS_WORKERS", "3")
    monkeypatch.setenv("SKILLMARKET_SANDBOX_PYTHON_WORKERS", "0")
    monkeypatch.setenv("SKILLMARKET_SANDBOX_RECYCLE_AFTER", "50")
    monkeypatch.setenv("SKILLMARKET_SANDBOX_BWRAP", "required")
    config = Settings().sandbox_config()
    assert (config.workers("javascript"), config.workers("python")) == (3, 0)
    assert (config.recycle_after, config.bwrap) == (50, "required")
    assert config.allow_unprivileged is False


@pytest.mark.parametrize(
    ("name", "value"),
    [("SKILLMARKET_SANDBOX_BWRAP", "sometimes"), ("SKILLMARKET_SANDBOX_JS_WORKERS", "-1")],
)
def test_bad_values_are_refused_with_the_setting_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("SKILLMARKET_").lower()):
        Settings()
