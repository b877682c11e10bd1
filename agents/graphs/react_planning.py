"""ReAct baseline for the planning tasks (Yao et al., 2023): think, act, observe, with no
lookahead. One call per move; an unusable answer is fed back and retried (bounded)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agents.graphs.env import BadAction, Env
from agents.graphs.llm_search import header, tally_rejection, user
from agents.graphs.rafa import Episode, play_to_end
from agents.llm import LLM


@dataclass(frozen=True)
class ReActConfig:
    max_steps: int = 30
    max_calls: int | None = 60
    retries: int = 2
    temperature: float = 0.0
    max_tokens: int = 64


class ReActState(TypedDict, total=False):
    memory: list[dict[str, Any]]
    ended_by: str


ACT = (
    "Think step by step in at most two sentences, then give your move on the last line "
    "as `Move: <move>`."
)


class ReActAgent:
    def __init__(self, llm: LLM, env: Env, config: ReActConfig | None = None) -> None:
        self.llm, self.env = llm, env
        self.config = config or ReActConfig()
        self.stats: Counter[str] = Counter()
        g = StateGraph(ReActState)
        g.add_node("act", self.act)
        g.add_edge(START, "act")
        g.add_conditional_edges("act", self.route)
        self.graph = g.compile()

    def act(self, state: ReActState) -> ReActState:
        env, c = self.env, self.config
        memory = state.get("memory", [])
        past = "\n".join(
            f"- {m['state']} -> {m['action']}; then: {m['happened']}" for m in memory[-6:]
        )
        prompt = f"{header('act', env, '')}\n"
        if past:
            prompt += f"Moves so far:\n{past}\n"
        prompt += f"{env.render(env.state)}\n{ACT}"
        messages = user(prompt)
        errors: list[str] = []
        for attempt in range(c.retries + 1):
            text = self.llm.complete_sync(
                messages, temperature=c.temperature, max_tokens=c.max_tokens, seed=attempt
            )[0].text
            lines = [ln for ln in text.splitlines() if ln.strip()]
            move = None
            self.stats["act_answers"] += 1
            for line in reversed(lines):  # the last line that parses
                try:
                    move = env.parse_action(env.state, line.split("Move:")[-1])
                    self.stats["move_lines"] += 1
                    break
                except BadAction as exc:
                    errors.append(str(exc))
                    tally_rejection(self.stats, str(exc))
            if move is None:
                self.stats["answers_without_move"] += 1
            if move is not None:
                before = env.state
                shown, action = env.render(before), env.action_text(before, move)
                happened, now = [], before
                for a in env.act(move):
                    happened.append(env.action_text(now, a))
                    now = env.problem.step(now, a)
                record = {
                    "step": env.steps,
                    "state": shown,
                    "thought": text.strip(),
                    "action": action,
                    "happened": ", ".join(happened),
                    "rejected": errors,
                }
                return {"memory": [*memory, record]}
            reason = errors[-1] if errors else "the answer was empty"
            messages = [
                *user(prompt),
                {"role": "assistant", "content": text},
                *user(f"That is not a usable move ({reason}). Try again; end with `Move: ...`."),
            ]
        return {"ended_by": "no_move", "memory": memory}

    def route(self, state: ReActState) -> str:
        if state.get("ended_by") or self.env.done() or self.env.steps >= self.config.max_steps:
            return END
        return "act"

    def run(self) -> Episode:
        final, ended_by = play_to_end(
            self.graph, {"memory": []}, 2 * self.config.max_steps + 10, self.env
        )
        return Episode(
            success=self.env.success(),
            steps=self.env.steps,
            ended_by=ended_by,
            trajectory=final.get("memory", []),
            outcome=self.env.summary(),
            stats=dict(self.stats),
        )
