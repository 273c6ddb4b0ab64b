"""Invocation types and pure rules: statuses, request shapes, the public view, schema checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jsonschema
import rfc8785
from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pending", "claimed", "running", "completed", "failed", "expired", "terminated"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "expired", "terminated"})
DEFAULT_TTL = timedelta(minutes=30)
MAX_TTL = timedelta(hours=24)
DEFAULT_LEASE = timedelta(minutes=5)


class InvokeRequest(BaseModel):
    """The invoke body: the seed's ``input`` and ``passport_id``, plus optional controls."""

    model_config = ConfigDict(extra="forbid")

    input: Any = None
    passport_id: str = Field(min_length=1, max_length=64)
    input_encrypted: str | None = Field(
        None,
        description="The input sealed to the marketplace key (enc_v1_…, info "
        "skillmarket/input/v1) instead of `input`",
    )
    reply_public_key: str | None = Field(
        None,
        description="Your X25519 public key (base64url): the output comes back sealed "
        "to it as `output_encrypted`",
    )
    ttl_seconds: int | None = Field(
        None,
        ge=1,
        le=int(MAX_TTL.total_seconds()),
        description="Open mode: how long the publisher has (default 1800, max 86400)",
    )
    max_cost_micros: int | None = Field(
        None, ge=0, description="Cap on the hold (price + compute estimate), in micro-dollars"
    )


class CompleteRequest(BaseModel):
    """The publisher's answer to an open-mode invocation."""

    model_config = ConfigDict(extra="forbid")

    output: Any


class ClaimRequest(BaseModel):
    """How long the publisher wants the invocation to itself."""

    model_config = ConfigDict(extra="forbid")

    lease_seconds: int = Field(int(DEFAULT_LEASE.total_seconds()), ge=1, le=3600)


class InvocationError(BaseModel):
    """Why an invocation did not complete."""

    code: str
    message: str


class InvocationView(BaseModel):
    """An invocation as its buyer (or the skill's publisher) sees it."""

    invocation_id: str
    skill_id: str
    skill_fingerprint: str
    status: Status
    output: Any = None
    output_encrypted: str | None = None
    error: InvocationError | None = None
    cost: dict[str, Any] | None = None
    input_hash: str
    output_hash: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    poll_url: str


class PendingInvocation(BaseModel):
    """An open-mode invocation waiting for its publisher, with the buyer's input."""

    invocation_id: str
    skill_id: str
    status: Status
    input: Any
    created_at: datetime
    expires_at: datetime
    lease_until: datetime | None = None


@dataclass(frozen=True)
class InvocationFacts:
    """What another domain may know of an invocation: who bought which skill version from whom,
    and how it stands (never its input, output or cost)."""

    invocation_id: str
    skill_id: str
    buyer_id: str
    publisher_id: str
    status: Status
    finished_at: datetime | None


def content_hash(value: Any) -> str:
    """``sha256:`` of a JSON value's RFC 8785 form (what receipts and audit events carry)."""
    return "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def schema_problem(value: Any, schema: dict[str, Any]) -> dict[str, str] | None:
    """The most relevant way ``value`` fails ``schema`` (path and message), or ``None``."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    path = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return {"path": path, "message": error.message[:300]}
