"""SWE-Search on the core's contract (docs/methods.md section 3): `SweProblem` (the
repository under repair), `SwePolicy` (the model proposes actions, shown its siblings'
values) and `SweEvaluator` (hybrid value: an LLM judge {explanation, feedback, value in
-100..100} and test evidence, minus a depth penalty), driven by `search.MCTS`.

A state is one node of the agent's tree: its trajectory, the sandbox snapshot of its
repository, and, when terminal, its reward. `step` restores the parent's snapshot, runs the
action and snapshots the result; a step that ends the episode is judged there (the reward
arrives with the transition, as mctx's `recurrent_fn` returns it), so `returns()` only
reads the state.

Every model answer, judgement and executed step goes through the `Journal` (one fsynced
JSON line each), keyed by its content: a hash of the request (the trajectory and feedback
the model is shown, the diff the judge rates, the action path a step runs), plus how many
times that same request was made before. A search killed mid-way and started again over
the same journal gets each answer back from it, whatever order the requests come in, and
only rebuilds a node's sandbox (the root plus the node's diff) when a new step has to run
from it. Work done before the kill is not redone.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.swe.actions import Action
from agents.swe.env import AgentEnv, SweSearchConfig
from foundation.jsonl import JsonlLog, read_rows
from search import Values


@dataclass(frozen=True)
class SweState:
    sid: int
    parent: int | None
    steps: tuple[dict[str, Any], ...]
    snapshot: str
    diff: str = ""
    status: str | None = None  # finished | rejected (terminal) or None
    patch: str | None = None
    reward: float | None = None  # a terminal state's value, judged when it was reached

    @property
    def depth(self) -> int:
        return sum(1 for s in self.steps if "observation" in s)


def test_evidence(steps: Sequence[dict[str, Any]]) -> float:
    """+1 when the latest test run after the last edit passed, -1 when it failed, else 0."""
    for s in reversed(steps):
        if "observation" not in s:
            continue
        tool = s["action"]["tool"]
        if tool in ("str_replace", "create_file") and s["observation"]["ok"]:
            return 0.0
        if tool == "run_tests":
            tests = s["observation"].get("tests")
            if tests is None:
                return -1.0 if not s["observation"]["ok"] else 0.0
            return 1.0 if tests[1] == 0 and tests[0] > 0 else -1.0
    return 0.0


def action_penalty(
    steps: Sequence[dict[str, Any]], config: SweSearchConfig = SweSearchConfig()
) -> float:
    """The paper's small penalties: a tool call that failed, or one repeated verbatim."""
    done = [s for s in steps if "observation" in s]
    if not done:
        return 0.0
    last = done[-1]
    penalty = 0.0
    if not last["observation"]["ok"] and last["action"]["tool"] != "run_tests":
        penalty += config.failed_penalty
    key = (last["action"]["tool"], repr(sorted(last["action"]["args"].items())))
    if any(
        (s["action"]["tool"], repr(sorted(s["action"]["args"].items()))) == key for s in done[:-1]
    ):
        penalty += config.repeat_penalty
    return penalty


class Journal:
    """The search's log of answers, judgements and steps, keyed by content: `answer(kind,
    request, make)` gives back what was recorded for the same request (the n-th time a
    request is made, the n-th answer to it), else records and returns `make()`'s. One fsynced JSON line each; a torn last line (killed
    mid-write) is ignored. `path` None: memory only."""

    def __init__(self, path: Path | None = None):
        self.path = path
        rows = read_rows(path) if path is not None else []
        self.events: dict[str, dict[str, Any]] = {r["key"]: r["value"] for r in rows if "key" in r}
        self._log = JsonlLog(path) if path is not None else None
        self._seen: dict[str, int] = {}
        self.replayed: dict[str, int] = {}  # kind -> answers served from the journal

    @staticmethod
    def digest(kind: str, request: object) -> str:
        text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
        return f"{kind}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"

    def _next_key(self, kind: str, request: object) -> str:
        base = self.digest(kind, request)
        n = self._seen.get(base, 0)
        self._seen[base] = n + 1
        return f"{base}:{n}"

    def answer(
        self, kind: str, request: object, make: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The journal's answer to this occurrence of `request`, or `make()`'s, recorded."""
        key = self._next_key(kind, request)
        value = self.events.get(key)
        if value is not None:
            self.replayed[kind] = self.replayed.get(kind, 0) + 1
            return value
        value = make()
        self.events[key] = value
        if self._log is not None:  # keys in their order: an action's arguments keep theirs
            self._log.append_line(json.dumps({"key": key, "value": value}, default=str))
        return value


def _path(state: SweState) -> list[dict[str, Any]]:
    """The actions from the root to `state`: a step's identity, whatever its node id."""
    return [s["action"] for s in state.steps if "observation" in s]


@dataclass
class SweEvaluator:
    """The hybrid value of a state, judged once per state (memo by node id); what it judged
    is kept for the tree export (`judgements`) and for the policy (`feedback`: the values of
    a node's children judged so far, shown to the model when it proposes a sibling)."""

    env: AgentEnv
    journal: Journal
    judgements: dict[int, dict[str, Any]] = field(default_factory=dict)
    feedback: dict[int, list[str]] = field(default_factory=dict)
    values: dict[int, float] = field(default_factory=dict)

    def evaluate(self, states: Sequence[SweState]) -> list[Values]:
        return [[0.0 if s.parent is None else self.value(s)] for s in states]

    def value(self, state: SweState) -> float:
        if state.sid in self.values:
            return self.values[state.sid]
        steps = list(state.steps)
        j = self.journal.answer(
            "judge", {"steps": steps, "diff": state.diff},
            lambda: self.env.judge(steps, state.diff),
        )  # fmt: skip
        judge = j["value"] / 100 if j["value"] is not None else 0.0
        tests = test_evidence(state.steps)
        cfg = self.env.config.search
        value = cfg.judge_weight * judge + cfg.test_weight * tests - cfg.depth_penalty * state.depth
        value -= action_penalty(state.steps, cfg)
        value = max(-1.0, min(1.0, value))
        self.judgements[state.sid] = {**j, "tests": tests, "combined": round(value, 4)}
        self._note(state, value)
        return value

    def no_patch(self, state: SweState) -> float:
        """A rejected episode, or one finished without a change."""
        self.judgements[state.sid] = {"value": -100, "explanation": "no patch", "feedback": ""}
        self._note(state, -1.0)
        return -1.0

    def _note(self, state: SweState, value: float) -> None:
        self.values[state.sid] = value
        if state.parent is None:
            return
        last = Action.from_dict(state.steps[-1]["action"])
        fb = self.judgements.get(state.sid, {}).get("feedback", "")
        self.feedback.setdefault(state.parent, []).append(
            f"{last.short()} -> value {round(100 * value)}" + (f": {fb}" if fb else "")
        )


@dataclass
class SwePolicy:
    """The model proposes the next actions of a node, one answer at a time, shown the
    values of the siblings judged so far; unparsable answers are fed back, as in linear."""

    env: AgentEnv
    journal: Journal
    evaluator: SweEvaluator
    proposals: dict[int, list[tuple[Action, float]]] = field(default_factory=dict)
    answers: dict[tuple[int, Action], str] = field(default_factory=dict)
    parse_errors: int = 0

    def propose(self, state: SweState, k: int) -> list[tuple[Action, float]]:
        have = self.proposals.setdefault(state.sid, [])
        tries = 0
        # This expansion's unparsable answers, fed back as in linear.
        errors: list[dict[str, Any]] = []
        while len(have) < k and tries < self.env.config.max_parse_errors:
            tries += 1
            shown = [*state.steps, *errors]
            feedback = self.evaluator.feedback.get(state.sid)
            step = self.journal.answer(
                "ask", {"steps": shown, "feedback": feedback},
                functools.partial(self.env.ask, shown, feedback),
            )  # fmt: skip
            if "error" in step:
                self.parse_errors += 1
                errors.append(step)
                continue
            action = Action.from_dict(step["action"])
            if any(a == action for a, _ in have):
                continue  # the same action again: ask once more
            self.answers[(state.sid, action)] = step["answer"]
            have.append((action, 1.0))
        return list(have)


@dataclass
class SweProblem:
    """The repository under repair, over one instance's sandbox (one thread at a time)."""

    env: AgentEnv
    journal: Journal
    evaluator: SweEvaluator
    answer_for: Callable[[SweState, Action], str] = lambda state, action: ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _snaps: dict[int, str] = field(default_factory=dict)

    def root(self) -> SweState:
        state = SweState(0, None, (), self.env.sandbox.snapshot())
        self._snaps[0] = state.snapshot
        return state

    def _snapshot(self, state: SweState) -> str:
        """The state's sandbox snapshot; a replayed state gets one on first use: the
        root's snapshot plus the state's diff."""
        snap = state.snapshot or self._snaps.get(state.sid)
        if not snap:
            self.env.sandbox.restore(self._snaps[0])
            self.env.apply_diff(state.diff)
            snap = self._snaps[state.sid] = self.env.sandbox.snapshot()
        return snap

    def num_players(self) -> int:
        return 1

    def current_player(self, state: SweState) -> int:
        return 0

    def actions(self, state: SweState) -> list[Action]:
        return []  # open action space: the policy proposes

    def chance_outcomes(self, state: SweState) -> list[tuple[Action, float]]:
        return []

    def is_terminal(self, state: SweState) -> bool:
        return state.status is not None or state.depth >= self.env.config.search.max_depth

    def returns(self, state: SweState) -> list[float]:
        assert state.reward is not None, "returns() of a state that is not terminal"
        return [state.reward]

    def step(self, state: SweState, action: Action) -> SweState:
        sid = next(self._ids)
        ran: dict[str, Any] = {}

        def run() -> dict[str, Any]:
            env = self.env
            env.sandbox.restore(self._snapshot(state))
            answer = self.answer_for(state, action)
            step = env.execute({"answer": answer, "action": action.to_dict()})
            ran["snapshot"] = env.sandbox.snapshot()
            return {"step": step, "diff": env.diff()}

        done = self.journal.answer("step", {"path": [*_path(state), action.to_dict()]}, run)
        status = {"finish": "finished", "reject": "rejected"}.get(action.tool)
        patch = done["step"]["observation"]["patch"] if status else None
        new = SweState(
            sid, state.sid, (*state.steps, done["step"]), ran.get("snapshot", ""),
            done["diff"], status, patch,
        )  # fmt: skip
        if not self.is_terminal(new):
            return new
        if (status == "finished" and patch) or status is None:  # a fix, or the depth limit
            reward = self.evaluator.value(new)
        else:
            reward = self.evaluator.no_patch(new)
        return replace(new, reward=reward)


@dataclass
class SweSearch:
    """The three seams over one instance, sharing one journal (`path` None: memory only)."""

    problem: SweProblem
    policy: SwePolicy
    evaluator: SweEvaluator
    journal: Journal

    @classmethod
    def build(cls, env: AgentEnv, journal_path: Path | None = None) -> SweSearch:
        journal = Journal(journal_path)
        evaluator = SweEvaluator(env, journal)
        policy = SwePolicy(env, journal, evaluator)
        problem = SweProblem(
            env, journal, evaluator, lambda s, a: policy.answers.get((s.sid, a), "")
        )
        return cls(problem, policy, evaluator, journal)

    @property
    def replayed_llm_calls(self) -> int:
        """Model answers (proposals and judgements) taken from the journal."""
        return sum(n for kind, n in self.journal.replayed.items() if kind != "step")
