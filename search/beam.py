"""Breadth-first / beam planner for tree-of-thought style search (docs/methods.md sections 1, 5).

Layer by layer: expand every plan in the beam (all actions, or `proposals`
from a Policy), score each new state with one batched `Evaluator` call
(terminal states score their returns), keep the best `width`. Game of 24 in
Tree of Thoughts is this with breadth ~5 and LLM proposals and values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search.errors import InvalidConfigError, NoActionsError, UnsupportedProblemError
from search.problem import CHANCE, Evaluator, Policy, Problem


@dataclass(frozen=True)
class BeamConfig:
    """`width` plans kept per layer, `depth` layers, `proposals` actions tried per plan (None: all)."""

    width: int = 5
    depth: int = 3
    proposals: int | None = None
    player: int | None = None
    """Whose value ranks plans; None: the player to move at the start."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise InvalidConfigError(f"width and depth must be >= 1, got {self}")


@dataclass(frozen=True)
class Plan:
    """A sequence of actions from the start state, the state it reaches and its score."""

    actions: tuple[Any, ...]
    state: Any
    value: float
    terminal: bool


@dataclass(frozen=True)
class BeamResult:
    best: Plan
    beam: tuple[Plan, ...]
    """The final beam, best first."""
    evaluated: int
    """How many states were scored."""


def beam_search(
    problem: Problem[Any, Any],
    state: Any,
    evaluator: Evaluator[Any],
    config: BeamConfig | None = None,
    policy: Policy[Any] | None = None,
) -> BeamResult:
    """Plan `config.depth` steps ahead from `state`; return the best plan found."""
    config = config or BeamConfig()
    if problem.is_terminal(state):
        raise NoActionsError("the state is terminal: there is nothing to plan")
    player = problem.current_player(state) if config.player is None else config.player
    if player < 0:
        raise UnsupportedProblemError("beam search needs a player to rank plans for, not chance")
    beam = [Plan((), state, 0.0, False)]
    evaluated = 0
    for _ in range(config.depth):
        children: list[tuple[tuple[Any, ...], Any]] = []
        carried: list[Plan] = []
        for plan in beam:
            if plan.terminal:
                carried.append(plan)
                continue
            for action in _candidates(problem, plan.state, config, policy):
                children.append(((*plan.actions, action), problem.step(plan.state, action)))
        if not children:
            break
        scored = _score(problem, evaluator, children, player)
        evaluated += len(children)
        pool = carried + scored
        pool.sort(key=lambda p: p.value, reverse=True)  # stable: ties keep proposal order
        beam = pool[: config.width]
    if not beam[0].actions:
        raise NoActionsError("no action was available or proposed at the start state")
    return BeamResult(beam[0], tuple(beam), evaluated)


def _candidates(
    problem: Problem[Any, Any], state: Any, config: BeamConfig, policy: Policy[Any] | None
) -> Sequence[Any]:
    if problem.current_player(state) == CHANCE:
        raise UnsupportedProblemError(
            "beam search plans over deterministic steps; reached a chance node"
        )
    if policy is not None:
        k = config.proposals or len(problem.actions(state)) or 1
        seen: list[Any] = []
        for action, _ in policy.propose(state, k):
            if action not in seen:
                seen.append(action)
        return seen
    actions = list(problem.actions(state))
    return actions if config.proposals is None else actions[: config.proposals]


def _score(
    problem: Problem[Any, Any],
    evaluator: Evaluator[Any],
    children: list[tuple[tuple[Any, ...], Any]],
    player: int,
) -> list[Plan]:
    open_idx = [i for i, (_, s) in enumerate(children) if not problem.is_terminal(s)]
    values = evaluator.evaluate([children[i][1] for i in open_idx]) if open_idx else []
    by_index = dict(zip(open_idx, values, strict=True))
    plans = []
    for i, (actions, s) in enumerate(children):
        if i in by_index:
            plans.append(Plan(actions, s, float(by_index[i][player]), False))
        else:
            plans.append(Plan(actions, s, float(problem.returns(s)[player]), True))
    return plans
