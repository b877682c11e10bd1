"""The `agents.llm.LLM` protocol: every backend and wrapper satisfies it, and the wrappers
need nothing more from the model they wrap (a model that is no `BaseLLM` works)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import agents.llm
from agents.llm import (
    LLM,
    BaseLLM,
    BudgetedLLM,
    CachedLLM,
    Completion,
    ConcurrencyLimitedLLM,
    Message,
    MeteredLLM,
    Request,
    ResponseCache,
    RetryingLLM,
    ScriptedLLM,
    Usage,
    UsageMeter,
    load_llm,
)
from agents.llm.anthropic_backend import AnthropicLLM
from agents.llm.budget import FREE, CallBudget, PricedLLM
from agents.llm.llamacpp_backend import LlamaCppLLM
from agents.llm.local import LocalLLM
from agents.llm.openai_backend import OpenAILLM
from agents.llm.remote import HostedModel
from agents.llm.scripted import PlannedLLM
from agents.llm.types import Wrapper, make_request
from agents.llm.usage import CallLog, RecordingLLM
from foundation.budget import Budget

MSG = [{"role": "user", "content": "plan the next step"}]


def _scripted() -> ScriptedLLM:
    return ScriptedLLM(["one", "two"], on_exhausted="cycle")


def _local(tmp: Path) -> LocalLLM:
    (tmp / "config.json").write_text("{}")  # a transformers dir; nothing loads until a call
    return LocalLLM(str(tmp))


def _llamacpp(tmp: Path) -> LlamaCppLLM:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (extra llamacpp) not installed")
    (tmp / "model.gguf").write_bytes(b"GGUF")  # nothing loads until a call
    return LlamaCppLLM(str(tmp / "model.gguf"))


# Every concrete LLM class of agents.llm, built offline (no server, no weights loaded).
FACTORIES: dict[type[BaseLLM], Callable[[Path], BaseLLM]] = {
    ScriptedLLM: lambda tmp: _scripted(),
    PlannedLLM: lambda tmp: PlannedLLM({"step": ["go"]}, ["stop"]),
    OpenAILLM: lambda tmp: OpenAILLM("gpt-4o-mini"),
    AnthropicLLM: lambda tmp: AnthropicLLM("claude-3-5-haiku-latest"),
    LocalLLM: _local,
    LlamaCppLLM: _llamacpp,
    Wrapper: lambda tmp: Wrapper(_scripted()),
    PricedLLM: lambda tmp: PricedLLM(_scripted(), FREE),
    RetryingLLM: lambda tmp: RetryingLLM(_scripted()),
    ConcurrencyLimitedLLM: lambda tmp: ConcurrencyLimitedLLM(_scripted(), 2),
    BudgetedLLM: lambda tmp: BudgetedLLM(_scripted(), Budget(tokens=10_000), FREE),
    CallBudget: lambda tmp: CallBudget(_scripted(), 3),
    CachedLLM: lambda tmp: CachedLLM(_scripted(), ResponseCache(tmp / "cache.sqlite")),
    MeteredLLM: lambda tmp: MeteredLLM(_scripted(), UsageMeter()),
    RecordingLLM: lambda tmp: RecordingLLM(_scripted(), tmp / "calls.jsonl"),
    CallLog: lambda tmp: CallLog(_scripted()),
    HostedModel: lambda tmp: HostedModel(None, "local:tiny", False, "local:tiny"),
}


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")


def test_llm_is_exported_from_the_package() -> None:
    assert "LLM" in agents.llm.__all__
    assert agents.llm.LLM is agents.llm.types.LLM


@pytest.mark.parametrize("cls", list(FACTORIES), ids=lambda c: c.__name__)
def test_every_backend_and_wrapper_is_an_llm(cls: type[BaseLLM], tmp_path: Path) -> None:
    llm: LLM = FACTORIES[cls](tmp_path)  # mypy checks the same statically
    assert type(llm) is cls
    assert isinstance(llm, LLM)


def test_the_factories_cover_every_llm_class_of_the_package() -> None:
    """A new backend or wrapper in agents.llm must be added to FACTORIES above."""
    found = set()
    for info in pkgutil.iter_modules(agents.llm.__path__, "agents.llm."):
        module = importlib.import_module(info.name)
        found |= {
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, BaseLLM)
            and obj is not BaseLLM
            and obj.__module__ == module.__name__
        }
    assert found == set(FACTORIES)


@pytest.mark.parametrize(
    "spec", ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest", "scripted:FILE"]
)
def test_load_llm_gives_an_llm(spec: str, tmp_path: Path) -> None:
    if spec == "scripted:FILE":
        answers = tmp_path / "answers.json"
        answers.write_text('["ok"]')
        spec = f"scripted:{answers}"
    llm = load_llm(spec, cache_path=str(tmp_path / "c.sqlite"), meter=UsageMeter())
    assert isinstance(llm, LLM)
    assert isinstance(llm, Wrapper) and isinstance(llm.unwrap(), LLM)


class EchoLLM:
    """A model that is no `BaseLLM`: only the protocol's members. Answers its last message."""

    name = "echo"
    supports_tools = False

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.closed = False

    async def complete(
        self,
        messages: Sequence[Message],
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 256,
        stop: Sequence[str] | str | None = None,
        logprobs: bool = False,
        seed: int | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        top_logprobs: int = 0,
    ) -> list[Completion]:
        request = make_request(
            messages, n, temperature, max_tokens, stop, logprobs, seed, tools, top_logprobs
        )
        return await self.complete_request(request)

    def complete_sync(
        self,
        messages: Sequence[Message],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 256,
        stop: Sequence[str] | str | None = None,
        logprobs: bool = False,
        seed: int | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        top_logprobs: int = 0,
    ) -> list[Completion]:
        return asyncio.run(
            self.complete(
                messages, n, temperature, max_tokens, stop, logprobs, seed, tools, top_logprobs
            )
        )

    async def complete_request(self, request: Request) -> list[Completion]:
        self.requests.append(request)
        text = str(request.messages[-1]["content"])
        return [
            Completion(text, usage=Usage(3 if i == 0 else 0, 2), model=self.name, index=i)
            for i in range(request.n)
        ]

    def cache_identity(self) -> str:
        return "echo@test"

    async def aclose(self) -> None:
        self.closed = True


def test_a_model_that_only_satisfies_the_protocol_can_be_wrapped(tmp_path: Path) -> None:
    echo = EchoLLM()
    assert isinstance(echo, LLM) and not isinstance(echo, BaseLLM)
    meter = UsageMeter()
    budgeted = BudgetedLLM(ConcurrencyLimitedLLM(RetryingLLM(echo), 2), Budget(tokens=1_000), FREE)
    cache = CachedLLM(
        budgeted,
        ResponseCache(tmp_path / "cache.sqlite"),
    )
    llm = MeteredLLM(cache, meter)
    assert llm.name == "echo" and not llm.supports_tools
    assert cache.model_key == llm.cache_identity() == "echo@test"

    first = llm.complete_sync(MSG, n=2)
    again = llm.complete_sync(MSG, n=2)
    assert [c.text for c in first] == [c.text for c in again] == [MSG[0]["content"]] * 2
    assert len(echo.requests) == 1 and all(c.from_cache for c in again)
    assert echo.requests[0].n == 2 and echo.requests[0].messages == tuple(MSG)
    assert budgeted.spent == Usage(3, 4)
    assert meter.summary().calls == 2 and meter.summary().cache_hits == 1
    assert llm.unwrap() is echo
    asyncio.run(llm.aclose())
    assert echo.closed


def test_an_object_without_the_request_level_entry_is_not_an_llm() -> None:
    class NoRequestEntry:
        name = "half"
        supports_tools = False

        async def complete(self, messages: Sequence[Message]) -> list[Completion]:
            return []

    assert not isinstance(NoRequestEntry(), LLM)
    assert not isinstance(object(), LLM)


def test_agents_llm_record_writes_every_call_that_reaches_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import json

    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(["one", "two"]))
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("AGENTS_LLM_RECORD", str(record))
    llm = load_llm(f"scripted:{answers}", meter=UsageMeter())
    msgs: list[Message] = [{"role": "user", "content": "hi"}]
    asyncio.run(llm.complete(msgs, max_tokens=5))
    asyncio.run(llm.complete([*msgs, {"role": "assistant", "content": "one"}], stop=("x",)))
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["messages"] for r in rows] == [msgs, [*msgs, {"role": "assistant", "content": "one"}]]
    assert rows[0]["max_tokens"] == 5 and rows[1]["stop"] == ["x"]
