"""The planning tasks (Game of 24, BlocksWorld, tic-tac-toe) and one runner for every agent.

`run_task("game24", "rafa", "local:smollm2", limit=10)` runs the agent on the first
`limit` instances, appends one JSON line per finished instance to
`<out>/trajectories.jsonl` (a rerun skips finished ids), and returns the summary that
`agents solve` prints: success rate, steps, LLM calls, tokens, cost.
Model `oracle` (or `oracle:mislead`) is the task's deterministic oracle model.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.graphs.env import Env
from agents.graphs.rafa import PRESETS, Episode, RAFAAgent, RAFAConfig
from agents.graphs.react_planning import ReActAgent, ReActConfig
from agents.llm import BaseLLM

AGENTS = ("rafa", "tot", "react", "noplan")


@dataclass(frozen=True)
class Instance:
    id: str
    make_env: Callable[[], Env]


@dataclass(frozen=True)
class PlanningTask:
    name: str
    instances: Callable[[int, str], list[Instance]]
    """(limit, option) -> the first `limit` instances; option: tic-tac-toe's opponent."""
    configs: dict[str, RAFAConfig]
    """Per-agent planner settings for this task (ToT/RAFA breadth, depth)."""
    oracle: Callable[[bool], BaseLLM] | None = None
    max_steps: int = 30


def _game24(limit: int, option: str) -> list[Instance]:
    from benchmarks.game24.env import Game24Env
    from benchmarks.game24.puzzles import load_heldout

    puzzles = load_heldout()[:limit]
    return [Instance(f"g24-{i:03d}", lambda p=p: Game24Env(p)) for i, p in enumerate(puzzles)]


def _blocksworld(limit: int, option: str) -> list[Instance]:
    from benchmarks.blocksworld.env import BlocksEnv
    from benchmarks.blocksworld.problem import generate

    blocks = int(option) if option else 4
    return [Instance(x.id, lambda x=x: BlocksEnv(x)) for x in generate(limit, blocks, seed=0)]


def _tictactoe(limit: int, option: str) -> list[Instance]:
    from benchmarks.tictactoe.env import TicTacToeEnv

    opponent = option or "random"
    return [
        Instance(f"ttt-{opponent}-{i:03d}", lambda i=i: TicTacToeEnv(opponent, seat=i % 2, seed=i))
        for i in range(limit)
    ]


def _g24_oracle(mislead: bool) -> BaseLLM:
    from benchmarks.game24.oracle import Game24Oracle

    return Game24Oracle(mislead)


def _bw_oracle(mislead: bool) -> BaseLLM:
    from benchmarks.blocksworld.oracle import BlocksOracle

    return BlocksOracle(mislead)


def _configs(**rafa: Any) -> dict[str, RAFAConfig]:
    return {name: replace(cfg, **rafa) for name, cfg in PRESETS.items()}


TASKS: dict[str, PlanningTask] = {
    "game24": PlanningTask(
        "game24", _game24, _configs(width=3, depth=3, proposals=3), _g24_oracle, 3
    ),
    "blocksworld": PlanningTask(
        "blocksworld", _blocksworld, _configs(width=3, depth=2, proposals=3), _bw_oracle, 30
    ),
    "tictactoe": PlanningTask(
        "tictactoe", _tictactoe, _configs(planner="mcts", simulations=16, proposals=3), None, 5
    ),
}


@dataclass
class Summary:
    task: str
    agent: str
    model: str
    instances: int
    successes: int
    success_rate: float
    mean_steps: float
    llm_calls: int
    tokens: int
    cost: float
    seconds: float
    ended_by: dict[str, int] = field(default_factory=dict)
    mean_score: float | None = None
    out: str = ""

    def lines(self) -> list[str]:
        score = "" if self.mean_score is None else f", mean score {self.mean_score:.3f}"
        return [
            f"{self.task} / {self.agent} / {self.model}: {self.successes}/{self.instances} "
            f"solved ({100 * self.success_rate:.1f}%){score}",
            f"steps {self.mean_steps:.2f} per instance; {self.llm_calls} LLM calls "
            f"({self.llm_calls / max(self.instances, 1):.1f} per instance), {self.tokens} tokens, "
            f"${self.cost:.4f}; {self.seconds:.1f}s",
            f"ended by: {', '.join(f'{k} {v}' for k, v in sorted(self.ended_by.items()))}",
            f"trajectories: {self.out}",
        ]


def load_model(task: PlanningTask, model: str) -> BaseLLM:
    if model.split(":")[0] == "oracle":
        if task.oracle is None:
            raise ValueError(f"task {task.name} has no oracle model; use a model spec")
        return task.oracle(model.endswith(":mislead"))
    from agents.llm import load_llm

    return load_llm(model)


def run_episode(
    llm: BaseLLM,
    env: Env,
    agent: str,
    config: RAFAConfig | None = None,
    max_calls: int | None = None,
) -> Episode:
    """One agent on one environment with a fresh call budget and usage meter."""
    from agents.graphs.llm_search import CallBudget
    from agents.llm import MeteredLLM, UsageMeter

    meter = UsageMeter()
    budgeted = CallBudget(llm, max_calls)
    metered = MeteredLLM(budgeted, meter)
    if agent == "react":
        episode = ReActAgent(metered, env, ReActConfig(max_calls=max_calls)).run()
    else:
        episode = RAFAAgent(metered, env, config or PRESETS[agent]).run()
    used = meter.summary()
    episode.calls = used.calls
    episode.tokens = used.input_tokens + used.output_tokens
    episode.cost = used.cost
    return episode


def _done_ids(path: Path) -> Iterator[dict[str, Any]]:
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def run_task(
    name: str,
    agent: str,
    model: str,
    limit: int = 10,
    out: str | Path | None = None,
    max_calls: int | None = 60,
    option: str = "",
    llm: BaseLLM | None = None,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Run `agent` on the first `limit` instances of task `name`; resumable through `out`."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; valid: {', '.join(AGENTS)}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    task = TASKS[name]
    safe = model.replace("/", "_").replace(":", "_")
    out_dir = Path(out) if out else Path("runs") / name / f"{agent}-{safe}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "trajectories.jsonl"
    done = {r["id"]: r for r in _done_ids(path)}
    llm = llm or load_model(task, model)
    config = replace(
        task.configs.get(agent, RAFAConfig()), max_calls=max_calls, max_steps=task.max_steps
    )
    start = time.perf_counter()
    records = []
    for inst in task.instances(limit, option):
        if inst.id in done:
            records.append(done[inst.id])
            continue
        episode = run_episode(llm, inst.make_env(), agent, config, max_calls)
        record = {"id": inst.id, "task": name, "agent": agent, "model": model, **episode.as_dict()}
        with path.open("a") as f:  # one line per finished instance: a crash loses nothing
            f.write(json.dumps(record, default=str) + "\n")
        records.append(record)
        if progress:
            progress(
                f"{inst.id}: {'solved' if episode.success else 'failed'} ({episode.ended_by}, {episode.calls} calls)"
            )
    n = len(records)
    scores = [r["outcome"].get("score") for r in records if "score" in r["outcome"]]
    summary = Summary(
        task=name,
        agent=agent,
        model=model,
        instances=n,
        successes=sum(bool(r["success"]) for r in records),
        success_rate=sum(bool(r["success"]) for r in records) / n,
        mean_steps=sum(r["steps"] for r in records) / n,
        llm_calls=sum(r["calls"] for r in records),
        tokens=sum(r["tokens"] for r in records),
        cost=sum(r["cost"] for r in records),
        seconds=time.perf_counter() - start,
        ended_by=dict(Counter(r["ended_by"] for r in records)),
        mean_score=sum(scores) / len(scores) if scores else None,
        out=str(path),
    )
    (out_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def solve(task: str, options: Any) -> dict[str, Any]:
    """`agents solve --task game24|blocksworld|tictactoe` (a `benchmarks.tasks.SolveOptions`):
    the agent comes from `options.extra["agent"]` (default rafa), the opponent or block
    count from `options.extra["option"]`, the per-instance call budget from
    `options.max_iterations` (default 60)."""
    from agents.errors import UserError

    extra = dict(getattr(options, "extra", {}) or {})
    agent = str(extra.get("agent") or "rafa")
    limit = options.limit or 10
    out = (
        options.output
        or Path("runs") / task / f"{agent}-{options.model.replace(':', '_').replace('/', '_')}"
    )
    try:
        summary = run_task(
            task,
            agent,
            options.model,
            limit,
            out,
            max_calls=options.max_iterations or 60,
            option=str(extra.get("option") or ""),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return {**asdict(summary), "output": "\n".join(summary.lines())}


def solve_game24(options: Any) -> dict[str, Any]:
    return solve("game24", options)


def solve_blocksworld(options: Any) -> dict[str, Any]:
    return solve("blocksworld", options)


def solve_tictactoe(options: Any) -> dict[str, Any]:
    return solve("tictactoe", options)
