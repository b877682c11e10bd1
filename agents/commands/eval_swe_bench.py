"""`agents eval swe-bench`: grade predictions exactly as SWE-bench does, offline, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI, swe_data
from agents.commands.settings import EXECUTOR_HELP, Count, Executor, Positive, Sandbox, comma_list
from agents.commands.swe_data import SweDataSettings
from foundation.errors import UserError
from foundation.terminal import quiet

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from benchmarks.swe_bench import Instance, InstanceResult, RunConfig
    from foundation.runs import Row


class EvalSweBenchSettings(SweDataSettings):
    """`agents eval swe-bench`'s options; `run_config()` is what the harness grades with."""

    FLAGS: ClassVar[dict[str, str]] = {"validate_dataset": "--validate"}

    predictions: Path | None = None
    validate_dataset: bool = False  # --validate (`validate` is a pydantic method)
    dataset: str = "swe-mini"
    instances: str = ""
    workers: Count = 2
    executor: Executor = "local"
    sandbox: Sandbox = "auto"
    output: Path = Path("logs/run_evaluation")
    run_id: str = ""
    timeout: Positive = 900.0
    repos_dir: Path | None = None
    strict: bool = False

    @field_validator("run_id")
    @classmethod
    def _one_name(cls, run_id: str) -> str:
        from foundation.runs import path_component

        try:
            return path_component(run_id, "run id") if run_id else run_id
        except UserError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _predictions_or_validate(self) -> Self:
        if self.predictions is None and not self.validate_dataset:
            raise ValueError(
                "--predictions is required: a predictions JSONL, or 'gold' for the dataset's "
                "own patches (or --validate to check the dataset)"
            )
        if self.predictions is not None and self.validate_dataset:
            raise ValueError("--validate runs the empty and the gold patch; drop --predictions")
        return self

    @property
    def gold(self) -> bool:
        """`--predictions gold`: grade the dataset's own patches."""
        return str(self.predictions) == "gold"

    @property
    def ids(self) -> list[str]:
        return list(comma_list(self.instances))

    def run_name(self) -> str:
        """--run-id, or <dataset>.<predictions file stem>; always one safe directory name."""
        from foundation.runs import path_component

        if self.run_id:
            return self.run_id
        name = Path(self.dataset).stem if Path(self.dataset).exists() else self.dataset
        stem = self.predictions.stem if self.predictions is not None else "validate"
        return path_component(f"{name.replace('/', '__')}.{stem}", "run id")

    def run_config(self, sandbox: str) -> RunConfig:
        """The harness settings, with `sandbox` the kind `--sandbox` resolved to."""
        from benchmarks.swe_bench import RunConfig
        from benchmarks.swe_bench.specs import load_specs

        return RunConfig(
            sandbox=sandbox, test_timeout=self.timeout, repos_dir=self.repos_dir,
            strict=self.strict, images=self.images, specs=load_specs(self.specs),
            repo_url=self.repo_url, task_repo=self.task_repo,
        )  # fmt: skip


def swe_bench(
    predictions: Path | None = typer.Option(
        None,
        "--predictions",
        "-p",
        "--predictions_path",
        help="Predictions JSONL: {instance_id, model_name_or_path, "
        "model_patch} per line. 'gold' grades the dataset's own patches.",
    ),
    validate_dataset: bool = typer.Option(
        False,
        "--validate",
        help="Check the dataset instead: with no patch every FAIL_TO_PASS test must fail, "
        "with the gold patch every FAIL_TO_PASS and PASS_TO_PASS test must pass. Exit 1 "
        "when an instance does not hold.",
    ),
    dataset: str = typer.Option(
        "swe-mini", "--dataset", "-d", "--dataset_name", help=swe_data.DATASET_HELP
    ),
    split: str = swe_data.SPLIT,
    instances: str = typer.Option(
        "",
        "--instances",
        "-i",
        "--instance_ids",
        help="Comma-separated instance ids (default: all).",
    ),
    workers: int = typer.Option(
        2, "--workers", "-w", "--max_workers", min=1, help="Instances graded at once."
    ),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, local or auto."),
    output: Path = typer.Option(
        Path("logs/run_evaluation"),
        "--output",
        "-o",
        help="Run logs go to OUTPUT/RUN_ID/MODEL/INSTANCE/ (the official layout), the report to OUTPUT/MODEL.RUN_ID.json.",
    ),
    run_id: str = typer.Option(
        "",
        "--run-id",
        "--run_id",
        help="Names the run; rerunning with the same id resumes it "
        "(default: <dataset>.<predictions file stem>).",
    ),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds the tests may run."),
    repos_dir: Path | None = swe_data.REPOS_DIR,
    repo_url: str | None = swe_data.REPO_URL,
    images: str = swe_data.IMAGE_MODE,
    specs: list[Path] = swe_data.SPECS,
    task_repo: Path | None = swe_data.TASK_REPO,
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Grade a patch that touches test infrastructure (conftest.py and site hooks, "
        "pytest settings in pytest.ini/tox.ini/setup.cfg/pyproject.toml, the test patch's "
        "files and test directory, modules that shadow pytest or the standard library) as "
        "tampered, not resolved. Off: grades as the official harness does.",
    ),
) -> None:
    """Apply each prediction, run the instance's eval script, grade FAIL_TO_PASS /
    PASS_TO_PASS, and write per-instance logs and the official report JSON. Resumes an
    interrupted run. Works on any SWE-bench-format dataset: see --specs, --repos-dir,
    --images."""
    settings = EvalSweBenchSettings(
        predictions=predictions, validate_dataset=validate_dataset, dataset=dataset, split=split,
        instances=instances, workers=workers, executor=executor, sandbox=sandbox, output=output,
        run_id=run_id, timeout=timeout, repos_dir=repos_dir, repo_url=repo_url, images=images,
        specs=tuple(specs), task_repo=task_repo, strict=strict,
    )  # fmt: skip
    from rich.console import Console

    from benchmarks.swe_bench import (
        RunPaths,
        evaluate,
        gold_predictions,
        load_dataset,
        load_predictions,
    )
    from benchmarks.swe_bench.dataset import model_dir
    from benchmarks.swe_bench.run import is_empty
    from sandboxes import resolve_kind

    full = load_dataset(settings.dataset, split=settings.split)
    selected = (
        load_dataset(settings.dataset, settings.ids, split=settings.split) if settings.ids else full
    )
    kind = resolve_kind(settings.sandbox)  # Docker not running -> a one-line error with the hint
    config = settings.run_config(kind)
    _check_disk(settings.output)
    console = Console(stderr=True, quiet=quiet())
    if settings.validate_dataset:
        _validate(settings, selected, config, console)
        return
    if settings.gold:
        preds = {p["instance_id"]: p for p in gold_predictions(selected)}
    else:
        assert settings.predictions is not None  # the settings model requires one
        preds = load_predictions(settings.predictions, full)
    model = next(iter(preds.values()))["model_name_or_path"]
    model_dir(model)  # a name that cannot be one directory is a one-line error
    paths = RunPaths(settings.output, settings.run_name(), model)

    todo = [i for i in selected if not is_empty(preds.get(i["instance_id"]))]
    with _progress(console) as progress:
        task = progress.add_task(f"swe-bench ({kind})", total=len(todo))

        def on_result(result: InstanceResult | None, instance_id: str) -> None:
            status = "skipped (already graded)" if result is None else result.status
            if result is not None and result.reason:
                status += f": {result.reason}"
            progress.console.print(f"{instance_id}: {status}", highlight=False)
            progress.advance(task)

        report = evaluate(
            selected, preds, paths, config, workers=settings.workers, on_result=on_result,
            executor=settings.executor,
        )  # fmt: skip
    console.print(
        f"resolved {report['resolved_instances']}/{report['total_instances']}, "
        f"unresolved {report['unresolved_instances']}, errors {report['error_instances']}, "
        f"empty {report['empty_patch_instances']}, missing {len(report['incomplete_ids'])}"
        + (f", tampered {len(report['tampered_ids'])}" if settings.strict else "")
    )
    typer.echo(str(paths.report))


def _progress(console: Console) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


def _validate(
    settings: EvalSweBenchSettings, instances: list[Instance], config: RunConfig, console: Console
) -> None:
    """`--validate`: the empty and the gold patch on every instance; exit 1 on a problem."""
    from benchmarks.swe_bench.validate import ValidationPaths, validate

    paths = ValidationPaths(settings.output, settings.run_name())
    with _progress(console) as progress:
        task = progress.add_task(f"validate ({config.sandbox})", total=len(instances))

        def on_row(instance: Instance, row: Row | None) -> None:
            iid = instance["instance_id"]
            if row is None:
                text = "skipped (already validated)"
            else:
                text = (
                    "; ".join(row["problems"])
                    or f"ok (no patch: {row['empty']}, gold: {row['gold']})"
                )
            progress.console.print(f"{iid}: {text}", highlight=False, markup=False)
            progress.advance(task)

        report = validate(instances, paths, config, settings.workers, on_row)
    console.print(
        f"validated {report['validated_instances']}/{report['total_instances']}: "
        f"{len(report['sound_ids'])} sound, {len(report['problem_ids'])} with problems"
        + (f" ({', '.join(report['problem_ids'])})" if report["problem_ids"] else ""),
        highlight=False, markup=False,
    )  # fmt: skip
    typer.echo(str(paths.report))
    if report["problem_ids"]:
        raise typer.Exit(1)


def _check_disk(output: Path, need_mb: int = 200) -> None:
    import shutil

    probe = output
    while not probe.exists():
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // (1 << 20)
    if free_mb < need_mb:
        raise UserError(
            f"only {free_mb} MB free under {probe}; free some space or pass --output elsewhere"
        )


def register(cli: CLI) -> None:
    cli.eval.command("swe-bench")(swe_bench)
