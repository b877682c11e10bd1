"""LOOP's rollouts on a Ray cluster (`agents train loop --executor`).

Each iteration's rollouts are units of the run primitive, one task's K rollouts each:
the trained LoRA adapters (a few MB) go to the cluster once per iteration, every worker
process loads the starting model once and puts the adapters on it, merges them, plays
its task's K episodes with the streams the whole batch would have drawn (`play_groups`'s
`first`), and sends the rollouts back. The trainer, on the driver, then updates as it
does after local rollouts. The rollouts of an iteration are logged in
`OUT/rollouts/seed-SEED.jsonl`: a run killed mid-iteration replays the finished tasks'
rollouts instead of playing them again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.training.loop import (
    GroupEnv,
    LoopConfig,
    Rollout,
    RolloutEnv,
    Turn,
    _with_lora,
    play_groups,
)
from foundation.executors import ExecutorSpec
from foundation.runs import Row, RunLog, run_units


def rollout_row(rollout: Rollout) -> dict[str, Any]:
    return asdict(rollout)


def rollout_of(row: dict[str, Any]) -> Rollout:
    turns = [Turn(**t) for t in row["turns"]]
    return Rollout(turns, float(row["reward"]), bool(row["success"]), dict(row["info"]))


@dataclass(frozen=True)
class RayRollouts:
    """A `RolloutFn` (agents.training.loop) playing on `executor`: `base` is the model
    spec the run started from (each worker loads it once), `out` the run directory."""

    base: str
    executor: ExecutorSpec
    out: Path

    def __call__(
        self,
        peft_model: Any,
        tokenizer: Any,
        env: RolloutEnv[Any] | GroupEnv[Any],
        tasks: Sequence[Any],
        config: LoopConfig,
        seed: int,
    ) -> list[list[Rollout]]:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(peft_model)
        adapter = {k: v.detach().cpu().clone() for k, v in state.items()}
        log = RunLog(self.out / "rollouts" / f"seed-{seed}.jsonl", key=lambda r: r.get("index"))
        work = functools.partial(_play, self.base, config, env, adapter, seed)
        run_units(
            log, list(enumerate(tasks)), key=lambda u: u[0], work=work, executor=self.executor
        )
        return [[rollout_of(r) for r in log.done[i]["rollouts"]] for i in range(len(tasks))]


_MODELS: dict[tuple[str, str], tuple[Any, Any]] = {}
"""This worker process's (peft model, tokenizer), by starting model and LoRA shape."""


def _model(base: str, config: LoopConfig) -> tuple[Any, Any]:
    shape = repr((config.lora_rank, config.lora_alpha, config.lora_target))
    if (base, shape) not in _MODELS:
        from agents.training.orpo import load_trainable

        model, tokenizer = load_trainable(base)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        peft_model = _with_lora(model, config)
        peft_model.eval()
        _MODELS[(base, shape)] = (peft_model, tokenizer)
    return _MODELS[(base, shape)]


def _play(
    base: str,
    config: LoopConfig,
    env: RolloutEnv[Any] | GroupEnv[Any],
    adapter: dict[str, Any],
    seed: int,
    unit: tuple[int, Any],
) -> Row:
    """One task's K rollouts on a worker, with the iteration's adapters."""
    from peft import set_peft_model_state_dict

    index, task = unit
    peft_model, tokenizer = _model(base, config)
    set_peft_model_state_dict(peft_model, adapter)
    peft_model.merge_adapter()
    try:
        (group,) = play_groups(
            peft_model.get_base_model(), tokenizer, env, [task], config, seed, first=index
        )
    finally:
        peft_model.unmerge_adapter()
    return {"index": index, "rollouts": [rollout_row(r) for r in group]}
