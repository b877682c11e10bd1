"""`agents solve --task appworld`: the AppWorld ReAct agent (`agents/graphs/appworld.py`) on
appworld-mini (`--split train|dev|test`) or, with `--appworld-data DIR`, on the official tasks
of a split (train, dev, test_normal, test_challenge) graded by their own checks.

    agents solve --task appworld --split dev -m local:smollm2 -n 6 -o runs/appworld/dev
    agents solve --task appworld --split dev -m oracle          # the gold solutions: 100%
    agents solve --task appworld --appworld-data ~/appworld --split dev -m openai:gpt-4o

One JSON line per finished task in `<out>/results.jsonl` (`foundation.runs`: a rerun skips
finished tasks; a task that crashed is an error row, counted as failed), the whole episode in
`<out>/trajectories/<task>.json`, and the report in `<out>/report.json` and `report.md`:
TGC (task goal completion: the share of tasks whose every check passes) and SGC (scenario
goal completion: the share of scenarios whose every task passes), per level and overall.
AppWorld's scenario is a task generator (`<scenario>_<n>` ids); in appworld-mini it is a
template.

Models: any spec, or `oracle` (alias `oracle:gold`: answers every task with its gold
solution, the plumbing check; must reach 100%) and `oracle:wrong` (the suite's wrong but
plausible solutions: 0%). On the official data, `oracle` answers with the ground truth's
compiled solution where the data has one (train, dev).
"""

from __future__ import annotations

import json
import queue
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.llm import BaseLLM, Completion, Request, Usage
from benchmarks.tasks import SolveOptions
from foundation.errors import UserError
from foundation.runs import Row, path_component

if TYPE_CHECKING:
    from agents.graphs.appworld import AppWorldAgentConfig
    from agents.llm import LLM
    from sandboxes.appworld import AppWorldEnv, AppWorldTask, Installation

MINI_SPLITS = ("train", "dev", "test")
DEFAULT_MAX_STEPS = 10
LOCAL_MAX_TOKENS = 256  # the embedded model: a code block fits; rambling after it is cut
LOCAL_KEEP_TURNS = 3  # ... and its prompt keeps the task and the last three turns
LOCAL_OBSERVATION_LIMIT = 1500
ORACLES = ("oracle", "oracle:gold", "oracle:wrong")
RESULTS = "results.jsonl"
DEMO_TEMPLATE, DEMO_INDEX = "spotify-public-playlist", 99
"""The one-shot demonstration in appworld-mini's prompts: a train template's task beyond
the suite's (index 99), so no task of any split is shown solved."""
SCENARIO_NOTE = (
    "SGC counts a scenario as solved when every one of its tasks passes; AppWorld's scenario "
    "is a task generator (ids <scenario>_<n>), appworld-mini's is a template."
)


@dataclass(frozen=True)
class Unit:
    """One task of the run."""

    id: str
    task: AppWorldTask
    level: int
    scenario: str
    gold: str | None = None
    wrong: str | None = None


# -- the oracle --------------------------------------------------------------------------


class CodeOracle(BaseLLM):
    """Answers the first turn with a fixed solution in a ```python block (later turns with a
    no-op): the scripted "gold" model."""

    def __init__(self, code: str, name: str) -> None:
        self.code, self.name = code, name

    async def _complete(self, request: Request) -> list[Completion]:
        first = not any(m.get("role") == "assistant" for m in request.messages)
        body = self.code if first else "print('done')"
        text = f"```python\n{body.strip()}\n```"
        prompt = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        usage = Usage(prompt, len(text.split()))
        return [Completion(text, "stop", None, usage, self.name, i) for i in range(request.n)]


def oracle_for(unit: Unit, model: str) -> BaseLLM:
    """The scripted model of `model` (`oracle`, `oracle:gold`, `oracle:wrong`) for `unit`."""
    code = unit.wrong if model == "oracle:wrong" else unit.gold
    if code is None:
        what = "wrong" if model == "oracle:wrong" else "gold"
        raise UserError(
            f"task {unit.id} has no {what} solution for --model {model} (official test "
            "splits ship none); use a model spec"
        )
    return CodeOracle(code, model)


# -- the tasks ---------------------------------------------------------------------------


def mini_units(split: str) -> list[Unit]:
    from benchmarks.appworld import tasks

    if split not in MINI_SPLITS:
        raise UserError(
            f"unknown split {split!r} for --task appworld; appworld-mini has {', '.join(MINI_SPLITS)} "
            "(the official train, dev, test_normal and test_challenge need --appworld-data "
            "DIR: get it with `appworld download data --root DIR`)"
        )
    return [Unit(m.name, m.task, m.level, m.template.name, m.gold, m.wrong) for m in tasks(split)]


def official_units(directory: Path, split: str) -> tuple[list[Unit], Installation]:
    from sandboxes.appworld import official

    data = official.data_dir(directory)
    tasks = official.load_split(data, split)
    inst = official.prepare(data, tasks)
    units = [
        Unit(t.task_id, t, t.difficulty, t.scenario, official.gold_code(data, t.task_id))
        for t in tasks
    ]
    return units, inst


def select(units: list[Unit], options: SolveOptions) -> list[Unit]:
    if options.instances:
        by_id = {u.id: u for u in units}
        unknown = [i for i in options.instances if i not in by_id]
        if unknown:
            raise UserError(
                f"unknown task {unknown[0]!r} in --instances; e.g. "
                f"{', '.join(u.id for u in units[:3])}"
            )
        units = [by_id[i] for i in dict.fromkeys(options.instances)]
    if options.limit:
        units = units[: options.limit]
    return units


# -- the run -----------------------------------------------------------------------------


def default_output(split: str, model: str, official: bool) -> Path:
    if model.startswith("scripted:"):
        model = "scripted:" + Path(model.split(":", 1)[1]).stem
    suite = "official" if official else "mini"
    return Path("runs") / "appworld" / f"{suite}-{split}" / re.sub(r"[^A-Za-z0-9_.=-]+", "_", model)


def mini_demo() -> str:
    """The demonstration: DEMO_TEMPLATE's task DEMO_INDEX and its gold solution."""
    from benchmarks.appworld.suite import make_task, templates
    from sandboxes.appworld.protocol import demonstration

    [template] = [t for t in templates() if t.name == DEMO_TEMPLATE]
    assert template.split == "train"
    mini = make_task(template, DEMO_INDEX)
    return demonstration(mini.task.instruction, mini.gold)


def agent_config(model: str, max_steps: int, demo: str | None = None) -> AppWorldAgentConfig:
    from agents.graphs.appworld import AppWorldAgentConfig

    config = AppWorldAgentConfig(max_steps=max_steps, demo=demo)
    if model.startswith("local:"):
        config = replace(
            config,
            max_tokens=LOCAL_MAX_TOKENS,
            keep_turns=LOCAL_KEEP_TURNS,
            observation_limit=LOCAL_OBSERVATION_LIMIT,
        )
    return config


def run_appworld(options: SolveOptions, llm: LLM | None = None) -> dict[str, Any]:
    """The whole run (`llm` overrides `options.model`: tests pass a model object)."""
    from foundation.runs import run_lock

    extra = dict(options.extra or {})
    data = extra.get("appworld_data")
    split = options.split
    if data is not None:
        from sandboxes.appworld.official import OFFICIAL_SPLITS

        if split not in OFFICIAL_SPLITS:
            raise UserError(
                f"unknown split {split!r} for the official AppWorld data; one of "
                f"{', '.join(OFFICIAL_SPLITS)}"
            )
    elif split not in MINI_SPLITS:
        mini_units(split)  # the one-line error
    if llm is None and options.model.startswith("oracle") and options.model not in ORACLES:
        raise UserError(f"unknown oracle {options.model!r}; valid: {', '.join(ORACLES)}")
    max_steps = options.max_iterations or DEFAULT_MAX_STEPS
    settings = {
        "suite": "official" if data is not None else "appworld-mini",
        "data": str(Path(data).resolve()) if data is not None else None,
        "split": split,
        "model": options.model,
        "max_steps": max_steps,
        "demo": None if data is not None else f"{DEMO_TEMPLATE}-{DEMO_INDEX} (train)",
    }
    out = options.output or default_output(split, options.model, data is not None)
    _check_settings(out / "run.json", settings)
    if data is not None:
        units, inst = official_units(Path(data), split)
    else:
        units, inst = mini_units(split), None
    units = select(units, options)
    if llm is None and options.model in ORACLES:
        for unit in units:
            oracle_for(unit, options.model)  # a task without that solution: one line, now
    with run_lock(out):
        return _run(options, units, inst, out, settings, llm, max_steps)


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """A run directory holds one configuration: resuming it with another is refused."""
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except ValueError:
            return
        for key, value in settings.items():
            if before.get(key) != value:
                raise UserError(
                    f"{path.parent} holds a run with {key}={before.get(key)!r}, not {value!r}; "
                    "rerun with the same settings to resume, or pass another --output"
                )


class _Envs:
    """One `AppWorldEnv` per worker thread, made on first use, all closed at the end."""

    def __init__(self, inst: Installation | None) -> None:
        self.inst = inst
        self.free: queue.SimpleQueue[AppWorldEnv] = queue.SimpleQueue()
        self.made: list[AppWorldEnv] = []

    @contextmanager
    def take(self) -> Iterator[AppWorldEnv]:
        from sandboxes.appworld import AppWorldEnv

        try:
            env = self.free.get_nowait()
        except queue.Empty:
            env = AppWorldEnv(installation=self.inst)
            self.made.append(env)
        try:
            yield env
        finally:
            self.free.put(env)

    def close(self) -> None:
        for env in self.made:
            env.close()


def _run(
    options: SolveOptions,
    units: list[Unit],
    inst: Installation | None,
    out: Path,
    settings: dict[str, Any],
    llm: LLM | None,
    max_steps: int,
) -> dict[str, Any]:
    from agents.graphs.appworld import run_appworld_agent
    from agents.llm import MeteredLLM, UsageMeter, load_llm
    from foundation.budget import Budget
    from foundation.runs import RunLog, run_units
    from sandboxes.appworld import ensure_appworld, prepare_tasks
    from sandboxes.base import BuildError

    started = time.monotonic()
    log = RunLog(out / RESULTS, key=lambda row: row.get("id"))
    todo = [u for u in units if u.id not in log.done]
    (out / "trajectories").mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(settings, indent=2) + "\n")
    meter = UsageMeter(ledger=out / "usage.jsonl")
    oracle = llm is None and options.model in ORACLES
    if llm is None and not oracle and todo:
        budget = None if options.max_cost is None else Budget(dollars=options.max_cost)
        llm = load_llm(
            options.model, base_url=options.base_url, budget=budget, spent=meter.spent(),
            cache=options.cache, meter=meter,
        )  # fmt: skip
    elif llm is not None:
        llm = MeteredLLM(llm, meter)
    demo = mini_demo() if settings["demo"] else None
    config = agent_config(options.model, max_steps, demo)
    if todo and inst is None:  # the worlds, built once (cached by content)
        inst = prepare_tasks([u.task for u in todo], ensure_appworld())
    envs = _Envs(inst)

    def solve(unit: Unit) -> Row:
        path_component(unit.id, "task")
        model: LLM | None = oracle_for(unit, options.model) if oracle else llm
        assert model is not None
        with envs.take() as env:
            episode = run_appworld_agent(model, env, unit.task, config)
        trajectory = {"id": unit.id, "model": options.model, **episode.trajectory()}
        (out / "trajectories" / f"{unit.id}.json").write_text(
            json.dumps(trajectory, indent=1, default=str) + "\n"
        )
        result = episode.result
        return {
            "id": unit.id,
            "scenario": unit.scenario,
            "level": unit.level,
            "success": episode.success,
            "status": episode.status,
            "steps": episode.steps,
            "num_tests": getattr(result, "num_tests", None),
            "passed_tests": len(getattr(result, "passes", ())),
            "failures": [f[0] for f in getattr(result, "failures", ())][:10],
            "answer": getattr(result, "answer", None),
            "input_tokens": episode.input_tokens,
            "output_tokens": episode.output_tokens,
            "llm_calls": episode.steps,
            "no_code_turns": sum(1 for t in episode.turns if t.code is None),
            "seconds": round(episode.seconds, 2),
        }

    def error_row(unit: Unit, exc: Exception) -> Row:
        message = " ".join(str(exc).split()) or type(exc).__name__
        return {
            "id": unit.id, "scenario": unit.scenario, "level": unit.level, "success": False,
            "status": "error", "steps": 0, "error": f"{type(exc).__name__}: {message}"[:1000],
        }  # fmt: skip

    def fatal(exc: Exception) -> bool:
        from agents.llm import MissingKeyError, ModelSpecError

        return isinstance(exc, BuildError | MissingKeyError | ModelSpecError | UserError)

    def progress(unit: Unit, row: Row | None) -> None:
        if row is None:
            line = f"{unit.id}: already done (skipped)"
        elif row.get("error"):
            line = f"{unit.id}: error: {row['error'][:200]}"
        else:
            line = (
                f"{unit.id}: {'passed' if row['success'] else 'failed'} ({row['status']}, "
                f"{row['steps']} steps, {row['passed_tests']}/{row['num_tests']} checks, "
                f"{row['seconds']:.0f}s)"
            )
        print(line, file=sys.stderr, flush=True)

    try:
        outcome = run_units(
            log, units, key=lambda u: u.id, work=solve, workers=options.workers,
            error_row=error_row, fatal=fatal, on_row=progress,
        )  # fmt: skip
    finally:
        envs.close()
    rows = [log.done[u.id] for u in units if u.id in log.done]
    report = make_report(rows, settings, len(units))
    report["wall_seconds"] = round(_previous_wall(out) + time.monotonic() - started, 2)
    usage = meter.summary()
    report["usage"] = {
        "calls": usage.calls, "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens, "cost": round(usage.cost, 6),
    }  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report) + "\n")
    lines = [summary_line(report), f"report: {out / 'report.md'}"]
    if outcome.stopped:
        lines.append(f"stopped early: {outcome.budget_message}; rerun the command to continue")
    return {**report, "output": "\n".join(lines), "exit_code": 3 if outcome.stopped else 0}


def _previous_wall(out: Path) -> float:
    try:
        return float(json.loads((out / "report.json").read_text()).get("wall_seconds", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


# -- the report --------------------------------------------------------------------------


def _goal_completion(rows: list[Row]) -> dict[str, Any]:
    scenarios: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        scenarios[str(row["scenario"])].append(bool(row.get("success")))
    passed = sum(bool(r.get("success")) for r in rows)
    solved = sum(all(v) for v in scenarios.values())
    return {
        "tasks": len(rows),
        "passed": passed,
        "tgc": round(100 * passed / len(rows), 1) if rows else None,
        "scenarios": len(scenarios),
        "scenarios_passed": solved,
        "sgc": round(100 * solved / len(scenarios), 1) if scenarios else None,
        "errors": sum(1 for r in rows if r.get("error")),
        "mean_steps": round(sum(int(r.get("steps") or 0) for r in rows) / len(rows), 2)
        if rows
        else None,
        "input_tokens": sum(int(r.get("input_tokens") or 0) for r in rows),
        "output_tokens": sum(int(r.get("output_tokens") or 0) for r in rows),
        "seconds": round(sum(float(r.get("seconds") or 0) for r in rows), 1),
    }


def make_report(rows: list[Row], settings: dict[str, Any], selected: int) -> dict[str, Any]:
    """TGC and SGC (percent) overall and per level, over the finished tasks."""
    levels = sorted({int(r["level"]) for r in rows})
    return {
        **settings,
        "selected": selected,
        "overall": _goal_completion(rows),
        "levels": {
            str(lv): _goal_completion([r for r in rows if r["level"] == lv]) for lv in levels
        },
        "note": SCENARIO_NOTE,
    }


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(report: dict[str, Any]) -> str:
    head = (
        "| level | tasks | TGC % | scenarios | SGC % | errors | steps (mean) | tokens in / out "
        "| seconds |\n|---|---|---|---|---|---|---|---|---|"
    )
    body = []
    for name, part in [*report["levels"].items(), ("all", report["overall"])]:
        body.append(
            f"| {name} | {part['tasks']} | {_pct(part['tgc'])} | {part['scenarios']} "
            f"| {_pct(part['sgc'])} | {part['errors']} | {part['mean_steps']} "
            f"| {part['input_tokens']} / {part['output_tokens']} | {part['seconds']} |"
        )
    title = (
        f"{report['suite']} {report['split']}, model {report['model']}, "
        f"at most {report['max_steps']} steps"
    )
    return "\n".join([f"**{title}**", "", head, *body, "", report["note"]])


def summary_line(report: dict[str, Any]) -> str:
    o = report["overall"]
    return (
        f"appworld ({report['suite']}, {report['split']}) / {report['model']}: "
        f"TGC {_pct(o['tgc'])}% ({o['passed']}/{o['tasks']}), SGC {_pct(o['sgc'])}% "
        f"({o['scenarios_passed']}/{o['scenarios']} scenarios); {o['errors']} errors; "
        f"mean {o['mean_steps']} steps; {o['input_tokens']} in / {o['output_tokens']} out tokens"
    )
