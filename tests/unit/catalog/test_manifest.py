"""The manifest's rules, defaults and fingerprint (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from skillmarket.catalog.manifest import SkillManifest, redacted_steps

BASE = {
    "name": "invoice-total",
    "version": "1.0.0",
    "description": "Adds up invoice line items.",
    "execution_mode": "source",
    "input_schema": {"type": "object"},
    "output_schema": {"type": "object"},
    "execution_steps": [{"type": "script", "runtime": "javascript", "code": "return input;"}],
}


def parse(**overrides):
    return SkillManifest.model_validate({**BASE, **overrides})


def error_types(**overrides) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse(**overrides)
    return [e["type"] for e in info.value.errors()]


class TestNames:
    @pytest.mark.parametrize("name", ["a", "invoice-total", "x1", "a" * 64, "1-2-3"])
    def test_accepts_valid_name(self, name):
        assert parse(name=name).name == name

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "-lead",
            "trail-",
            "dou--ble",
            "Upper",
            "under_score",
            "a" * 65,
            "sp ace",
            "dot.ted",
            "ünï",
        ],
    )
    def test_publish_fails_invalid_name(self, name):
        assert error_types(name=name)[0] in {"invalid_name", "string_too_short", "string_too_long"}


class TestVersions:
    @pytest.mark.parametrize("version", ["0.0.1", "1.2.3", "1.0.0-rc.1", "2.0.0+build.7"])
    def test_accepts_semver(self, version):
        assert parse(version=version).version == version

    @pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "1.0.0.0", "01.0.0", "latest"])
    def test_publish_fails_invalid_version(self, version):
        assert error_types(version=version) == ["invalid_version"]


class TestSchemas:
    def test_publish_fails_invalid_input_schema(self):
        assert error_types(input_schema={"type": "objectt"}) == ["invalid_schema"]

    def test_publish_fails_other_draft(self):
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
        assert error_types(output_schema=schema) == ["invalid_schema"]

    def test_accepts_declared_2020_12(self):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}
        assert parse(output_schema=schema).output_schema == schema


class TestSteps:
    def test_publish_fails_unknown_step_type(self):
        assert error_types(execution_steps=[{"type": "shell", "cmd": "ls"}]) == [
            "union_tag_invalid"
        ]

    def test_publish_fails_unknown_step_field(self):
        step = {"type": "script", "runtime": "javascript", "code": "x", "net": True}
        assert error_types(execution_steps=[step]) == ["extra_forbidden"]

    def test_publish_fails_both_code_and_sealed_code(self):
        step = {"type": "script", "runtime": "python", "code": "x", "code_encrypted": "enc_v1_a"}
        assert error_types(execution_mode="sealed", execution_steps=[step]) == [
            "step_logic_missing"
        ]

    def test_publish_fails_sealed_value_without_prefix(self):
        step = {"type": "llm", "model": "openai/gpt-4o", "system_prompt_encrypted": "plain"}
        assert error_types(execution_mode="sealed", execution_steps=[step]) == [
            "invalid_sealed_value"
        ]

    def test_publish_fails_open_mode_with_steps(self):
        assert error_types(execution_mode="open") == ["steps_not_allowed"]

    def test_publish_fails_sealed_mode_without_steps(self):
        assert error_types(execution_mode="sealed", execution_steps=[]) == ["steps_required"]

    def test_publish_fails_source_mode_with_sealed_logic(self):
        step = {"type": "script", "runtime": "python", "code_encrypted": "enc_v1_abc"}
        assert error_types(execution_steps=[step]) == ["sealed_logic_in_source"]

    def test_publish_fails_too_many_steps(self):
        step = BASE["execution_steps"][0]
        assert error_types(execution_steps=[step] * 11) == ["too_long"]

    def test_publish_fails_timeout_over_60s(self):
        assert error_types(timeout_seconds=61) == ["less_than_equal"]

    def test_publish_fails_step_timeout_over_skill_timeout(self):
        step = {**BASE["execution_steps"][0], "timeout_ms": 20_000}
        assert error_types(timeout_seconds=10, execution_steps=[step]) == ["step_timeout_too_long"]

    def test_step_timeout_defaults_to_skill_timeout(self):
        manifest = parse(timeout_seconds=12)
        assert manifest.execution_steps[0].timeout_ms == 12_000
        assert manifest.timeout_seconds == 12


class TestServices:
    def test_publish_fails_services_with_credential_mode_none(self):
        assert error_types(services=[{"name": "github"}]) == ["services_not_allowed"]

    def test_single_sided_mode_fills_provider(self):
        manifest = parse(credential_mode="seller_provides", services=[{"name": "github"}])
        assert manifest.services[0].provided_by == "seller"

    def test_publish_fails_both_mode_without_provider(self):
        assert error_types(credential_mode="both", services=[{"name": "github"}]) == [
            "service_provider_missing"
        ]

    def test_publish_fails_provider_against_mode(self):
        services = [{"name": "github", "provided_by": "buyer"}]
        assert error_types(credential_mode="seller_provides", services=services) == [
            "service_provider_mismatch"
        ]


class TestFingerprint:
    def test_absent_and_default_fields_hash_the_same(self):
        explicit = parse(
            credential_mode="none",
            trust_level_required="L0",
            price_cents=0,
            tags=[],
            timeout_seconds=30,
            execution_steps=[{**BASE["execution_steps"][0], "timeout_ms": 30_000}],
        )
        assert explicit.fingerprint() == parse().fingerprint()

    def test_tag_order_and_case_do_not_matter(self):
        assert parse(tags=["B", "a"]).fingerprint() == parse(tags=["a", "b", "a"]).fingerprint()

    def test_any_content_change_changes_fingerprint(self):
        base = parse().fingerprint()
        assert parse(description="Something else.").fingerprint() != base
        assert parse(price_cents=1).fingerprint() != base
        step = {**BASE["execution_steps"][0], "code": "return input ;"}
        assert parse(execution_steps=[step]).fingerprint() != base

    def test_fingerprint_has_sha256_form(self):
        value = parse().fingerprint()
        assert value.startswith("sha256:") and len(value) == 71

    def test_publish_fails_integer_outside_json_range(self):
        schema = {"type": "integer", "maximum": 2**60}
        assert error_types(input_schema=schema) == ["not_canonicalizable"]


def test_redaction_hides_only_logic():
    steps = [
        {"type": "llm", "model": "m", "system_prompt": "secret", "temperature": 0.3},
        {"type": "script", "runtime": "python", "code_encrypted": "enc_v1_x", "timeout_ms": 5},
    ]
    assert redacted_steps(steps) == [
        {"type": "llm", "model": "m", "temperature": 0.3},
        {"type": "script", "runtime": "python", "timeout_ms": 5},
    ]
