"""BlocksWorld: instance generator, move validator and optimal plan length by BFS.

A state is a set of stacks, each bottom to top, kept as a sorted tuple of tuples so
equal arrangements compare equal. A move takes a clear block onto the table or onto
another clear block. Blocks are named A, B, C, ...
"""

from __future__ import annotations

import itertools
import random
import string
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Stacks = tuple[tuple[str, ...], ...]
Move = tuple[str, str]
"""(block, destination): a block name or "table"."""
TABLE = "table"


def canonical(stacks: Sequence[Sequence[str]]) -> Stacks:
    return tuple(sorted(tuple(s) for s in stacks if s))


class InvalidMove(ValueError):
    pass


def validate(stacks: Stacks, move: Move) -> None:
    """Raise `InvalidMove` saying why `move` is illegal in `stacks`."""
    block, dest = move
    tops = {s[-1] for s in stacks}
    blocks = {b for s in stacks for b in s}
    if block not in blocks:
        raise InvalidMove(f"there is no block {block}")
    if block not in tops:
        raise InvalidMove(f"{block} is not clear (something is on top of it)")
    if dest == block:
        raise InvalidMove(f"{block} cannot go onto itself")
    if dest == TABLE:
        if any(s == (block,) for s in stacks):
            raise InvalidMove(f"{block} is already on the table")
        return
    if dest not in blocks:
        raise InvalidMove(f"there is no block {dest}")
    if dest not in tops:
        raise InvalidMove(f"{dest} is not clear (something is on top of it)")


def apply_move(stacks: Stacks, move: Move) -> Stacks:
    validate(stacks, move)
    block, dest = move
    out = [list(s) for s in stacks]
    for s in out:
        if s and s[-1] == block:
            s.pop()
            break
    if dest == TABLE:
        out.append([block])
    else:
        next(s for s in out if s and s[-1] == dest).append(block)
    return canonical(out)


def legal_moves(stacks: Stacks) -> list[Move]:
    tops = [s[-1] for s in stacks]
    moves: list[Move] = []
    for s in stacks:
        b = s[-1]
        if len(s) > 1:
            moves.append((b, TABLE))
        moves.extend((b, t) for t in tops if t != b)
    return moves


def optimal_length(start: Stacks, goal: Stacks) -> int:
    """Fewest moves from `start` to `goal` (breadth-first search)."""
    if start == goal:
        return 0
    seen = {start}
    frontier = deque([(start, 0)])
    while frontier:
        s, d = frontier.popleft()
        for m in legal_moves(s):
            t = apply_move(s, m)
            if t == goal:
                return d + 1
            if t not in seen:
                seen.add(t)
                frontier.append((t, d + 1))
    raise ValueError("goal unreachable: start and goal hold different blocks")


def distance_map(goal: Stacks) -> dict[Stacks, int]:
    """Optimal distance to `goal` from every arrangement of its blocks (BFS backwards;
    moves are reversible, so forward and backward distances agree)."""
    dist = {goal: 0}
    frontier = deque([goal])
    while frontier:
        s = frontier.popleft()
        for m in legal_moves(s):
            t = apply_move(s, m)
            if t not in dist:
                dist[t] = dist[s] + 1
                frontier.append(t)
    return dist


def random_state(blocks: Sequence[str], rng: random.Random) -> Stacks:
    order = list(blocks)
    rng.shuffle(order)
    stacks: list[list[str]] = []
    for b in order:
        k = rng.randrange(len(stacks) + 1)
        if k == len(stacks):
            stacks.append([b])
        else:
            stacks[k].append(b)
    return canonical(stacks)


@dataclass(frozen=True)
class Instance:
    id: str
    start: Stacks
    goal: Stacks
    optimal: int


def generate(n: int, blocks: int = 4, seed: int = 0, min_moves: int = 2) -> list[Instance]:
    """`n` instances over `blocks` blocks whose optimal plan needs >= `min_moves` moves."""
    rng = random.Random(seed)
    names = string.ascii_uppercase[:blocks]
    out: list[Instance] = []
    seen: set[tuple[Stacks, Stacks]] = set()
    while len(out) < n:
        start, goal = random_state(names, rng), random_state(names, rng)
        if (start, goal) in seen:
            continue
        seen.add((start, goal))
        k = optimal_length(start, goal)
        if k >= min_moves:
            out.append(Instance(f"bw{blocks}-{seed}-{len(out)}", start, goal, k))
    return out


def describe(stacks: Stacks) -> str:
    """`A on table, B on A; C on table` style text, one clause per stack."""
    parts = []
    for s in stacks:
        words = [f"{s[0]} on the table"] + [f"{b} on {a}" for a, b in itertools.pairwise(s)]
        parts.append(", ".join(words))
    return "; ".join(parts)


class BlocksProblem:
    """`search.Problem`: one player; return 1 on reaching the goal."""

    def __init__(self, goal: Stacks) -> None:
        self.goal = goal

    def num_players(self) -> int:
        return 1

    def current_player(self, state: Stacks) -> int:
        return 0

    def actions(self, state: Stacks) -> list[Move]:
        return legal_moves(state)

    def step(self, state: Stacks, action: Move) -> Stacks:
        return apply_move(state, action)

    def is_terminal(self, state: Stacks) -> bool:
        return state == self.goal

    def returns(self, state: Stacks) -> list[float]:
        return [1.0 if state == self.goal else 0.0]

    def chance_outcomes(self, state: Stacks) -> list[tuple[Any, float]]:
        return []
