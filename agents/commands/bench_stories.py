"""`agents bench stories`: COS(M+O)S story search vs no search, and (with --orpo-steps)
one outer-loop round (search -> pairs -> ORPO) and the ORPO-trained vs untrained search,
each judged pairwise by a model with positions swapped."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.errors import UserError


def bench_stories(
    model: str = typer.Option("local:smollm2", help="The story writer (a model spec)."),
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
        Path("benchmarks/results/stories_smollm2"), help="Writes OUT.json and OUT.md."
    ),
) -> None:
    """Win rates (judge, both orders), position-bias counts and surprisal statistics."""
    from agents.graphs.story import StoryConfig
    from benchmarks.stories import PREMISES, TRAIN_PREMISES, bench_stories, write_bench

    if not 1 <= premises <= len(PREMISES):
        raise UserError(f"--premises must be in 1..{len(PREMISES)}")
    if orpo_steps and not 2 <= train_premises <= len(TRAIN_PREMISES):
        raise UserError(f"--train-premises must be in 2..{len(TRAIN_PREMISES)}")
    if min(steps, simulations, samples, max_tokens, orpo_batch) < 1 or orpo_steps < 0:
        raise UserError("--steps, --simulations, --samples, --max-tokens must be >= 1")
    if orpo_lr <= 0 or orpo_beta < 0:
        raise UserError("--orpo-lr must be > 0 and --orpo-beta >= 0")
    story = StoryConfig(
        steps=steps,
        simulations=simulations,
        samples=samples,
        max_tokens=max_tokens,
        judge=judge_steps,
    )
    orpo = None
    if orpo_steps:
        from agents.training.orpo import ORPOConfig

        orpo = ORPOConfig(
            steps=orpo_steps,
            lr=orpo_lr,
            beta=orpo_beta,
            batch_size=orpo_batch,
            heldout=0.25,
            lora=lora,
            top_layers=0 if lora else orpo_top_layers,
            max_prompt=orpo_max_prompt,
            max_seconds=60 * orpo_minutes,
        )
    bench = bench_stories(
        model,
        judge or model,
        PREMISES[:premises],
        work,
        story,
        orpo,
        TRAIN_PREMISES[:train_premises],
        progress=lambda s: typer.echo(s, err=True),
    )
    for line in bench.lines():
        typer.echo(line)
    for path in write_bench(bench, out):
        typer.echo(f"wrote {path}")


def register(cli: object) -> None:
    cli.bench.command("stories")(bench_stories)  # type: ignore[attr-defined]
