"""Native tool calling, provider-neutral: building the messages of a tool exchange and
reading a call's arguments. Each backend converts these to its own wire format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agents.llm.types import Message, ToolCall


def parse_arguments(call_id: str, name: str, raw: str | dict[str, Any] | None) -> ToolCall:
    """A `ToolCall` from arguments as the wire carries them (OpenAI: a JSON string).
    Malformed JSON or a non-object gives an invalid call whose `error` says why."""
    if isinstance(raw, dict):
        return ToolCall(call_id, name, dict(raw))
    text = raw or ""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        return ToolCall(call_id, name, {}, f"arguments are not valid JSON ({exc})", text)
    if not isinstance(value, dict):
        return ToolCall(call_id, name, {}, "arguments must be a JSON object", text)
    return ToolCall(call_id, name, value)


def arguments_json(arguments: dict[str, Any] | str) -> str:
    """The JSON-string form of a neutral call's arguments; text that is not a JSON
    object (an invalid call sent back) becomes "{}" so the provider accepts the turn."""
    if isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False)
    try:
        return arguments if isinstance(json.loads(arguments), dict) else "{}"
    except ValueError:
        return "{}"


def arguments_object(arguments: dict[str, Any] | str) -> dict[str, Any]:
    """The object form of a neutral call's arguments (Anthropic's `input`)."""
    value: dict[str, Any] = json.loads(arguments_json(arguments))  # a JSON object, always
    return value


def assistant_message(text: str, calls: Sequence[ToolCall]) -> Message:
    """The assistant turn that made `calls`, to send back in the next request."""
    return {"role": "assistant", "content": text, "tool_calls": [c.to_message() for c in calls]}


def tool_result(call_id: str, content: str, is_error: bool = False) -> Message:
    """The answer to one tool call (`is_error` reaches Anthropic; OpenAI has no such flag)."""
    m: Message = {"role": "tool", "tool_call_id": call_id, "content": content}
    if is_error:
        m["is_error"] = True
    return m
