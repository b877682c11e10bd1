"""`agents train orpo`: preference training on pairs mined from story search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from foundation.errors import UserError

train_app = typer.Typer(help="Train models on what search found.", no_args_is_help=True)


@train_app.command("orpo")
def train_orpo_cmd(
    pairs: Path = typer.Option(
        ..., help="JSONL with prompt, chosen, rejected (story search writes pairs.jsonl)."
    ),
    model: str = typer.Option("local:smollm2", help="local:smollm2 or local:PATH to start from."),
    out: Path = typer.Option(Path("runs/orpo-model"), help="Where the trained model is saved."),
    steps: int = typer.Option(200, help="Optimiser steps."),
    lr: float = typer.Option(5e-5, help="Learning rate (AdamW)."),
    beta: float = typer.Option(0.1, help="Weight of the odds-ratio term."),
    batch_size: int = typer.Option(4, help="Pairs per step."),
    heldout: float = typer.Option(
        0.25,
        help="Share of pairs held out to measure the preference; whole premises are held out.",
    ),
    fold: str = typer.Option(
        "",
        help="I/K: cross-validation by premise; hold out fold I of K (premises shuffled by "
        "--seed), instead of --heldout. Run I = 0..K-1 to hold out every premise once.",
    ),
    seed: int = typer.Option(0, help="Shuffles the held-out premises and the batches."),
    backend: str = typer.Option(
        "ours", help="ours (built-in loop) or trl (TRL ORPOTrainer, needs .[train])."
    ),
    lora: bool = typer.Option(
        False, "--lora", help="Train LoRA adapters (peft) instead of all weights; merged on save."
    ),
    lora_rank: int = typer.Option(16, help="LoRA rank."),
    top_layers: int = typer.Option(
        0, help="Train only the last N transformer blocks (0: all); faster on CPU."
    ),
    max_minutes: float = typer.Option(0.0, help="Stop training after this long (0: no limit)."),
    max_prompt: int = typer.Option(
        0, help="Train on the last N prompt tokens only (0: all); faster on CPU."
    ),
) -> None:
    """ORPO fine-tune; prints the time and the held-out log-odds preference before/after."""
    from agents.training.orpo import ORPOConfig, load_pairs, load_trainable, train_orpo

    if not pairs.is_file():
        raise UserError(f"no such pairs file: {pairs}")
    if backend not in ("ours", "trl"):
        raise UserError(f"unknown --backend {backend!r}; valid: ours, trl")
    if lora_rank < 1 or max_prompt < 0 or top_layers < 0:
        raise UserError("--lora-rank must be >= 1, --max-prompt and --top-layers >= 0")
    if lora and top_layers:
        raise UserError("give --lora or --top-layers, not both")
    if steps < 1 or batch_size < 1 or lr <= 0 or not 0 <= heldout < 1:
        raise UserError("--steps and --batch-size must be >= 1, --lr > 0, 0 <= --heldout < 1")
    folds = index = 0
    if fold:
        try:
            index, folds = (int(x) for x in fold.split("/"))
        except ValueError:
            raise UserError(f"--fold must be I/K (e.g. 0/5), not {fold!r}") from None
        if folds < 2 or not 0 <= index < folds:
            raise UserError(f"--fold I/K needs K >= 2 and 0 <= I < K, not {fold!r}")
    try:
        data = load_pairs(pairs)
        if len(data) < 2:
            raise UserError(f"{pairs} holds {len(data)} pair(s); ORPO needs at least 2")
        m, tok = load_trainable(model)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    cfg = ORPOConfig(
        steps=steps,
        lr=lr,
        beta=beta,
        batch_size=batch_size,
        heldout=heldout,
        folds=folds,
        fold=index,
        seed=seed,
        backend=backend,
        lora=lora,
        lora_rank=lora_rank,
        top_layers=top_layers,
        max_prompt=max_prompt,
        max_seconds=60 * max_minutes,
    )
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        try:
            report = train_orpo(m, tok, data, out, cfg, progress)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    for line in report.lines():
        typer.echo(line)


def register(cli: object) -> None:
    cli.app.add_typer(train_app, name="train")  # type: ignore[attr-defined]
