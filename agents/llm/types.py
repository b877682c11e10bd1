"""The `agents.llm.LLM` seam: one async `complete` for every backend.

Messages use the OpenAI chat shape (`{"role": ..., "content": ...}`); each
backend translates to its own wire format.
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
class Completion:
    """One sample. A call's usage is split over its samples: the prompt's
    tokens are on sample 0, each sample carries its own output tokens, so
    summing over a call's completions gives the call's usage."""

    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    logprobs: tuple[TokenLogprob, ...] | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    index: int = 0
    from_cache: bool = False  # served by the response cache, nothing was sent

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


def make_request(
    messages: Sequence[Message],
    n: int = 1,
    temperature: float = 0.0,
    max_tokens: int = 256,
    stop: Sequence[str] | str | None = None,
    logprobs: bool = False,
    seed: int | None = None,
) -> Request:
    """Validate the arguments of `complete` once, for every backend."""
    from agents.llm.errors import LLMError

    if not messages:
        raise LLMError("no messages: give at least one message with a non-empty prompt")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise LLMError(f"each message needs 'role' and 'content', got {m!r:.80}")
    if n < 1:
        raise LLMError(f"n must be at least 1, got {n}")
    if max_tokens < 1:
        raise LLMError(f"max_tokens must be at least 1, got {max_tokens}")
    if temperature < 0:
        raise LLMError(f"temperature must be >= 0, got {temperature}")
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
    )


@runtime_checkable
class LLM(Protocol):
    """Anything that completes chat messages."""

    name: str

    async def complete(
        self,
        messages: Sequence[Message],
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 256,
        stop: Sequence[str] | str | None = None,
        logprobs: bool = False,
        seed: int | None = None,
    ) -> list[Completion]: ...


class BaseLLM:
    """Shared plumbing: argument validation and a blocking twin of `complete`.

    Subclasses implement `_complete(request)`.
    """

    name: str = "llm"

    async def complete(
        self,
        messages: Sequence[Message],
        n: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 256,
        stop: Sequence[str] | str | None = None,
        logprobs: bool = False,
        seed: int | None = None,
    ) -> list[Completion]:
        request = make_request(messages, n, temperature, max_tokens, stop, logprobs, seed)
        return await self._complete(request)

    async def _complete(self, request: Request) -> list[Completion]:
        raise NotImplementedError

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> list[Completion]:
        """`complete` for callers without an event loop (bots, scripts)."""
        return asyncio.run(self.complete(messages, **kwargs))

    async def aclose(self) -> None:
        """Release connections or models; wrappers forward it."""


class Wrapper(BaseLLM):
    """A backend-independent feature around another LLM (cache, retry, budget...)."""

    def __init__(self, inner: BaseLLM):
        self.inner = inner
        self.name = inner.name

    async def _complete(self, request: Request) -> list[Completion]:
        return await self.inner._complete(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def unwrap(self) -> BaseLLM:
        inner = self.inner
        while isinstance(inner, Wrapper):
            inner = inner.inner
        return inner
