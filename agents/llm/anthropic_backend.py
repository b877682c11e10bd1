"""Anthropic Messages API, with prompt caching on the long shared prefix."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

import anthropic

from agents.llm.errors import BadResponseError, MissingKeyError
from agents.llm.http_errors import map_sdk_error
from agents.llm.types import BaseLLM, Completion, Message, Request, Usage

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "stop"}
CACHE = {"type": "ephemeral"}


def to_anthropic(
    messages: tuple[Message, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI-shaped messages -> (system blocks, alternating user/assistant turns).

    `cache_control` marks the end of the system prompt and the end of the
    conversation before the newest turn: a search that extends one trajectory
    many ways re-reads that prefix from the cache instead of paying for it.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        text = m["content"] if isinstance(m["content"], str) else str(m["content"])
        if m["role"] == "system":
            system.append({"type": "text", "text": text})
            continue
        role = "assistant" if m["role"] == "assistant" else "user"
        block = {"type": "text", "text": text}
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].append(block)
        else:
            turns.append({"role": role, "content": [block]})
    if system:
        system[-1]["cache_control"] = CACHE
    if len(turns) >= 2:
        turns[-2]["content"][-1]["cache_control"] = CACHE
    return system, turns


class AnthropicLLM(BaseLLM):
    def __init__(self, model: str, base_url: str | None = None, timeout: float = 120.0):
        self.model = model
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.name = f"anthropic:{model}"
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise MissingKeyError(
                "ANTHROPIC_API_KEY is not set: export it to use anthropic: models"
            )
        self._client = anthropic.AsyncAnthropic(
            api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout
        )
        self._where = f"anthropic {self.base_url or 'api.anthropic.com'}"
        params = inspect.signature(self._client.messages.create).parameters
        self._has_temperature = "temperature" in params

    async def _one(self, request: Request) -> Completion:
        system, turns = to_anthropic(request.messages)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": turns,
        }
        # Newer SDKs dropped `temperature` from the signature; the wire format keeps it.
        if self._has_temperature:
            kwargs["temperature"] = min(request.temperature, 1.0)
        else:
            kwargs["extra_body"] = {"temperature": min(request.temperature, 1.0)}
        if system:
            kwargs["system"] = system
        if request.stop:
            kwargs["stop_sequences"] = list(request.stop)
        try:
            response = await self._client.messages.create(**kwargs)
        except anthropic.AnthropicError as exc:
            raise map_sdk_error(exc, anthropic, self._where) from None
        except (ValueError, TypeError, AttributeError) as exc:  # e.g. a body that is not JSON
            raise BadResponseError(
                f"{self._where}: malformed response body ({type(exc).__name__}: {exc})"
            ) from None
        try:
            text = "".join(b.text for b in response.content if getattr(b, "type", "") == "text")
            u = response.usage
            cache_read = int(getattr(u, "cache_read_input_tokens", 0) or 0)
            cache_write = int(getattr(u, "cache_creation_input_tokens", 0) or 0)
            usage = Usage(
                input_tokens=int(u.input_tokens) + cache_read + cache_write,
                output_tokens=int(u.output_tokens),
                cached_tokens=cache_read,
            )
            finish = FINISH.get(str(response.stop_reason), str(response.stop_reason or "stop"))
        except (AttributeError, TypeError, ValueError) as exc:
            raise BadResponseError(
                f"{self._where}: malformed Messages body ({type(exc).__name__}: {exc})"
            ) from None
        return Completion(text=text, finish_reason=finish, usage=usage, model=self.name)

    async def _complete(self, request: Request) -> list[Completion]:
        # The Messages API has no `n`: n requests, sent together (they share the cached prefix).
        results = await asyncio.gather(*(self._one(request) for _ in range(request.n)))
        return [c.with_(index=i) for i, c in enumerate(results)]

    async def aclose(self) -> None:
        await self._client.close()


def check_key() -> str | None:
    return None if os.environ.get("ANTHROPIC_API_KEY") else "ANTHROPIC_API_KEY not set"
