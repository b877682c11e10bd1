"""SWE-Search's Problem, Policy and Evaluator for the pure MCTS core (ALGORITHMS.md section 3).

A state is one node of the agent's tree: its trajectory, the sandbox snapshot of its
repository, and whether it finished. `step` restores the parent's snapshot, runs the
action and snapshots the result. The policy asks the model for a new action, showing
the value feedback of the siblings judged so far. The value is hybrid: an LLM judge
({explanation, feedback, value in -100..100}) and test evidence, minus a depth penalty.

Every model answer, judgement and executed step is appended to a `Journal` (one JSON line
each, fsynced) as it happens. A search killed mid-way and started again over the same
journal replays it: the MCTS is deterministic given those answers (seeded), so it walks
the same tree, takes answers and observations from the journal instead of asking the
model or running the tool, and only rebuilds a node's sandbox (the root plus the node's
diff) when a new step has to run from it. Work done before the kill is not redone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.swe.actions import Action
from agents.swe.env import AgentEnv
from foundation.jsonl import JsonlLog, read_rows

DEPTH_PENALTY = 0.02  # per action: prefer short fixes (the paper's depth penalty)
JUDGE_WEIGHT, TEST_WEIGHT = 0.5, 0.5
FAILED_PENALTY, REPEAT_PENALTY = 0.1, 0.1


@dataclass(frozen=True)
class SweState:
    sid: int
    parent: int | None
    steps: tuple[dict, ...]
    snapshot: str
    diff: str = ""
    status: str | None = None  # finished | rejected (terminal) or None
    patch: str | None = None

    @property
    def depth(self) -> int:
        return sum(1 for s in self.steps if "observation" in s)


def test_evidence(steps: Sequence[dict]) -> float:
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


def action_penalty(steps: Sequence[dict]) -> float:
    """The paper's small penalties: a tool call that failed, or one repeated verbatim."""
    done = [s for s in steps if "observation" in s]
    if not done:
        return 0.0
    last = done[-1]
    penalty = 0.0
    if not last["observation"]["ok"] and last["action"]["tool"] != "run_tests":
        penalty += FAILED_PENALTY
    key = (last["action"]["tool"], repr(sorted(last["action"]["args"].items())))
    if any(
        (s["action"]["tool"], repr(sorted(s["action"]["args"].items()))) == key for s in done[:-1]
    ):
        penalty += REPEAT_PENALTY
    return penalty


class Journal:
    """The search's expansion log: answers, judgements and steps by key, one fsynced JSON
    line each; a torn last line (killed mid-write) is ignored. `path` None: memory only."""

    def __init__(self, path: Path | None = None):
        self.path = path
        rows = read_rows(path) if path is not None else []
        self.events: dict[str, Any] = {r["key"]: r["value"] for r in rows if "key" in r}
        self._log = JsonlLog(path) if path is not None else None

    def get(self, key: str) -> Any:
        return self.events.get(key)

    def put(self, key: str, value: Any) -> None:
        self.events[key] = value
        if self._log is not None:
            self._log.append({"key": key, "value": value})


@dataclass
class SweSearch:
    """Problem + Policy + Evaluator over one instance's sandbox (one thread at a time)."""

    env: AgentEnv
    max_finished: int = 3
    judgements: dict[int, dict[str, Any]] = field(default_factory=dict)
    feedback: dict[int, list[str]] = field(default_factory=dict)
    proposals: dict[int, list[tuple[Action, float]]] = field(default_factory=dict)
    answers: dict[tuple[int, Action], str] = field(default_factory=dict)
    finished: int = 0
    parse_errors: int = 0
    journal: Journal = field(default_factory=Journal)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _calls: dict[str, int] = field(default_factory=dict)
    _snaps: dict[int, str] = field(default_factory=dict)
    _served: list[str] = field(default_factory=list)

    def root(self) -> SweState:
        state = SweState(0, None, (), self.env.sandbox.snapshot())
        self._snaps[0] = state.snapshot
        return state

    @property
    def replayed_llm_calls(self) -> int:
        """Model answers taken from the journal instead of the model."""
        return sum(1 for k in self._served if not k.startswith("step:"))

    def _key(self, kind: str, sid: int) -> str:
        n = self._calls.get(f"{kind}:{sid}", 0)
        self._calls[f"{kind}:{sid}"] = n + 1
        return f"{kind}:{sid}:{n}"

    def _snapshot(self, state: SweState) -> str:
        """The state's sandbox snapshot; a replayed state gets one on first use: the
        root's snapshot plus the state's diff."""
        snap = state.snapshot or self._snaps.get(state.sid)
        if not snap:
            self.env.sandbox.restore(self._snaps[0])
            self.env.apply_diff(state.diff)
            snap = self._snaps[state.sid] = self.env.sandbox.snapshot()
        return snap

    # Problem ---------------------------------------------------------------
    def num_players(self) -> int:
        return 1

    def current_player(self, state: SweState) -> int:
        return 0

    def actions(self, state: SweState) -> list[Any]:
        return []  # open action space: the policy proposes

    def chance_outcomes(self, state: SweState) -> list[Any]:
        return []

    def is_terminal(self, state: SweState) -> bool:
        return state.status is not None or state.depth >= self.env.config.max_depth

    def step(self, state: SweState, action: Action) -> SweState:
        env = self.env
        sid = next(self._ids)
        key = f"step:{sid}"
        done = self._replay(key)
        if (
            done is not None
            and done["parent"] == state.sid
            and Action.from_dict(done["step"]["action"]) == action
        ):
            step, diff, snapshot = done["step"], done["diff"], ""
        else:
            env.sandbox.restore(self._snapshot(state))
            answer = self.answers.get((state.sid, action), "")
            step = env.execute({"answer": answer, "action": action.to_dict()})
            diff = env.diff()
            snapshot = env.sandbox.snapshot()
            self.journal.put(key, {"parent": state.sid, "step": step, "diff": diff})
        status = {"finish": "finished", "reject": "rejected"}.get(action.tool)
        patch = step["observation"]["patch"] if status else None
        return SweState(sid, state.sid, (*state.steps, step), snapshot, diff, status, patch)

    def _replay(self, key: str) -> Any:
        value = self.journal.get(key)
        if value is not None:
            self._served.append(key)
        return value

    def returns(self, state: SweState) -> list[float]:
        if state.status == "finished" and state.patch:
            self.finished += 1
            value = self._value(state)
        elif state.status is None:
            value = self._value(state)  # depth limit: judged like any leaf
        else:
            value = -1.0  # rejected, or finished without a change
            self.judgements[state.sid] = {"value": -100, "explanation": "no patch", "feedback": ""}
            self._note(state, value)
        return [value]

    # Evaluator -------------------------------------------------------------
    def evaluate(self, states: Sequence[SweState]) -> list[list[float]]:
        return [[0.0 if s.parent is None else self._value(s)] for s in states]

    def _value(self, state: SweState) -> float:
        key = self._key("judge", state.sid)
        j = self._replay(key)
        if j is None:
            j = self.env.judge(list(state.steps), state.diff)
            self.journal.put(key, j)
        judge = j["value"] / 100 if j["value"] is not None else 0.0
        tests = test_evidence(state.steps)
        value = JUDGE_WEIGHT * judge + TEST_WEIGHT * tests - DEPTH_PENALTY * state.depth
        value -= action_penalty(state.steps)
        value = max(-1.0, min(1.0, value))
        self.judgements[state.sid] = {**j, "tests": tests, "combined": round(value, 4)}
        self._note(state, value)
        return value

    def _note(self, state: SweState, value: float) -> None:
        if state.parent is None:
            return
        last = Action.from_dict(state.steps[-1]["action"])
        fb = self.judgements.get(state.sid, {}).get("feedback", "")
        self.feedback.setdefault(state.parent, []).append(
            f"{last.short()} -> value {round(100 * value)}" + (f": {fb}" if fb else "")
        )

    # Policy ----------------------------------------------------------------
    def propose(self, state: SweState, k: int) -> list[tuple[Action, float]]:
        have = self.proposals.setdefault(state.sid, [])
        tries = 0
        errors: list[dict] = []  # this expansion's unparsable answers, fed back as in linear
        while len(have) < k and tries < self.env.config.max_parse_errors:
            tries += 1
            key = self._key("ask", state.sid)
            step = self._replay(key)
            if step is None:
                step = self.env.ask([*state.steps, *errors], self.feedback.get(state.sid))
                self.journal.put(key, step)
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
