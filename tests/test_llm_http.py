"""OpenAI and Anthropic backends against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from agents.cli import main
from agents.llm import (
    BadResponseError,
    MissingKeyError,
    RateLimitError,
    load_llm,
)
from agents.llm.errors import TimeoutError_
from tests.llm_servers import Fault, serve

PROVIDERS = ["openai", "anthropic"]
KEY = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-openai-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-anthropic-key")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ask_prints_the_servers_answer(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(provider) as (url, state):
        code, out, _ = run_cli(
            ["ask", "--model", f"{provider}:any-model", "--base-url", url, "What is 2+2?"], capsys
        )
    assert code == 0
    assert "answer 1.0 to: What is 2+2?" in out
    assert state.count == 1
    body = state.requests[0]["body"]
    assert body["model"] == "any-model"
    assert body["max_tokens"] == 256
    headers = {k.lower(): v for k, v in state.requests[0]["headers"].items()}
    if provider == "openai":
        assert headers["authorization"] == "Bearer test-openai-key"
    else:
        # SDK 2.x sends the key as a bearer token; older ones as x-api-key.
        sent = headers.get("x-api-key", "") + headers.get("authorization", "")
        assert "test-anthropic-key" in sent


@pytest.mark.parametrize("provider", PROVIDERS)
def test_n_samples_and_json_usage(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(provider) as (url, state):
        code, out, _ = run_cli(
            ["ask", "-m", f"{provider}:m", "--base-url", url, "--n", "3", "--json", "hi"], capsys
        )
    assert code == 0
    result = json.loads(out)
    assert len(result["answers"]) == 3
    assert len({a["text"] for a in result["answers"]}) == 3  # three distinct samples
    usage = result["usage"]
    assert usage["calls"] == 1
    if provider == "openai":  # one request with n=3
        assert state.count == 1 and state.requests[0]["body"]["n"] == 3
        assert usage["input_tokens"] == 100 and usage["output_tokens"] == 30
        assert usage["cached_tokens"] == 40
    else:  # the Messages API has no n: three requests
        assert state.count == 3
        assert usage["input_tokens"] == 300 and usage["output_tokens"] == 30
        assert usage["cached_tokens"] == 120


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_with_retry_after_then_success(provider: str) -> None:
    with serve(provider) as (url, state):
        state.faults = [Fault(429, headers={"retry-after": "1"})]
        llm = load_llm(f"{provider}:m", base_url=url, cache=False)
        start = time.monotonic()
        completions = asyncio.run(llm.complete(MSG))
        waited = time.monotonic() - start
    assert completions[0].text.startswith("answer 2.0")
    assert state.count == 2
    assert waited >= 0.9  # it honoured Retry-After: 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_then_success(provider: str) -> None:
    with serve(provider) as (url, state):
        state.faults = [Fault(500), Fault(503)]
        llm = load_llm(f"{provider}:m", base_url=url, cache=False)
        completions = asyncio.run(llm.complete(MSG))
    assert state.count == 3
    assert completions[0].text.startswith("answer 3.0")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_persistent_429_raises_typed_error_after_max_attempts(provider: str) -> None:
    with serve(provider) as (url, state):
        state.faults = [Fault(429, headers={"retry-after": "0"})] * 3
        llm = load_llm(f"{provider}:m", base_url=url, cache=False, max_attempts=3)
        with pytest.raises(RateLimitError, match="429"):
            asyncio.run(llm.complete(MSG))
    assert state.count == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_retried_then_reported(provider: str) -> None:
    with serve(provider) as (url, state):
        state.faults = [Fault(delay=2.0), Fault(delay=2.0)]
        llm = load_llm(f"{provider}:m", base_url=url, cache=False, timeout=0.3, max_attempts=2)
        with pytest.raises(TimeoutError_, match="timed out"):
            asyncio.run(llm.complete(MSG))
        assert state.count == 2
        # A slow first answer, then a fast one: the retry succeeds.
        state.faults = [Fault(delay=2.0)]
        completions = asyncio.run(llm.complete(MSG))
    assert completions[0].text.startswith("answer 4.0")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_body_is_a_clear_error(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(provider) as (url, state):
        state.faults = [Fault(200, body="this is not json {")]
        llm = load_llm(f"{provider}:m", base_url=url, cache=False)
        with pytest.raises(BadResponseError, match="malformed"):
            asyncio.run(llm.complete(MSG))
        state.faults = [Fault(200, body=json.dumps({"unexpected": True}))]
        code, _out, err = run_cli(["ask", "-m", f"{provider}:m", "--base-url", url, "hi"], capsys)
    assert code != 0
    assert "malformed" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_key_names_the_variable(
    provider: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY[provider])
    with pytest.raises(MissingKeyError, match=KEY[provider]):
        load_llm(f"{provider}:m", base_url="http://127.0.0.1:9/")
    code, _, err = run_cli(["ask", "-m", f"{provider}:m", "hi"], capsys)
    assert code != 0 and KEY[provider] in err and "Traceback" not in err


def test_anthropic_marks_the_shared_prefix_for_prompt_caching() -> None:
    messages = [
        {"role": "system", "content": "long system prompt " * 50},
        {"role": "user", "content": "step 1"},
        {"role": "assistant", "content": "did step 1"},
        {"role": "user", "content": "step 2"},
    ]
    with serve("anthropic") as (url, state):
        llm = load_llm("anthropic:m", base_url=url, cache=False)
        completions = asyncio.run(llm.complete(messages, stop=["END"]))
    body = state.requests[0]["body"]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][-1]["content"][-1]
    assert body["stop_sequences"] == ["END"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert completions[0].usage.cached_tokens == 40
    assert completions[0].usage.input_tokens == 100


def test_cli_errors_are_one_line_without_traceback() -> None:
    """Run the real console script: exit code and stderr as a user sees them."""
    cases = [
        (["ask", "-m", "nonsense", "hi"], "PROVIDER:MODEL"),
        (["ask", "-m", "mystery:model", "hi"], "unknown provider"),
        (["ask", "-m", "local:/no/such/weights", "hi"], "no such file"),
        (["ask", "-m", "scripted:/no/such.json", "hi"], "no such file"),
        (
            [
                "ask",
                "-m",
                "openai:m",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--max-attempts",
                "1",
                "hi",
            ],
            "cannot connect",
        ),
        (["ask", ""], "prompt is empty"),
        (["ask", "--n", "-2", "hi"], "--n must be at least 1"),
        (["ask", "--bogus", "hi"], "No such option"),
        (["no-such-command"], "No such command"),
    ]
    env = {"OPENAI_API_KEY": "k", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    for args, expected in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "agents.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode != 0, args
        assert expected in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        if expected.startswith("No such"):  # click's usage errors: usage, hint, error
            assert proc.returncode == 2 and "--help" in proc.stderr, (args, proc.stderr)
        else:
            assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def test_openai_top_logprobs_are_asked_for_and_parsed() -> None:
    with serve("openai") as (url, state):
        llm = load_llm("openai:any-model", base_url=url, cache=False)
        out = llm.complete_sync(MSG, logprobs=True, top_logprobs=3)[0]
        plain = llm.complete_sync(MSG, logprobs=True)[0]
    assert state.requests[0]["body"]["top_logprobs"] == 3 and state.requests[0]["body"]["logprobs"]
    assert "top_logprobs" not in state.requests[1]["body"]
    assert out.logprobs is not None and out.logprobs[0].logprob == -0.25
    assert [(t.token, t.logprob) for t in out.logprobs[0].top_logprobs] == [
        ("alt0", -0.25),
        ("alt1", -1.25),
        ("alt2", -2.25),
    ]
    assert plain.logprobs is not None and plain.logprobs[0].top_logprobs == ()
