"""The LLM behind the search core's seams: a `Policy` that asks for moves, an `Evaluator`
that asks for judgements (Tree of Thoughts' propose and value prompts; docs/methods.md section 5).

Each prompt starts with a `TASK:` line naming its kind (propose, value, act, reflect),
so a log reads easily and a deterministic oracle model can answer from the prompt.
Unparseable lines are dropped; an answer with no usable move is retried with the
reason fed back, up to `retries` times.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.graphs.env import BadAction, Env
from agents.llm import LLM, Message
from search import Values

UNPARSABLE = ("no step of the form", "no move of the form")
"""How the tasks' `BadAction` messages begin when a line names no move at all."""


def tally_rejection(stats: Counter[str], reason: str) -> None:
    """Count a rejected answer line: unparsable (no move in it) or an invalid move."""
    stats["unparsable_lines" if reason.startswith(UNPARSABLE) else "invalid_lines"] += 1


def user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def header(kind: str, env: Env, belief: str) -> str:
    lines = [f"TASK: {kind}", env.instructions]
    if belief:
        lines.append(f"What you have learned so far: {belief}")
    return "\n".join(lines)


def propose_prompt(env: Env, state: Any, k: int, belief: str, opponent: bool) -> str:
    who = (
        "Predict the opponent's most likely next moves"
        if opponent
        else "Propose the most promising next moves"
    )
    return (
        f"{header('propose', env, belief)}\n{env.render(state)}\n"
        f"{who}: up to {k}, one per line, best first, each in the move format above."
    )


def value_prompt(env: Env, state: Any, belief: str) -> str:
    return f"{header('value', env, belief)}\n{env.value_question(state)}"


@dataclass(frozen=True)
class SearchPrompts:
    """Sampling settings of the planner's calls (ToT: 1 call of several proposals,
    a few value samples each)."""

    temperature: float = 0.7
    value_samples: int = 3
    max_tokens: int = 48
    retries: int = 2
    seed: int = 0


class LLMPolicy:
    """`search.Policy`: moves proposed by the model, parsed by the environment, priors by rank.
    Answers are memoised per state, so a planner revisiting a state asks once."""

    def __init__(
        self, llm: LLM, env: Env, belief: str = "", prompts: SearchPrompts | None = None
    ) -> None:
        self.llm, self.env, self.belief = llm, env, belief
        self.prompts = prompts or SearchPrompts()
        self.rejected: list[str] = []
        self.stats: Counter[str] = Counter()
        """Diagnostics: answers, answer lines that were moves / unparsable / invalid,
        answers with no usable move at all."""
        self._memo: dict[Any, list[tuple[Any, float]]] = {}

    def propose(self, state: Any, k: int) -> list[tuple[Any, float]]:
        key = (self.env.render(state), k)
        if key not in self._memo:
            self._memo[key] = self._ask(state, k)
        return self._memo[key]

    def _ask(self, state: Any, k: int) -> list[tuple[Any, float]]:
        opponent = self.env.problem.current_player(state) != self.env.player
        prompt = propose_prompt(self.env, state, k, self.belief, opponent)
        messages = user(prompt)
        p = self.prompts
        for attempt in range(p.retries + 1):
            text = self.llm.complete_sync(
                messages,
                temperature=p.temperature if attempt else 0.0,
                max_tokens=p.max_tokens,
                seed=p.seed + attempt,
            )[0].text
            moves, reasons = [], []
            self.stats["propose_answers"] += 1
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    move = self.env.parse_action(state, line)
                except BadAction as exc:
                    reasons.append(str(exc))
                    tally_rejection(self.stats, str(exc))
                    continue
                self.stats["move_lines"] += 1
                if move not in moves:
                    moves.append(move)
            self.rejected.extend(reasons)
            if not moves:
                self.stats["answers_without_move"] += 1
            if moves:
                moves = moves[:k]
                total = sum(1.0 / (r + 1) for r in range(len(moves)))
                return [(m, 1.0 / (r + 1) / total) for r, m in enumerate(moves)]
            feedback = reasons[0] if reasons else "the answer was empty"
            messages = [
                *user(prompt),
                {"role": "assistant", "content": text},
                *user(f"That gives no usable move ({feedback}). Answer again in the move format."),
            ]
        return []


class LLMEvaluator:
    """`search.Evaluator`: the mean of `value_samples` judgements, as a value vector
    (one player: v in [0, 1]; two players: 2v-1 for the agent, the negation for the other).
    Unusable answers count as 0.5, the "don't know" middle."""

    def __init__(
        self, llm: LLM, env: Env, belief: str = "", prompts: SearchPrompts | None = None
    ) -> None:
        self.llm, self.env, self.belief = llm, env, belief
        self.prompts = prompts or SearchPrompts()
        self._memo: dict[str, float] = {}
        self.stats: Counter[str] = Counter()
        self.judged: list[tuple[float, float]] = []
        """Diagnostics: (the model's value, the task's exact value) for each judged state,
        when the environment offers `true_value` (it never reaches the planner)."""

    def value(self, state: Any) -> float:
        prompt = value_prompt(self.env, state, self.belief)
        if prompt not in self._memo:
            p = self.prompts
            outs = self.llm.complete_sync(
                user(prompt),
                n=p.value_samples,
                temperature=p.temperature if p.value_samples > 1 else 0.0,
                max_tokens=8,
                seed=p.seed,
            )
            vals = [self.env.parse_value(c.text) for c in outs]
            self._memo[prompt] = sum(0.5 if v is None else v for v in vals) / len(vals)
            self.stats["value_samples"] += len(vals)
            self.stats["unparsable_values"] += sum(v is None for v in vals)
            truth = getattr(self.env, "true_value", None)
            exact = truth(state) if truth is not None else None
            if exact is not None:
                self.judged.append((round(self._memo[prompt], 4), round(exact, 4)))
        return self._memo[prompt]

    def evaluate(self, states: Sequence[Any]) -> list[Values]:
        out: list[Values] = []
        players = self.env.problem.num_players()
        for s in states:
            v = self.value(s)
            if players == 1:
                out.append([v])
            else:
                vec = [1.0 - 2.0 * v] * players
                vec[self.env.player] = 2.0 * v - 1.0
                out.append(vec)
        return out


def first_legal(env: Env, state: Any, rng: random.Random) -> Any:
    """A fallback move when the model offers nothing usable: a random legal one."""
    actions = list(env.problem.actions(state))
    return rng.choice(actions) if actions else None
