"""`agents eval swe-bench`: grade predictions exactly as SWE-bench does, offline, resumable."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.errors import UserError


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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from benchmarks.swe_bench import (
        RunConfig,
        RunPaths,
        evaluate,
        gold_predictions,
        load_dataset,
        load_predictions,
    )
    from benchmarks.swe_bench.dataset import model_dir
    from benchmarks.swe_bench.run import is_empty
    from foundation.runs import path_component

    if sandbox not in ("docker", "local", "auto"):
        raise UserError(f"--sandbox must be docker, local or auto, not {sandbox!r}")
    ids = [i.strip() for i in instances.split(",") if i.strip()]
    full = load_dataset(dataset)
    selected = load_dataset(dataset, ids) if ids else full
    if str(predictions) == "gold":
        preds = {p["instance_id"]: p for p in gold_predictions(selected)}
    else:
        preds = load_predictions(predictions, full)
    model = next(iter(preds.values()))["model_name_or_path"]
    model_dir(model)  # a name that cannot be one directory is a one-line error
    from sandboxes import resolve_kind

    kind = resolve_kind(sandbox)  # Docker not running -> a one-line error with the hint
    name = Path(dataset).stem if Path(dataset).exists() else dataset.replace("/", "__")
    run_id = path_component(run_id or f"{name}.{predictions.stem}", "run id")
    paths = RunPaths(output, run_id, model)
    config = RunConfig(sandbox=kind, test_timeout=timeout, repos_dir=repos_dir, strict=strict)
    _check_disk(output)

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

        def on_result(result, instance_id: str) -> None:
            status = "skipped (already graded)" if result is None else result.status
            if result is not None and result.reason:
                status += f": {result.reason}"
            progress.console.print(f"{instance_id}: {status}", highlight=False)
            progress.advance(task)

        report = evaluate(selected, preds, paths, config, workers=workers, on_result=on_result)
    console.print(
        f"resolved {report['resolved_instances']}/{report['total_instances']}, "
        f"unresolved {report['unresolved_instances']}, errors {report['error_instances']}, "
        f"empty {report['empty_patch_instances']}, missing {len(report['incomplete_ids'])}"
        + (f", tampered {len(report['tampered_ids'])}" if strict else "")
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


def register(cli) -> None:
    cli.eval.command("swe-bench")(swe_bench)
