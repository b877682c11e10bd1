"""OpenAI's chat-completions wire format <-> the LLM layer's neutral shapes, both ways.

The client backend (`openai_backend.py`) sends neutral messages and tools as OpenAI's
(`to_openai`, `openai_tools`); the server (`server.py`) reads OpenAI's into neutral ones
(`from_openai_messages`, `from_openai_tools`) and writes completions back in OpenAI's shape
(`openai_tool_calls`, `openai_logprobs`). What the wire cannot carry is a `WireError`
naming the offending parameter the way OpenAI's 400s do (`messages.[0].role`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from agents.llm.tools import arguments_json, parse_arguments
from agents.llm.types import Message, TokenLogprob, ToolCall

ROLES = ("system", "developer", "user", "assistant", "tool")
"""The message roles read; `developer` (OpenAI's newer name for `system`) becomes `system`."""

MIN_LOGPROB = -9999.0
"""What OpenAI sends for a log-probability of -inf (JSON has no infinity)."""


class WireError(ValueError):
    """A request that does not fit the wire format: a 400 naming `param`."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value"):
        super().__init__(message)
        self.param = param
        self.code = code


# Neutral -> OpenAI (what the client backend sends).


def openai_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of `tool_calls` (arguments as a JSON string)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def to_openai(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Neutral messages -> chat-completions messages (tool calls with JSON-string arguments)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "tool":
            out.append(
                {"role": "tool", "tool_call_id": m["tool_call_id"], "content": str(m["content"])}
            )
        elif m.get("tool_calls"):
            calls = [
                openai_tool_call(c["id"], c["name"], arguments_json(c["arguments"]))
                for c in m["tool_calls"]
            ]
            out.append({"role": "assistant", "content": m["content"] or None, "tool_calls": calls})
        else:
            out.append(dict(m))
    return out


def openai_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": dict(t)} for t in tools]


# Neutral -> OpenAI (what the server answers).


def openai_tool_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """A completion's tool calls as `message.tool_calls`; an invalid call's arguments go out
    as the model wrote them, like OpenAI's."""
    return [
        openai_tool_call(
            c.id, c.name, json.dumps(c.arguments, ensure_ascii=False) if c.valid else c.raw or ""
        )
        for c in calls
    ]


def _logprob(value: float) -> float:
    return value if math.isfinite(value) else MIN_LOGPROB


def openai_logprob(t: TokenLogprob) -> dict[str, Any]:
    """One entry of `choices[i].logprobs.content`: token, logprob, UTF-8 bytes and the
    alternatives (most likely first)."""
    return {
        "token": t.token,
        "logprob": _logprob(t.logprob),
        "bytes": list(t.token.encode("utf-8")),
        "top_logprobs": [
            {"token": a.token, "logprob": _logprob(a.logprob), "bytes": list(a.token.encode())}
            for a in t.top_logprobs
        ],
    }


def openai_logprobs(tokens: Sequence[TokenLogprob]) -> dict[str, Any]:
    """`choices[i].logprobs`."""
    return {"content": [openai_logprob(t) for t in tokens], "refusal": None}


# OpenAI -> neutral (what the server reads).


def text_content(content: object, param: str) -> str:
    """A message's `content`: a string, null, or a list of text parts (joined by newlines)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise WireError(
            f"{content!r:.80} is not of type 'string' or 'array' - '{param}'", param, "invalid_type"
        )
    texts = []
    for j, part in enumerate(content):
        where = f"{param}.[{j}]"
        if not isinstance(part, dict):
            raise WireError(
                f"{part!r:.80} is not of type 'object' - '{where}'", where, "invalid_type"
            )
        kind = part.get("type")
        if kind != "text":
            raise WireError(
                f"content parts of type {kind!r} are not supported by this server "
                f"(text only) - '{where}.type'",
                f"{where}.type",
            )
        if not isinstance(part.get("text"), str):
            raise WireError(
                f"a text part needs 'text', a string - '{where}.text'",
                f"{where}.text",
                "invalid_type",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _tool_call_from_openai(call: object, where: str) -> dict[str, Any]:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(call, dict) or not isinstance(fn, dict):
        raise WireError(f"a tool call needs 'id' and 'function' - '{where}'", where)
    if not isinstance(call.get("id"), str) or not isinstance(fn.get("name"), str):
        raise WireError(f"a tool call needs a string 'id' and 'function.name' - '{where}'", where)
    raw = fn.get("arguments")
    if raw is not None and not isinstance(raw, str | dict):
        raise WireError(
            f"'arguments' must be a JSON string - '{where}.function.arguments'",
            f"{where}.function.arguments",
            "invalid_type",
        )
    return parse_arguments(call["id"], fn["name"], raw).to_message()


def from_openai_message(m: object, i: int) -> Message:
    """One chat-completions message -> the neutral shape (`agents.llm.types`)."""
    where = f"messages.[{i}]"
    if not isinstance(m, dict):
        raise WireError(f"{m!r:.80} is not of type 'object' - '{where}'", where, "invalid_type")
    role = m.get("role")
    if role not in ROLES:
        supported = ", ".join(f"'{r}'" for r in ROLES)
        raise WireError(
            f"Invalid value: {role!r}. Supported values are: {supported}.", f"{where}.role"
        )
    content = text_content(m.get("content"), f"{where}.content")
    if role == "tool":
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str):
            raise WireError(
                f"Missing required parameter: '{where}.tool_call_id'.",
                f"{where}.tool_call_id",
                "missing_required_parameter",
            )
        return {"role": "tool", "tool_call_id": call_id, "content": content}
    if role == "assistant":
        out: Message = {"role": "assistant", "content": content}
        calls = m.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                raise WireError(
                    f"'tool_calls' must be an array - '{where}.tool_calls'",
                    f"{where}.tool_calls",
                    "invalid_type",
                )
            out["tool_calls"] = [
                _tool_call_from_openai(c, f"{where}.tool_calls.[{k}]") for k, c in enumerate(calls)
            ]
        return out
    return {"role": "system" if role == "developer" else role, "content": content}


def from_openai_messages(messages: object) -> list[Message]:
    if not isinstance(messages, list):
        raise WireError(
            f"{messages!r:.80} is not of type 'array' - 'messages'", "messages", "invalid_type"
        )
    if not messages:
        raise WireError("[] is too short - 'messages'", "messages", "empty_array")
    return [from_openai_message(m, i) for i, m in enumerate(messages)]


def from_openai_tools(tools: object) -> list[dict[str, Any]]:
    """`tools` ([{type: function, function: {name, description, parameters}}]) -> neutral."""
    if not isinstance(tools, list):
        raise WireError(f"{tools!r:.80} is not of type 'array' - 'tools'", "tools", "invalid_type")
    out = []
    for i, t in enumerate(tools):
        where = f"tools.[{i}]"
        if not isinstance(t, dict) or t.get("type") != "function":
            raise WireError(
                f"only tools of type 'function' are supported - '{where}.type'", f"{where}.type"
            )
        fn = t.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise WireError(
                f"Missing required parameter: '{where}.function.name'.",
                f"{where}.function.name",
                "missing_required_parameter",
            )
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise WireError(
                f"'parameters' must be a JSON schema object - '{where}.function.parameters'",
                f"{where}.function.parameters",
                "invalid_type",
            )
        description = fn.get("description")
        out.append(
            {"name": fn["name"], "description": str(description or ""), "parameters": params}
        )
    return out
