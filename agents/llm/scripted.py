"""A model that replays canned answers from a file: deterministic tests and demos.

File format (JSON): a list of answers, each a string or
`{"text": ..., "finish_reason": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}`
(arguments may also be a JSON string, malformed on purpose; `id` is optional); or an
object `{"responses": [...], "on_exhausted": "error" | "repeat_last" | "cycle",
"supports_tools": true | false}`. Answers are handed out in order, one per sample.
The model claims native tool calling when any answer has tool calls (or as told).

Or plans keyed by the prompt, `{"plans": {"MARKER": ["answer", ...], ...}, "default": [...]}`
(`PlannedLLM`): a request gets the plan of the first marker its messages contain (else
`default`), and within it the first answer its assistant turns do not already hold. It
keeps no counter, so runs with several workers, and runs resumed after a kill, get the
answers each conversation is at.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from agents.llm.errors import LLMError, ModelSpecError
from agents.llm.tools import parse_arguments
from agents.llm.types import BaseLLM, Completion, Request, ToolCall, Usage


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class ScriptedLLM(BaseLLM):
    def __init__(
        self,
        responses: list[Any],
        on_exhausted: str = "error",
        name: str = "scripted",
        supports_tools: bool | None = None,
    ):
        if on_exhausted not in ("error", "repeat_last", "cycle"):
            raise ModelSpecError(f"scripted: unknown on_exhausted {on_exhausted!r}")
        if not responses:
            raise ModelSpecError("scripted: the file holds no responses")
        self.responses = [r if isinstance(r, dict) else {"text": str(r)} for r in responses]
        self.on_exhausted = on_exhausted
        self.name = name
        if supports_tools is None:
            supports_tools = any(r.get("tool_calls") for r in self.responses)
        self.supports_tools = supports_tools
        self._call_ids = 0
        self.calls: list[Request] = []  # every request seen, for assertions in tests
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedLLM | PlannedLLM:
        p = Path(path)
        if not p.is_file():
            raise ModelSpecError(f"scripted: no such file {p}; give a JSON list of answers")
        try:
            data = json.loads(p.read_text())
        except ValueError as exc:
            raise ModelSpecError(f"scripted: {p} is not valid JSON ({exc})") from None
        if isinstance(data, dict) and "plans" in data:
            return PlannedLLM.from_data(data, f"scripted:{p}")
        if isinstance(data, dict):
            return cls(
                data.get("responses", []),
                data.get("on_exhausted", "error"),
                f"scripted:{p}",
                data.get("supports_tools"),
            )
        if isinstance(data, list):
            return cls(data, name=f"scripted:{p}")
        raise ModelSpecError(f"scripted: {p} must hold a JSON list or object")

    def _take(self) -> dict[str, Any]:
        with self._lock:
            i = self._next
            self._next += 1
        if i >= len(self.responses):
            if self.on_exhausted == "error":
                raise LLMError(f"{self.name}: all {len(self.responses)} scripted answers used")
            i = (
                len(self.responses) - 1
                if self.on_exhausted == "repeat_last"
                else i % len(self.responses)
            )
        return self.responses[i]

    async def _complete(self, request: Request) -> list[Completion]:
        self.calls.append(request)
        prompt_tokens = sum(_tokens(str(m["content"] or "")) for m in request.messages)
        out = []
        for i in range(request.n):
            r = self._take()
            text = str(r.get("text", ""))
            finish = str(r.get("finish_reason", "stop"))
            for s in request.stop or ():
                if s in text:
                    text, finish = text[: text.index(s)], "stop"
            calls = self._tool_calls(r.get("tool_calls") or [])
            if calls and "finish_reason" not in r:
                finish = "tool_calls"
            usage = Usage(prompt_tokens if i == 0 else 0, _tokens(text))
            out.append(Completion(text, finish, None, usage, self.name, i, tool_calls=calls))
        return out

    def _tool_calls(self, raw: list[Any]) -> tuple[ToolCall, ...]:
        calls = []
        for c in raw:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise LLMError(f"{self.name}: a scripted tool call needs a 'name', got {c!r:.80}")
            with self._lock:
                self._call_ids += 1
                default_id = f"call_{self._call_ids}"
            calls.append(
                parse_arguments(str(c.get("id", default_id)), c["name"], c.get("arguments"))
            )
        return tuple(calls)


class PlannedLLM(BaseLLM):
    """Answers from per-conversation plans (see the module docstring); text answers only."""

    def __init__(self, plans: dict[str, list[str]], default: list[str], name: str = "planned"):
        if not plans and not default:
            raise ModelSpecError("scripted: the file holds no plans")
        for marker, answers in [*plans.items(), ("default", default)]:
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise ModelSpecError(f"scripted: plan {marker!r} must be a list of strings")
        self.plans, self.default, self.name = plans, default, name
        self.supports_tools = False
        self.calls: list[Request] = []

    @classmethod
    def from_data(cls, data: dict[str, Any], name: str) -> PlannedLLM:
        plans = data.get("plans")
        if not isinstance(plans, dict):
            raise ModelSpecError("scripted: 'plans' must map markers to lists of answers")
        return cls(plans, data.get("default") or [], name)

    def answer(self, messages: tuple[dict[str, Any], ...]) -> str:
        text = "\n".join(str(m.get("content") or "") for m in messages)
        plan = next((p for marker, p in self.plans.items() if marker in text), self.default)
        if not plan:
            raise LLMError(f"{self.name}: no plan matches the prompt and there is no default")
        said = {str(m.get("content") or "") for m in messages if m.get("role") == "assistant"}
        return next((a for a in plan if a not in said), plan[-1])

    async def _complete(self, request: Request) -> list[Completion]:
        self.calls.append(request)
        text = self.answer(request.messages)
        for s in request.stop or ():
            if s in text:
                text = text[: text.index(s)]
        prompt_tokens = sum(_tokens(str(m["content"] or "")) for m in request.messages)
        usage = Usage(prompt_tokens, _tokens(text))
        return [
            Completion(
                text, "stop", None, usage if i == 0 else Usage(0, _tokens(text)), self.name, i
            )
            for i in range(request.n)
        ]
