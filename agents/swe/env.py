"""What both graphs share: one instance's sandbox, tools, model, limits and time counters.

A step is a dict (JSON in checkpoints and trajectories): `{answer, action, observation}`
for an executed action, `{answer, error}` for an answer that did not parse. A model with
native tool calling (`llm.supports_tools`) is offered the tools as schemas; its steps also
keep the `tool_call` ({id, name, arguments}) the action came from.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agents.llm import LLM, Completion
from agents.swe.actions import Action, ActionParseError, make_action, parse_action, tool_schemas
from agents.swe.prompts import action_messages, judge_messages, parse_judgement, tool_messages
from agents.swe.tools import Observation, RepoTools
from sandboxes import ExecResult, Sandbox

T = TypeVar("T")

UNPARSABLE = "error: unparsable actions"
STOP = ["\nObservation:", "\nOBSERVATION"]  # small models go on to invent the tool's output


@dataclass(frozen=True)
class SweSearchConfig:
    """Every setting of SWE-Search (docs/methods.md section 3) in one place: the tree's
    shape and stopping, UCT, and the hybrid value."""

    sims_per_iteration: int = 2
    """`--max-iterations N` runs N x this many simulations (each is at most one action)."""
    max_depth: int = 8
    """Actions along one branch."""
    max_finished: int = 3
    """Stop once this many episodes ended with a patch."""
    select: str = "value"
    """The final patch among the finished episodes: "value" (best mean value, then most
    visits) or "visits" (most visits, then best mean value); see `pick_candidate`."""
    c: float = 1.0
    """UCT exploration constant."""
    widening_k: float = 1.0
    widening_alpha: float = 0.5
    """Progressive widening: a node with n visits holds at most ceil(k * n**alpha) children."""
    seed: int = 0
    judge_weight: float = 0.5
    test_weight: float = 0.5
    """value = judge_weight * judge/100 + test_weight * test evidence - penalties."""
    depth_penalty: float = 0.02
    """Per action along the branch: prefer short fixes (the paper's depth penalty)."""
    failed_penalty: float = 0.1
    """The last tool call failed."""
    repeat_penalty: float = 0.1
    """The last tool call repeats an earlier one verbatim."""


@dataclass(frozen=True)
class AgentConfig:
    """Limits of one instance (the CLI's --max-iterations, ...)."""

    max_iterations: int = 12
    """Actions per trajectory (linear) or per search (mcts: simulations)."""
    max_calls: int | None = None
    """Model calls per instance (both agents; judge calls count): linear ends its
    trajectory ("max calls", its diff as the patch) before a call past it; the search
    stops at the first simulation boundary at or past it. None: no cap."""
    max_parse_errors: int = 3
    """Consecutive unparsable answers before the instance ends as an error."""
    max_tokens: int = 160
    tool_max_tokens: int = 800
    """Answer cap for models with native tool calls (an edit's JSON arguments are long)."""
    temperature: float = 0.0
    search: SweSearchConfig = field(default_factory=SweSearchConfig)
    """SWE-Search's settings (`--search mcts`)."""


@dataclass
class Stats:
    llm_calls: int = 0
    tokens: int = 0
    """Input plus output tokens of those calls."""
    model_seconds: float = 0.0
    sandbox_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "llm_calls": self.llm_calls,
            "tokens": self.tokens,
            "model_seconds": round(self.model_seconds, 3),
            "sandbox_seconds": round(self.sandbox_seconds, 3),
        }


class TimedSandbox:
    """A `Sandbox` proxy that adds each call's duration to `stats.sandbox_seconds`."""

    def __init__(self, sb: Sandbox, stats: Stats) -> None:
        self._sb, self._stats = sb, stats
        self.workdir = sb.workdir

    @contextmanager
    def _timed(self) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self._stats.sandbox_seconds += time.perf_counter() - t

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        with self._timed():
            return self._sb.exec(cmd, timeout=timeout)

    def read_file(self, path: str) -> str:
        with self._timed():
            return self._sb.read_file(path)

    def write_file(self, path: str, content: str) -> None:
        with self._timed():
            self._sb.write_file(path, content)

    def snapshot(self) -> str:
        with self._timed():
            return self._sb.snapshot()

    def restore(self, snapshot_id: str) -> None:
        with self._timed():
            self._sb.restore(snapshot_id)

    def close(self) -> None:
        """Closes the wrapped sandbox (whoever opened it usually does, by its context)."""
        self._sb.close()

    def __enter__(self) -> TimedSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class AgentEnv:
    instance: dict[str, Any]
    llm: LLM
    sandbox: Sandbox
    """The instance's sandbox; timed (a `TimedSandbox` around the one given) once built."""
    test_cmd: str
    config: AgentConfig = field(default_factory=AgentConfig)
    judge_llm: LLM | None = None
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.sandbox = TimedSandbox(self.sandbox, self.stats)
        self.tools = RepoTools(self.sandbox, self.test_cmd)

    def _call(
        self,
        llm: LLM,
        messages: list[dict[str, Any]],
        temperature: float,
        stop: Sequence[str] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> Completion:
        t = time.perf_counter()
        cap = self.config.tool_max_tokens if tools else self.config.max_tokens
        out: list[Completion] = []
        try:
            out = run_async(
                llm.complete(
                    messages,
                    max_tokens=cap,
                    temperature=temperature,
                    stop=stop,
                    tools=tools or None,
                )
            )
        finally:
            self.stats.model_seconds += time.perf_counter() - t
            self.stats.llm_calls += 1
            self.stats.tokens += sum(c.usage.input_tokens + c.usage.output_tokens for c in out)
        return out[0]

    def _complete(
        self,
        llm: LLM,
        messages: list[dict[str, Any]],
        temperature: float,
        stop: Sequence[str] | None = None,
    ) -> str:
        return self._call(llm, messages, temperature, stop).text

    @property
    def native_tools(self) -> bool:
        """Whether the agent's model is offered the tools natively (else: text format)."""
        return self.llm.supports_tools

    def ask(self, steps: list[dict[str, Any]], feedback: list[str] | None = None) -> dict[str, Any]:
        """One model call for the next action: a step with `action` (not yet run) or `error`."""
        temp = self.config.temperature if not feedback else max(self.config.temperature, 0.7)
        step = self._ask_once(steps, feedback, temp)
        if "action" in step and temp < RESAMPLE_TEMPERATURE and repeats(steps, step["action"]):
            # At temperature 0 a small model copies its last answer forever; one sample at a
            # higher temperature usually breaks the loop. Keep the repeat if it does not.
            again = self._ask_once(steps, feedback, RESAMPLE_TEMPERATURE)
            if "action" in again and not repeats(steps, again["action"]):
                return {**again, "resampled": "repeat"}
        return step

    def _ask_once(
        self, steps: list[dict[str, Any]], feedback: list[str] | None, temp: float
    ) -> dict[str, Any]:
        if self.native_tools:
            return self._ask_tools(steps, feedback, temp)
        answer = self._complete(
            self.llm, action_messages(self.instance, steps, feedback), temp, stop=STOP
        )
        try:
            action = parse_action(answer)
        except ActionParseError as exc:
            return {"answer": answer, "error": str(exc)}
        return {"answer": answer, "action": action.to_dict()}

    def _ask_tools(
        self, steps: list[dict[str, Any]], feedback: list[str] | None, temp: float
    ) -> dict[str, Any]:
        """The native-tools twin of `ask`: the action is the answer's first tool call."""
        c = self._call(
            self.llm, tool_messages(self.instance, steps, feedback), temp, tools=tool_schemas()
        )
        step: dict[str, Any] = {"answer": c.text}
        if not c.tool_calls:
            names = ", ".join(t["name"] for t in tool_schemas())
            return {**step, "error": f"no tool call: call exactly one of the tools ({names})"}
        call = c.tool_calls[0]
        step["tool_call"] = call.to_message()
        if len(c.tool_calls) > 1:
            step["ignored_calls"] = len(c.tool_calls) - 1
        if not call.valid:
            cut = c.finish_reason == "length"
            note = " (the answer was cut off at max_tokens: make it shorter)" if cut else ""
            return {**step, "error": f"{call.name}: {call.error}{note}"}
        try:
            action = make_action(call.name, call.arguments, c.text)
        except ActionParseError as exc:
            return {**step, "error": str(exc)}
        return {**step, "action": action.to_dict()}

    def execute(self, step: dict[str, Any]) -> dict[str, Any]:
        """Run the step's action in the sandbox; the step gains its observation."""
        obs: Observation = self.tools.run(Action.from_dict(step["action"]))
        return {**step, "observation": obs.to_dict()}

    def diff(self) -> str:
        return self.tools.diff()

    def apply_diff(self, diff: str) -> None:
        """Bring a fresh sandbox to a checkpointed state (resume after a kill)."""
        if not diff.strip():
            return
        self.sandbox.write_file(".git/agents_resume.diff", diff)
        r = self.sandbox.exec("git apply --whitespace=nowarn .git/agents_resume.diff")
        if r.exit_code != 0:
            raise RuntimeError(f"cannot restore the checkpointed diff: {r.stderr.strip()[:200]}")

    def judge(self, steps: list[dict[str, Any]], diff: str) -> dict[str, Any]:
        """LLM judge {explanation, feedback, value in -100..100} (None value if unparsable)."""
        answer = self._complete(
            self.judge_llm or self.llm, judge_messages(self.instance, steps, diff), 0.0
        )
        return parse_judgement(answer) or {
            "explanation": answer[:300],
            "feedback": "",
            "value": None,
        }


EDITS = ("str_replace", "create_file")
RESAMPLE_TEMPERATURE = 0.8


def repeats(steps: list[dict[str, Any]], action: dict[str, Any]) -> bool:
    """Whether `action` was already run with no edit since: its output would be the same."""
    a = Action.from_dict(action)
    for s in reversed(steps):
        if "action" not in s:
            continue
        done = Action.from_dict(s["action"])
        if done == a:
            return True
        if done.tool in EDITS:
            return False
    return False


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on one long-lived event loop thread: HTTP clients stay bound to one
    loop, and graph nodes (sync, possibly in worker threads) can call async models."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True, name="agents-llm").start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()
