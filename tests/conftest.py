"""Shared fixtures: a fresh, migrated store on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skillmarket import migrations
from skillmarket.api.app import create_app
from skillmarket.config import Settings
from skillmarket.db import Database
from skillmarket.services import Services, open_services
from tests.support.postgres import throwaway_schema

pytest_plugins = ["tests.support.openai_server"]

PG_ENV = "SKILLMARKET_TEST_DATABASE_URL"
PG_SKIP = (
    f"PostgreSQL tests need {PG_ENV}, e.g. "
    f"{PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind (PostgreSQL: a throwaway schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = _pg_url()
    if base is None:
        pytest.skip(PG_SKIP)
    with throwaway_schema(base, "t") as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test store and a temporary data dir."""
    return Settings(
        data_dir=tmp_path / "data", database_url=db_url, max_body_bytes=65_536, seed_examples=False
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Migrated services on the test store."""
    opened = open_services(settings)
    yield opened
    opened.close()


@pytest.fixture
def database(services: Services) -> Database:
    """The test store's database."""
    return services.db


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    """An HTTP client bound to the app (in-process ASGI)."""
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def operator_factory(services: Services):
    """Create operators: returns (operator, api_key) and remembers nothing else."""

    def make(name: str | None = None, tier: str = "free", *, is_admin: bool = False):
        operator, key = services.identity.create_operator(
            name or f"op-{secrets.token_hex(4)}",
            tier,
            is_admin=is_admin,  # type: ignore[arg-type]
        )
        return operator, key.api_key

    return make


@pytest.fixture
def manifest_factory():
    """Valid manifest dicts, overridable per test."""

    def make(**overrides):
        manifest = {
            "name": f"skill-{secrets.token_hex(3)}",
            "version": "1.0.0",
            "description": "Adds up invoice line items.",
            "tags": ["finance"],
            "execution_mode": "source",
            "input_schema": {
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array"}},
            },
            "output_schema": {"type": "object"},
            "execution_steps": [
                {"type": "script", "runtime": "javascript", "code": "return input;"}
            ],
        }
        manifest.update(overrides)
        return manifest

    return make


def auth(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


__all__ = ["auth", "migrations"]
