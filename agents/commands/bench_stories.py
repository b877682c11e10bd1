"""`agents bench stories`: COS(M+O)S story search vs no search, and (with --orpo-steps)
one outer-loop round (search -> pairs -> ORPO) and the ORPO-trained vs untrained search,
each judged pairwise by a model with positions swapped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.options import status_line
from agents.commands.settings import CommandSettings, Count, NonNegative, Size

if TYPE_CHECKING:
    from agents.graphs.story import StoryConfig
    from agents.training.orpo import ORPOConfig


class BenchStoriesSettings(CommandSettings):
    """`agents bench stories`'s options; `story()` and `orpo()` are the configs they make."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    model: str = "local:smollm2"
    judge: str = ""
    premises: int = 6
    train_premises: int = 4
    steps: Count = 5
    simulations: Count = 4
    samples: Count = 3
    max_tokens: Count = 32
    judge_steps: bool = False
    orpo_steps: Size = 0
    orpo_lr: float = 3e-5
    orpo_beta: float = 0.1
    orpo_batch: Count = 2
    lora: bool = False
    orpo_top_layers: Size = 6
    orpo_max_prompt: Size = 64
    orpo_minutes: NonNegative = 15.0
    work: Path = Path("runs/stories")
    out: Path = Path("benchmarks/results/stories_smollm2")
    as_json: bool = False

    @field_validator("premises")
    @classmethod
    def _premises(cls, premises: int) -> int:
        from benchmarks.stories import PREMISES

        if not 1 <= premises <= len(PREMISES):
            raise ValueError(f"--premises must be in 1..{len(PREMISES)}")
        return premises

    @model_validator(mode="after")
    def _orpo(self) -> Self:
        from benchmarks.stories import TRAIN_PREMISES

        if self.orpo_steps and not 2 <= self.train_premises <= len(TRAIN_PREMISES):
            raise ValueError(f"--train-premises must be in 2..{len(TRAIN_PREMISES)}")
        if self.orpo_lr <= 0 or self.orpo_beta < 0:
            raise ValueError("--orpo-lr must be > 0 and --orpo-beta >= 0")
        return self

    def story(self) -> StoryConfig:
        from agents.graphs.story import StoryConfig

        return StoryConfig(
            steps=self.steps,
            simulations=self.simulations,
            samples=self.samples,
            max_tokens=self.max_tokens,
            judge=self.judge_steps,
        )

    def orpo(self) -> ORPOConfig | None:
        """The outer loop's training settings; None without --orpo-steps."""
        if not self.orpo_steps:
            return None
        from agents.training.orpo import ORPOConfig

        return ORPOConfig(
            steps=self.orpo_steps,
            lr=self.orpo_lr,
            beta=self.orpo_beta,
            batch_size=self.orpo_batch,
            heldout=0.25,
            lora=self.lora,
            top_layers=0 if self.lora else self.orpo_top_layers,
            max_prompt=self.orpo_max_prompt,
            max_seconds=60 * self.orpo_minutes,
        )


def bench_stories(
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="The story writer (a model spec)."
    ),
    judge: str = typer.Option("", help="The judge model (default: the writer)."),
    premises: int = typer.Option(6, help="Evaluation premises (the first N of PREMISES)."),
    train_premises: int = typer.Option(
        4, help="Premises the ORPO pairs are mined from (the first N of TRAIN_PREMISES)."
    ),
    steps: int = typer.Option(5, help="Plot steps per story."),
    simulations: int = typer.Option(4, help="MCTS simulations per plot step."),
    samples: int = typer.Option(3, help="Plot steps sampled per proposal (siblings)."),
    max_tokens: int = typer.Option(32, help="Tokens per plot step."),
    judge_steps: bool = typer.Option(
        False, "--judge-steps", help="Ask the model whether each step is coherent."
    ),
    orpo_steps: int = typer.Option(0, help="ORPO steps for the outer loop (0: no ORPO part)."),
    orpo_lr: float = typer.Option(3e-5, help="ORPO learning rate."),
    orpo_beta: float = typer.Option(0.1, help="Weight of ORPO's odds-ratio term."),
    orpo_batch: int = typer.Option(2, help="ORPO pairs per step."),
    lora: bool = typer.Option(False, "--lora", help="ORPO on LoRA adapters (peft)."),
    orpo_top_layers: int = typer.Option(
        6, help="ORPO trains the last N transformer blocks (0: all weights)."
    ),
    orpo_max_prompt: int = typer.Option(64, help="ORPO trains on the last N prompt tokens."),
    orpo_minutes: float = typer.Option(15.0, help="ORPO training time limit (0: none)."),
    work: Path = typer.Option(
        Path("runs/stories"), help="Stories (cached, resumable), pairs and the ORPO model."
    ),
    out: Path = typer.Option(
        Path("benchmarks/results/stories_smollm2"),
        "--output",
        "--out",
        "-o",
        help="Writes OUT.json and OUT.md.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Win rates (judge, both orders), position-bias counts and surprisal statistics."""
    settings = BenchStoriesSettings(
        model=model, judge=judge, premises=premises, train_premises=train_premises, steps=steps,
        simulations=simulations, samples=samples, max_tokens=max_tokens,
        judge_steps=judge_steps, orpo_steps=orpo_steps, orpo_lr=orpo_lr, orpo_beta=orpo_beta,
        orpo_batch=orpo_batch, lora=lora, orpo_top_layers=orpo_top_layers,
        orpo_max_prompt=orpo_max_prompt, orpo_minutes=orpo_minutes, work=work, out=out,
        as_json=as_json,
    )  # fmt: skip
    from benchmarks.stories import PREMISES, TRAIN_PREMISES, bench_stories, write_bench

    bench = bench_stories(
        settings.model,
        settings.judge or settings.model,
        PREMISES[: settings.premises],
        settings.work,
        settings.story(),
        settings.orpo(),
        TRAIN_PREMISES[: settings.train_premises],
        progress=status_line,
    )
    paths = write_bench(bench, settings.out)
    if settings.as_json:
        import json
        from dataclasses import asdict

        typer.echo(json.dumps(asdict(bench), indent=1, default=str))
        return
    for line in bench.lines():
        typer.echo(line)
    for path in paths:
        typer.echo(f"wrote {path}")


def register(cli: CLI) -> None:
    cli.bench.command("stories")(bench_stories)
