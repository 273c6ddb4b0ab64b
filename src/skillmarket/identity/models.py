"""Identity types: operators and API keys as callers see them (pure)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["free", "developer", "studio", "enterprise"]
TIERS: tuple[Tier, ...] = ("free", "developer", "studio", "enterprise")
OPERATOR_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"
KEY_PREFIX = "smk_"
SHOWN_PREFIX_CHARS = 12


class Operator(BaseModel):
    """An account that publishes skills, invokes them, or both."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = Field(pattern=OPERATOR_NAME_PATTERN)
    tier: Tier
    is_admin: bool = False
    created_at: datetime


class ApiKeyInfo(BaseModel):
    """An API key as listed: its prefix only, never the key."""

    model_config = ConfigDict(frozen=True)

    id: str
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewApiKey(BaseModel):
    """A freshly created key: the only time the whole key is shown."""

    id: str
    api_key: str
    prefix: str


def generate_api_key() -> str:
    """A new key: ``smk_`` and 32 URL-safe characters (192 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_api_key(key: str) -> str:
    """The stored form of a key (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()
