"""The AppWorld ReAct agent (agents/graphs/appworld.py) and its protocol
(sandboxes/appworld/protocol.py): the loop against a fake environment with scripted models
(code runs, a completion without code gets a corrective observation, max_steps ends it,
completion is the world's word, the trajectory keeps every prompt, completion, token count,
code and output), then the real environment with the gold and wrong scripted models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.graphs.appworld import AppWorldAgentConfig, run_appworld_agent
from agents.llm import ScriptedLLM
from sandboxes.appworld.protocol import (
    NO_CODE,
    SYSTEM_PROMPT,
    demonstration,
    extract_code,
    first_messages,
    observation_message,
)

COMPLETE = "```python\napis.supervisor.complete_task()\n```"


def block(code: str) -> str:
    return f"Let me do it.\n```python\n{code}\n```"


@dataclass
class Result:
    success: bool
    num_tests: int = 1
    passes: tuple[str, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()
    answer: Any = None
    status: str | None = None


@dataclass
class FakeEnv:
    """Completes the task only when a line of the code *starts* with the completion call, so
    a mention in a comment or a string does not count (the agent must ask the world)."""

    outputs: dict[str, str] = field(default_factory=dict)
    completed: bool = False
    codes: list[str] = field(default_factory=list)
    resets: int = 0
    evaluations: int = 0
    supervisor: dict[str, str] = field(
        default_factory=lambda: {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@x.org",
            "phone_number": "555",
        }
    )

    def reset(self, task: Any) -> str:
        self.resets += 1
        self.completed, self.codes = False, []
        return f"Do the thing called {task}."

    def execute(self, code: str) -> str:
        self.codes.append(code)
        if any(line.startswith("apis.supervisor.complete_task(") for line in code.splitlines()):
            self.completed = True
            return "Execution successful."
        return self.outputs.get(code, f"output {len(self.codes)}")

    def evaluate(self) -> Result:
        self.evaluations += 1
        return Result(success=self.completed, passes=("done",) if self.completed else ())


# -- the protocol --------------------------------------------------------------------------


def test_extract_code_takes_the_first_python_block() -> None:
    assert extract_code("x\n```python\nprint(1)\n```\n```python\nprint(2)\n```") == "print(1)"
    assert extract_code("```\nprint(3)\n```") == "print(3)"  # a fence without a language
    assert extract_code("```py\nprint(4)") == "print(4)"  # cut at the stop: to the end
    assert extract_code("no code here") is None
    assert extract_code("```python\n\n```") is None


def test_messages_observations_and_demonstrations() -> None:
    for api in ("show_app_descriptions", "show_api_descriptions", "show_api_doc"):
        assert f"apis.api_docs.{api}" in SYSTEM_PROMPT
    assert "show_account_passwords" in SYSTEM_PROMPT and "complete_task" in SYSTEM_PROMPT
    demo = demonstration("Make a playlist.", "apis.spotify.create_playlist(title='A')")
    system, user = first_messages("Count my songs.", "Ann Lee (ann@x.org)", demo)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    text = user["content"]
    assert text.index("Make a playlist.") < text.index("Ann Lee") < text.index("Count my songs.")
    assert "```python\napis.spotify.create_playlist(title='A')\n```" in text
    assert [m["role"] for m in first_messages("x")] == ["system", "user"]
    long = observation_message("a" * 5000 + "END", limit=300)
    assert long["role"] == "user" and "characters omitted" in long["content"]
    assert long["content"].count("a") < 400 and "END" in long["content"]
    assert "hello" in observation_message("hello")["content"]


# -- the loop against a fake world ---------------------------------------------------------


def test_the_loop_runs_code_until_the_world_says_the_task_is_complete() -> None:
    llm = ScriptedLLM([block("print(apis.supervisor.show_profile())"), block("x = 1"), COMPLETE])
    env = FakeEnv(outputs={"print(apis.supervisor.show_profile())": "{'first_name': 'Ann'}"})
    episode = run_appworld_agent(llm, env, "t1", AppWorldAgentConfig(max_steps=10))
    assert episode.status == "completed" and episode.success and episode.steps == 3
    assert env.codes == ["print(apis.supervisor.show_profile())", "x = 1", COMPLETE[10:-4]]
    assert env.resets == 1 and env.evaluations == 1
    # Each prompt holds the previous turns: the model's answer, then the output it caused.
    second = llm.calls[1].messages
    assert second[0]["content"] == SYSTEM_PROMPT
    assert "Do the thing called t1." in second[1]["content"]
    assert "Ann Lee (ann@x.org, 555)" in second[1]["content"]
    assert second[2] == {
        "role": "assistant",
        "content": block("print(apis.supervisor.show_profile())"),
    }
    assert "{'first_name': 'Ann'}" in second[3]["content"] and second[3]["role"] == "user"
    # The trajectory: every turn's prompt (a prefix of the conversation), completion, tokens,
    # code and output, and the conversation itself.
    saved = episode.trajectory()
    turns = saved["turns"]
    assert [t["prompt_messages"] for t in turns] == [2, 4, 6]
    assert turns[0]["code"] == "print(apis.supervisor.show_profile())"
    assert turns[0]["output"] == "{'first_name': 'Ann'}" and turns[1]["output"] == "output 2"
    assert [t["completed"] for t in turns] == [False, False, True]
    assert all(t["input_tokens"] > 0 and t["output_tokens"] > 0 for t in turns)
    assert saved["input_tokens"] == sum(t["input_tokens"] for t in turns) == episode.input_tokens
    assert len(saved["messages"]) == 2 + 2 * 3
    assert saved["checks"]["success"] is True and saved["status"] == "completed"


def test_an_answer_without_code_gets_a_corrective_observation() -> None:
    llm = ScriptedLLM(["I would check the balance first.", COMPLETE])
    env = FakeEnv()
    episode = run_appworld_agent(llm, env, "t2")
    assert episode.status == "completed" and episode.steps == 2
    assert len(env.codes) == 1  # nothing ran for the answer without code
    assert episode.turns[0].code is None and episode.turns[0].output is None
    retry = llm.calls[1].messages
    assert retry[-2] == {"role": "assistant", "content": "I would check the balance first."}
    assert retry[-1] == {"role": "user", "content": NO_CODE}


def test_max_steps_ends_an_episode_that_never_completes() -> None:
    # The comment names the completion call, but only the world decides it happened.
    code = "# apis.supervisor.complete_task() comes later\nprint(1)"
    llm = ScriptedLLM([block(code)], on_exhausted="repeat_last")
    env = FakeEnv()
    episode = run_appworld_agent(llm, env, "t3", AppWorldAgentConfig(max_steps=3))
    assert episode.status == "max steps" and not episode.success
    assert episode.steps == 3 and len(llm.calls) == 3 and len(env.codes) == 3
    assert env.evaluations == 1  # graded once, at the end
    only_talk = ScriptedLLM(["no code at all"], on_exhausted="repeat_last")
    episode = run_appworld_agent(only_talk, FakeEnv(), "t4", AppWorldAgentConfig(max_steps=2))
    assert episode.status == "max steps" and episode.steps == 2 and len(only_talk.calls) == 2
    with pytest.raises(ValueError, match="max_steps"):
        run_appworld_agent(only_talk, FakeEnv(), "t5", AppWorldAgentConfig(max_steps=0))


def test_keep_turns_bounds_the_prompt_and_the_stop_sequence_is_sent() -> None:
    llm = ScriptedLLM([block("print(1)")], on_exhausted="repeat_last")
    config = AppWorldAgentConfig(max_steps=4, keep_turns=1, max_tokens=77)
    episode = run_appworld_agent(llm, FakeEnv(), "t6", config)
    assert [len(call.messages) for call in llm.calls] == [2, 4, 4, 4]
    assert [t.prompt_messages for t in episode.turns] == [2, 4, 4, 4]
    assert all(c.max_tokens == 77 and c.stop == ("\n```\n",) for c in llm.calls)
    assert llm.calls[-1].messages[1]["content"].startswith("I am your supervisor")
    assert len(episode.messages) == 2 + 2 * 4  # the saved conversation is whole


# -- the real environment ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_env() -> Iterator[Any]:
    from benchmarks.appworld import tasks
    from sandboxes.appworld import AppWorldEnv, ensure_appworld, prepare_tasks
    from sandboxes.appworld.install import appworld_python
    from sandboxes.base import BuildError

    try:
        appworld_python()
    except BuildError as exc:
        pytest.skip(str(exc))
    prepare_tasks([m.task for m in tasks("dev")], ensure_appworld())
    with AppWorldEnv() as env:
        yield env


def test_the_gold_model_solves_real_tasks_and_the_wrong_one_does_not(real_env: Any) -> None:
    from benchmarks.appworld import tasks
    from benchmarks.appworld.solve import CodeOracle

    chosen = {m.level: m for m in tasks("dev")}  # one task per level
    assert sorted(chosen) == [1, 2, 3]
    for mini in chosen.values():
        episode = run_appworld_agent(CodeOracle(mini.gold, "oracle"), real_env, mini.task)
        assert episode.success, (mini.name, episode.result.failures)
        assert episode.status == "completed" and episode.steps == 1
        assert episode.result.num_tests == len(episode.result.passes) > 0
    wrong = chosen[2]
    episode = run_appworld_agent(CodeOracle(wrong.wrong, "oracle:wrong"), real_env, wrong.task)
    assert not episode.success and episode.result.failures
    # A model that only reads docs never completes: the world says so, max_steps ends it.
    reader = ScriptedLLM(
        [block("print(apis.api_docs.show_api_descriptions(app_name='venmo'))")],
        on_exhausted="repeat_last",
    )
    episode = run_appworld_agent(reader, real_env, chosen[1].task, AppWorldAgentConfig(max_steps=2))
    assert episode.status == "max steps" and not episode.success
    assert '"name": "show_account"' in (episode.turns[0].output or "")  # venmo's API docs
