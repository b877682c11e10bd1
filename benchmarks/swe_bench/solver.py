"""Solve SWE-bench instances: one graph run per instance, artifacts, instance-level resume.

Layout of `--output DIR`:
    solve.jsonl            one line per finished instance (status, patch, usage): the resume log
    predictions.jsonl      official predictions {instance_id, model_name_or_path, model_patch}
    trajectories/ID.json   every step (model answer, action, observation) of the instance
    trees/ID.json, .html   SWE-Search's tree (mcts only)
    search/ID.jsonl        SWE-Search's journal (answers, judgements, steps): a killed
                           search replays it instead of redoing that work (mcts only)
    checkpoints.sqlite     LangGraph checkpoints: a killed instance resumes mid-way
    usage.json             calls, tokens, cost, model vs sandbox seconds
    eval/                  the harness's logs and report (unless --no-eval)
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.swe.env import AgentConfig, AgentEnv
from benchmarks.swe_bench.dataset import Instance
from benchmarks.swe_bench.harness import RunConfig
from foundation.errors import UserError, one_line
from foundation.executors import ExecutorSpec, parse_executor
from foundation.jsonl import read_rows, write_atomic
from foundation.runs import Row, RunLog, RunOutcome, in_scratch, run_units, unpack_files

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from agents.llm import LLM, UsageMeter
    from agents.llm.remote import RemoteModel

SOLVE_LOG = "solve.jsonl"
PREDICTIONS = "predictions.jsonl"
USAGE = "unit_usage"
"""The usage of a remote unit's model calls, sent back with its row for the driver's meter
(not part of the logged row)."""


@dataclass(frozen=True)
class SolveConfig:
    search: str = "linear"  # linear | mcts
    agent: AgentConfig = field(default_factory=AgentConfig)
    workers: int = 1
    model_name: str = "agent"
    run: RunConfig = field(default_factory=RunConfig)
    """Where instances run and are graded: sandbox, images, specs, repositories."""
    record_calls: bool = True
    """Keep every model call's messages and answers in the trajectory (the run report)."""


def read_log(path: Path) -> dict[str, Row]:
    """Finished instances by id; a torn last line (killed mid-write) is ignored."""
    return {row["instance_id"]: row for row in read_rows(path) if "instance_id" in row}


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def write_predictions(out: Path, rows: Iterable[Row]) -> Path:
    """predictions.jsonl, rewritten atomically from the solve log's rows, sorted by
    instance id: the log is in the order instances finished, which differs from run to run
    when several run at once (workers, Ray), and the file should not."""
    path = out / PREDICTIONS
    keys = ("instance_id", "model_name_or_path", "model_patch")
    ordered = sorted(rows, key=lambda row: str(row["instance_id"]))
    write_atomic(path, "".join(json.dumps({k: row[k] for k in keys}) + "\n" for row in ordered))
    return path


def open_checkpointer(path: Path) -> BaseCheckpointSaver[str]:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))


def solve_instance(
    instance: Instance,
    llm: LLM,
    config: SolveConfig,
    out: Path,
    checkpointer: BaseCheckpointSaver[str] | None = None,
    judge_llm: LLM | None = None,
) -> Row:
    """Run the chosen graph on one instance in a fresh sandbox; returns its solve-log row.
    Raises what ends the whole run (budget, Ctrl-C, Docker gone); the checkpoint keeps
    the instance's progress for the rerun."""
    from benchmarks.swe_bench.environment import resolve
    from benchmarks.swe_bench.harness import open_env

    iid = instance["instance_id"]
    start = time.monotonic()
    run = config.run
    calls: list[dict[str, object]] = []
    if config.record_calls:  # the prompts and answers, for the run report
        from agents.llm.usage import CallLog

        # The judge is the agent's model unless told otherwise; its calls say "judge".
        judge_llm = CallLog(judge_llm or llm, calls, "judge")
        llm = CallLog(llm, calls)
    where = resolve(instance, run)  # EnvError: an error row, the agent never starts
    state: dict[str, Any] = {}
    env: AgentEnv | None = None
    graph: CompiledStateGraph[Any, Any, Any, Any]
    try:
        with open_env(instance, where, run) as sb:
            env = AgentEnv(instance, llm, sb, where.test_cmd, config.agent, judge_llm)
            thread: RunnableConfig = {"configurable": {"thread_id": f"{config.search}:{iid}"}}
            if config.search == "mcts":
                from agents.graphs.swe_search import build_swe_search_graph

                graph = build_swe_search_graph(
                    env, checkpointer, out / "trees" / iid, out / "search" / f"{iid}.jsonl"
                )
                limit = 20
            else:
                from agents.graphs.react import build_react_graph

                graph = build_react_graph(env, checkpointer)
                limit = 4 * config.agent.max_iterations * config.agent.max_parse_errors + 20
            run_cfg: RunnableConfig = {**thread, "recursion_limit": limit}
            saved = graph.get_state(thread) if checkpointer is not None else None
            if saved is not None and saved.values:
                # Resume: invoke(None) runs what is left, or returns the final state of a
                # finished graph. `saved.next` cannot tell the two apart: a kill after a
                # node's writes were saved but before the checkpoint after it leaves no
                # next node although the graph has not ended (it then came back with no
                # status, "incomplete"). No status yet: the sandbox needs the diff so far.
                if not saved.values.get("status"):
                    env.apply_diff(saved.values.get("diff", ""))
                state = graph.invoke(None, run_cfg)
            else:
                state = graph.invoke({"steps": [], "diff": "", "bad": 0}, run_cfg)
    finally:
        if env is not None:
            if not state and checkpointer is not None:
                try:
                    state = dict(graph.get_state(thread).values)
                except Exception:
                    state = {}
            write_json(
                out / "trajectories" / f"{iid}.json",
                {
                    "instance_id": iid,
                    "search": config.search,
                    "status": state.get("status"),
                    "steps": state.get("steps", []),
                    "patch": state.get("patch"),
                    # SWE-Search: every finished episode, to compare final-patch rules
                    **_candidates(state),
                    "stats": env.stats.as_dict(),
                    **({"calls": calls} if config.record_calls else {}),
                },
            )
    status = state.get("status") or "incomplete"
    return {
        "instance_id": iid,
        "model_name_or_path": config.model_name,
        "model_patch": state.get("patch") or "",
        "status": status,
        "search": config.search,
        "steps": sum(1 for s in state.get("steps", []) if "observation" in s),
        "seconds": round(time.monotonic() - start, 2),
        **(env.stats.as_dict() if env else {}),
        **(
            {"replayed_llm_calls": state["replayed_llm_calls"]}
            if state.get("replayed_llm_calls")
            else {}
        ),
    }


def _candidates(state: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("sid", "value", "visits", "patch")
    if "candidates" not in state:
        return {}
    return {"candidates": [{k: c[k] for k in keys} for c in state.get("candidates") or []]}


def error_row(instance: Instance, config: SolveConfig, exc: BaseException) -> Row:
    """The solve-log row of an instance that ended in an error (no patch), with the reason."""
    from benchmarks.swe_bench.environment import EnvError
    from benchmarks.swe_bench.repos import RepoError
    from foundation.errors import UserError
    from sandboxes import BuildError

    setup = (BuildError, RepoError, EnvError, UserError)
    kind = "environment" if isinstance(exc, setup) else type(exc).__name__
    reason = f"{kind}: {one_line(exc)}"
    return {
        "instance_id": instance["instance_id"],
        "model_name_or_path": config.model_name,
        "model_patch": "",
        "status": f"error: {reason}",
        "error": reason,  # grading reports the instance as an error with this reason
        "setup_failed": kind == "environment",  # never reached the agent
        "search": config.search,
        "steps": 0,
        "seconds": 0.0,
    }


def solve_remote(
    instance: Instance,
    model: RemoteModel,
    config: SolveConfig,
    judge: RemoteModel | None = None,
) -> Row:
    """`solve_instance` on a Ray worker: the model is built from its recipe (once per
    worker process), the artifacts are written to a scratch directory and sent back with
    the row (`foundation.runs.in_scratch`), with the usage of the instance's calls
    (`USAGE`). No checkpoints: an instance cut short restarts from its beginning."""
    from sandboxes.scratch import scratch_dir

    judge_llm = judge.build()[0] if judge is not None else None
    row, usage = model.metered(
        lambda llm: in_scratch(
            lambda tmp: solve_instance(instance, llm, config, tmp, None, judge_llm),
            functools.partial(scratch_dir, "solve-unit"),
        )
    )
    return {**row, USAGE: usage}


def receive_files(out: Path, row: Row, meter: UsageMeter | None) -> Row:
    """The row a remote unit sent, its files written under `out` and its usage counted in
    `meter`, without them."""
    from agents.llm.remote import add_usage

    row = unpack_files(row, out)
    usage = row.pop(USAGE, None)
    if meter is not None:
        add_usage(meter, usage)
    return row


def solve_all(
    instances: list[Instance],
    llm: LLM | None,
    config: SolveConfig,
    out: Path,
    on_done: Callable[[Row | None, str], None] | None = None,
    judge_llm: LLM | None = None,
    *,
    executor: str | ExecutorSpec = "local",
    remote: RemoteModel | None = None,
    remote_judge: RemoteModel | None = None,
    meter: UsageMeter | None = None,
) -> RunOutcome:
    """Solve every instance not yet in the solve log (`foundation.runs.run_units`); each
    finished one is appended to the log and the predictions rewritten. `on_done(row, id)`
    reports progress (row None: skipped, already done). A reached budget ends the run with
    `stopped="budget"`; the rows are then in `read_log(out / SOLVE_LOG)`.

    On a Ray `executor`, each instance is a Ray task that builds its model from `remote`
    (`agents.llm.remote`; `remote_judge` for a separate judge) instead of using `llm`;
    its artifacts and usage come back with its row and are written here (usage into
    `meter`)."""
    from agents.llm.errors import BadResponseError, LLMError
    from sandboxes import DiskFullError, SandboxUnavailable, lifecycle

    out.mkdir(parents=True, exist_ok=True)
    # An instance that could not be set up is not done: a rerun (after fixing --specs,
    # --repos-dir, ...) tries it again.
    log = RunLog(
        out / SOLVE_LOG,
        key=lambda row: None if row.get("setup_failed") else row.get("instance_id"),
    )
    spec = parse_executor(executor)
    if spec.kind != "local" and remote is None:
        raise UserError("a Ray executor needs the model's recipe (RemoteModel), not a model")
    checkpointer = open_checkpointer(out / "checkpoints.sqlite") if spec.kind == "local" else None

    def fatal(exc: Exception) -> bool:
        if isinstance(exc, BadResponseError):
            return False  # one garbled answer: this instance's problem
        if isinstance(exc, (LLMError, SandboxUnavailable, DiskFullError)):
            return True  # no key, server down, Docker gone, disk full: every instance would fail
        return lifecycle.stopping()  # its sandbox was closed by SIGTERM: not the instance's

    def appended(inst: Instance, row: Row | None) -> None:
        if row is not None:
            write_predictions(out, log.done.values())
        if on_done:
            on_done(row, inst["instance_id"])

    work: Callable[[Instance], Row]
    receive: Callable[[Instance, Row], Row] | None = None
    receive_error: Callable[[Instance, BaseException], None] | None = None
    if remote is not None and spec.kind != "local":
        from agents.llm.remote import add_usage, usage_of

        work = functools.partial(solve_remote, model=remote, config=config, judge=remote_judge)
        receive = lambda _, row: receive_files(out, row, meter)  # noqa: E731
        if meter is not None:  # an instance that raised spent calls too (as a local run counts)
            receive_error = lambda _, exc: add_usage(meter, usage_of(exc))  # noqa: E731
    else:
        assert llm is not None, "a local run needs its model"
        work = lambda inst: solve_instance(inst, llm, config, out, checkpointer, judge_llm)  # noqa: E731
    try:
        return run_units(
            log, instances, key=lambda i: i["instance_id"], work=work,
            workers=config.workers, executor=spec,
            error_row=lambda inst, exc: error_row(inst, config, exc),
            fatal=fatal, on_row=appended, receive=receive, receive_error=receive_error,
        )  # fmt: skip
    finally:
        write_predictions(out, log.done.values())
