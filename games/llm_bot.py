"""An LLM as a `pyspiel.Bot`: prompt = observation + legal moves; the answer must name one.

An invalid or unparsable answer is retried (the model is told why), then a
random legal move is played; both are counted (`invalid_answers`, `fallbacks`).
"""

from __future__ import annotations

import random
import re
from typing import Any

import pyspiel

from games.render import observation_text
from games.spiel import Bot

SYSTEM = (
    "You are playing the game {game} as player {player}. Reply with exactly one move, "
    "copied from the list of legal moves, and nothing else."
)


def parse_move(answer: str, names: dict[str, int]) -> int | None:
    """The legal action an answer names: an exact name, a list number, or else the legal
    name mentioned first in the text (the longest one at that spot); case-insensitive.
    None if nothing matches."""
    text = answer.strip().strip("`'\".").strip()
    lowered = {n.lower(): a for n, a in names.items()}
    if text.lower() in lowered:
        return lowered[text.lower()]
    numbered = list(names.values())
    m = re.fullmatch(r"#?(\d+)", text)
    if m and 1 <= int(m.group(1)) <= len(numbered):
        return numbered[int(m.group(1)) - 1]
    low = text.lower()
    found = [(low.find(n), -len(n), a) for n, a in lowered.items() if n and n in low]
    return min(found)[2] if found else None


class LLMBot(Bot):
    """Asks a model (any `agents.llm` spec) for each move."""

    def __init__(self, game: pyspiel.Game, model_spec: str, seed: int, retries: int = 2) -> None:
        super().__init__()
        from agents.llm import load_llm  # the LLM layer enters only here

        self.game_name = game.get_type().long_name
        self.llm: Any = load_llm(model_spec)
        self.model_spec = model_spec
        self.retries = retries
        self._rng = random.Random(seed)
        self.invalid_answers = 0
        self.fallbacks = 0
        self.thinking = ""

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass

    def step(self, state: pyspiel.State) -> int:
        player = state.current_player()
        names: dict[str, int] = {
            state.action_to_string(player, a): a for a in state.legal_actions()
        }
        listing = "\n".join(f"{i}. {n}" for i, n in enumerate(names, 1))
        messages: list[dict[str, str]] = [
            {"role": "system", "content": SYSTEM.format(game=self.game_name, player=player)},
            {
                "role": "user",
                "content": f"{observation_text(state, player)}\n\nLegal moves:\n{listing}\n\nYour move:",
            },
        ]
        for _ in range(1 + self.retries):
            completions = self.llm.complete_sync(
                messages=messages, n=1, temperature=0.0, max_tokens=64
            )
            answer = completions[0].text if completions else ""
            action = parse_move(answer, names)
            if action is not None:
                shown = " ".join(answer.split())[:60]
                self.thinking = f"llm {self.model_spec} answered {shown!r}"
                return action
            self.invalid_answers += 1
            messages = [
                *messages,
                {"role": "assistant", "content": answer},
                {
                    "role": "user",
                    "content": f"{answer.strip()[:60]!r} is not one of the legal moves. "
                    "Reply with one move from the list, exactly as written.",
                },
            ]
        self.fallbacks += 1
        action = self._rng.choice(list(names.values()))
        self.thinking = (
            f"llm {self.model_spec}: no legal move in {1 + self.retries} answers; "
            f"played random {state.action_to_string(player, action)}"
        )
        return action
