"""A ReAct agent for AppWorld as a LangGraph graph: the model writes Python against the
apps' `apis`, the world runs it, the output is the next observation.

    think --(code)--> act --(not completed, steps left)--> think
      |  \\--(no code block: a corrective observation)--> think
      \\--(steps used up)--> END          act --(complete_task called)--> END

    episode = run_appworld_agent(llm, env, task, AppWorldAgentConfig(max_steps=10))
    episode.success, episode.steps, episode.trajectory()

The prompt, the code extraction and the observations are `sandboxes.appworld.protocol`'s
(shared with LOOP's rollouts). The environment is anything with `reset(task)`,
`execute(code)`, `evaluate()` and a `completed` flag (`AppWorldEnv`, or a fake in tests);
the agent's code only ever runs through `env.execute`, i.e. where AppWorld runs it.
Whether the task was completed is the world's word (`env.completed`, set after each
execution), not a guess from the code. Every prompt (as a prefix of the conversation),
completion, token count, code and output is kept in the episode's trajectory.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict

from agents.llm import LLM
from sandboxes.appworld.protocol import (
    extract_code,
    first_messages,
    no_code_message,
    observation_message,
)


class WorldEnv(Protocol):
    """What the agent needs of an AppWorld environment."""

    @property
    def completed(self) -> bool:
        """Whether the task's completion call (`apis.supervisor.complete_task`) happened."""
        ...

    def reset(self, task: Any) -> str:
        """A fresh world for `task`; its instruction."""
        ...

    def execute(self, code: str) -> str:
        """Run `code` in the world; its output."""
        ...

    def evaluate(self) -> Any:
        """The task's checks on the end state (an `AppWorldResult`: success, passes, ...)."""
        ...


@dataclass(frozen=True)
class AppWorldAgentConfig:
    max_steps: int = 10  # LLM turns (each a completion, and an execution when it holds code)
    temperature: float = 0.0
    max_tokens: int = 512
    observation_limit: int = 3000  # characters of an output shown to the model
    keep_turns: int | None = None  # only the last N turns in the prompt (None: all)
    demo: str | None = None  # a solved example for the first prompt (protocol.demonstration)
    seed: int | None = None
    # Generation ends with the code block's closing fence (what follows is never run).
    stop: tuple[str, ...] = ("\n```\n",)


@dataclass
class Turn:
    """One LLM turn: the prompt (the first `prompt_messages` messages of the conversation
    as sent, after windowing), the completion, its tokens, and what ran."""

    step: int
    prompt_messages: int
    completion: str
    input_tokens: int = 0
    output_tokens: int = 0
    code: str | None = None
    output: str | None = None
    completed: bool = False
    llm_seconds: float = 0.0
    env_seconds: float = 0.0


@dataclass
class AppWorldEpisode:
    instruction: str
    status: str  # completed | max steps
    steps: int
    turns: list[Turn] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)  # the whole conversation
    result: Any = None  # env.evaluate()'s answer
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return bool(getattr(self.result, "success", False))

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def input_tokens(self) -> int:
        return sum(t.input_tokens for t in self.turns)

    @property
    def output_tokens(self) -> int:
        return sum(t.output_tokens for t in self.turns)

    def trajectory(self) -> dict[str, Any]:
        """Everything for saving (JSON): the conversation, each turn, the checks."""
        result = self.result
        checks: dict[str, Any] = {}
        if result is not None:
            checks = {
                "success": bool(getattr(result, "success", False)),
                "num_tests": getattr(result, "num_tests", None),
                "passes": list(getattr(result, "passes", ())),
                "failures": [list(f) for f in getattr(result, "failures", ())],
                "answer": getattr(result, "answer", None),
                "status": getattr(result, "status", None),
            }
        return {
            "instruction": self.instruction,
            "status": self.status,
            "steps": self.steps,
            "success": self.success,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "seconds": round(self.seconds, 2),
            "messages": self.messages,
            "turns": [asdict(t) for t in self.turns],
            "checks": checks,
        }


class _State(TypedDict, total=False):
    messages: list[dict[str, str]]
    turns: list[Turn]
    pending: Turn | None
    status: str | None


def _window(messages: list[dict[str, str]], keep_turns: int | None) -> list[dict[str, str]]:
    """The opening messages (system, task) and the last `keep_turns` exchanges."""
    if keep_turns is None or len(messages) <= 2 + 2 * keep_turns:
        return messages
    return messages[:2] + messages[len(messages) - 2 * keep_turns :]


def run_appworld_agent(
    llm: LLM,
    env: WorldEnv,
    task: Any,
    config: AppWorldAgentConfig | None = None,
    supervisor: str = "",
) -> AppWorldEpisode:
    """Reset `env` to `task`, run the ReAct loop until the task is completed or
    `max_steps` turns are used, then evaluate. `supervisor` (optional) names the user;
    by default it is read from `env.supervisor` when the env has one."""
    from langgraph.graph import END, START, StateGraph

    cfg = config or AppWorldAgentConfig()
    if cfg.max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {cfg.max_steps}")
    began = time.monotonic()
    instruction = env.reset(task)
    if not supervisor:
        supervisor = _supervisor_line(getattr(env, "supervisor", None))

    def think(state: _State) -> _State:
        messages = state["messages"]
        turns = state.get("turns", [])
        prompt = _window(messages, cfg.keep_turns)
        started = time.monotonic()
        [completion] = llm.complete_sync(
            prompt,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            seed=cfg.seed,
            stop=list(cfg.stop) or None,
        )
        turn = Turn(
            step=len(turns) + 1,
            prompt_messages=len(prompt),
            completion=completion.text,
            input_tokens=completion.usage.input_tokens,
            output_tokens=completion.usage.output_tokens,
            code=extract_code(completion.text),
            llm_seconds=round(time.monotonic() - started, 3),
        )
        said = {"role": "assistant", "content": completion.text}
        if turn.code is None:
            turns = [*turns, turn]
            out: _State = {"messages": [*messages, said, no_code_message()], "turns": turns}
            if len(turns) >= cfg.max_steps:
                out["status"] = "max steps"
            return out
        return {"messages": [*messages, said], "pending": turn}

    def act(state: _State) -> _State:
        turn = state["pending"]
        assert turn is not None and turn.code is not None
        started = time.monotonic()
        turn.output = env.execute(turn.code)
        turn.env_seconds = round(time.monotonic() - started, 3)
        turn.completed = bool(env.completed)
        turns = [*state.get("turns", []), turn]
        observation = observation_message(turn.output, cfg.observation_limit)
        out: _State = {
            "messages": [*state["messages"], observation],
            "turns": turns,
            "pending": None,
        }
        if turn.completed:
            out["status"] = "completed"
        elif len(turns) >= cfg.max_steps:
            out["status"] = "max steps"
        return out

    def after_think(state: _State) -> str:
        if state.get("status"):
            return END
        return "act" if state.get("pending") else "think"

    def after_act(state: _State) -> str:
        return END if state.get("status") else "think"

    graph = StateGraph(_State)
    graph.add_node("think", think)
    graph.add_node("act", act)
    graph.add_edge(START, "think")
    graph.add_conditional_edges("think", after_think, {"act": "act", "think": "think", END: END})
    graph.add_conditional_edges("act", after_act, {"think": "think", END: END})
    compiled = graph.compile()
    start: _State = {
        "messages": first_messages(instruction, supervisor, cfg.demo),
        "turns": [],
        "pending": None,
        "status": None,
    }
    final: dict[str, Any] = dict(start)
    for update in compiled.stream(
        start, {"recursion_limit": 2 * cfg.max_steps + 5}, stream_mode="values"
    ):
        final = update
    turns: list[Turn] = list(final.get("turns") or [])
    status = final.get("status") or "max steps"
    result = env.evaluate()
    return AppWorldEpisode(
        instruction=instruction,
        status=str(status),
        steps=len(turns),
        turns=turns,
        messages=list(final.get("messages") or []),
        result=result,
        seconds=time.monotonic() - began,
    )


def _supervisor_line(supervisor: Any) -> str:
    """'First Last (email, phone)' from the env's supervisor dict, or ''."""
    if not isinstance(supervisor, dict) or not supervisor:
        return ""
    name = " ".join(str(supervisor.get(k, "")) for k in ("first_name", "last_name")).strip()
    contact = ", ".join(str(supervisor[k]) for k in ("email", "phone_number") if supervisor.get(k))
    return f"{name} ({contact})" if contact else name
