"""What both graphs share: one instance's sandbox, tools, model, limits and time counters.

A step is a dict (JSON in checkpoints and trajectories): `{answer, action, observation}`
for an executed action, `{answer, error}` for an answer that did not parse.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agents.swe.actions import Action, ActionParseError, parse_action
from agents.swe.prompts import action_messages, judge_messages, parse_judgement
from agents.swe.tools import Observation, RepoTools

UNPARSABLE = "error: unparsable actions"
STOP = ["\nObservation:", "\nOBSERVATION"]  # small models go on to invent the tool's output


@dataclass(frozen=True)
class AgentConfig:
    """Limits of one instance (the CLI's --max-iterations, ...)."""

    max_iterations: int = 12
    """Actions per trajectory (linear) or per search (mcts: simulations)."""
    max_parse_errors: int = 3
    """Consecutive unparsable answers before the instance ends as an error."""
    max_tokens: int = 160
    temperature: float = 0.0
    max_depth: int = 8
    """SWE-Search: actions along one branch."""
    max_finished: int = 3
    """SWE-Search: stop after this many finished candidates."""


@dataclass
class Stats:
    llm_calls: int = 0
    model_seconds: float = 0.0
    sandbox_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "llm_calls": self.llm_calls,
            "model_seconds": round(self.model_seconds, 3),
            "sandbox_seconds": round(self.sandbox_seconds, 3),
        }


class TimedSandbox:
    """A sandbox proxy that adds each call's duration to `stats.sandbox_seconds`."""

    def __init__(self, sb: Any, stats: Stats):
        self._sb, self._stats = sb, stats
        self.workdir = sb.workdir

    def _timed(self, name: str, *args: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return getattr(self._sb, name)(*args, **kw)
        finally:
            self._stats.sandbox_seconds += time.perf_counter() - t

    def exec(self, cmd: str, timeout: float | None = None) -> Any:
        return self._timed("exec", cmd, timeout=timeout)

    def read_file(self, path: str) -> str:
        return self._timed("read_file", path)  # type: ignore[no-any-return]

    def write_file(self, path: str, content: str) -> None:
        self._timed("write_file", path, content)

    def snapshot(self) -> str:
        return self._timed("snapshot")  # type: ignore[no-any-return]

    def restore(self, sid: str) -> None:
        self._timed("restore", sid)


@dataclass
class AgentEnv:
    instance: dict
    llm: Any
    sandbox: Any
    test_cmd: str
    config: AgentConfig = field(default_factory=AgentConfig)
    judge_llm: Any = None
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.sandbox = TimedSandbox(self.sandbox, self.stats)
        self.tools = RepoTools(self.sandbox, self.test_cmd)

    def _complete(
        self, llm: Any, messages: list[dict[str, str]], temperature: float, stop: Any = None
    ) -> str:
        t = time.perf_counter()
        try:
            out = run_async(
                llm.complete(
                    messages, max_tokens=self.config.max_tokens, temperature=temperature, stop=stop
                )
            )
        finally:
            self.stats.model_seconds += time.perf_counter() - t
            self.stats.llm_calls += 1
        return str(out[0].text)

    def ask(self, steps: list[dict], feedback: list[str] | None = None) -> dict:
        """One model call for the next action: a step with `action` (not yet run) or `error`."""
        temp = self.config.temperature if not feedback else max(self.config.temperature, 0.7)
        answer = self._complete(
            self.llm, action_messages(self.instance, steps, feedback), temp, stop=STOP
        )
        try:
            action = parse_action(answer)
        except ActionParseError as exc:
            return {"answer": answer, "error": str(exc)}
        return {"answer": answer, "action": action.to_dict()}

    def execute(self, step: dict) -> dict:
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

    def judge(self, steps: list[dict], diff: str) -> dict[str, Any]:
        """LLM judge {explanation, feedback, value in -100..100} (None value if unparsable)."""
        answer = self._complete(
            self.judge_llm or self.llm, judge_messages(self.instance, steps, diff), 0.0
        )
        return parse_judgement(answer) or {
            "explanation": answer[:300],
            "feedback": "",
            "value": None,
        }


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run_async(coro: Any) -> Any:
    """Run a coroutine on one long-lived event loop thread: HTTP clients stay bound to one
    loop, and graph nodes (sync, possibly in worker threads) can call async models."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True, name="agents-llm").start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()
