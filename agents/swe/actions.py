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


_ACTION = re.compile(
    r"^[\s>*#`_-]*action[*_`]*\s*:[*_`\s]*([A-Za-z_][\w-]*)?[`*_]*(.*)$", re.M | re.I
)
_KEY = re.compile(r"^[\s*`_-]*([A-Za-z_]+)[*`_]*\s*:[*_]*\s?(.*)$")
_FENCE = re.compile(r"^\s*```[\w-]*\s*$")
_CALL = re.compile(r"^\s*\(.*\)\s*$", re.S)


def parse_action(text: str) -> Action:
    """The first `ACTION:` block of a model's answer.

    Strict where it matters: one known tool, exactly its argument names, multi-line values
    between `<<<` and `>>>` lines (or a ``` fence). Tolerant of what small models add
    around a clear call: the case of `ACTION`/tool/argument names, markdown emphasis and
    fences, `ACTION: tool(arg="v")`, `ACTION: tool value` for a one-argument tool, and
    prose after the block: the block ends at the first blank line, at a line that is not
    an argument line, or once the tool has all its arguments. An unknown lowercase
    `name: value` line inside the block is still an error."""
    m = _ACTION.search(text)
    if m is None:
        stripped = text.strip()
        if stripped.startswith("{"):
            return _parse_json_action(stripped)
        raise ActionParseError(
            "no 'ACTION: <tool>' line; answer with THOUGHT: ... then ACTION: <tool> and "
            "its arguments, one 'name: value' per line"
        )
    thought = text[: m.start()].strip()
    if re.search(r"THOUGHT\s*:", thought, re.I):
        thought = re.split(r"THOUGHT\s*:", thought, maxsplit=1, flags=re.I)[1].strip("*_ \n")
    if not m.group(1):
        raise ActionParseError(f"no tool after 'ACTION:'; use one of: {', '.join(BY_NAME)}")
    tool = tool_name(m.group(1))
    spec = BY_NAME[tool]
    rest = m.group(2).strip().strip("`.,;").strip()
    args: dict[str, Any] = _inline_args(spec, rest) if rest else {}
    known = {p.name for p in spec.params}
    lines = text[m.end() :].lstrip("\n").splitlines()
    i = 1 if lines and _FENCE.match(lines[0]) else 0  # the block wrapped in a ``` fence
    stopper = ""
    # Arguments come on the ACTION line or below it, not both; a complete call ends the block.
    while i < len(lines) and not rest and len(args) < len(known):
        line = lines[i]
        km = _KEY.match(line)
        if not line.strip() or _FENCE.match(line) or _ACTION.match(line):
            break  # a blank line, a fence or another action ends the block
        if km is None or (km.group(1).lower() not in known and not km.group(1).islower()):
            stopper = line.strip()  # prose or `Observation:`: the block ended
            break
        key, value = km.group(1).lower(), km.group(2)
        if key in args:
            break  # the same argument again: a second action began
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if value.strip() == "" and (nxt == "<<<" or nxt.startswith("```")):
            closer = ">>>" if nxt == "<<<" else "```"
            try:
                close = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == closer)
            except StopIteration:
                raise ActionParseError(
                    f"argument {key}: '{nxt}' is never closed by '{closer}'"
                ) from None
            args[key] = "\n".join(lines[i + 2 : close])
            i = close + 1
        else:
            args[key] = _unquote(value.strip())
            i += 1
    missing = [p.name for p in spec.params if p.required and p.name not in args]
    if missing and stopper:
        raise ActionParseError(
            f"cannot read argument line {stopper[:60]!r}: write 'name: value', or "
            "'name:' then the text between lines '<<<' and '>>>'"
        )
    return make_action(tool, args, thought)


# Names small models use for exactly one of the tools.
ALIASES = {
    "findclass": "find_class", "findfunction": "find_function", "findmethod": "find_function",
    "finddef": "find_function", "findcode": "find_code", "grep": "find_code",
    "viewfile": "view_file", "view": "view_file", "openfile": "view_file",
    "readfile": "view_file", "cat": "view_file", "strreplace": "str_replace",
    "replace": "str_replace", "createfile": "create_file", "writefile": "create_file",
    "runtests": "run_tests", "runtest": "run_tests", "pytest": "run_tests",
    "submit": "finish", "done": "finish",
}  # fmt: skip


def tool_name(name: str) -> str:
    """The tool a name means: exact, or up to case, `-`/`_`/spaces and a few aliases."""
    key = re.sub(r"[^a-z]", "", name.lower())
    tool = name if name in BY_NAME else ALIASES.get(key, "")
    tool = tool or next((t for t in BY_NAME if t.replace("_", "") == key), "")
    if not tool:
        raise ActionParseError(f"unknown tool {name!r}; use one of: {', '.join(BY_NAME)}")
    return tool


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "`" and "`" not in value[1:-1]:
        return value[1:-1]
    return value


def _inline_args(spec: ToolSpec, rest: str) -> dict[str, Any]:
    """Arguments on the ACTION line: `tool(a="x", b=2)` / `tool({"a": "x"})`, or the value of
    a one-argument tool (`find_class LRUCache`)."""
    if _CALL.match(rest):
        inner = rest.strip()[1:-1].strip()
        if not inner:
            return {}
        if inner.startswith("{"):
            try:
                data = json.loads(inner)
            except ValueError:
                raise ActionParseError(f"{spec.name}: arguments are not valid JSON") from None
            if not isinstance(data, dict):
                raise ActionParseError(f"{spec.name}: arguments must be a JSON object")
            return {str(k): v for k, v in data.items()}
        import ast

        try:
            call = ast.parse(f"f({inner})", mode="eval").body
            assert isinstance(call, ast.Call)
            if call.args and len(spec.params) == 1 and len(call.args) == 1 and not call.keywords:
                return {spec.params[0].name: ast.literal_eval(call.args[0])}
            if call.args:
                raise ValueError
            return {str(kw.arg): ast.literal_eval(kw.value) for kw in call.keywords}
        except (SyntaxError, ValueError, AssertionError):
            raise ActionParseError(
                f'cannot read the arguments {rest[:60]!r}: write {spec.name}(name="value") '
                "or one 'name: value' per line"
            ) from None
    if len(spec.params) == 1 and ":" not in rest:
        return {spec.params[0].name: _unquote(rest.strip().strip("\"'"))}
    raise ActionParseError(
        f"unexpected text after the tool name: {rest[:60]!r}; put each argument on its own "
        "line as 'name: value'"
    )


def _parse_json_action(text: str) -> Action:
    """`{"tool": "find_class", "args": {"name": "X"}}` (or name/arguments) as the answer."""
    try:
        data, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        raise ActionParseError(
            "no 'ACTION: <tool>' line and no valid JSON action; answer with THOUGHT: ... "
            "then ACTION: <tool> and its arguments, one 'name: value' per line"
        ) from None
    if not isinstance(data, dict):
        raise ActionParseError('a JSON action must be an object {"tool": ..., "args": {...}}')
    tool = data.get("tool", data.get("name", data.get("action")))
    args = data.get("args", data.get("arguments", data.get("parameters", {})))
    if not isinstance(tool, str):
        raise ActionParseError('a JSON action needs "tool": one of ' + ", ".join(BY_NAME))
    if isinstance(args, str):
        return from_tool_call(tool_name(tool), args)
    if not isinstance(args, dict):
        raise ActionParseError(f"{tool}: arguments must be a JSON object")
    return make_action(tool_name(tool), args, str(data.get("thought", "")))


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


def tool_schemas() -> list[dict[str, Any]]:
    """Tool schemas in the LLM layer's neutral form ({name, description, parameters});
    each backend sends them in its provider's function-calling form."""
    return [
        {"name": t.name, "description": t.description, "parameters": _json_schema(t)} for t in TOOLS
    ]


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
