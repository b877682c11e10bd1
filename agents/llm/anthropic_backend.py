"""Anthropic Messages API, with prompt caching on the long shared prefix."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

import anthropic

from agents.llm.errors import BadResponseError, MissingKeyError
from agents.llm.http_errors import map_sdk_error
from agents.llm.tools import arguments_object
from agents.llm.types import BaseLLM, Completion, Message, Request, ToolCall, Usage

FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
CACHE = {"type": "ephemeral"}


def to_anthropic(
    messages: tuple[Message, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI-shaped messages -> (system blocks, alternating user/assistant turns).

    An assistant message's `tool_calls` become `tool_use` blocks (no empty text
    block beside them: the API rejects those); a `tool` message becomes a
    `tool_result` block of the next user turn. `cache_control` marks the end of
    the system prompt and the end of the conversation before the newest turn: a
    search that extends one trajectory many ways re-reads that prefix from the
    cache instead of paying for it.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        content = m["content"]
        text = content if isinstance(content, str) else "" if content is None else str(content)
        if m["role"] == "system":
            system.append({"type": "text", "text": text})
            continue
        role = "assistant" if m["role"] == "assistant" else "user"
        blocks: list[dict[str, Any]]
        if m["role"] == "tool":
            blocks = [{"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": text}]
            if m.get("is_error"):
                blocks[0]["is_error"] = True
        elif m.get("tool_calls"):
            blocks = [{"type": "text", "text": text}] if text.strip() else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"],
                 "input": arguments_object(c["arguments"])}
                for c in m["tool_calls"]
            ]  # fmt: skip
        else:
            blocks = [{"type": "text", "text": text}]
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if system:
        system[-1]["cache_control"] = CACHE
    if len(turns) >= 2:
        turns[-2]["content"][-1]["cache_control"] = CACHE
    return system, turns


class AnthropicLLM(BaseLLM):
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        native_tools: bool | None = None,
    ):
        self.model = model
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.name = f"anthropic:{model}"
        self.supports_tools = True if native_tools is None else native_tools
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise MissingKeyError(
                "ANTHROPIC_API_KEY is not set: export it to use anthropic: models"
            )
        self._client = anthropic.AsyncAnthropic(
            api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout
        )
        self._where = f"anthropic {self.base_url or 'api.anthropic.com'}"
        self._endpoint = str(self._client.base_url)  # the URL requests really go to
        params = inspect.signature(self._client.messages.create).parameters
        self._has_temperature = "temperature" in params

    def cache_identity(self) -> str:
        return f"{self.name}@{self._endpoint}"

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
        if request.tools:
            kwargs["tools"] = [
                {"name": t["name"], "description": t["description"],
                 "input_schema": t["parameters"]}
                for t in request.tools
            ]  # fmt: skip
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
            calls = tuple(
                _tool_call(b) for b in response.content if getattr(b, "type", "") == "tool_use"
            )
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
        return Completion(
            text=text, finish_reason=finish, usage=usage, model=self.name, tool_calls=calls
        )

    async def _complete(self, request: Request) -> list[Completion]:
        # The Messages API has no `n`: n requests, sent together (they share the cached prefix).
        results = await asyncio.gather(*(self._one(request) for _ in range(request.n)))
        return [c.with_(index=i) for i, c in enumerate(results)]

    async def aclose(self) -> None:
        await self._client.close()


def _tool_call(block: Any) -> ToolCall:
    """A `tool_use` block; the API sends `input` as an object already."""
    if not isinstance(block.name, str) or not isinstance(block.id, str):
        raise TypeError("tool_use block without id or name")
    if not isinstance(block.input, dict):
        return ToolCall(
            block.id, block.name, {}, "arguments must be a JSON object", str(block.input)
        )
    return ToolCall(block.id, block.name, dict(block.input))


def check_key() -> str | None:
    return None if os.environ.get("ANTHROPIC_API_KEY") else "ANTHROPIC_API_KEY not set"
