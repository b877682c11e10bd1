"""LOOP's swe-mini environment: one episode = the linear repository agent on one instance,
with the policy being trained as its model, graded by the harness.

`SweLoopEnv.run(policy, instance_id, seed)` solves the instance in a fresh sandbox
(`benchmarks.swe_bench.solver.solve_instance`, the same agent, prompts and action format
as `agents solve --task swe-bench --search linear`), the model's every answer sampled by
`policy` through `agents.training.loop_envs.PolicyLLM` (which keeps the sampled turns for
the update), then grades the final patch with the SWE-bench harness in another fresh
sandbox (`harness.run_instance`). Reward 1.0 when the instance resolves, else 0.0 (an
empty patch is not graded). What the model writes runs only in the sandboxes.

An episode that cannot start (the instance's environment does not build, the sandbox is
unavailable) raises: training on a task that cannot run would only train on nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.training.loop import Policy, Rollout
from agents.training.loop_envs import PolicyLLM
from benchmarks.swe_bench.dataset import Instance, load_dataset

DEFAULT_STEPS = 8


class SweLoopEnv:
    """K episodes per instance come from K calls of `run` (a `RolloutEnv`); each has its
    own sandbox. `max_iterations`: agent steps per episode; `sandbox`: docker, local or
    auto; `instances`: the dataset's instances (default: swe-mini's)."""

    def __init__(
        self,
        sandbox: str = "auto",
        max_iterations: int = DEFAULT_STEPS,
        max_tokens: int = 256,
        instances: Sequence[Instance] | None = None,
    ) -> None:
        from agents.swe.env import AgentConfig
        from benchmarks.swe_bench import RunConfig
        from sandboxes import resolve_kind

        found = list(instances) if instances is not None else load_dataset("swe-mini")
        self.instances = {i["instance_id"]: i for i in found}
        self.run_config = RunConfig(sandbox=resolve_kind(sandbox))
        self.agent = AgentConfig(max_iterations=max_iterations, max_tokens=max_tokens)

    def run(self, policy: Policy, task: str, seed: int) -> Rollout:
        from benchmarks.swe_bench.harness import run_instance
        from benchmarks.swe_bench.solver import SolveConfig, solve_instance

        if task not in self.instances:
            raise ValueError(f"swe-mini has no instance {task!r}")
        instance = self.instances[task]
        llm = PolicyLLM(policy, seed)
        config = SolveConfig(
            search="linear", agent=self.agent, model_name="loop", run=self.run_config
        )
        with tempfile.TemporaryDirectory(prefix="loop-swe-") as tmp:
            row = solve_instance(instance, llm, config, Path(tmp))
            patch = str(row.get("model_patch") or "")
            info: dict[str, Any] = {"status": row.get("status"), "steps": row.get("steps", 0)}
            resolved = False
            if patch.strip():
                prediction = {
                    "instance_id": task,
                    "model_name_or_path": "loop",
                    "model_patch": patch,
                }
                result = run_instance(instance, prediction, Path(tmp) / "eval", self.run_config)
                resolved = result.status == "resolved"
                info["graded"] = result.status
        if not llm.turns:
            raise ValueError(
                f"{task}: the agent never asked the model (status {row.get('status')})"
            )
        return Rollout(llm.turns, 1.0 if resolved else 0.0, resolved, info)


def swe_tasks(instances: Sequence[str] = ()) -> list[str]:
    """The swe-mini instance ids to train on (all of them, or `instances`, which must exist)."""
    ids = [i["instance_id"] for i in load_dataset("swe-mini")]
    unknown = [i for i in instances if i not in ids]
    if unknown:
        raise ValueError(f"swe-mini has no instance {unknown[0]!r}; it has {', '.join(ids)}")
    return list(instances) or ids
