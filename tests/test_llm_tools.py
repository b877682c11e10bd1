"""Native tool calling: the LLM layer against real OpenAI/Anthropic wire-format servers on
127.0.0.1, and the repository agent choosing its actions through tool calls."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from llm_servers import Reply, serve
from swe_plans import BROKEN, FIX, IID, OLD, PATH

from agents.llm import (
    BaseLLM,
    Completion,
    LLMError,
    ScriptedLLM,
    ToolCall,
    Usage,
    assistant_message,
    load_llm,
    tool_result,
)
from agents.llm.budget import estimate_prompt_tokens
from agents.llm.cache import request_key
from agents.llm.types import make_request
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions

PROVIDERS = ["openai", "anthropic"]
MSG = [{"role": "user", "content": "show me a.py"}]
SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "start": {"type": "integer"}},
    "required": ["path"],
}
TOOLS = [
    {"name": "view_file", "description": "Show lines of a file.", "parameters": SCHEMA},
    {"name": "finish", "description": "Submit.", "parameters": {"type": "object"}},
]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-openai-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-anthropic-key")
    monkeypatch.delenv("AGENTS_NATIVE_TOOLS", raising=False)


def tool_llm(provider: str, url: str, **kw: Any) -> BaseLLM:
    return load_llm(f"{provider}:m", base_url=url, cache=False, native_tools=True, **kw)


def strip_cache_control(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_are_sent_in_the_providers_form_and_calls_come_back_parsed(provider: str) -> None:
    with serve(provider) as (url, state):
        state.replies = [
            Reply("I look at the file.", [{"name": "view_file", "arguments": {"path": "a.py"}}])
        ]
        [c] = asyncio.run(tool_llm(provider, url).complete(MSG, tools=TOOLS))
    body = state.requests[0]["body"]
    if provider == "openai":
        assert body["tools"] == [{"type": "function", "function": t} for t in TOOLS]
        call_id = "call_1_0"
    else:
        assert body["tools"] == [
            {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
            for t in TOOLS
        ]
        call_id = "toolu_1_0"
    assert c.text == "I look at the file." and c.finish_reason == "tool_calls"
    assert c.tool_calls == (ToolCall(call_id, "view_file", {"path": "a.py"}),)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_exchange_goes_back_in_the_providers_wire_format(provider: str) -> None:
    with serve(provider) as (url, state):
        llm = tool_llm(provider, url)
        state.replies = [
            Reply("", [{"name": "view_file", "arguments": {"path": "a.py", "start": 3}}]),
            Reply("done", [{"name": "finish", "arguments": {}}]),
        ]
        [first] = asyncio.run(llm.complete(MSG, tools=TOOLS))
        call = first.tool_calls[0]
        history = [
            *MSG,
            assistant_message(first.text, first.tool_calls),
            tool_result(call.id, "3: x = 1"),
        ]
        [second] = asyncio.run(llm.complete(history, tools=TOOLS))
    assert state.count == 2  # both accepted: the server rejects malformed tool exchanges
    assert second.tool_calls[0].name == "finish" and second.text == "done"
    sent = state.requests[1]["body"]["messages"]
    if provider == "openai":
        assert sent[1]["role"] == "assistant" and sent[1]["content"] in (None, "")
        [wire_call] = sent[1]["tool_calls"]
        assert wire_call["id"] == call.id == "call_1_0" and wire_call["type"] == "function"
        assert wire_call["function"]["name"] == "view_file"
        assert json.loads(wire_call["function"]["arguments"]) == {"path": "a.py", "start": 3}
        assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "3: x = 1"}
    else:
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        # No empty text block beside the tool_use (the API rejects empty text blocks).
        assert strip_cache_control(sent[1]["content"]) == [
            {"type": "tool_use", "id": call.id, "name": "view_file",
             "input": {"path": "a.py", "start": 3}},
        ]  # fmt: skip
        assert strip_cache_control(sent[2]["content"]) == [
            {"type": "tool_result", "tool_use_id": call.id, "content": "3: x = 1"}
        ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_test_server_rejects_a_tool_call_left_without_its_result(provider: str) -> None:
    """The server's checks can fail: a history that drops the tool result is a 400."""
    from agents.llm import RequestRejected

    call = ToolCall("call_9", "view_file", {"path": "a.py"})
    history = [*MSG, assistant_message("", [call]), {"role": "user", "content": "go on"}]
    with serve(provider) as (url, _), pytest.raises(RequestRejected, match="tool"):
        asyncio.run(tool_llm(provider, url).complete(history, tools=TOOLS))


def test_malformed_arguments_are_an_invalid_call_that_can_be_sent_back() -> None:
    with serve("openai") as (url, state):
        llm = tool_llm("openai", url)
        state.replies = [Reply(None, [{"name": "view_file", "arguments": '{"path": "a.py"'}])]
        [c] = asyncio.run(llm.complete(MSG, tools=TOOLS))
        bad = c.tool_calls[0]
        assert not bad.valid and "not valid JSON" in (bad.error or "")
        assert bad.raw == '{"path": "a.py"' and bad.arguments == {}
        history = [*MSG, assistant_message(c.text, [bad]), tool_result(bad.id, "invalid JSON")]
        asyncio.run(llm.complete(history, tools=TOOLS))
    assert state.count == 2
    resent = state.requests[1]["body"]["messages"][1]["tool_calls"][0]["function"]
    assert resent["arguments"] == "{}"  # valid JSON again, so the provider accepts the turn


def test_native_tool_calling_is_a_capability_of_the_backend(monkeypatch) -> None:
    from agents.llm.local import LocalLLM

    assert load_llm("openai:gpt-4o-mini", cache=False).supports_tools  # api.openai.com
    assert load_llm("anthropic:claude-3-5-haiku", cache=False).supports_tools
    # An OpenAI-compatible server may not have tool calling switched on: opt in.
    assert not load_llm("openai:m", base_url="http://127.0.0.1:9/v1").supports_tools
    monkeypatch.setenv("AGENTS_NATIVE_TOOLS", "1")
    assert load_llm("openai:m", base_url="http://127.0.0.1:9/v1").supports_tools
    assert LocalLLM.supports_tools is False
    plain = ScriptedLLM(["just text"])
    with pytest.raises(LLMError, match="no native tool calling"):
        asyncio.run(plain.complete(MSG, tools=TOOLS))
    with pytest.raises(LLMError, match="needs a 'name'"):
        asyncio.run(ScriptedLLM(["x"], supports_tools=True).complete(MSG, tools=[{"x": 1}]))
    with pytest.raises(LLMError, match="tool_call_id"):
        asyncio.run(plain.complete([*MSG, {"role": "tool", "content": "out"}]))


def test_scripted_model_returns_tool_calls(tmp_path: Path) -> None:
    f = tmp_path / "answers.json"
    f.write_text(json.dumps([
        {"text": "look", "tool_calls": [{"name": "view_file", "arguments": {"path": "a.py"}}]},
        {"tool_calls": [{"id": "c7", "name": "view_file", "arguments": "{nope"}]},
        "plain text",
    ]))  # fmt: skip
    llm = load_llm(f"scripted:{f}")
    assert llm.supports_tools
    a, b, c = (asyncio.run(llm.complete(MSG, tools=TOOLS))[0] for _ in range(3))
    assert a.tool_calls == (ToolCall("call_1", "view_file", {"path": "a.py"}),)
    assert a.text == "look" and a.finish_reason == "tool_calls"
    assert b.tool_calls[0].id == "c7" and not b.tool_calls[0].valid
    assert c.tool_calls == () and c.text == "plain text"


def test_cache_and_budget_see_the_tools(tmp_path: Path) -> None:
    plain = make_request(MSG)
    with_tools = make_request(MSG, tools=TOOLS)
    assert request_key("m", plain) != request_key("m", with_tools)
    assert request_key("m", with_tools) != request_key("m", make_request(MSG, tools=TOOLS[:1]))
    assert estimate_prompt_tokens(with_tools) > estimate_prompt_tokens(plain) + 50
    db = tmp_path / "cache.sqlite"
    with serve("openai") as (url, state):
        state.replies = [Reply("a", [{"name": "view_file", "arguments": {"path": "a.py"}}])] * 3
        llm = load_llm("openai:m", base_url=url, cache_path=str(db), native_tools=True)
        first = asyncio.run(llm.complete(MSG, tools=TOOLS))[0]
        again = asyncio.run(llm.complete(MSG, tools=TOOLS))[0]  # served from sqlite
        assert state.count == 1
        asyncio.run(llm.complete(MSG, tools=TOOLS[:1]))
        assert state.count == 2
    assert again.from_cache and again.tool_calls == first.tool_calls


# --- the repository agent ---------------------------------------------------------------


def options(tmp_path: Path, search: str = "linear") -> SolveOptions:
    return SolveOptions(
        model="openai:m", instances=(IID,), search=search, sandbox="local",
        output=tmp_path / search,
    )  # fmt: skip


def plan_replies() -> list[Reply]:
    """Malformed arguments first (fed back to the model), then the fix of swe_plans."""
    return [
        Reply("find it", [{"name": "find_class", "arguments": '{"name": "LRUCache"'}]),
        Reply("find the class", [{"name": "find_class", "arguments": {"name": "LRUCache"}}]),
        Reply("update the order on reads",
              [{"name": "str_replace", "arguments": {"path": PATH, "old": OLD, "new": FIX}}]),
        Reply("check", [{"name": "run_tests", "arguments": {"target": "tests/test_lru.py"}}]),
        Reply("done", [{"name": "finish", "arguments": {}}]),
    ]  # fmt: skip


def check_agent_requests(provider: str, requests: list[dict[str, Any]]) -> None:
    """Every request offers the agent's tools; each tool result answers the call before it."""
    for r in requests:
        names = [
            t["function"]["name"] if provider == "openai" else t["name"] for t in r["body"]["tools"]
        ]
        assert names[:2] == ["find_class", "find_function"] and "finish" in names
    msgs = requests[1]["body"]["messages"]
    if provider == "openai":
        assert msgs[-2]["tool_calls"][0]["function"]["arguments"] == "{}"
        assert msgs[-1]["role"] == "tool" and msgs[-1]["tool_call_id"] == "call_1_0"
        assert "Invalid call: find_class: arguments are not valid JSON" in msgs[-1]["content"]
    else:
        [result] = strip_cache_control(msgs[-1]["content"])
        assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_1_0"
        assert result["is_error"] and "Invalid call: find_class: arguments" in result["content"]


def test_agents_solve_resolves_an_instance_through_native_tool_calls(tmp_path: Path) -> None:
    """The user's path: `agents solve` against an OpenAI-compatible server with tools on."""
    out = tmp_path / "run"
    with serve("openai") as (url, state):
        state.replies = plan_replies()
        proc = subprocess.run(
            [sys.executable, "-c", "from agents.cli import main; main()", "solve", "--task",
             "swe-bench", "-m", "openai:gpt-4o-mini", "--base-url", url, "-i", IID,
             "--sandbox", "local", "--no-cache", "-o", str(out)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "k",
                 "AGENTS_NATIVE_TOOLS": "1", "AGENTS_CACHE_DIR": str(tmp_path / "cache")},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "resolved 1/1" in proc.stderr
    assert state.count == 5
    check_agent_requests("openai", state.requests)
    last = state.requests[-1]["body"]["messages"]
    assert last[-1]["role"] == "tool" and "exit 0" in last[-1]["content"]
    traj = json.loads((out / "trajectories" / f"{IID}.json").read_text())
    steps = traj["steps"]
    assert "not valid JSON" in steps[0]["error"] and steps[0]["tool_call"]["id"] == "call_1_0"
    assert [s["action"]["tool"] for s in steps[1:]] == [
        "find_class", "str_replace", "run_tests", "finish",
    ]  # fmt: skip
    assert [s["tool_call"]["id"] for s in steps[1:]] == [f"call_{i}_0" for i in range(2, 6)]
    assert steps[2]["answer"] == "update the order on reads"
    assert steps[2]["action"]["thought"] == "update the order on reads"


def test_the_anthropic_backend_drives_the_agent_through_tool_use(tmp_path: Path) -> None:
    with serve("anthropic") as (url, state):
        state.replies = plan_replies()
        summary = run_swe_bench(options(tmp_path), llm=tool_llm("anthropic", url))
    report = json.loads((Path(summary["output"]) / "report.json").read_text())
    assert report["resolved_ids"] == [IID] and state.count == 5
    check_agent_requests("anthropic", state.requests)


class ToolPlanLLM(BaseLLM):
    """swe_plans.PlanLLM with native tool calls: the same plan, read from tool results.
    It checks the neutral messages it gets: each tool result answers the call before it."""

    supports_tools = True

    def __init__(self, first: str = "broken"):
        self.name = f"tool-plan:{first}"
        self.first = first
        self.seen_ids: list[str] = []

    async def _complete(self, request):
        msgs = request.messages
        text = "\n".join(str(m["content"] or "") for m in msgs)
        if request.tools is None:  # the judge
            diff = text.split("Current diff:", 1)[1]
            value = 60 if "if key in self" in diff else -60 if "return None" in diff else 0
            answer = json.dumps({"explanation": "diff", "feedback": "fix reads", "value": value})
            return [Completion(answer, "stop", None, Usage(10, 5), self.name, 0)]
        for prev, m in itertools.pairwise(msgs):
            if m["role"] == "tool":
                assert m["tool_call_id"] in [c["id"] for c in prev.get("tool_calls", [])]
                self.seen_ids.append(m["tool_call_id"])
        results = [str(m["content"]) for m in msgs if m["role"] == "tool"]
        edited = any(r.startswith("replaced ") for r in results)
        tested = edited and any(r.startswith("exit ") for r in results)
        retry = "Other attempts" in text or self.first == "correct"
        if not edited and "class LRUCache" not in text and not retry:
            call = ("find_class", {"name": "LRUCache"})
        elif not edited:
            call = ("str_replace", {"path": PATH, "old": OLD, "new": FIX if retry else BROKEN})
        elif not tested:
            call = ("run_tests", {"target": "tests/test_lru.py"})
        else:
            call = ("finish", {})
        tc = ToolCall(f"call_{len(msgs)}", *call)
        return [Completion("", "tool_calls", None, Usage(10, 5), self.name, 0, tool_calls=(tc,))]


def test_search_recovers_through_native_tool_calls(tmp_path: Path) -> None:
    llm = ToolPlanLLM("broken")
    summary = run_swe_bench(options(tmp_path, "mcts"), llm=llm)
    report = json.loads((Path(summary["output"]) / "report.json").read_text())
    assert report["resolved_ids"] == [IID]
    assert llm.seen_ids  # the search's steps went back to the model as tool exchanges


def test_answers_without_a_valid_tool_call_are_fed_back_then_end_the_instance(tmp_path):
    llm = ScriptedLLM(
        [
            "I would look at the cache",
            {"tool_calls": [{"name": "open", "arguments": {"path": "x"}}]},
            {"tool_calls": [{"name": "view_file", "arguments": {"start": 3}}]},
        ],
        supports_tools=True,
    )
    summary = run_swe_bench(options(tmp_path), llm=llm)
    out = Path(summary["output"])
    row = json.loads((out / "solve.jsonl").read_text())
    assert row["status"] == "error: unparsable actions" and row["model_patch"] == ""
    steps = json.loads((out / "trajectories" / f"{IID}.json").read_text())["steps"]
    assert [s["error"][:18] for s in steps] == [
        "no tool call: call", "unknown tool 'open", "view_file needs pa",
    ]  # fmt: skip
    assert all(r.tools and r.tools[0]["name"] == "find_class" for r in llm.calls)
    second, third = llm.calls[1].messages, llm.calls[2].messages
    assert second[-1] == {"role": "user", "content": f"Invalid answer: {steps[0]['error']}"}
    assert third[-2]["tool_calls"] == [{"id": "call_1", "name": "open", "arguments": {"path": "x"}}]
    assert third[-1]["tool_call_id"] == "call_1" and "unknown tool 'open'" in third[-1]["content"]


def test_tool_chat_of_mixed_steps_is_valid_for_both_providers() -> None:
    """A run's steps (a stored call, an extra call ignored, a search node's step without
    a stored call, an answer without any call) make a chat both APIs accept."""
    from llm_servers import check_anthropic, check_openai

    from agents.llm.anthropic_backend import to_anthropic
    from agents.llm.openai_backend import to_openai
    from agents.swe.prompts import tool_messages

    obs = {"text": "src/cachetools/__init__.py:40:class LRUCache(Cache):", "ok": True}
    steps = [
        {"answer": "find", "tool_call": {"id": "c1", "name": "find_class",
         "arguments": {"name": "LRUCache"}}, "ignored_calls": 1,
         "action": {"tool": "find_class", "args": {"name": "LRUCache"}, "thought": ""},
         "observation": obs},
        {"answer": "", "action": {"tool": "view_file", "args": {"path": PATH}, "thought": ""},
         "observation": {"text": "1: import collections", "ok": True}},
        {"answer": "", "error": "no tool call: call exactly one of the tools"},
    ]  # fmt: skip
    msgs = tool_messages({"problem_statement": "LRU order is wrong"}, steps, ["x -> value 10"])
    assert [m["role"] for m in msgs] == [
        "system", "user", "assistant", "tool", "assistant", "tool", "assistant", "user", "user",
    ]  # fmt: skip
    assert "only your first tool call ran; 1 ignored" in msgs[3]["content"]
    assert msgs[4]["tool_calls"] == [
        {"id": "call_step1", "name": "view_file", "arguments": {"path": PATH}}
    ]
    assert msgs[6]["content"] == "(no tool call)"
    request = make_request(msgs, tools=TOOLS)
    assert check_openai({"messages": to_openai(request.messages)}) is None
    system, turns = to_anthropic(request.messages)
    assert check_anthropic({"system": system, "messages": turns}) is None
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3 + ["user"]
