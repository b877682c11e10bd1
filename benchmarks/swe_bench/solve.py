"""`agents solve --task swe-bench`: solve, write predictions and artifacts, then grade.

Budget reached -> the finished instances are kept (solve.jsonl, predictions.jsonl), graded,
and the run ends with exit code 3; rerunning the same command continues where it stopped.
Ctrl-C or a kill -> everything finished so far is saved; the interrupted instance resumes
on the rerun from its LangGraph checkpoint (linear) or by replaying its search journal
(mcts: answers, judgements and tool results are not asked for or run again).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.swe_bench.dataset import Instance
from benchmarks.tasks import SolveOptions
from foundation.errors import UserError, one_line
from foundation.runs import Row
from foundation.terminal import quiet

if TYPE_CHECKING:
    from rich.console import Console

    from agents.llm import LLM, UsageMeter
    from agents.llm.remote import RemoteModel
    from benchmarks.swe_bench import RunConfig

DEFAULT_LIMIT = 1  # the embedded model needs minutes per instance on 2 cores
DEFAULT_MAX_ITERATIONS = 8
LOCAL_MAX_TOKENS = 64
"""Answer cap of the embedded model: an action fits, and on 2 busy cores each token costs
about a second, so the rambling after a 135M model's action is cut short."""
BUDGET_EXIT = 3
SETUP_EXIT = 4
"""No instance of the run could be set up (environment, repository): nothing was solved."""
USAGE_LEDGER = "usage.jsonl"


def default_output(options: SolveOptions) -> Path:
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", options.model.split("/")[-1])
    return Path("runs") / "swe-bench" / f"{model}.{options.search}"


def model_name(spec: str) -> str:
    if spec.startswith("scripted:"):
        return "scripted:" + Path(spec.split(":", 1)[1]).stem
    return spec.replace("/", "__")


def select(options: SolveOptions) -> list[Instance]:
    from benchmarks.swe_bench import DEFAULT_DATASET, load_dataset

    dataset = options.dataset or DEFAULT_DATASET
    if options.instances:
        return load_dataset(dataset, list(options.instances), split=options.split)
    instances = load_dataset(dataset, split=options.split)
    limit = DEFAULT_LIMIT if options.limit is None else options.limit
    return instances[:limit] if limit > 0 else instances


def run_config(options: SolveOptions, sandbox: str) -> RunConfig:
    """Where instances run and are graded: the dataset flags solve, eval and validate share."""
    from benchmarks.swe_bench import RunConfig
    from benchmarks.swe_bench.specs import load_specs

    return RunConfig(
        sandbox=sandbox, repos_dir=options.repos_dir, images=options.images,
        specs=load_specs(options.specs), repo_url=options.repo_url, task_repo=options.task_repo,
    )  # fmt: skip


def run_swe_bench(
    options: SolveOptions, llm: LLM | None = None, judge_llm: LLM | None = None
) -> dict[str, Any]:
    """The whole run; `llm` overrides `options.model` (tests pass a model object).
    One process at a time per output directory (`run_lock`)."""
    from benchmarks.swe_bench.noisy_oracle import oracle_for_spec
    from foundation.executors import executor_session
    from foundation.runs import run_lock
    from sandboxes import resolve_kind

    if options.search not in ("linear", "mcts"):
        raise UserError(f"--search must be linear or mcts, not {options.search!r}")
    if options.sandbox not in ("docker", "local", "auto"):
        raise UserError(f"--sandbox must be docker, local or auto, not {options.sandbox!r}")
    instances = select(options)
    llm = llm if llm is not None else oracle_for_spec(options.model, instances)  # oracle:swe,...
    # Built once, before the run: a bad --specs file is one line, not an error per instance.
    run = run_config(options, resolve_kind(options.sandbox))
    out = options.output or default_output(options)
    with run_lock(out), executor_session(options.executor):
        return _run(options, instances, run, out, llm, judge_llm)


@contextlib.contextmanager
def _models(
    options: SolveOptions, llm: LLM | None, judge_llm: LLM | None, meter: UsageMeter
) -> Iterator[tuple[LLM | None, RemoteModel | None, RemoteModel | None]]:
    """(the model for a local run, or the recipes a Ray run's workers build theirs from:
    the model's and the judge's when there is one). Usage and the dollar cap count every
    session of this run, not just this one (`meter` reads the run's ledger)."""
    from agents.llm import MeteredLLM, load_llm
    from foundation.budget import Budget
    from foundation.executors import parse_executor

    budget = None if options.max_cost is None else Budget(dollars=options.max_cost)
    if parse_executor(options.executor).kind == "local":
        if llm is None:
            llm = load_llm(
                options.model, base_url=options.base_url, budget=budget, spent=meter.spent(),
                cache=options.cache, meter=meter,
            )  # fmt: skip
        else:
            llm = MeteredLLM(llm, meter)
        yield llm, None, None
        return
    from agents.llm import LLMConfig
    from agents.llm.remote import remote_model

    config = LLMConfig(model=options.model, base_url=options.base_url, cache=options.cache)
    factory = None if llm is None else functools.partial(_same, llm)
    with contextlib.ExitStack() as stack:
        model = stack.enter_context(remote_model(config, budget, meter.spent(), factory))
        judge = None
        if judge_llm is not None:
            judge = stack.enter_context(
                remote_model(config, factory=functools.partial(_same, judge_llm))
            )
        yield None, model, judge


def _same(llm: LLM) -> LLM:
    """A model made in code, as a Ray worker unpickles it (the oracle, a test's script)."""
    return llm


def _run(
    options: SolveOptions,
    instances: list[Instance],
    run: RunConfig,
    out: Path,
    llm: LLM | None,
    judge_llm: LLM | None,
) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from agents.llm import UsageMeter
    from agents.swe.env import AgentConfig, SweSearchConfig
    from benchmarks.swe_bench.solver import SOLVE_LOG, SolveConfig, read_log, solve_all, write_json

    meter = UsageMeter(ledger=out / USAGE_LEDGER)
    name = model_name(options.model)
    iters = options.max_iterations or DEFAULT_MAX_ITERATIONS
    agent = AgentConfig(
        max_iterations=iters
        if options.search == "linear"
        else SweSearchConfig().sims_per_iteration * iters,
        max_calls=options.max_calls,
    )
    if options.model.startswith("local:"):
        agent = replace(agent, max_tokens=LOCAL_MAX_TOKENS)
    config = SolveConfig(
        search=options.search,
        agent=agent,
        workers=options.workers,
        model_name=name,
        run=run,
        record_calls=options.record_prompts,
    )
    console = Console(stderr=True, quiet=quiet())
    clock = _Clock(out / "usage.json")
    rows: dict[str, Row] = {}
    stopped = None
    exit_code = 0
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    ) as progress:  # fmt: skip
        bar = progress.add_task(f"solve {options.search} ({run.sandbox})", total=len(instances))

        def on_done(row: Row | None, iid: str) -> None:
            if row is None:
                progress.console.print(f"{iid}: already done (skipped)", highlight=False)
            else:
                progress.console.print(
                    f"{iid}: {row['status']}, {row['steps']} steps, {row.get('llm_calls', 0)} "
                    f"LLM calls, {row['seconds']:.0f}s", highlight=False,
                )  # fmt: skip
            cost = meter.summary().cost
            progress.update(
                bar, advance=1, description=f"solve {options.search} ({run.sandbox}) ${cost:.4f}"
            )

        try:
            with _models(options, llm, judge_llm, meter) as (local, remote, remote_judge):
                outcome = solve_all(
                    instances,
                    local,
                    config,
                    out,
                    on_done,
                    judge_llm if local else None,
                    executor=options.executor,
                    remote=remote,
                    remote_judge=remote_judge,
                    meter=meter,
                )
            if outcome.stopped == "budget":
                stopped = (
                    f"budget reached ({outcome.budget_message}); rerun the same command to continue"
                )
                exit_code = BUDGET_EXIT
        finally:
            rows = read_log(out / SOLVE_LOG)
            _write_usage(out, rows, meter, clock)
    if stopped:
        console.print(f"stopped: {stopped}", highlight=False)
    selected = {i["instance_id"] for i in instances}
    rows = {k: v for k, v in rows.items() if k in selected}
    setup_failed = {k: v["error"] for k, v in rows.items() if v.get("setup_failed")}
    for iid, why in setup_failed.items():
        console.print(f"{iid}: not set up: {why}", highlight=False, markup=False)
    summary: dict[str, Any] = {
        "output": str(out),
        "total": len(instances),
        "finished": len(rows),
        "with_patch": sum(1 for r in rows.values() if (r.get("model_patch") or "").strip()),
        "errors": sum(1 for r in rows.values() if r.get("error")),
        "setup_failures": len(setup_failed),
    }
    if options.evaluate and rows:
        report = _grade(instances, rows, out, name, console, run, options)
        summary["report"] = str(report)
        summary["resolved"] = len(json.loads(report.read_text())["resolved_ids"])
    usage = _write_usage(out, rows, meter, clock)
    if not exit_code and rows and len(setup_failed) == len(rows) == len(instances):
        exit_code = SETUP_EXIT
        console.print(
            f"no instance could be set up ({len(setup_failed)} of {len(instances)}); "
            "see the reasons above", highlight=False,
        )  # fmt: skip
    summary.update(usage=usage, exit_code=exit_code)
    write_json(out / "summary.json", summary)
    from benchmarks.report import write_report

    try:
        summary["html"] = str(write_report(out))  # the run's page (agents report RUN_DIR)
    except Exception as exc:  # a report that cannot be drawn must not fail a finished run
        console.print(f"report.html not written: {one_line(exc)}", highlight=False)
    return summary


def _grade(
    instances: list[Instance],
    rows: dict[str, Row],
    out: Path,
    name: str,
    console: Console,
    config: RunConfig,
    options: SolveOptions,
) -> Path:
    from benchmarks.swe_bench import RunPaths, evaluate

    preds = {
        iid: {"instance_id": iid, "model_name_or_path": r["model_name_or_path"],
              "model_patch": r["model_patch"],
              # an instance that could not be solved (environment, sandbox) is an error row
              **({"error": f"solve: {r['error']}"} if r.get("error") else {})}
        for iid, r in rows.items()
    }  # fmt: skip
    paths = RunPaths(out / "eval", "solve", name)
    done = [i for i in instances if i["instance_id"] in rows]
    report = evaluate(
        done, preds, paths, config, workers=options.workers, executor=options.executor
    )
    console.print(
        f"resolved {report['resolved_instances']}/{len(done)} "
        f"(unresolved {report['unresolved_instances']}, errors {report['error_instances']}, "
        f"empty patches {report['empty_patch_instances']})",
        highlight=False,
    )
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return paths.report


class _Clock:
    """Wall seconds of the run over every session: the last `usage.json`'s, plus this one's."""

    def __init__(self, usage_json: Path) -> None:
        import json

        try:
            before = float(json.loads(usage_json.read_text()).get("wall_seconds", 0.0))
        except (OSError, ValueError, TypeError, AttributeError):
            before = 0.0
        self.before, self.start = before, time.monotonic()

    def seconds(self) -> float:
        return self.before + time.monotonic() - self.start


def _write_usage(
    out: Path, rows: dict[str, Row], meter: UsageMeter, clock: _Clock
) -> dict[str, Any]:
    """usage.json: the run's totals over every session (the calls from the usage.jsonl
    ledger; wall time of a session killed with -9 is lost, its calls are not)."""
    from benchmarks.swe_bench.solver import write_json

    now = meter.summary()
    usage = {
        "calls": now.calls,
        "cache_hits": now.cache_hits,
        "input_tokens": now.input_tokens,
        "output_tokens": now.output_tokens,
        "cost": round(now.cost, 6),
        "wall_seconds": round(clock.seconds(), 2),
        "instances": len(rows),
        "agent_llm_calls": sum(r.get("llm_calls", 0) for r in rows.values()),
        "model_seconds": round(sum(r.get("model_seconds", 0) for r in rows.values()), 2),
        "sandbox_seconds": round(sum(r.get("sandbox_seconds", 0) for r in rows.values()), 2),
    }
    write_json(out / "usage.json", usage)
    return usage
