"""The agent's actions: tool specs, provider tool schemas, and a strict plain-text format.

Models with native tool calling get `openai_tools()` / `anthropic_tools()`; every model
can answer in the plain-text format below (the one the small local model uses). A parse
error says exactly what was wrong, and the agent feeds it back to the model.

    THOUGHT: the LRU order is not updated on reads
    ACTION: str_replace
    path: src/cachetools/__init__.py
    old:
    <<<
    return cache_getitem(self, key)
    >>>
    new:
    <<<
    value = cache_getitem(self, key)
    >>>
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    type: str = "string"  # string | integer
    required: bool = True


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    params: tuple[Param, ...] = ()


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "find_class",
        "Where a class is defined.",
        (Param("name", "class name, e.g. LRUCache"),),
    ),
    ToolSpec(
        "find_function",
        "Where a function or method is defined.",
        (Param("name", "function name, e.g. __getitem__"),),
    ),
    ToolSpec(
        "find_code",
        "Lines that contain an exact snippet.",
        (Param("snippet", "text to look for"),),
    ),
    ToolSpec(
        "search",
        "BM25 search over the repository's code chunks.",
        (Param("query", "words describing the code you look for"),),
    ),
    ToolSpec(
        "view_file",
        "Show lines of a file with line numbers.",
        (
            Param("path", "file path relative to the repo root"),
            Param("start", "first line (default 1)", "integer", False),
            Param("end", "last line (default start+99)", "integer", False),
        ),
    ),
    ToolSpec(
        "str_replace",
        "Replace one exact, unique occurrence of old with new in a file.",
        (
            Param("path", "file path"),
            Param("old", "exact text to replace (must occur once)"),
            Param("new", "replacement text"),
        ),
    ),
    ToolSpec(
        "create_file",
        "Create (or overwrite) a file.",
        (Param("path", "file path"), Param("content", "the whole file")),
    ),
    ToolSpec(
        "run_tests",
        "Run the tests (a test file or test id; default: all). Output is capped.",
        (Param("target", "e.g. tests/test_x.py or tests/test_x.py::test_y", required=False),),
    ),
    ToolSpec("finish", "Submit the current changes as the patch.", ()),
    ToolSpec(
        "reject",
        "Give up on the task (no patch).",
        (Param("reason", "why", required=False),),
    ),
)
BY_NAME = {t.name: t for t in TOOLS}
TERMINAL = ("finish", "reject")


@dataclass(frozen=True)
class Action:
    """One tool call; hashable (MCTS de-duplicates proposed children by action)."""

    tool: str
    args: tuple[tuple[str, Any], ...] = ()
    thought: str = ""

    def arg(self, name: str, default: Any = None) -> Any:
        return dict(self.args).get(name, default)

    def __hash__(self) -> int:  # the thought does not make an action different
        return hash((self.tool, self.args))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Action) and (self.tool, self.args) == (other.tool, other.args)

    def short(self) -> str:
        """One line for logs, trees and progress."""
        parts = [f"{k}={str(v)[:40]!r}" for k, v in self.args]
        return f"{self.tool}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "args": dict(self.args), "thought": self.thought}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(d["tool"], tuple(d.get("args", {}).items()), d.get("thought", ""))


class ActionParseError(ValueError):
    """The model's answer is not one valid action; the message is fed back to it."""


def make_action(tool: str, args: dict[str, Any], thought: str = "") -> Action:
    """Validate a tool call (from text or native tool calling) against its spec."""
    spec = BY_NAME.get(tool)
    if spec is None:
        raise ActionParseError(f"unknown tool {tool!r}; use one of: {', '.join(BY_NAME)}")
    known = {p.name: p for p in spec.params}
    extra = [k for k in args if k not in known]
    if extra:
        raise ActionParseError(
            f"{tool} takes {', '.join(known) or 'no arguments'}; unknown: {', '.join(extra)}"
        )
    missing = [p.name for p in spec.params if p.required and p.name not in args]
    if missing:
        raise ActionParseError(f"{tool} needs {', '.join(missing)}")
    clean: list[tuple[str, Any]] = []
    for p in spec.params:
        if p.name not in args:
            continue
        value = args[p.name]
        if p.type == "integer":
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ActionParseError(f"{tool}: {p.name} must be a whole number") from None
        else:
            value = str(value)
        clean.append((p.name, value))
    return Action(tool, tuple(clean), thought.strip())


_ACTION = re.compile(r"^\s*ACTION:\s*(\S*)\s*$", re.M)
_KEY = re.compile(r"^([a-z_]+):\s?(.*)$")


def parse_action(text: str) -> Action:
    """The first `ACTION:` block of a model's answer, strictly: exact arg names, one
    `name: value` per line, multi-line values between `<<<` and `>>>` lines; the block
    ends at the first blank line outside `<<<`/`>>>`."""
    m = _ACTION.search(text)
    if m is None:
        raise ActionParseError(
            "no 'ACTION: <tool>' line; answer with THOUGHT: ... then ACTION: <tool> and "
            "its arguments, one 'name: value' per line"
        )
    thought = text[: m.start()].strip()
    if "THOUGHT:" in thought:
        thought = thought.split("THOUGHT:", 1)[1].strip()
    tool = m.group(1)
    lines = text[m.end() :].lstrip("\n").splitlines()
    args: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            break  # the action ends at the first blank line; prose after it is ignored
        if _ACTION.match(line):
            break  # only the first action counts
        km = _KEY.match(line)
        if km is None:
            raise ActionParseError(
                f"cannot read argument line {line.strip()[:60]!r}: write 'name: value', or "
                "'name:' then the text between lines '<<<' and '>>>'"
            )
        key, value = km.group(1), km.group(2)
        if value.strip() == "" and i + 1 < len(lines) and lines[i + 1].strip() == "<<<":
            try:
                close = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == ">>>")
            except StopIteration:
                raise ActionParseError(f"argument {key}: '<<<' is never closed by '>>>'") from None
            args[key] = "\n".join(lines[i + 2 : close])
            i = close + 1
            continue
        args[key] = value.strip()
        i += 1
    return make_action(tool, args, thought)


def format_action(action: Action) -> str:
    """The plain-text form of an action (what a scripted or few-shot answer looks like)."""
    out = [f"THOUGHT: {action.thought}"] if action.thought else []
    out.append(f"ACTION: {action.tool}")
    for k, v in action.args:
        s = str(v)
        out.append(
            f"{k}:\n<<<\n{s}\n>>>" if "\n" in s or k in ("old", "new", "content") else f"{k}: {s}"
        )
    return "\n".join(out)


def action_format_help() -> str:
    """The tool list and format, for the system prompt (kept short for small models)."""
    rows = []
    for t in TOOLS:
        args = " ".join(f"{p.name}{'' if p.required else '?'}" for p in t.params)
        rows.append(f"- {t.name} {args}: {t.description}")
    return (
        "Tools:\n" + "\n".join(rows) + "\n\nAnswer with exactly one action:\n"
        "THOUGHT: <one line>\nACTION: <tool>\nthen one line per argument, e.g. path: a.py\n"
        "Multi-line values: '<arg>:' then lines between '<<<' and '>>>'.\n"
        "Example:\nTHOUGHT: find the class\nACTION: find_class\nname: LRUCache"
    )


def _json_schema(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p.name: {"type": p.type, "description": p.description} for p in spec.params},
        "required": [p.name for p in spec.params if p.required],
        "additionalProperties": False,
    }


def openai_tools() -> list[dict[str, Any]]:
    """Tool schemas in OpenAI chat-completions function-calling form."""
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": _json_schema(t),
            },
        }
        for t in TOOLS
    ]


def anthropic_tools() -> list[dict[str, Any]]:
    """Tool schemas in Anthropic Messages form."""
    return [
        {"name": t.name, "description": t.description, "input_schema": _json_schema(t)}
        for t in TOOLS
    ]


def from_tool_call(name: str, arguments: str | dict[str, Any]) -> Action:
    """An action from a native tool call (OpenAI passes arguments as a JSON string)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            raise ActionParseError(f"{name}: arguments are not valid JSON") from None
    if not isinstance(arguments, dict):
        raise ActionParseError(f"{name}: arguments must be a JSON object")
    return make_action(name, arguments)
