"""A deterministic model for the BlocksWorld prompts: reads the arrangement back from the
prompt and answers with optimal moves and exact distances (plumbing tests, not a model).
`mislead=True` puts a move that does not shorten the distance first, values stay exact."""

from __future__ import annotations

import re

from agents.llm import BaseLLM, Completion, Request, Usage
from benchmarks.blocksworld.problem import (
    TABLE,
    Stacks,
    apply_move,
    canonical,
    distance_map,
    legal_moves,
)

STATE = re.compile(r"Now: (.*?)\. Goal: (.*?)\.")


def parse_description(text: str) -> Stacks:
    """Inverse of `problem.describe`."""
    stacks = []
    for clause in text.split(";"):
        stack: list[str] = []
        for part in clause.split(","):
            words = part.split()
            if words:
                stack.append(words[0])
        stacks.append(stack)
    return canonical(stacks)


class BlocksOracle(BaseLLM):
    def __init__(self, mislead: bool = False) -> None:
        self.mislead = mislead
        self.name = "oracle:blocksworld" + (":mislead" if mislead else "")
        self._dist: dict[Stacks, dict[Stacks, int]] = {}

    def answer(self, prompt: str) -> str:
        kind = prompt.split("\n", 1)[0].removeprefix("TASK: ").strip()
        found = STATE.findall(prompt)
        if not found:
            return "Nothing new."
        now, goal = parse_description(found[-1][0]), parse_description(found[-1][1])
        dist = self._dist.setdefault(goal, distance_map(goal))
        if kind == "value":
            return str(dist[now])
        moves = sorted(legal_moves(now), key=lambda m: dist[apply_move(now, m)])
        if self.mislead:
            worse = [m for m in moves if dist[apply_move(now, m)] >= dist[now]]
            moves = worse[:1] + [m for m in moves if m not in worse[:1]]
        lines = [f"move {b} onto {d if d != TABLE else 'table'}" for b, d in moves]
        if kind == "propose":
            return "\n".join(lines[:4])
        if kind == "act":
            return f"Move: {lines[0]}" if lines else "stuck"
        return "Nothing new."

    async def _complete(self, request: Request) -> list[Completion]:
        prompt = str(request.messages[0]["content"])
        text = self.answer(prompt)
        return [
            Completion(
                text,
                "stop",
                None,
                Usage(len(prompt.split()) if i == 0 else 0, len(text.split())),
                self.name,
                i,
            )
            for i in range(request.n)
        ]
