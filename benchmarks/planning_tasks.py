"""The planning tasks (Game of 24, BlocksWorld, tic-tac-toe) and one runner for every agent.

`run_task("game24", "rafa", "local:smollm2", limit=10)` runs the agent on the first
`limit` instances, appends one JSON line per finished instance to
`<out>/trajectories.jsonl` (a rerun skips finished ids), and returns the summary that
`agents solve` prints: success rate, steps, LLM calls, tokens, cost.
Model `oracle` (or `oracle:mislead`) is the task's deterministic oracle model.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.graphs.env import Env
from agents.graphs.episode import AGENTS, run_episode
from agents.graphs.rafa import PRESETS, RAFAConfig
from agents.llm import BaseLLM
from foundation.jsonl import read_rows
from foundation.runs import RunLog, run_lock, run_units

Progress = Callable[[str, int, int], None]
"""`progress(line, done, total)` after each instance (logged or skipped as done)."""


class PlanningInputError(ValueError):
    """Bad input to a planning run (task, agent, option, model, run directory)."""


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
    max_calls: int = 60
    """The default LLM calls per instance (`agents solve -n`): enough for the oracle to
    finish every instance with every agent."""


def _game24(limit: int, option: str) -> list[Instance]:
    from benchmarks.game24.env import Game24Env
    from benchmarks.game24.puzzles import load_heldout

    if option:  # one given puzzle, solvable or not (the checker says which)
        puzzle = _puzzle(option)
        name = "g24-" + "-".join(map(str, puzzle))
        return [Instance(name, functools.partial(Game24Env, puzzle))]
    puzzles = load_heldout()[:limit]
    return [
        Instance(f"g24-{i:03d}", functools.partial(Game24Env, p)) for i, p in enumerate(puzzles)
    ]


def _puzzle(option: str) -> tuple[int, ...]:
    words = option.replace(",", " ").split()
    if len(words) != 4 or not all(w.isdigit() for w in words):
        raise PlanningInputError(
            f"game24 option must be four whole numbers such as '4 4 10 10', not {option!r}"
        )
    return tuple(sorted(int(w) for w in words))


def _blocksworld(limit: int, option: str) -> list[Instance]:
    from benchmarks.blocksworld.env import BlocksEnv
    from benchmarks.blocksworld.problem import generate

    blocks = _blocks(option)
    return [
        Instance(x.id, functools.partial(BlocksEnv, x)) for x in generate(limit, blocks, seed=0)
    ]


MAX_BLOCKS = 6
"""Larger worlds make the oracle's exact distance table (every arrangement) slow to build."""


def _blocks(option: str) -> int:
    if not option:
        return 4
    if not option.strip().isdigit() or not 2 <= int(option) <= MAX_BLOCKS:
        raise PlanningInputError(
            f"blocksworld option is the number of blocks, 2 to {MAX_BLOCKS}, not {option!r}"
        )
    return int(option)


def _tictactoe(limit: int, option: str) -> list[Instance]:
    from benchmarks.tictactoe.env import TicTacToeEnv

    opponent = _opponent(option)
    return [
        Instance(
            f"ttt-{opponent}-{i:03d}", functools.partial(TicTacToeEnv, opponent, seat=i % 2, seed=i)
        )
        for i in range(limit)
    ]


def _opponent(option: str) -> str:
    """The opponent bot spec, checked now (a bad spec is bad input, not a crash mid-run)."""
    import pyspiel

    from games.bots import make_bot, parse_spec
    from games.errors import BotSpecError

    spec = option or "random"
    try:
        if parse_spec(spec).kind != "llm":  # an LLM opponent is checked when it loads
            make_bot(pyspiel.load_game("tic_tac_toe"), spec, 0)
    except BotSpecError as exc:
        raise PlanningInputError(f"tictactoe option is the opponent bot: {exc}") from None
    return spec


def _g24_oracle(mislead: bool) -> BaseLLM:
    from benchmarks.game24.oracle import Game24Oracle

    return Game24Oracle(mislead)


def _bw_oracle(mislead: bool) -> BaseLLM:
    from benchmarks.blocksworld.oracle import BlocksOracle

    return BlocksOracle(mislead)


def _configs(**rafa: Any) -> dict[str, RAFAConfig]:
    """The task's planner settings on every preset; the no-planning ablation keeps
    `planner="none"` (it acts on the first proposal whatever planner the task uses)."""
    return {
        name: replace(
            cfg, **{k: v for k, v in rafa.items() if cfg.planner != "none" or k != "planner"}
        )
        for name, cfg in PRESETS.items()
    }


TASKS: dict[str, PlanningTask] = {
    "game24": PlanningTask(
        "game24", _game24, _configs(width=3, depth=3, proposals=3), _g24_oracle, 3
    ),
    "blocksworld": PlanningTask(
        "blocksworld", _blocksworld, _configs(width=3, depth=2, proposals=3), _bw_oracle, 30
    ),
    "tictactoe": PlanningTask(
        "tictactoe",
        _tictactoe,
        _configs(planner="mcts", simulations=16, proposals=3),
        None,
        max_steps=5,
        max_calls=200,
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
    resumed: int = 0
    """Instances read back from an earlier run of the same command."""
    mean_score: float | None = None
    out: str = ""
    stopped: str = ""
    """Why the run ended before its last instance ("budget": the --max-cost cap), or ""."""

    def lines(self) -> list[str]:
        score = "" if self.mean_score is None else f", mean score {self.mean_score:.3f}"
        return [
            f"{self.task} / {self.agent} / {self.model}: {self.successes}/{self.instances} "
            f"solved ({100 * self.success_rate:.1f}%){score}"
            + (f"; {self.resumed} from the earlier run" if self.resumed else ""),
            f"steps {self.mean_steps:.2f} per instance; {self.llm_calls} LLM calls "
            f"({self.llm_calls / max(self.instances, 1):.1f} per instance), {self.tokens} tokens, "
            f"${self.cost:.4f}; {self.seconds:.1f}s",
            f"ended by: {', '.join(f'{k} {v}' for k, v in sorted(self.ended_by.items()))}",
            f"trajectories: {self.out}",
            *(
                [f"stopped early: {self.stopped}; rerun the command to continue"]
                if self.stopped
                else []
            ),
        ]


def load_model(
    task: PlanningTask,
    model: str,
    base_url: str | None = None,
    max_cost: float | None = None,
    cache: bool = True,
    spent: float = 0.0,
) -> BaseLLM:
    """`oracle` / `oracle:mislead`: the task's scripted oracle; otherwise a model spec."""
    if model.split(":")[0] == "oracle":
        if task.oracle is None:
            raise PlanningInputError(f"task {task.name} has no oracle model; use a model spec")
        if model not in ("oracle", "oracle:mislead"):
            raise PlanningInputError(f"unknown oracle {model!r}; valid: oracle, oracle:mislead")
        return task.oracle(model.endswith(":mislead"))
    from agents.llm import Usage, load_llm
    from foundation.budget import Budget

    # The cap counts what earlier sessions of the run spent (`spent`), not just this one.
    budget = None if max_cost is None else Budget(dollars=max_cost)
    return load_llm(model, base_url=base_url, budget=budget, spent=Usage(cost=spent), cache=cache)


def _finished(path: Path) -> list[dict[str, Any]]:
    """The run's finished instances, in order; a torn last line is skipped."""
    return [r for r in read_rows(path) if "id" in r]


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """A run directory holds one configuration: resuming it with another is refused
    (`run.json` is written once the model has loaded)."""
    if path.is_file():
        before = json.loads(path.read_text())
        diff = [k for k in settings if before.get(k) != settings[k]]
        if diff:
            k = diff[0]
            raise PlanningInputError(
                f"{path.parent} holds a run with {k}={before.get(k)!r}, not {settings[k]!r}; "
                "rerun with the same settings to resume, or pass another --output"
            )


def run_task(
    name: str,
    agent: str,
    model: str,
    limit: int = 10,
    out: str | Path | None = None,
    max_calls: int | None = 60,
    option: str = "",
    llm: BaseLLM | None = None,
    progress: Progress | None = None,
    base_url: str | None = None,
    max_cost: float | None = None,
    cache: bool = True,
) -> Summary:
    """Run `agent` on the first `limit` instances of task `name`; resumable through `out`
    (a rerun with other settings than the run directory's `run.json` is refused).
    `max_cost` caps the run's dollars: reaching it stops the run with `stopped="budget"`."""
    if name not in TASKS:
        raise PlanningInputError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    if agent not in AGENTS:
        raise PlanningInputError(f"unknown agent {agent!r}; valid: {', '.join(AGENTS)}")
    if limit < 1:
        raise PlanningInputError(f"limit must be >= 1, got {limit}")
    task = TASKS[name]
    instances = task.instances(limit, option)  # checks the option before a model loads
    safe = model.replace("/", "_").replace(":", "_")
    out_dir = Path(out) if out else Path("runs") / name / f"{agent}-{safe}"
    settings = {"task": name, "agent": agent, "model": model, "max_calls": max_calls}
    settings["option"] = option
    _check_settings(out_dir / "run.json", settings)
    with run_lock(out_dir):
        return _run_task(
            task, instances, agent, model, out_dir, settings, max_calls, llm, progress,
            base_url, max_cost, cache,
        )  # fmt: skip


def _run_task(
    task: PlanningTask,
    instances: list[Instance],
    agent: str,
    model: str,
    out_dir: Path,
    settings: dict[str, Any],
    max_calls: int | None,
    llm: BaseLLM | None,
    progress: Progress | None,
    base_url: str | None,
    max_cost: float | None,
    cache: bool,
) -> Summary:
    name = task.name
    path = out_dir / "trajectories.jsonl"
    log = RunLog(path, key=lambda row: row.get("id"))
    done = dict(log.done)
    if llm is None and any(i.id not in done for i in instances):
        spent = sum(float(r.get("cost") or 0.0) for r in done.values())
        llm = load_model(task, model, base_url, max_cost, cache, spent)
    (out_dir / "run.json").write_text(json.dumps(settings, indent=2) + "\n")
    config = replace(
        task.configs.get(agent, RAFAConfig()), max_calls=max_calls, max_steps=task.max_steps
    )
    start = time.perf_counter()

    def solve(inst: Instance) -> dict[str, Any]:
        assert llm is not None
        began = time.perf_counter()
        episode = run_episode(llm, inst.make_env(), agent, config, max_calls)
        record = {"id": inst.id, "task": name, "agent": agent, "model": model, **episode.as_dict()}
        record["seconds"] = round(time.perf_counter() - began, 2)
        return record

    finished = 0

    def report(inst: Instance, record: dict[str, Any] | None) -> None:
        nonlocal finished
        finished += 1
        if progress is None:
            return
        if record is None:
            progress(f"{inst.id}: already done (skipped)", finished, len(instances))
            return
        verdict = record["outcome"].get("verdict")
        progress(
            f"{inst.id}: {'solved' if record['success'] else 'failed'} "
            f"({record['ended_by']}, {record['calls']} calls)"
            + (f"; checker: {verdict}" if verdict else ""),
            finished,
            len(instances),
        )

    if progress is not None:  # the work starts: the inputs and the model are good
        progress("", 0, len(instances))
    # A reached --max-cost ends the run (`stopped="budget"`); the unfinished instance is
    # not recorded, so a rerun redoes it.
    outcome = run_units(log, instances, key=lambda i: i.id, work=solve, on_row=report)
    stopped = outcome.stopped
    records = [log.done[i.id] for i in instances if i.id in log.done]
    n = len(records)
    scores = [r["outcome"].get("score") for r in records if "score" in r["outcome"]]
    summary = Summary(
        task=name,
        agent=agent,
        model=model,
        instances=n,
        successes=sum(bool(r["success"]) for r in records),
        success_rate=sum(bool(r["success"]) for r in records) / max(n, 1),
        mean_steps=sum(r["steps"] for r in records) / max(n, 1),
        llm_calls=sum(r["calls"] for r in records),
        tokens=sum(r["tokens"] for r in records),
        cost=sum(r["cost"] for r in records),
        seconds=time.perf_counter() - start,
        ended_by=dict(Counter(r["ended_by"] for r in records)),
        resumed=sum(r["id"] in done for r in records),
        mean_score=sum(scores) / len(scores) if scores else None,
        out=str(path),
        stopped=stopped,
    )
    (out_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


DEFAULT_LIMIT = 10


def default_output(task: str, agent: str, model: str, option: str = "") -> Path:
    """runs/TASK/AGENT-MODEL[-OPTION]: one directory per configuration, so reruns resume."""
    if model.startswith("scripted:"):  # the answer file's name, not its whole path
        model = "scripted:" + Path(model.split(":", 1)[1]).stem
    name = f"{agent}-{model}" + (f"-{option}" if option else "")
    return Path("runs") / task / re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def solve(task: str, options: Any) -> dict[str, Any]:
    """`agents solve --task game24|blocksworld|tictactoe` (a `benchmarks.tasks.SolveOptions`):
    the agent comes from `options.extra["agent"]` (default rafa), the option (game24: one
    puzzle; blocksworld: blocks; tictactoe: opponent) from `options.extra["option"]`, the
    per-instance LLM-call budget from `options.max_iterations` (default 60). Progress goes
    to stderr; the summary dict's "output" is what `agents solve` prints."""
    from benchmarks.progress import work_bar
    from foundation.errors import UserError

    extra = dict(getattr(options, "extra", {}) or {})
    agent = str(extra.get("agent") or "rafa")
    option = str(extra.get("option") or "").strip()
    if agent not in AGENTS:
        raise UserError(f"unknown agent {agent!r} for {task}; valid: {', '.join(AGENTS)}")
    limit = DEFAULT_LIMIT if options.limit is None else options.limit
    if limit == 0 and task == "game24":
        limit = 100  # all of the held-out set
    if limit < 1:
        raise UserError(f"--limit must be >= 1 for {task} (0 means all only for game24)")
    out = options.output or default_output(task, agent, options.model, option)
    try:
        with work_bar(f"{task} / {agent}") as update:
            summary = run_task(
                task,
                agent,
                options.model,
                limit,
                out,
                max_calls=options.max_iterations or TASKS[task].max_calls,
                option=option,
                progress=update,
                base_url=options.base_url,
                max_cost=options.max_cost,
                cache=options.cache,
            )
    except PlanningInputError as exc:
        raise UserError(str(exc)) from None
    lines = summary.lines()
    if task == "game24" and option:  # one given puzzle: say what the checker found
        last = _finished(Path(summary.out))[-1]["outcome"]
        lines.insert(1, f"answer {last['answer'] or '(none)'}; checker: {last['verdict']}")
    from benchmarks.report import write_report

    lines.append(f"report: {write_report(Path(out))}")  # the run's page (agents report)
    result = {**asdict(summary), "output": "\n".join(lines)}
    if summary.stopped:
        result["exit_code"] = 3
    return result


def solve_game24(options: Any) -> dict[str, Any]:
    return solve("game24", options)


def solve_blocksworld(options: Any) -> dict[str, Any]:
    return solve("blocksworld", options)


def solve_tictactoe(options: Any) -> dict[str, Any]:
    return solve("tictactoe", options)


def describe_run(path: str | Path, ids: Collection[str] | None = None) -> dict[str, Any]:
    """One run directory's results and diagnostics, from its trajectories.jsonl: success,
    steps, calls and seconds per instance, why episodes ended, the share of answer lines
    that named no move (unparsable) or an illegal one (invalid), of answers with no usable
    move, of value answers that said nothing usable, and how far the model's state values
    were from the exact ones (`judged` pairs): the mean absolute error, and the share of
    "disagreements", where the model's value and the exact one lie on opposite sides of
    the middle 0.5 (e.g. a solvable Game of 24 state judged more likely impossible).
    `ids`: only these instances (to compare runs on the instances all of them finished)."""
    rows = [
        r for r in _finished(Path(path) / "trajectories.jsonl") if ids is None or r["id"] in ids
    ]
    if not rows:
        raise PlanningInputError(f"no finished instances in {path}")
    n = len(rows)
    total: Counter[str] = Counter()
    judged: list[tuple[float, float]] = []
    for r in rows:
        stats = dict(r.get("stats") or {})
        judged.extend(tuple(p) for p in stats.pop("judged", []))
        total.update({k: v for k, v in stats.items() if isinstance(v, int)})
    lines = total["move_lines"] + total["unparsable_lines"] + total["invalid_lines"]
    answers = total["propose_answers"] + total["act_answers"]
    scores = [r["outcome"]["score"] for r in rows if "score" in r["outcome"]]
    seconds = [r["seconds"] for r in rows if "seconds" in r]
    return {
        "task": rows[0]["task"],
        "agent": rows[0]["agent"],
        "model": rows[0]["model"],
        "ids": [r["id"] for r in rows],
        "success": [bool(r["success"]) for r in rows],
        "score": scores or [float(bool(r["success"])) for r in rows],
        "instances": n,
        "success_rate": sum(bool(r["success"]) for r in rows) / n,
        "mean_score": sum(scores) / n if scores else None,
        "mean_steps": sum(r["steps"] for r in rows) / n,
        "llm_calls": sum(r["calls"] for r in rows),
        "mean_calls": sum(r["calls"] for r in rows) / n,
        "mean_seconds": sum(seconds) / len(seconds) if seconds else None,
        "ended_by": dict(Counter(r["ended_by"] for r in rows)),
        "answers": answers,
        "answers_without_move": total["answers_without_move"] / answers if answers else None,
        "answer_lines": lines,
        "unparsable_lines": total["unparsable_lines"] / lines if lines else None,
        "invalid_lines": total["invalid_lines"] / lines if lines else None,
        "value_samples": total["value_samples"],
        "unparsable_values": (
            total["unparsable_values"] / total["value_samples"] if total["value_samples"] else None
        ),
        "judged_states": len(judged),
        "value_error": sum(abs(v - t) for v, t in judged) / len(judged) if judged else None,
        "value_disagreement": (
            sum((v - 0.5) * (t - 0.5) < 0 for v, t in judged) / len(judged) if judged else None
        ),
    }


def paired_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Mean score of run `a` minus run `b` on the instances both finished, with the
    standard error of the paired differences (n - 1 in the variance; 0 when n < 2)."""
    sa, sb = (
        dict(zip(a["ids"], a["score"], strict=True)),
        dict(zip(b["ids"], b["score"], strict=True)),
    )
    common = [i for i in a["ids"] if i in sb]
    diffs = [sa[i] - sb[i] for i in common]
    n = len(diffs)
    mean = sum(diffs) / n if n else 0.0
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    return {"instances": n, "difference": mean, "stderr": (var / n) ** 0.5 if n else 0.0}


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "-"
    if pct:
        return f"{100 * x:.0f}%"
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def markdown_table(runs: list[dict[str, Any]]) -> str:
    head = (
        "| task | agent | model | n | success | score | steps | LLM calls (mean) | s/instance | ended by "
        "| no-move answers | unparsable lines | invalid lines | unusable values "
        "| value error | value disagreement |\n|" + "---|" * 16
    )
    rows = [
        f"| {r['task']} | {r['agent']} | {r['model']} | {r['instances']} | {_fmt(r['success_rate'], True)} "
        f"| {_fmt(r['mean_score'])} | {_fmt(r['mean_steps'])} | {r['llm_calls']} ({_fmt(r['mean_calls'])}) "
        f"| {_fmt(r['mean_seconds'])} | "
        + ", ".join(f"{k} {v}" for k, v in sorted(r["ended_by"].items()))
        + f" | {_fmt(r['answers_without_move'], True)} | {_fmt(r['unparsable_lines'], True)} "
        f"| {_fmt(r['invalid_lines'], True)} | {_fmt(r['unparsable_values'], True)} "
        f"| {_fmt(r['value_error'])} | {_fmt(r['value_disagreement'], True)} |"
        for r in runs
    ]
    return "\n".join([head, *rows])


if __name__ == "__main__":  # python -m benchmarks.planning_tasks RUN_DIR... : the table
    import sys

    print(markdown_table([describe_run(p) for p in sys.argv[1:]]))
