"""The LLM step executor against a real local chat-completions server, via the real client."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from typing import Any

import pytest

from skillmarket.catalog.manifest import LlmStep
from skillmarket.config import Settings
from skillmarket.runtime.steps.errors import LlmError, LlmPriceTableInvalid
from skillmarket.runtime.steps.llm import LlmStepExecutor, LlmStepResult, parse_completion
from skillmarket.runtime.steps.pricing import ModelPrice, PriceTable
from tests.support.openai_server import OpenAIServer, Reply

SECRET = "SECRET-PROMPT-7f3a: the discount table is 40% for ACME"
BUYER = "BUYER-INPUT-91c2: invoice from ACME, 3 lines"
INVOCATION = "sinv_test1"


def make_step(**overrides: Any) -> LlmStep:
    """A sealed LLM step: the executor gets the plaintext prompt separately."""
    fields: dict[str, Any] = {
        "type": "llm",
        "model": "openai/gpt-4o",
        "system_prompt_encrypted": "enc_v1_sealed",
        "temperature": 0.3,
        "max_tokens": 2000,
    }
    fields.update(overrides)
    return LlmStep(**fields)


def run_step(
    server: OpenAIServer,
    step: LlmStep | None = None,
    *,
    step_input: str = BUYER,
    run_kwargs: dict[str, Any] | None = None,
    **executor_kwargs: Any,
) -> LlmStepResult:
    """Run one step against ``server`` with a fresh executor, in a fresh event loop."""
    executor_kwargs.setdefault("base_url", server.base_url)
    executor_kwargs.setdefault("api_key", "sk-test")
    executor_kwargs.setdefault("retry_backoff_seconds", 0.01)

    async def go() -> LlmStepResult:
        async with LlmStepExecutor(**executor_kwargs) as executor:
            return await executor.run(
                step or make_step(),
                SECRET,
                step_input,
                invocation_id=INVOCATION,
                **(run_kwargs or {}),
            )

    return asyncio.run(go())


def run_fails(server: OpenAIServer, code: str, **kwargs: Any) -> LlmError:
    """Run a step that must fail with ``code``; return the error."""
    with pytest.raises(LlmError) as info:
        run_step(server, **kwargs)
    assert info.value.code == code
    return info.value


class TestLlmStepExecutorRequest:
    def test_run_sends_model_temperature_max_tokens_and_messages(self, openai_server, monkeypatch):
        monkeypatch.setenv("OPENAI_ORG_ID", "org-must-not-leak")
        monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-must-not-leak")
        run_step(openai_server)
        [request] = openai_server.requests
        assert request.path == "/v1/chat/completions"
        assert request.json == {
            "model": "openai/gpt-4o",
            "messages": [
                {"role": "system", "content": SECRET},
                {"role": "user", "content": BUYER},
            ],
            "temperature": 0.3,
            "max_tokens": 2000,
            "user": INVOCATION,
        }
        assert request.headers["authorization"] == "Bearer sk-test"
        assert request.headers["x-skillmarket-invocation-id"] == INVOCATION
        assert "openai-organization" not in request.headers
        assert "openai-project" not in request.headers

    def test_run_omits_max_tokens_and_empty_system_prompt(self, openai_server):
        step = make_step(max_tokens=None, temperature=0)
        run_step(openai_server, step, run_kwargs={})
        [request] = openai_server.requests
        assert "max_tokens" not in request.json
        assert request.json["temperature"] == 0

        async def go() -> None:
            async with LlmStepExecutor(base_url=openai_server.base_url, api_key="k") as ex:
                await ex.run(step, "", BUYER, invocation_id=INVOCATION)

        asyncio.run(go())
        assert openai_server.requests[-1].messages == [{"role": "user", "content": BUYER}]

    def test_run_sends_end_user_as_user(self, openai_server):
        run_step(openai_server, run_kwargs={"end_user": "org_hash_1"})
        assert openai_server.requests[0].json["user"] == "org_hash_1"
        assert openai_server.requests[0].headers["x-skillmarket-invocation-id"] == INVOCATION

    def test_run_sends_no_authorization_without_key(self, openai_server, monkeypatch):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env-must-not-leak")
        run_step(openai_server, api_key=None)
        assert "authorization" not in openai_server.requests[0].headers

    def test_run_speaks_to_openrouter_style_base_url(self, openai_server):
        result = run_step(openai_server, base_url=openai_server.openrouter_base_url)
        assert openai_server.requests[0].path == "/api/v1/chat/completions"
        assert json.loads(result.output) == {"echo": BUYER}


class TestLlmStepExecutorMetering:
    def test_run_meters_tokens_and_prices_from_table(self, openai_server):
        openai_server.script(Reply.completion("hi", prompt_tokens=850, completion_tokens=320))
        result = run_step(openai_server)
        assert result.output == "hi"
        assert (result.prompt_tokens, result.completion_tokens) == (850, 320)
        assert result.upstream_cost_micros == 2125 + 3200  # US$2.50 / US$10 per million
        assert result.cost_source == "table"
        assert result.model == "openai/gpt-4o"
        assert result.attempts == 1
        assert result.response_id == "chatcmpl-1"
        assert result.finish_reason == "stop"
        assert result.latency_ms >= 0

    def test_run_rounds_table_cost_up(self, openai_server):
        openai_server.script(Reply.completion(prompt_tokens=1, completion_tokens=1))
        result = run_step(openai_server, make_step(model="openai/gpt-4o-mini"))
        assert result.upstream_cost_micros == 1  # 0.75 micro-dollars

    def test_run_prefers_upstream_cost_over_table(self, openai_server):
        openai_server.script(
            Reply.completion(prompt_tokens=850, completion_tokens=320, cost=0.0038)
        )
        result = run_step(openai_server)
        assert result.upstream_cost_micros == 3800
        assert result.cost_source == "upstream"

    def test_run_rounds_upstream_cost_up(self, openai_server):
        openai_server.script(Reply.completion(cost=0.0038001))
        assert run_step(openai_server).upstream_cost_micros == 3801

    def test_run_adds_byok_upstream_inference_cost(self, openai_server):
        usage = {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost": 0.0002,
            "is_byok": True,
            "cost_details": {"upstream_inference_cost": 0.004},
        }
        openai_server.script(Reply.completion(usage=usage))
        assert run_step(openai_server).upstream_cost_micros == 4200

    def test_run_keeps_reported_zero_cost(self, openai_server, caplog):
        openai_server.script(Reply.completion(cost=0))
        with caplog.at_level(logging.WARNING):
            result = run_step(openai_server)
        assert (result.upstream_cost_micros, result.cost_source) == (0, "upstream")
        assert "reported cost 0" in caplog.text

    def test_run_prices_unknown_model_from_upstream_cost(self, openai_server):
        openai_server.script(Reply.completion(cost=0.001))
        result = run_step(openai_server, make_step(model="mistral/mixtral-8x7b"))
        assert result.upstream_cost_micros == 1000

    def test_run_fails_unpriced_model(self, openai_server):
        err = run_fails(openai_server, "LLM_MODEL_UNPRICED", step=make_step(model="mistral/x"))
        assert err.details == {
            "model": "mistral/x",
            "invocation_id": INVOCATION,
            "attempts": 1,
            "response_id": "chatcmpl-1",
        }

    def test_run_uses_given_price_table(self, openai_server):
        openai_server.script(Reply.completion(prompt_tokens=1_000_000, completion_tokens=0))
        table = PriceTable({"local/llama": ModelPrice(7, 9)})
        result = run_step(openai_server, make_step(model="local/llama"), price_table=table)
        assert result.upstream_cost_micros == 7

    def test_run_chain_feeds_each_output_to_the_next_step(self, openai_server):
        async def chain() -> list[LlmStepResult]:
            results, text = [], BUYER
            async with LlmStepExecutor(base_url=openai_server.base_url, api_key="k") as ex:
                for model in ("anthropic/claude-sonnet-4", "openai/gpt-4o-mini"):
                    result = await ex.run(make_step(model=model), SECRET, text, invocation_id="i")
                    results.append(result)
                    text = result.output
            return results

        first, second = asyncio.run(chain())
        assert json.loads(second.output) == {"echo": first.output}
        assert openai_server.requests[1].message("user") == first.output
        assert [r.json["model"] for r in openai_server.requests] == [
            "anthropic/claude-sonnet-4",
            "openai/gpt-4o-mini",
        ]

    def test_run_concurrent_steps_share_one_client(self, openai_server):
        async def many() -> list[LlmStepResult]:
            async with LlmStepExecutor(base_url=openai_server.base_url, api_key="k") as ex:
                runs = [ex.run(make_step(), "", f"n{i}", invocation_id=f"i{i}") for i in range(8)]
                return await asyncio.gather(*runs)

        outputs = [json.loads(r.output)["echo"] for r in asyncio.run(many())]
        assert outputs == [f"n{i}" for i in range(8)]
        assert len(openai_server.requests) == 8


class TestLlmStepExecutorRetries:
    @pytest.mark.parametrize("status", [429, 500, 502, 503])
    def test_run_retries_once_then_succeeds(self, openai_server, status):
        openai_server.script(Reply.error(status), Reply.completion("second"))
        result = run_step(openai_server)
        assert (result.output, result.attempts) == ("second", 2)
        assert len(openai_server.requests) == 2

    def test_run_fails_after_one_retry(self, openai_server):
        openai_server.script(Reply.error(503), Reply.error(503), Reply.completion())
        err = run_fails(openai_server, "LLM_ERROR")
        assert (err.details["upstream_status"], err.details["attempts"]) == (503, 2)
        assert len(openai_server.requests) == 2

    @pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
    def test_run_fails_without_retry_on_4xx(self, openai_server, status):
        openai_server.script(Reply.error(status, code="bad_thing", type="invalid_request_error"))
        err = run_fails(openai_server, "LLM_ERROR")
        assert err.status == 502
        assert err.details == {
            "model": "openai/gpt-4o",
            "invocation_id": INVOCATION,
            "upstream_status": status,
            "upstream_code": "bad_thing",
            "upstream_type": "invalid_request_error",
            "attempts": 1,
        }
        assert len(openai_server.requests) == 1

    def test_run_fails_without_retry_when_backoff_exceeds_time_left(self, openai_server):
        openai_server.script(Reply.error(503), Reply.completion())
        err = run_fails(openai_server, "LLM_ERROR", timeout_seconds=1, retry_backoff_seconds=5)
        assert err.details["upstream_status"] == 503
        assert len(openai_server.requests) == 1

    def test_run_fails_without_retry_when_retries_off(self, openai_server):
        openai_server.script(Reply.error(503), Reply.completion())
        run_fails(openai_server, "LLM_ERROR", max_retries=0)
        assert len(openai_server.requests) == 1

    def test_run_fails_401_names_missing_key(self, openai_server):
        openai_server.script(Reply.error(401, code=401))
        err = run_fails(openai_server, "LLM_ERROR", api_key=None)
        assert "no API key is configured" in err.message
        assert err.details["upstream_code"] == "401"

    def test_run_fails_unreachable_upstream(self):
        with OpenAIServer() as gone:
            pass  # started and stopped: nothing listens on its port any more
        err = run_fails(gone, "LLM_ERROR")
        assert err.details["upstream_status"] is None


class TestLlmStepExecutorTimeouts:
    def test_run_fails_timeout_with_bounded_overshoot(self, openai_server):
        openai_server.script(Reply.completion().delayed(10))
        started = time.monotonic()
        err = run_fails(openai_server, "LLM_TIMEOUT", timeout_seconds=0.3)
        assert time.monotonic() - started < 0.3 + 2.0
        assert err.status == 504
        assert err.details["timeout_seconds"] == 0.3

    def test_run_timeout_covers_retry_and_backoff(self, openai_server):
        openai_server.script(Reply.error(503).delayed(0.2), Reply.completion().delayed(10))
        started = time.monotonic()
        run_fails(openai_server, "LLM_TIMEOUT", timeout_seconds=0.5, retry_backoff_seconds=0.1)
        assert time.monotonic() - started < 0.5 + 2.0
        assert len(openai_server.requests) == 2

    def test_run_fails_timeout_under_per_call_cap(self, openai_server):
        openai_server.script(Reply.completion().delayed(10))
        err = run_fails(openai_server, "LLM_TIMEOUT", run_kwargs={"timeout_seconds": 0.2})
        assert err.details["timeout_seconds"] == 0.2

    def test_run_fails_timeout_when_no_time_is_left(self, openai_server):
        run_fails(openai_server, "LLM_TIMEOUT", run_kwargs={"timeout_seconds": 0})


class TestLlmStepExecutorResponses:
    def test_run_fails_usage_missing(self, openai_server):
        openai_server.script(Reply.completion("fine", include_usage=False, cost=0.1))
        err = run_fails(openai_server, "LLM_USAGE_MISSING")
        assert err.details["response_id"] == "chatcmpl-1"

    @pytest.mark.parametrize(
        "usage",
        [
            {"total_tokens": 15},
            {"prompt_tokens": 10, "completion_tokens": None},
            {"prompt_tokens": "10", "completion_tokens": 5},
            {"prompt_tokens": -1, "completion_tokens": 5},
            {"prompt_tokens": True, "completion_tokens": 5},
        ],
    )
    def test_run_fails_usage_incomplete(self, openai_server, usage):
        openai_server.script(Reply.completion(usage=usage))
        run_fails(openai_server, "LLM_USAGE_MISSING")

    @pytest.mark.parametrize(
        ("reply", "reason"),
        [
            (Reply.raw(b'{"choices": ['), "malformed_json"),
            (Reply.raw(b"<html>oops</html>", content_type="text/html"), "malformed_json"),
            (Reply.raw(b"[1, 2]"), "not_an_object"),
            (Reply(body={"id": "x", "choices": [], "usage": {}}), "no_choices"),
            (Reply(body={"id": "x", "usage": {}}), "no_choices"),
            (Reply.completion(content=None), "empty_content"),
            (Reply.completion(content=""), "empty_content"),
            (Reply.completion(cost=-0.5), "invalid_cost"),
        ],
    )
    def test_run_fails_invalid_response(self, openai_server, reply, reason):
        openai_server.script(reply)
        err = run_fails(openai_server, "LLM_RESPONSE_INVALID")
        assert err.details["reason"] == reason

    def test_run_fails_error_object_in_200_body(self, openai_server):
        body = {"error": {"code": 502, "message": f"provider down: {SECRET}"}}
        openai_server.script(Reply(body=body))
        err = run_fails(openai_server, "LLM_ERROR")
        assert (err.details["upstream_status"], err.details["upstream_code"]) == (200, "502")

    def test_parse_completion_fails_non_utf8(self):
        with pytest.raises(LlmError) as info:
            parse_completion(b"\xff\xfe")
        assert info.value.code == "LLM_RESPONSE_INVALID"


SECRECY_CASES = [
    Reply.completion(f"answer {SECRET}"),
    Reply.error(400, f"Invalid value in messages[0].content: {SECRET} / {BUYER}", code=SECRET),
    Reply.error(503, f"overloaded while reading {SECRET}"),
    Reply.raw(f'{{"echo": "{SECRET}"'.encode()),
    Reply.completion(f"{SECRET}", include_usage=False),
    Reply(body={"error": {"message": SECRET, "code": SECRET}}),
    Reply.completion(SECRET).delayed(10),
]


class TestLlmStepExecutorSecrecy:
    @pytest.mark.parametrize("reply", SECRECY_CASES)
    def test_run_never_reveals_prompt_or_input(self, openai_server, caplog, reply):
        openai_server.script(reply, reply)
        caplog.set_level(logging.DEBUG)
        error = None
        try:
            run_step(openai_server, timeout_seconds=0.3)
        except LlmError as exc:
            error = exc
        if error is not None:
            shown = [
                str(error),
                repr(error.details),
                json.dumps(error.to_dict()),
                "".join(traceback.format_exception(error)),
            ]
            for text in shown:
                assert SECRET not in text and BUYER not in text
            assert error.__cause__ is None
            assert error.__context__ is None or error.__suppress_context__
        assert openai_server.requests, "the request reached the server"
        assert SECRET not in caplog.text and BUYER not in caplog.text


class TestLlmStepExecutorConfig:
    def test_from_settings_uses_llm_settings(self, openai_server, tmp_path):
        prices = tmp_path / "prices.json"
        prices.write_text(
            json.dumps({"local/x": {"prompt_micros_per_mtok": 0, "completion_micros_per_mtok": 0}})
        )
        settings = Settings(
            llm_base_url=openai_server.base_url,
            llm_api_key="sk-settings",
            llm_timeout_seconds=5,
            llm_max_retries=0,
            llm_retry_backoff_seconds=0,
            llm_price_table_path=prices,
        )
        openai_server.script(Reply.error(503), Reply.completion())

        async def go() -> LlmStepExecutor:
            async with LlmStepExecutor.from_settings(settings) as ex:
                with pytest.raises(LlmError):
                    await ex.run(make_step(model="local/x"), "", "x", invocation_id="i")
                result = await ex.run(make_step(model="local/x"), "", "x", invocation_id="i")
                assert result.upstream_cost_micros == 0
                return ex

        executor = asyncio.run(go())
        assert (executor.timeout_seconds, executor.max_retries) == (5, 0)
        assert openai_server.requests[0].headers["authorization"] == "Bearer sk-settings"
        assert "sk-settings" not in repr(settings)

    def test_from_settings_fails_bad_price_table(self, tmp_path):
        path = tmp_path / "prices.json"
        path.write_text("{}}")
        with pytest.raises(LlmPriceTableInvalid):
            LlmStepExecutor.from_settings(Settings(llm_price_table_path=path))

    def test_settings_default_to_openrouter(self, monkeypatch):
        for name in ("BASE_URL", "API_KEY", "TIMEOUT_SECONDS", "MAX_RETRIES"):
            monkeypatch.delenv(f"SKILLMARKET_LLM_{name}", raising=False)
        settings = Settings(_env_file=None)
        assert settings.llm_base_url == "https://openrouter.ai/api/v1"
        assert settings.llm_api_key is None
        assert (settings.llm_timeout_seconds, settings.llm_max_retries) == (60.0, 1)

    @pytest.mark.parametrize(
        "kwargs",
        [{"timeout_seconds": 0}, {"max_retries": 2}, {"retry_backoff_seconds": -1}],
    )
    def test_create_fails_bad_values(self, kwargs):
        with pytest.raises(ValueError):
            LlmStepExecutor(api_key="k", **kwargs)
