"""`agents train orpo`: preference training on pairs mined from story search."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import (
    CommandSettings,
    Count,
    NonNegative,
    Positive,
    Size,
    one_of,
)
from foundation.errors import UserError

if TYPE_CHECKING:
    from agents.training.orpo import ORPOConfig


def parse_fold(fold: str) -> tuple[int, int]:
    """'I/K' -> (I, K); '' -> (0, 0): no cross-validation."""
    if not fold:
        return 0, 0
    try:
        index, folds = (int(x) for x in fold.split("/"))
    except ValueError:
        raise ValueError(f"--fold must be I/K (e.g. 0/5), not {fold!r}") from None
    if folds < 2 or not 0 <= index < folds:
        raise ValueError(f"--fold I/K needs K >= 2 and 0 <= I < K, not {fold!r}")
    return index, folds


class TrainOrpoSettings(CommandSettings):
    """`agents train orpo`'s options; `config()` is the trainer's `ORPOConfig`."""

    pairs: Path
    model: str = "local:smollm2"
    out: Path = Path("runs/orpo-model")
    steps: Count = 200
    lr: Positive = 5e-5
    beta: float = 0.1
    batch_size: Count = 4
    heldout: float = 0.25
    fold: str = ""
    seed: int = 0
    backend: Annotated[str, one_of("ours", "trl")] = "ours"
    lora: bool = False
    lora_rank: Count = 16
    top_layers: Size = 0
    max_minutes: NonNegative = 0.0
    max_prompt: Size = 0

    @field_validator("pairs")
    @classmethod
    def _pairs_file(cls, pairs: Path) -> Path:
        if not pairs.is_file():
            raise ValueError(f"no such pairs file: {pairs}")
        return pairs

    @field_validator("heldout")
    @classmethod
    def _share(cls, heldout: float) -> float:
        if not 0 <= heldout < 1:
            raise ValueError(f"--heldout must be in [0, 1) (got {heldout})")
        return heldout

    @field_validator("fold")
    @classmethod
    def _fold(cls, fold: str) -> str:
        parse_fold(fold)
        return fold

    @model_validator(mode="after")
    def _lora_or_top_layers(self) -> Self:
        if self.lora and self.top_layers:
            raise ValueError("give --lora or --top-layers, not both")
        return self

    def config(self) -> ORPOConfig:
        from agents.training.orpo import ORPOConfig

        index, folds = parse_fold(self.fold)
        return ORPOConfig(
            steps=self.steps,
            lr=self.lr,
            beta=self.beta,
            batch_size=self.batch_size,
            heldout=self.heldout,
            folds=folds,
            fold=index,
            seed=self.seed,
            backend=self.backend,
            lora=self.lora,
            lora_rank=self.lora_rank,
            top_layers=self.top_layers,
            max_prompt=self.max_prompt,
            max_seconds=60 * self.max_minutes,
        )


train_app = typer.Typer(help="Train models on what search found.", no_args_is_help=True)


@train_app.command("orpo")
def train_orpo_cmd(
    pairs: Path = typer.Option(
        ..., help="JSONL with prompt, chosen, rejected (story search writes pairs.jsonl)."
    ),
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="local:smollm2 or local:PATH to start from."
    ),
    out: Path = typer.Option(
        Path("runs/orpo-model"), "--output", "--out", "-o", help="Where the trained model is saved."
    ),
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
    settings = TrainOrpoSettings(
        pairs=pairs, model=model, out=out, steps=steps, lr=lr, beta=beta, batch_size=batch_size,
        heldout=heldout, fold=fold, seed=seed, backend=backend, lora=lora, lora_rank=lora_rank,
        top_layers=top_layers, max_minutes=max_minutes, max_prompt=max_prompt,
    )  # fmt: skip
    from agents.training.orpo import load_pairs, load_trainable, train_orpo

    try:
        data = load_pairs(settings.pairs)
        if len(data) < 2:
            raise UserError(f"{settings.pairs} holds {len(data)} pair(s); ORPO needs at least 2")
        m, tok = load_trainable(settings.model)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    cfg = settings.config()
    from agents.commands.progress import phase_bars

    with phase_bars() as progress:
        try:
            report = train_orpo(m, tok, data, settings.out, cfg, progress)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    import json

    from benchmarks.plots import orpo_losses

    saved = json.loads((settings.out / "orpo_report.json").read_text())
    curve = orpo_losses(saved, settings.out / "orpo_loss.png")  # the learning curve
    for line in report.lines():
        typer.echo(line)
    typer.echo(f"learning curve: {curve}")


def register(cli: CLI) -> None:
    from agents.commands.train_lspo import train_lspo_cmd

    train_app.command("lspo")(train_lspo_cmd)
    cli.app.add_typer(train_app, name="train")
