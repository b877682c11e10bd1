"""The response cache never serves one server's (or one model's) answers for another: its
key is what answers (provider, model, the endpoint URL really used, the weight files) and
every field of the request but n."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from agents.llm import load_llm
from agents.llm.cache import request_key
from agents.llm.types import Request
from tests.llm_servers import Reply, serve
from tests.tiny_models import build_tiny_llama

MSG = [{"role": "user", "content": "hello"}]
BASE_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-openai-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-anthropic-key")


def ask(spec: str, **kw: Any) -> str:
    llm = load_llm(spec, **kw)
    return asyncio.run(llm.complete(MSG, max_tokens=8))[0].text


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("how", ["--base-url", "environment"])
def test_the_same_model_on_another_endpoint_is_asked_not_replayed(
    provider: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(provider) as (first, one), serve(provider) as (second, two):
        one.replies = [Reply(text="the first server's answer")]
        two.replies = [Reply(text="the second server's answer")]
        answers = []
        for url in (first, second, first):
            if how == "--base-url":
                answers.append(ask(f"{provider}:same-name", base_url=url))
            else:
                monkeypatch.setenv(BASE_ENV[provider], url)
                answers.append(ask(f"{provider}:same-name"))
        assert answers == [
            "the first server's answer",
            "the second server's answer",
            "the first server's answer",
        ]
        # The second endpoint was asked; the first answered once, then came from the cache.
        assert (one.count, two.count) == (1, 1)


def test_a_local_model_retrained_in_place_is_not_served_its_old_answers(tmp_path: Path) -> None:
    model = tmp_path / "model"

    def answer() -> Any:
        return asyncio.run(load_llm(f"local:{model}").complete(MSG, max_tokens=8))[0]

    build_tiny_llama(model, seed=0)
    assert [answer().from_cache, answer().from_cache] == [False, True]
    build_tiny_llama(model, seed=1)  # another model at the same path
    assert not answer().from_cache


def test_a_cache_built_by_hand_is_keyed_by_the_endpoint_too(tmp_path: Path) -> None:
    from agents.llm.cache import CachedLLM, ResponseCache
    from agents.llm.openai_backend import OpenAILLM

    cache = ResponseCache(tmp_path / "responses.sqlite")
    with serve("openai") as (first, one), serve("openai") as (second, two):
        for url in (first, second):
            llm = CachedLLM(OpenAILLM("same-name", base_url=url), cache)
            assert not asyncio.run(llm.complete(MSG, max_tokens=8))[0].from_cache
        assert (one.count, two.count) == (1, 1)


def test_a_gguf_file_replaced_in_place_is_another_model(tmp_path: Path) -> None:
    from agents.llm.local import LocalLLM

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF one")
    before = LocalLLM(str(gguf)).cache_identity()  # nothing is loaded: only the files' stats
    assert LocalLLM(str(gguf)).cache_identity() == before
    gguf.write_bytes(b"GGUF two, longer")
    assert LocalLLM(str(gguf)).cache_identity() != before


SAMPLE = Request(messages=tuple(MSG))
CHANGED: dict[str, Any] = {
    "messages": ({"role": "user", "content": "bye"},),
    "temperature": 0.7,
    "max_tokens": 99,
    "stop": ("\n",),
    "logprobs": True,
    "seed": 3,
    "tools": ({"name": "t", "description": "", "parameters": {}},),
    "top_logprobs": 5,
}


def test_every_field_of_a_request_but_n_is_in_the_key() -> None:
    names = {f.name for f in dataclasses.fields(Request)} - {"n"}
    assert names == set(CHANGED), "a new Request field: add it here and check it is keyed"
    base = request_key("openai:m@http://a/v1", SAMPLE)
    for name, value in CHANGED.items():
        assert (
            request_key("openai:m@http://a/v1", dataclasses.replace(SAMPLE, **{name: value}))
            != base
        ), name
    assert request_key("openai:m@http://b/v1", SAMPLE) != base
    assert request_key("openai:m@http://a/v1", dataclasses.replace(SAMPLE, n=4)) == base
