"""A deterministic model that answers the planning prompts from the puzzle itself (the
exact solver stands in for a perfect LLM): proves the agents' plumbing, not a model.
`mislead=True` puts a losing step first in every proposal list and answers ReAct with
it, while values stay exact, so planning can recover and acting on the first idea cannot.
"""

from __future__ import annotations

import re
from fractions import Fraction

from agents.llm import BaseLLM, Completion, Request, Usage
from benchmarks.game24.puzzles import all_steps, fmt, next_steps, solvable

NUMBERS = re.compile(r"Numbers left: ([-\d/ ]+)")


def _numbers(prompt: str) -> list[Fraction]:
    found = NUMBERS.findall(prompt)
    return [Fraction(t) for t in found[-1].split()] if found else []


def _losing_steps(nums: list[Fraction]) -> list[str]:
    return [
        f"{fmt(a)} {op} {fmt(b)} = {fmt(v)}"
        for a, op, b, v, rest in all_steps(nums)
        if not solvable([*rest, v])
    ]


class Game24Oracle(BaseLLM):
    def __init__(self, mislead: bool = False) -> None:
        self.mislead = mislead
        self.name = "oracle:game24" + (":mislead" if mislead else "")

    def answer(self, prompt: str) -> str:
        kind = prompt.split("\n", 1)[0].removeprefix("TASK: ").strip()
        nums = _numbers(prompt)
        good = [f"{fmt(a)} {op} {fmt(b)} = {fmt(v)}" for a, op, b, v in next_steps(nums)]
        bad = _losing_steps(nums)[:1] if self.mislead else []
        if kind == "value":
            return "sure" if nums and solvable(nums) else "impossible"
        if kind == "propose":
            return "\n".join(bad + good[:4])
        if kind == "act":
            first = (bad + good)[:1]
            return f"Move: {first[0]}" if first else "I cannot find a step."
        return "Nothing new."

    async def _complete(self, request: Request) -> list[Completion]:
        prompt = str(request.messages[-1]["content"])
        if len(request.messages) > 1:  # a retry after feedback: answer the original prompt
            prompt = str(request.messages[0]["content"])
        text = self.answer(prompt)
        usage = Usage(len(prompt.split()), len(text.split()))
        return [
            Completion(
                text, "stop", None, usage if i == 0 else Usage(0, len(text.split())), self.name, i
            )
            for i in range(request.n)
        ]
