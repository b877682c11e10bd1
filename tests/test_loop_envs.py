"""LOOP's AppWorld environment (agents/training/loop_envs.py) on a fake world: K episodes
per task, each in its own fresh world; one batched `policy.sample` per turn for all
running episodes; code runs only through `env.execute`; the completion call ends an
episode; rewards from the grade; a tiny model trains through it and resumes."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tiny_models import build_tiny_llama

from agents.llm.types import Message
from agents.training.loop import GroupEnv, LoopConfig, Policy, RolloutEnv, Turn, train_loop
from agents.training.loop_envs import (
    AppWorldEpisodeTask,
    AppWorldLoopEnv,
    supervisor_line,
    window,
)
from sandboxes.appworld.protocol import NO_CODE, SYSTEM_PROMPT


@dataclass(frozen=True)
class Grade:
    success: bool
    score: float


class FakeWorld:
    """One world at a time. Task: (instruction, needed word). The code 'do WORD' records
    WORD; 'finish' is the completion call. Success: the needed word was done and nothing
    else; score: 0.5 when the needed word was done among others."""

    made = 0
    lock = threading.Lock()

    def __init__(self) -> None:
        with FakeWorld.lock:
            FakeWorld.made += 1
        self.resets = 0
        self.executed: list[str] = []
        self.done: list[str] = []
        self.completed = False
        self.closed = False
        self.task: tuple[str, str] | None = None
        self.supervisor = {"first_name": "Ann", "last_name": "Lee", "email": "ann@x.org"}

    def reset(self, task: Any) -> str:
        self.resets += 1
        self.task, self.done, self.completed = task, [], False
        return str(task[0])

    def execute(self, code: str) -> str:
        assert self.task is not None
        self.executed.append(code)
        for line in code.splitlines():
            if line.startswith("do "):
                self.done.append(line[3:])
            elif line == "finish":
                self.completed = True
        return f"done so far: {self.done}"

    def evaluate(self) -> Grade:
        assert self.task is not None
        need = self.task[1]
        if self.done == [need]:
            return Grade(True, 1.0)
        return Grade(False, 0.5 if need in self.done else 0.0)

    def close(self) -> None:
        self.closed = True


class ScriptedPolicy:
    """Answers from `script(context) -> text`; records each call's contexts."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.calls: list[list[list[Message]]] = []
        self.n: list[int] = []

    def sample(self, contexts: Sequence[Sequence[Message]], n: int, seed: int) -> list[list[Turn]]:
        self.calls.append([list(c) for c in contexts])
        self.n.append(n)
        return [
            [Turn(list(c), [1, 2], [3], [-0.5], self.script(list(c))) for _ in range(n)]
            for c in contexts
        ]


def _task(name: str, need: str, demo: str | None = None) -> AppWorldEpisodeTask:
    return AppWorldEpisodeTask(name, (f"Please do {need}.", need), demo)


def _need(context: list[Message]) -> str:
    return str(context[1]["content"]).split("Please do ")[1].split(".")[0]


def _turns(context: list[Message]) -> int:
    return sum(m["role"] == "assistant" for m in context)


def test_the_protocols() -> None:
    env = AppWorldLoopEnv(FakeWorld)
    assert isinstance(env, GroupEnv) and isinstance(env, RolloutEnv)


def test_k_episodes_each_in_a_fresh_world_batched_per_turn() -> None:
    """Turn 1 looks around, turn 2 does the task and finishes: 2 tasks x 3 episodes over
    4 worlds are two waves (4 + 2); each wave samples once per turn, for all its running
    episodes."""

    def script(context: list[Message]) -> str:
        if _turns(context) == 0:
            return "Let me look.\n```python\nprint('hello')\n```"
        return f"```python\ndo {_need(context)}\nfinish\n```\nDone."

    made = FakeWorld.made
    policy = ScriptedPolicy(script)
    done: list[tuple[int, int]] = []
    with AppWorldLoopEnv(
        FakeWorld, workers=4, max_turns=5, progress=lambda d, t: done.append((d, t))
    ) as env:
        groups = env.run_group(policy, [_task("a", "x"), _task("b", "y")], 3, seed=7)
        worlds = [w for w in env.envs if isinstance(w, FakeWorld)]
    assert FakeWorld.made - made == 4 and all(w.closed for w in worlds)
    assert sum(w.resets for w in worlds) == 6  # one fresh world per episode
    # One batch per turn and wave; wave 2 holds b's two last episodes, whose contexts
    # are identical (a scripted policy): one context sampled twice.
    assert [len(c) for c in policy.calls] == [4, 4, 1, 1]
    assert policy.n == [1, 1, 2, 2]
    assert done == [(4, 6), (6, 6)]
    assert [[r.success for r in g] for g in groups] == [[True] * 3, [True] * 3]
    for group in groups:
        for r in group:
            assert r.reward == 1.0 and len(r.turns) == 2 and r.info["status"] == "completed"
    # The first prompt: the protocol's system prompt, the supervisor and the task.
    first = policy.calls[0][0]
    assert first[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "Ann Lee (ann@x.org)" in first[1]["content"]
    assert "Please do x." in first[1]["content"]
    # The second turn sees the first answer and its observation.
    second = policy.calls[1][0]
    assert second[2]["role"] == "assistant" and "Output:" in second[3]["content"]
    assert "done so far: []" in second[3]["content"]
    # Only the extracted code reached the worlds, never the prose around it.
    assert len(worlds) == 4
    codes = {c for w in worlds for c in w.executed}
    assert codes == {"print('hello')", "do x\nfinish", "do y\nfinish"}


def test_the_first_turn_samples_each_tasks_prompt_k_times() -> None:
    policy = ScriptedPolicy(lambda context: f"```python\ndo {_need(context)}\nfinish\n```")
    with AppWorldLoopEnv(FakeWorld, workers=6) as env:
        groups = env.run_group(policy, [_task("a", "x"), _task("b", "y")], 3, seed=0)
    assert policy.n == [3] and len(policy.calls[0]) == 2
    assert [len(g) for g in groups] == [3, 3] and all(r.success for g in groups for r in g)
    assert [r.info["task"] for g in groups for r in g] == ["a"] * 3 + ["b"] * 3


def test_rewards_partial_and_binary() -> None:
    """Wrong extra work: the check passes half (score 0.5) but the task fails."""

    def script(context: list[Message]) -> str:
        return f"```python\ndo {_need(context)}\ndo z\nfinish\n```"

    for partial, want in ((1.0, 0.5), (0.4, 0.2), (0.0, 0.0)):
        with AppWorldLoopEnv(FakeWorld, workers=2, partial=partial) as env:
            [group] = env.run_group(ScriptedPolicy(script), [_task("a", "x")], 2, seed=0)
        assert [r.reward for r in group] == [pytest.approx(want)] * 2
        assert not any(r.success for r in group)


def test_no_code_gets_the_corrective_message_and_max_turns_ends_it() -> None:
    policy = ScriptedPolicy(lambda context: "I would call the API now.")
    with AppWorldLoopEnv(FakeWorld, workers=2, max_turns=3, keep_turns=0) as env:
        [group] = env.run_group(policy, [_task("a", "x")], 2, seed=0)
        assert all(isinstance(w, FakeWorld) and w.executed == [] for w in env.envs)
    assert len(policy.calls) == 3
    last = policy.calls[-1][0]
    assert last[3] == {"role": "user", "content": NO_CODE}
    for r in group:
        assert len(r.turns) == 3 and r.reward == 0.0 and r.info["status"] == "max turns"
        assert r.info["no_code"] == 3


def test_the_prompt_keeps_the_opening_and_the_last_turns() -> None:
    calls = iter(range(100))
    policy = ScriptedPolicy(lambda context: f"```python\nprint({next(calls)})\n```")
    with AppWorldLoopEnv(FakeWorld, workers=1, max_turns=5, keep_turns=2) as env:
        env.run(policy, _task("a", "x", demo="Task: example\n\n```python\ndo w\n```"), seed=0)
    sizes = [len(call[0]) for call in policy.calls]
    assert sizes == [2, 4, 6, 6, 6]
    last = policy.calls[-1][0]
    assert "Here is an example" in last[1]["content"] and "do w" in last[1]["content"]
    assert [m["content"] for m in last if m["role"] == "assistant"] == [
        "```python\nprint(2)\n```",
        "```python\nprint(3)\n```",
    ]
    # The turns record the exact (windowed) prompt the policy saw.
    assert window(last, 2) == last and len(window(last + last[2:4], 2)) == 6


def test_bad_settings_and_the_supervisor_line() -> None:
    with pytest.raises(ValueError, match="workers"):
        AppWorldLoopEnv(FakeWorld, workers=0)
    with pytest.raises(ValueError, match="max_turns"):
        AppWorldLoopEnv(FakeWorld, max_turns=0)
    with pytest.raises(ValueError, match="partial"):
        AppWorldLoopEnv(FakeWorld, partial=1.5)
    assert supervisor_line({"first_name": "A", "last_name": "B", "phone_number": "1"}) == "A B (1)"
    assert supervisor_line(None) == "" and supervisor_line({"first_name": "A"}) == "A"


# -- a tiny model through train_loop -------------------------------------------------------


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Fences and newlines are words of its vocabulary: it writes code blocks sometimes.
    words = ["```", "\n", "do", "x", "y", "finish", "print", "the", "cat"]
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-loop-envs"), words=words)


def _load(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


class WordWorld(FakeWorld):
    """The tiny model's code is words: 'do' followed by the needed word does it."""

    def execute(self, code: str) -> str:
        self.executed.append(code)
        words = code.split()
        self.done += [b for a, b in itertools.pairwise(words) if a == "do"]
        self.completed = "finish" in words
        return " ".join(self.done) or "nothing"


def test_a_tiny_model_trains_through_it_and_resumes(tiny_dir: Path, tmp_path: Path) -> None:
    tasks = [_task("a", "x"), _task("b", "y")]
    seen: list[Policy] = []

    def run(iterations: int) -> Any:
        model, tok = _load(tiny_dir)
        config = LoopConfig(
            k=4, iterations=iterations, tasks_per_iteration=2, max_tokens=8, drop_flat=False
        )
        with AppWorldLoopEnv(WordWorld, workers=4, max_turns=2) as env:
            report = train_loop(model, tok, env, tasks, config, tmp_path / "run")
            seen.append(env)  # type: ignore[arg-type]
            return report, env.episodes

    report, episodes = run(2)
    assert episodes == 16 and report.resumed == 0
    for log in report.logs:
        assert log.rollouts == 8 and log.trained_rollouts == 8
        # every model turn trained on: at least 1 per episode, at most max_turns
        assert log.tokens >= 8 and log.logp_gap is not None and log.logp_gap < 1e-3
    assert (tmp_path / "run" / "iter1" / "adapter_model.safetensors").is_file()
    again, episodes = run(3)
    assert again.resumed == 2 and episodes == 8 and len(again.logs) == 3
