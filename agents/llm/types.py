"""The `agents.llm.LLM` seam: one async `complete` for every backend.

Messages use the OpenAI chat shape (`{"role": ..., "content": ...}`); each
backend translates to its own wire format. Native tool calling, provider-neutral:

    tools = [{"name": "view_file", "description": "...", "parameters": {JSON schema}}]
    {"role": "assistant", "content": "text", "tool_calls": [{"id", "name", "arguments": {}}]}
    {"role": "tool", "tool_call_id": "...", "content": "the tool's output"}

`Completion.tool_calls` holds the calls of an answer; backends with
`supports_tools = False` (the local model) refuse `tools`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top_logprobs: tuple[TokenLogprob, ...] = ()
    """The most likely tokens at this position, most likely first (when asked for with
    `top_logprobs`; OpenAI's `logprobs.content[i].top_logprobs`)."""


@dataclass(frozen=True)
class Usage:
    """Tokens and dollars of one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # input tokens served from a provider's prompt cache
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cost + other.cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ToolCall:
    """One native tool call of an answer. Arguments that are not a JSON object leave
    `arguments` empty, the model's text in `raw` and the reason in `error`, so an agent
    can feed the error back instead of failing."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    raw: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    def to_message(self) -> dict[str, Any]:
        """The neutral form inside an assistant message's `tool_calls`."""
        args: dict[str, Any] | str = self.arguments if self.valid else (self.raw or "")
        return {"id": self.id, "name": self.name, "arguments": args}


@dataclass(frozen=True)
class Completion:
    """One sample. A call's usage is split over its samples: the prompt's
    tokens are on sample 0, each sample carries its own output tokens, so
    summing over a call's completions gives the call's usage."""

    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "tool_calls" | "error"
    logprobs: tuple[TokenLogprob, ...] | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    index: int = 0
    from_cache: bool = False  # served by the response cache, nothing was sent
    tool_calls: tuple[ToolCall, ...] = ()

    def with_(self, **changes: Any) -> Completion:
        return replace(self, **changes)


@dataclass(frozen=True)
class Request:
    """Everything that determines a call's answer (and so its cache key)."""

    messages: tuple[Message, ...]
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] | None = None
    logprobs: bool = False
    seed: int | None = None
    tools: tuple[dict[str, Any], ...] | None = None  # {name, description, parameters}
    top_logprobs: int = 0  # with logprobs: this many alternatives per token (0..20)


def make_request(
    messages: Sequence[Message],
    n: int = 1,
    temperature: float = 0.0,
    max_tokens: int = 256,
    stop: Sequence[str] | str | None = None,
    logprobs: bool = False,
    seed: int | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
    top_logprobs: int = 0,
) -> Request:
    """Validate the arguments of `complete` once, for every backend."""
    from agents.llm.errors import LLMError

    if not messages:
        raise LLMError("no messages: give at least one message with a non-empty prompt")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise LLMError(f"each message needs 'role' and 'content', got {m!r:.80}")
        _check_tool_message(m)
    if n < 1:
        raise LLMError(f"n must be at least 1, got {n}")
    if max_tokens < 1:
        raise LLMError(f"max_tokens must be at least 1, got {max_tokens}")
    if temperature < 0:
        raise LLMError(f"temperature must be >= 0, got {temperature}")
    if not 0 <= top_logprobs <= 20 or (top_logprobs and not logprobs):
        raise LLMError(f"top_logprobs must be in 0..20 and needs logprobs=True, got {top_logprobs}")
    if isinstance(stop, str):
        stop = [stop]
    return Request(
        messages=tuple(dict(m) for m in messages),
        n=n,
        temperature=float(temperature),
        max_tokens=int(max_tokens),
        stop=tuple(stop) if stop else None,
        logprobs=logprobs,
        seed=seed,
        tools=_check_tools(tools),
        top_logprobs=int(top_logprobs),
    )


def _check_tool_message(m: Message) -> None:
    from agents.llm.errors import LLMError

    if m["role"] == "tool" and not isinstance(m.get("tool_call_id"), str):
        raise LLMError(f"a 'tool' message needs the 'tool_call_id' it answers, got {m!r:.80}")
    for call in m.get("tool_calls") or ():
        if not isinstance(call, dict) or not {"id", "name", "arguments"} <= call.keys():
            raise LLMError(f"each tool call needs 'id', 'name' and 'arguments', got {call!r:.80}")


def _check_tools(tools: Sequence[dict[str, Any]] | None) -> tuple[dict[str, Any], ...] | None:
    from agents.llm.errors import LLMError

    if not tools:
        return None
    out = []
    for t in tools:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
            raise LLMError(f"each tool needs a 'name', got {t!r:.80}")
        params = t.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise LLMError(f"tool {t['name']}: 'parameters' must be a JSON schema object")
        out.append({"name": t["name"], "description": str(t.get("description", "")),
                    "parameters": params})  # fmt: skip
    return tuple(out)


@runtime_checkable
class LLM(Protocol):
    """The seam: what callers, agents and wrappers may rely on in a model.

    `BaseLLM` and every backend and wrapper in `agents.llm` satisfy it; annotate with it
    wherever any model will do. `complete` validates its arguments into a `Request`;
    `complete_request` takes one already validated (by `make_request`), which is how a
    wrapper hands a call to the model it wraps.
    """

    @property
    def name(self) -> str: ...

    @property
    def supports_tools(self) -> bool:
        """Native tool calling; without it agents describe the tools in the prompt."""
        ...

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
    ) -> list[Completion]: ...

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
    ) -> list[Completion]: ...

    async def complete_request(self, request: Request) -> list[Completion]: ...

    def cache_identity(self) -> str: ...

    async def aclose(self) -> None: ...


class BaseLLM:
    """Shared plumbing: argument validation and a blocking twin of `complete`; satisfies
    the `LLM` protocol.

    Subclasses implement `_complete(request)`.
    """

    name: str = "llm"
    supports_tools: bool = False  # native tool calling; without it agents use a text format

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
        if request.tools and not self.supports_tools:
            from agents.llm.errors import LLMError

            raise LLMError(
                f"{self.name} has no native tool calling: describe the tools in the prompt "
                "(agents do this by themselves when supports_tools is False)"
            )
        return await self.complete_request(request)

    async def complete_request(self, request: Request) -> list[Completion]:
        """A `Request` already validated by `make_request`: what wrappers call."""
        return await self._complete(request)

    async def _complete(self, request: Request) -> list[Completion]:
        raise NotImplementedError

    def cache_identity(self) -> str:
        """What answers, for the response cache's key: the provider, the model and where it
        runs (endpoint URL, weight files). Two backends that may answer differently must
        not share it."""
        return self.name

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
        """`complete` for callers without an event loop (bots, scripts)."""
        return asyncio.run(
            self.complete(
                messages, n, temperature, max_tokens, stop, logprobs, seed, tools, top_logprobs
            )
        )

    async def aclose(self) -> None:
        """Release connections or models; wrappers forward it."""


class Wrapper(BaseLLM):
    """A backend-independent feature around another LLM (cache, retry, budget...).

    Subclasses override `_complete` and pass the call on with
    `self.inner.complete_request(request)`."""

    def __init__(self, inner: LLM):
        self.inner = inner
        self.name = inner.name
        self.supports_tools = inner.supports_tools

    async def _complete(self, request: Request) -> list[Completion]:
        return await self.inner.complete_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def cache_identity(self) -> str:
        return self.inner.cache_identity()

    def unwrap(self) -> LLM:
        inner = self.inner
        while isinstance(inner, Wrapper):
            inner = inner.inner
        return inner
