"""LOOP's environments beyond one prompt and one answer: AppWorld, several turns per
episode.

`AppWorldLoopEnv` plays K episodes of each AppWorld task for `train_loop` (a `GroupEnv`):
every episode has its own fresh world (`env.reset(task)` on its own `AppWorldEnv`, one
executor process each), and its turns follow the AppWorld agent's protocol
(`sandboxes.appworld.protocol`, the same prompt and turn format as the ReAct agent of
`agents solve --task appworld`): the model writes a ```python block, `extract_code` takes
it, `env.execute` runs it where AppWorld runs code (its sandboxed executor: nothing the
model writes runs in this process) and the output comes back as the next user message. A
completion without a code block gets the protocol's corrective message instead. An
episode ends when the task's completion call ran (`env.completed`) or after `max_turns`
model turns; then `env.evaluate()` grades the world's end state.

Batching: the episodes of a wave (as many as there are environments, `workers`) advance
together, one `policy.sample` call per turn for all the episodes still running (the
engine decodes them as one batch); their code then runs in parallel, each in its own
world process. More episodes than workers: further waves. On the first turn the K
episodes of a task share their prompt, which is then sampled K times (`n=K`: the engine
computes the long prompt once); make `workers` a multiple of K so that waves hold whole
tasks.

Reward: 1.0 when the task's checks all pass (`AppWorldResult.success`), else
`partial * result.score`, the fraction of the task's checks that passed (AppWorld's
per-test results; `partial=0` makes the reward binary, as TGC counts). The checks
include "nothing else changed", which an episode that does nothing may pass, so partial
credit can reward inaction a little; use `partial=0` where that matters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.llm.types import BaseLLM, Completion, Message, Request, Usage
from agents.training.loop import Policy, Rollout, Turn
from sandboxes.appworld.protocol import (
    extract_code,
    first_messages,
    no_code_message,
    observation_message,
)


class Graded(Protocol):
    """What `evaluate()` returns (`AppWorldResult` is one)."""

    @property
    def success(self) -> bool: ...

    @property
    def score(self) -> float: ...


class WorldEnv(Protocol):
    """An AppWorld-like environment (`sandboxes.appworld.AppWorldEnv` is one): one world at
    a time. It may also have `supervisor` (a dict with first_name, last_name, email,
    phone_number) and `completed` (the completion call ran) after `reset`/`execute`."""

    def reset(self, task: Any) -> str: ...

    def execute(self, code: str) -> str: ...

    def evaluate(self) -> Graded: ...


@dataclass(frozen=True)
class AppWorldEpisodeTask:
    """A task for LOOP: the environment's task (an `AppWorldTask`, or whatever the env's
    `reset` takes), a name for logs, and an optional demonstration for the first prompt
    (`protocol.demonstration(...)` of another solved task)."""

    name: str
    task: Hashable
    demo: str | None = None


@dataclass
class _Episode:
    slot: int
    env: WorldEnv
    messages: list[Message]
    turns: list[Turn] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    done: bool = False
    status: str = "max turns"


def supervisor_line(supervisor: Any) -> str:
    """'First Last (email, phone)' from an env's supervisor dict, or ''."""
    if not isinstance(supervisor, dict) or not supervisor:
        return ""
    name = " ".join(str(supervisor.get(k, "")) for k in ("first_name", "last_name")).strip()
    contact = ", ".join(str(supervisor[k]) for k in ("email", "phone_number") if supervisor.get(k))
    return f"{name} ({contact})" if contact else name


def window(messages: Sequence[Message], keep_turns: int) -> list[Message]:
    """The opening system and user messages and the last `keep_turns` exchanges (model
    turn + observation); 0 keeps everything."""
    if keep_turns <= 0 or len(messages) <= 2 + 2 * keep_turns:
        return list(messages)
    return [*messages[:2], *messages[len(messages) - 2 * keep_turns :]]


class AppWorldLoopEnv:
    """K episodes per AppWorld task for `train_loop` (see the module docstring).

    `make_env()` builds one world environment (default: `AppWorldEnv()`); up to `workers`
    are made on first use and kept until `close()` (use `with`). `max_turns`: model turns
    per episode; `max_tokens` is the policy's; `keep_turns`: exchanges kept in the prompt
    (the first messages always); `observation_limit`: characters of output shown."""

    def __init__(
        self,
        make_env: Callable[[], WorldEnv] | None = None,
        *,
        workers: int = 6,
        max_turns: int = 4,
        keep_turns: int = 3,
        observation_limit: int = 1500,
        partial: float = 1.0,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if not 0.0 <= partial <= 1.0:
            raise ValueError(f"partial must be in [0, 1], got {partial}")
        self.make_env = make_env or _appworld_env
        self.workers = workers
        self.max_turns = max_turns
        self.keep_turns = keep_turns
        self.observation_limit = observation_limit
        self.partial = partial
        self.progress = progress
        """`progress(episodes done, episodes)` after each wave of a `run_group` call."""
        self.envs: list[WorldEnv] = []
        self.episodes = 0
        """Episodes played (all waves, all calls)."""

    def _pool(self, n: int) -> list[WorldEnv]:
        while len(self.envs) < min(n, self.workers):
            self.envs.append(self.make_env())
        return self.envs[:n]

    def reward(self, result: Graded) -> float:
        return 1.0 if result.success else self.partial * float(result.score)

    def run(self, policy: Policy, task: AppWorldEpisodeTask, seed: int) -> Rollout:
        return self.run_group(policy, [task], 1, seed)[0][0]

    def run_group(
        self, policy: Policy, tasks: Sequence[AppWorldEpisodeTask], k: int, seed: int
    ) -> list[list[Rollout]]:
        jobs = [(i, j) for i in range(len(tasks)) for j in range(k)]
        out: list[list[Rollout]] = [[] for _ in tasks]
        for wave, start in enumerate(range(0, len(jobs), self.workers)):
            part = jobs[start : start + self.workers]
            episodes = self._wave(policy, [tasks[i] for i, _ in part], seed * 1009 + wave)
            for (i, _), rollout in zip(part, episodes, strict=True):
                out[i].append(rollout)
            if self.progress is not None:
                self.progress(start + len(part), len(jobs))
        return out

    def _wave(
        self, policy: Policy, tasks: Sequence[AppWorldEpisodeTask], seed: int
    ) -> list[Rollout]:
        envs = self._pool(len(tasks))
        episodes: list[_Episode] = []
        for slot, (env, task) in enumerate(zip(envs, tasks, strict=True)):
            instruction = env.reset(task.task)
            who = supervisor_line(getattr(env, "supervisor", None))
            episodes.append(_Episode(slot, env, list(first_messages(instruction, who, task.demo))))
        with ThreadPoolExecutor(max_workers=len(envs)) as pool:
            for step in range(self.max_turns):
                active = [e for e in episodes if not e.done]
                if not active:
                    break
                contexts = [window(e.messages, self.keep_turns) for e in active]
                for e, turn in zip(
                    active, _sample(policy, contexts, seed * 31 + step), strict=True
                ):
                    e.turns.append(turn)
                    e.messages.append({"role": "assistant", "content": turn.text})
                codes = [extract_code(e.turns[-1].text) for e in active]
                outputs = list(pool.map(_execute, active, codes))
                for e, code, output in zip(active, codes, outputs, strict=True):
                    if code is None:
                        e.messages.append(no_code_message())
                        e.outputs.append("")
                    else:
                        e.messages.append(observation_message(output, self.observation_limit))
                        e.outputs.append(output)
                        if getattr(e.env, "completed", False):
                            e.done, e.status = True, "completed"
        # One at a time: grading goes through AppWorld's one shared (trusted) worker.
        results = [e.env.evaluate() for e in episodes]
        self.episodes += len(episodes)
        rollouts = []
        for e, task, result in zip(episodes, tasks, results, strict=True):
            info = {
                "task": task.name,
                "status": e.status,
                "turns": len(e.turns),
                "score": float(result.score),
                "no_code": sum(extract_code(t.text) is None for t in e.turns),
            }
            rollouts.append(Rollout(e.turns, self.reward(result), bool(result.success), info))
        return rollouts

    def close(self) -> None:
        for env in self.envs:
            close = getattr(env, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        self.envs = []

    def __enter__(self) -> AppWorldLoopEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sample(policy: Policy, contexts: list[list[Message]], seed: int) -> list[Turn]:
    """One turn per context in one `policy.sample` call. Where the contexts come in equal
    groups of identical ones (the first turn of a task's K episodes), each distinct one is
    sampled n times instead: the engine then computes its prompt once for all n."""
    keys = [repr(c) for c in contexts]
    distinct = list(dict.fromkeys(keys))
    n = len(keys) // len(distinct)
    if n > 1 and all(keys.count(k) == n for k in distinct):
        first = [contexts[keys.index(k)] for k in distinct]
        pools = {k: list(g) for k, g in zip(distinct, policy.sample(first, n, seed), strict=True)}
        return [pools[k].pop(0) for k in keys]
    return [group[0] for group in policy.sample(contexts, 1, seed)]


def _execute(episode: _Episode, code: str | None) -> str:
    return episode.env.execute(code) if code is not None else ""


def _appworld_env() -> WorldEnv:
    from sandboxes.appworld import AppWorldEnv

    env: WorldEnv = AppWorldEnv()
    return env


class PolicyLLM(BaseLLM):
    """A LOOP `Policy` behind the LLM protocol, so an existing agent (the SWE linear
    agent) plays an episode with the model being trained. Every request is one
    `policy.sample` of its messages (n samples): the policy's own temperature, token limit
    and stop strings, not the request's, since the rollout must come from the policy
    that is trained; each turn it samples is kept, in order, in `turns` (the episode's
    model turns, for the update). Seeds: `seed`, then one more per call."""

    name = "loop-policy"

    def __init__(self, policy: Policy, seed: int) -> None:
        self.policy, self.seed = policy, seed
        self.turns: list[Turn] = []

    async def _complete(self, request: Request) -> list[Completion]:
        turns = self.policy.sample([list(request.messages)], request.n, self.seed)[0]
        self.seed += 1
        self.turns.extend(turns)
        return [
            Completion(
                t.text,
                "stop" if t.eos is not None else "length",
                usage=Usage(len(t.prompt) if i == 0 else 0, len(t.tokens)),
                model=self.name,
                index=i,
            )
            for i, t in enumerate(turns)
        ]

    def cache_identity(self) -> str:
        return f"{self.name}:{id(self.policy)}"  # never cached: its weights change
