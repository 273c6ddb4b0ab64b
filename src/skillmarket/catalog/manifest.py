"""The skill manifest: what a publisher sends, validated into a frozen object (pure, no I/O).

Rules follow the seed and the Agent Skills conventions: a name is 1–64 lowercase letters, digits
and single hyphens (not at either end); a version is semver 2.0; a description is 1–1024
characters. Schemas must be valid JSON Schema 2020-12. Steps are a closed union on ``type``.

Defaults are materialised (a step without ``timeout_ms`` gets the skill's timeout, tags are
lower-cased, de-duplicated and sorted, services say who provides them), so an absent field and
its default give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

import jsonschema
import rfc8785
import semver
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){0,63}(?<!-)$")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MODEL_PATTERN = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._:-]+)?$"
SERVICE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SEALED_PREFIX = "enc_v1_"
MAX_STEPS = 10
MAX_CODE_CHARS = 100_000
MAX_TIMEOUT_SECONDS = 60
FINGERPRINT_DOMAIN = b"skillmarket/skill-manifest/v1\x00"

# Error types raised by the validators above, each rendered as its upper-cased code
# (``invalid_name`` → ``INVALID_NAME``) by the API's validation error handler.
ERROR_TYPES = frozenset(
    {
        "invalid_name",
        "invalid_version",
        "invalid_tag",
        "invalid_schema",
        "invalid_sealed_value",
        "step_logic_missing",
        "steps_required",
        "steps_not_allowed",
        "sealed_logic_in_source",
        "services_not_allowed",
        "service_provider_missing",
        "service_provider_mismatch",
        "duplicate_service",
        "step_timeout_too_long",
        "not_canonicalizable",
    }
)

ExecutionMode = Literal["sealed", "open", "source"]
CredentialMode = Literal["none", "buyer_provides", "seller_provides", "both"]
TrustLevel = Literal["L0", "L1", "L2"]

_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def _exactly_one(step: BaseModel, plain: str, sealed: str) -> None:
    given = [f for f in (plain, sealed) if getattr(step, f) is not None]
    if len(given) != 1:
        raise PydanticCustomError(
            "step_logic_missing",
            "a {kind} step needs exactly one of '{plain}' or '{sealed}'",
            {"kind": step.type, "plain": plain, "sealed": sealed},
        )
    value = getattr(step, sealed)
    if value is not None and not value.startswith(SEALED_PREFIX):
        raise PydanticCustomError(
            "invalid_sealed_value", "'{field}' must start with 'enc_v1_'", {"field": sealed}
        )


class LlmStep(BaseModel):
    """A chat-completion step: the step input is the user message."""

    model_config = _STRICT

    type: Literal["llm"]
    model: str = Field(min_length=1, max_length=100, pattern=MODEL_PATTERN)
    system_prompt: str | None = Field(None, max_length=MAX_CODE_CHARS)
    system_prompt_encrypted: str | None = Field(None, max_length=4 * MAX_CODE_CHARS)
    temperature: float = Field(1.0, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _logic_given_once(self) -> LlmStep:
        _exactly_one(self, "system_prompt", "system_prompt_encrypted")
        return self


class ScriptStep(BaseModel):
    """A sandboxed script step: it receives the step input as a JSON string."""

    model_config = _STRICT

    type: Literal["script"]
    runtime: Literal["javascript", "python"]
    code: str | None = Field(None, min_length=1, max_length=MAX_CODE_CHARS)
    code_encrypted: str | None = Field(None, max_length=4 * MAX_CODE_CHARS)
    timeout_ms: int | None = Field(None, ge=1, le=MAX_TIMEOUT_SECONDS * 1000)

    @model_validator(mode="after")
    def _logic_given_once(self) -> ScriptStep:
        _exactly_one(self, "code", "code_encrypted")
        return self


Step = Annotated[LlmStep | ScriptStep, Field(discriminator="type")]


class ServiceRequirement(BaseModel):
    """An external service a skill may call through the credential proxy."""

    model_config = _STRICT

    name: str = Field(pattern=SERVICE_PATTERN)
    provided_by: Literal["buyer", "seller"] | None = None
    cost_per_call_micros: int = Field(0, ge=0, le=100_000_000)


def _check_schema(value: dict[str, Any]) -> dict[str, Any]:
    declared = value.get("$schema")
    if declared is not None and declared != jsonschema.Draft202012Validator.META_SCHEMA["$id"]:
        raise PydanticCustomError(
            "invalid_schema",
            "only JSON Schema 2020-12 is accepted, not {declared}",
            {"declared": str(declared)},
        )
    try:
        jsonschema.Draft202012Validator.check_schema(value)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise PydanticCustomError(
            "invalid_schema",
            "not a valid JSON Schema 2020-12 at {path}: {reason}",
            {"path": path, "reason": exc.message},
        ) from None
    return value


def check_schema(value: dict[str, Any]) -> dict[str, Any]:
    """Return ``value`` if it is a valid JSON Schema 2020-12, else raise ``invalid_schema``."""
    return _check_schema(value)


def normal_tags(value: tuple[str, ...]) -> tuple[str, ...]:
    """Tags lower-cased, de-duplicated and sorted; raise ``invalid_tag`` for a bad one."""
    tags = sorted({t.strip().lower() for t in value})
    for tag in tags:
        if not TAG_PATTERN.match(tag):
            raise PydanticCustomError(
                "invalid_tag",
                "tag '{tag}' is not 1-32 lowercase letters, digits, hyphens",
                {"tag": tag},
            )
    return tuple(tags)


class SkillManifest(BaseModel):
    """Everything a publisher declares about one version of a skill."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=64)
    version: str = Field(max_length=64)
    description: str = Field(min_length=1, max_length=1024)
    tags: tuple[str, ...] = Field((), max_length=20)
    execution_mode: ExecutionMode
    credential_mode: CredentialMode = "none"
    services: tuple[ServiceRequirement, ...] = Field((), max_length=20)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    trust_level_required: TrustLevel = "L0"
    price_cents: int = Field(0, ge=0, le=10_000_000)
    execution_steps: tuple[Step, ...] = Field((), max_length=MAX_STEPS)
    timeout_seconds: int = Field(30, ge=1, le=MAX_TIMEOUT_SECONDS)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise PydanticCustomError(
                "invalid_name",
                "a skill name is 1-64 lowercase letters, digits and single hyphens, "
                "not starting or ending with a hyphen",
            )
        return value

    @field_validator("version")
    @classmethod
    def _valid_version(cls, value: str) -> str:
        if not semver.Version.is_valid(value):
            raise PydanticCustomError(
                "invalid_version", "version must be a semantic version such as 1.0.0"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _normal_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return normal_tags(value)

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_schema(value)

    @model_validator(mode="after")
    def _consistent(self) -> SkillManifest:
        self._check_steps_fit_mode()
        object.__setattr__(self, "services", self._services_with_provider())
        object.__setattr__(self, "execution_steps", self._steps_with_timeouts())
        try:
            rfc8785.dumps(self.to_json_dict())
        except rfc8785.CanonicalizationError as exc:
            raise PydanticCustomError(
                "not_canonicalizable",
                "the manifest cannot be canonicalised: {reason}",
                {"reason": str(exc)},
            ) from None
        return self

    def _check_steps_fit_mode(self) -> None:
        if self.execution_mode == "open" and self.execution_steps:
            raise PydanticCustomError(
                "steps_not_allowed",
                "an open-mode skill runs on its publisher's side: execution_steps must be empty",
            )
        if self.execution_mode != "open" and not self.execution_steps:
            raise PydanticCustomError(
                "steps_required",
                "a {mode}-mode skill needs at least one execution step",
                {"mode": self.execution_mode},
            )
        if self.execution_mode == "source":
            for step in self.execution_steps:
                if getattr(step, "code_encrypted", None) or getattr(
                    step, "system_prompt_encrypted", None
                ):
                    raise PydanticCustomError(
                        "sealed_logic_in_source",
                        "a source-mode skill shows its steps to buyers: "
                        "send 'code' / 'system_prompt' in plain text",
                    )

    def _services_with_provider(self) -> tuple[ServiceRequirement, ...]:
        sides = {"buyer_provides": "buyer", "seller_provides": "seller"}
        mode = self.credential_mode
        if mode == "none" and self.services:
            raise PydanticCustomError(
                "services_not_allowed", "credential_mode 'none' declares no services"
            )
        out = []
        for svc in self.services:
            side = svc.provided_by or sides.get(mode)
            if side is None:
                raise PydanticCustomError(
                    "service_provider_missing",
                    "with credential_mode 'both' service '{name}' must say provided_by",
                    {"name": svc.name},
                )
            if mode in sides and side != sides[mode]:
                raise PydanticCustomError(
                    "service_provider_mismatch",
                    "service '{name}' is provided_by {side} but credential_mode is {mode}",
                    {"name": svc.name, "side": side, "mode": mode},
                )
            out.append(svc.model_copy(update={"provided_by": side}))
        names = [s.name for s in out]
        if len(set(names)) != len(names):
            raise PydanticCustomError("duplicate_service", "each service is declared once")
        return tuple(sorted(out, key=lambda s: s.name))

    def _steps_with_timeouts(self) -> tuple[LlmStep | ScriptStep, ...]:
        limit = self.timeout_seconds * 1000
        steps: list[LlmStep | ScriptStep] = []
        for index, step in enumerate(self.execution_steps):
            if isinstance(step, ScriptStep):
                if step.timeout_ms is not None and step.timeout_ms > limit:
                    raise PydanticCustomError(
                        "step_timeout_too_long",
                        "step {index} timeout_ms {ms} exceeds the skill's timeout_seconds",
                        {"index": index, "ms": step.timeout_ms},
                    )
                step = step.model_copy(update={"timeout_ms": step.timeout_ms or limit})
            steps.append(step)
        return tuple(steps)

    def fingerprint(self) -> str:
        """sha256 over a domain tag and the manifest's RFC 8785 canonical form."""
        canonical = rfc8785.dumps(self.to_json_dict())
        return "sha256:" + hashlib.sha256(FINGERPRINT_DOMAIN + canonical).hexdigest()

    def to_json_dict(self) -> dict[str, Any]:
        """The manifest as stored and hashed: plain JSON, absent optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def semver(self) -> semver.Version:
        """The version, parsed for ordering."""
        return semver.Version.parse(self.version)


def redacted_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps as a non-publisher may see them in sealed mode: the shape, never the logic."""
    hidden = {"code", "code_encrypted", "system_prompt", "system_prompt_encrypted"}
    return [{k: v for k, v in step.items() if k not in hidden} for step in steps]
