"""A model that replays canned answers from a file: deterministic tests and demos.

File format (JSON): a list of answers, each a string or
`{"text": ..., "finish_reason": ...}`; or an object
`{"responses": [...], "on_exhausted": "error" | "repeat_last" | "cycle"}`.
Answers are handed out in order, one per sample.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from agents.llm.errors import LLMError, ModelSpecError
from agents.llm.types import BaseLLM, Completion, Request, Usage


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class ScriptedLLM(BaseLLM):
    def __init__(self, responses: list[Any], on_exhausted: str = "error", name: str = "scripted"):
        if on_exhausted not in ("error", "repeat_last", "cycle"):
            raise ModelSpecError(f"scripted: unknown on_exhausted {on_exhausted!r}")
        if not responses:
            raise ModelSpecError("scripted: the file holds no responses")
        self.responses = [r if isinstance(r, dict) else {"text": str(r)} for r in responses]
        self.on_exhausted = on_exhausted
        self.name = name
        self.calls: list[Request] = []  # every request seen, for assertions in tests
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedLLM:
        p = Path(path)
        if not p.is_file():
            raise ModelSpecError(f"scripted: no such file {p}; give a JSON list of answers")
        try:
            data = json.loads(p.read_text())
        except ValueError as exc:
            raise ModelSpecError(f"scripted: {p} is not valid JSON ({exc})") from None
        if isinstance(data, dict):
            return cls(
                data.get("responses", []), data.get("on_exhausted", "error"), f"scripted:{p}"
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
        prompt_tokens = sum(_tokens(str(m["content"])) for m in request.messages)
        out = []
        for i in range(request.n):
            r = self._take()
            text = str(r.get("text", ""))
            finish = str(r.get("finish_reason", "stop"))
            for s in request.stop or ():
                if s in text:
                    text, finish = text[: text.index(s)], "stop"
            usage = Usage(prompt_tokens if i == 0 else 0, _tokens(text))
            out.append(Completion(text, finish, None, usage, self.name, i))
        return out
