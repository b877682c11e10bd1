"""Game of 24: exact solver, checker and puzzle generator (arithmetic in `Fraction`s).

A puzzle is four integers 1..13; an answer is one expression using each of them
exactly once with + - * / and parentheses that equals 24 exactly (so 8 / (3 - 8 / 3)
counts). The checker parses the expression with `ast`, never `eval`.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

TARGET = Fraction(24)
HELDOUT = Path(__file__).parent / "data" / "heldout.json"
OPS = ("+", "-", "*", "/")


def apply(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    """`a op b`, or None for a division by zero."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


def fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


@cache
def _solve(nums: tuple[tuple[Fraction, str], ...]) -> str | None:
    if len(nums) == 1:
        return nums[0][1] if nums[0][0] == TARGET else None
    for i in range(len(nums)):
        for j in range(len(nums)):
            if i == j:
                continue
            rest = tuple(n for k, n in enumerate(nums) if k not in (i, j))
            (a, ea), (b, eb) = nums[i], nums[j]
            for op in OPS:
                if op in "+*" and i > j:
                    continue  # commutative: one order is enough
                v = apply(a, op, b)
                if v is None:
                    continue
                found = _solve(tuple(sorted((*rest, (v, f"({ea} {op} {eb})")))))
                if found is not None:
                    return found
    return None


def solve(numbers: Sequence[Fraction | int]) -> str | None:
    """An expression over `numbers` that equals 24, or None if the puzzle is impossible."""
    nums = tuple(sorted((Fraction(n), fmt(Fraction(n))) for n in numbers))
    found = _solve(nums)
    if found is None:
        return None
    return found[1:-1] if found.startswith("(") and len(numbers) > 1 else found


def solvable(numbers: Sequence[Fraction | int]) -> bool:
    return solve(numbers) is not None


def all_steps(
    numbers: Sequence[Fraction],
) -> Iterator[tuple[Fraction, str, Fraction, Fraction, list[Fraction]]]:
    """Every defined step (a, op, b, result) from `numbers`, with the numbers it leaves
    besides the result."""
    nums = list(numbers)
    for i, a in enumerate(nums):
        for j, b in enumerate(nums):
            if i == j:
                continue
            rest = [n for k, n in enumerate(nums) if k not in (i, j)]
            for op in OPS:
                v = apply(a, op, b)
                if v is not None:
                    yield a, op, b, v, rest


def next_steps(numbers: Sequence[Fraction]) -> list[tuple[Fraction, str, Fraction, Fraction]]:
    """Every (a, op, b, result) step from `numbers` that keeps the puzzle solvable."""
    return [(a, op, b, v) for a, op, b, v, rest in all_steps(numbers) if solvable([*rest, v])]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


class _Eval(ast.NodeVisitor):
    def __init__(self) -> None:
        self.leaves: list[Fraction] = []

    def value(self, node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return self.value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            self.leaves.append(Fraction(node.value))
            return Fraction(node.value)
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
            op = ops.get(type(node.op))
            if op is None:
                raise ValueError(f"operator {type(node.op).__name__} is not allowed")
            v = apply(self.value(node.left), op, self.value(node.right))
            if v is None:
                raise ValueError("division by zero")
            return v
        raise ValueError(
            f"only integers, + - * / and parentheses are allowed, not {ast.dump(node)[:40]}"
        )


def check(numbers: Sequence[int], expression: str) -> Verdict:
    """Exact verdict on an answer: uses each number once and equals 24 (Fractions)."""
    if not solvable(numbers):
        return Verdict(False, f"impossible puzzle: {' '.join(map(str, numbers))} cannot make 24")
    return check_target(numbers, 24, expression)


def check_target(numbers: Sequence[int], target: int, expression: str) -> Verdict:
    """Exact verdict on an expression that must use each of `numbers` once and equal
    `target` (the Game of 24's rule with any target: the countdown task's checker)."""
    text = expression.strip().replace("×", "*").replace("÷", "/").split("=")[0]
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return Verdict(False, f"not an arithmetic expression: {expression!r}")
    walker = _Eval()
    try:
        value = walker.value(tree)
    except ValueError as exc:
        return Verdict(False, str(exc))
    if sorted(walker.leaves) != sorted(Fraction(n) for n in numbers):
        used = " ".join(fmt(x) for x in walker.leaves)
        return Verdict(False, f"must use exactly {' '.join(map(str, numbers))}, used {used}")
    if value != target:
        return Verdict(False, f"{text.strip()} = {fmt(value)}, not {target}")
    return Verdict(True, "correct")


def generate(n: int, seed: int = 0, low: int = 1, high: int = 13) -> list[tuple[int, ...]]:
    """`n` distinct solvable puzzles (sorted 4-tuples), reproducible from `seed`."""
    rng = random.Random(seed)
    seen: set[tuple[int, ...]] = set()
    out: list[tuple[int, ...]] = []
    while len(out) < n:
        p = tuple(sorted(rng.randint(low, high) for _ in range(4)))
        if p not in seen and solvable(p):
            seen.add(p)
            out.append(p)
    return out


def load_heldout() -> list[tuple[int, ...]]:
    """The fixed held-out set of 100 solvable puzzles (data/heldout.json)."""
    return [tuple(p) for p in json.loads(HELDOUT.read_text())["puzzles"]]
