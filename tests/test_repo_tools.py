"""The repository tools and the action format, as the agent and the model see them."""

from __future__ import annotations

import pytest

from agents.swe.actions import (
    Action,
    ActionParseError,
    anthropic_tools,
    format_action,
    from_tool_call,
    openai_tools,
    parse_action,
)
from agents.swe.prompts import parse_judgement
from agents.swe.tools import RepoTools, count_tests
from benchmarks.swe_bench import RunConfig, load_dataset, open_instance


def test_plain_text_action_round_trips_with_multiline_values():
    action = Action("str_replace", (("path", "a.py"), ("old", "x = 1\n  y"), ("new", "")), "why")
    parsed = parse_action("Sure.\n" + format_action(action) + "\nACTION: finish")
    assert parsed == action and parsed.thought == "why"
    assert parse_action("ACTION: view_file\npath: a.py\nstart: 3").arg("start") == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I would look at the code", "no 'ACTION: <tool>' line"),
        ("ACTION: open\npath: a.py", "unknown tool 'open'; use one of: find_class"),
        ("ACTION: view_file", "view_file needs path"),
        ("ACTION: view_file\npath: a\nline: 3", "unknown: line"),
        ("ACTION: view_file\npath: a\nstart: ten", "start must be a whole number"),
        ("ACTION: create_file\npath: a\ncontent:\n<<<\nx", "never closed"),
        ("ACTION: find_code\nsnippet x", "cannot read argument line"),
    ],
)
def test_parse_errors_tell_the_model_what_to_fix(text, message):
    with pytest.raises(ActionParseError, match=message.replace("(", r"\(")):
        parse_action(text)


def test_provider_schemas_describe_every_tool():
    oa, an = openai_tools(), anthropic_tools()
    assert [t["function"]["name"] for t in oa] == [t["name"] for t in an]
    view = next(t for t in an if t["name"] == "view_file")
    assert view["input_schema"]["required"] == ["path"]
    assert view["input_schema"]["properties"]["start"]["type"] == "integer"
    assert from_tool_call("view_file", '{"path": "a.py", "end": "9"}').arg("end") == 9
    with pytest.raises(ActionParseError, match="needs old"):
        from_tool_call("str_replace", {"path": "a", "new": "b"})


def test_judge_answers_are_parsed_robustly():
    assert parse_judgement('{"explanation": "e", "feedback": "f", "value": 250}')["value"] == 100
    assert parse_judgement('Here: {"value": -30, "feedback": "no"} done')["feedback"] == "no"
    assert parse_judgement("Value: 42 because")["value"] == 42
    assert parse_judgement("no idea") is None


def test_count_tests_reads_pytest_and_unittest_summaries():
    assert count_tests("...\n==== 3 failed, 12 passed in 0.1s ====") == (12, 3)
    assert count_tests("Ran 5 tests in 0.01s\n\nFAILED (failures=1, errors=1)") == (3, 2)
    assert count_tests("Ran 4 tests in 0.01s\n\nOK") == (4, 0)
    assert count_tests("collection error") is None


@pytest.fixture(scope="module")
def tools():
    inst = load_dataset("swe-mini", ["tkem__cachetools-1"])[0]
    with open_instance(inst, RunConfig(sandbox="local")) as sb:
        yield RepoTools(sb, "PYTHONPATH=src python -m pytest -q -p no:cacheprovider")


def run(tools: RepoTools, tool: str, **args):
    return tools.run(Action(tool, tuple(args.items())))


def test_find_and_search_locate_the_code(tools):
    assert (
        "src/cachetools/__init__.py:203:class LRUCache"
        in run(tools, "find_class", name="LRUCache").text
    )
    assert "def __getitem__" in run(tools, "find_function", name="__getitem__").text
    assert not run(tools, "find_class", name="NoSuchClass").ok
    found = run(tools, "search", query="least recently used order")
    assert found.ok and "src/cachetools/__init__.py" in found.text
    view = run(tools, "view_file", path="src/cachetools/__init__.py", start=210, end=211)
    assert "  210      def __getitem__" in view.text and "lines 210-211 of" in view.text
    assert "no such file" in run(tools, "view_file", path="nope.py").text


def test_edits_tests_and_finish_produce_a_patch(tools):
    sid = tools.sb.snapshot()
    path = "src/cachetools/__init__.py"
    dup = run(tools, "str_replace", path=path, old="return cache_getitem(self, key)", new="x")
    assert not dup.ok and "occurs" in dup.text and "unique" in dup.text
    missing = run(tools, "str_replace", path=path, old="    class LRUCache(Cache):", new="x")
    assert not missing.ok and "not found" in missing.text and "203" in missing.text
    assert run(
        tools, "create_file", path="tests/test_new.py", content="def test_ok():\n    assert True"
    ).ok
    old = "class LRUCache(Cache):"
    ok = run(tools, "str_replace", path=path, old=old, new=old + "  # edited")
    assert ok.ok, ok.text
    tests = run(tools, "run_tests", target="tests/test_new.py")
    assert tests.ok and tests.tests == (1, 0) and "1 passed" in tests.text
    broken = run(
        tools, "create_file", path="tests/test_bad.py", content="def test_bad():\n    assert 0"
    )
    assert broken.ok
    failed = run(tools, "run_tests", target="tests/test_bad.py")
    assert not failed.ok and failed.tests == (0, 1)
    patch = run(tools, "finish").patch
    assert (
        patch is not None
        and "+++ b/tests/test_new.py" in patch
        and "+class LRUCache(Cache):  # edited" in patch
    )
    assert "__pycache__" not in patch
    tools.sb.restore(sid)
    assert run(tools, "finish").patch == ""


def test_the_timed_sandbox_is_a_sandbox_and_times_every_call(tools):
    from agents.swe.env import Stats, TimedSandbox
    from sandboxes import Sandbox

    stats = Stats()
    sb = TimedSandbox(tools.sb, stats)
    assert isinstance(sb, Sandbox) and sb.workdir == tools.sb.workdir
    sid = sb.snapshot()
    sb.write_file("timed.txt", "x\n")
    assert sb.read_file("timed.txt") == "x\n" and sb.exec("cat timed.txt").stdout == "x\n"
    spent = stats.sandbox_seconds
    assert spent > 0
    sb.restore(sid)
    assert not sb.exec("test -e timed.txt").ok and stats.sandbox_seconds > spent


def test_search_values_count_test_evidence_and_penalise_failed_or_repeated_actions():
    from agents.swe.search_problem import action_penalty, test_evidence

    def step(tool, ok=True, tests=None, **args):
        return {"action": {"tool": tool, "args": args}, "observation": {"ok": ok, "tests": tests}}

    edit = step("str_replace", path="a", old="x", new="y")
    assert test_evidence([edit, step("run_tests", False, (3, 1))]) == -1.0
    assert test_evidence([step("run_tests", True, (4, 0)), edit]) == 0.0
    assert test_evidence([edit, step("run_tests", True, (4, 0))]) == 1.0
    assert action_penalty([edit]) == 0.0
    assert action_penalty([edit, step("view_file", False, path="b")]) == 0.1
    assert action_penalty([step("find_class", name="A"), step("find_class", name="A")]) == 0.1


def test_an_action_ends_at_the_first_blank_line():
    text = "ACTION: find_class\nname: LRUCache\n\n```python\nprose the model went on with\n```"
    assert parse_action(text) == Action("find_class", (("name", "LRUCache"),))
    blank_inside = "ACTION: create_file\npath: a.py\ncontent:\n<<<\nx = 1\n\ny = 2\n>>>\n\nDone."
    assert parse_action(blank_inside).arg("content") == "x = 1\n\ny = 2"
