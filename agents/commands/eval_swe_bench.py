"""`agents eval swe-bench`: grade predictions exactly as SWE-bench does, offline, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import field_validator

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count, Positive, Sandbox, comma_list
from foundation.errors import UserError

if TYPE_CHECKING:
    from benchmarks.swe_bench import InstanceResult, RunConfig


class EvalSweBenchSettings(CommandSettings):
    """`agents eval swe-bench`'s options; `run_config()` is what the harness grades with."""

    predictions: Path
    dataset: str = "swe-mini"
    instances: str = ""
    workers: Count = 2
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
        return path_component(f"{name.replace('/', '__')}.{self.predictions.stem}", "run id")

    def run_config(self, sandbox: str) -> RunConfig:
        """The harness settings, with `sandbox` the kind `--sandbox` resolved to."""
        from benchmarks.swe_bench import RunConfig

        return RunConfig(
            sandbox=sandbox, test_timeout=self.timeout, repos_dir=self.repos_dir, strict=self.strict
        )


def swe_bench(
    predictions: Path = typer.Option(
        ...,
        "--predictions",
        "-p",
        help="Predictions JSONL: {instance_id, model_name_or_path, "
        "model_patch} per line. 'gold' grades the dataset's own patches.",
    ),
    dataset: str = typer.Option(
        "swe-mini",
        "--dataset",
        "-d",
        help="swe-mini (bundled), a .json/.jsonl file, or a Hugging Face dataset name.",
    ),
    instances: str = typer.Option(
        "", "--instances", "-i", help="Comma-separated instance ids (default: all)."
    ),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Instances graded at once."),
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
        help="Names the run; rerunning with the same id resumes it "
        "(default: <dataset>.<predictions file stem>).",
    ),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds the tests may run."),
    repos_dir: Path | None = typer.Option(
        None, "--repos-dir", help="Git clones (owner__name) for datasets other than swe-mini."
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Grade a patch that touches test infrastructure (conftest.py and site hooks, "
        "pytest settings in pytest.ini/tox.ini/setup.cfg/pyproject.toml, the test patch's "
        "files and test directory, modules that shadow pytest or the standard library) as "
        "tampered, not resolved. Off: grades as the official harness does.",
    ),
) -> None:
    """Apply each prediction, run the tests, grade FAIL_TO_PASS / PASS_TO_PASS, and write
    per-instance logs and the official report JSON. Resumes an interrupted run."""
    settings = EvalSweBenchSettings(
        predictions=predictions, dataset=dataset, instances=instances, workers=workers,
        sandbox=sandbox, output=output, run_id=run_id, timeout=timeout, repos_dir=repos_dir,
        strict=strict,
    )  # fmt: skip
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

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

    full = load_dataset(settings.dataset)
    selected = load_dataset(settings.dataset, settings.ids) if settings.ids else full
    if settings.gold:
        preds = {p["instance_id"]: p for p in gold_predictions(selected)}
    else:
        preds = load_predictions(settings.predictions, full)
    model = next(iter(preds.values()))["model_name_or_path"]
    model_dir(model)  # a name that cannot be one directory is a one-line error
    kind = resolve_kind(settings.sandbox)  # Docker not running -> a one-line error with the hint
    paths = RunPaths(settings.output, settings.run_name(), model)
    config = settings.run_config(kind)
    _check_disk(settings.output)

    console = Console(stderr=True)
    todo = [i for i in selected if not is_empty(preds.get(i["instance_id"]))]
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"swe-bench ({kind})", total=len(todo))

        def on_result(result: InstanceResult | None, instance_id: str) -> None:
            status = "skipped (already graded)" if result is None else result.status
            if result is not None and result.reason:
                status += f": {result.reason}"
            progress.console.print(f"{instance_id}: {status}", highlight=False)
            progress.advance(task)

        report = evaluate(
            selected, preds, paths, config, workers=settings.workers, on_result=on_result
        )
    console.print(
        f"resolved {report['resolved_instances']}/{report['total_instances']}, "
        f"unresolved {report['unresolved_instances']}, errors {report['error_instances']}, "
        f"empty {report['empty_patch_instances']}, missing {len(report['incomplete_ids'])}"
        + (f", tampered {len(report['tampered_ids'])}" if settings.strict else "")
    )
    typer.echo(str(paths.report))


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
