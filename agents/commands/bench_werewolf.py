"""`agents bench werewolf`: a round robin of werewolf agents, each side against each other
agent, on paired deals; win rates with intervals, games/s, the LSPO paper's numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import (
    EXECUTOR_HELP,
    CommandSettings,
    Count,
    Executor,
    NonNegative,
    spec_list,
)
from foundation.terminal import quiet

if TYPE_CHECKING:
    from benchmarks.werewolf import WerewolfBench


class BenchWerewolfSettings(CommandSettings):
    """`agents bench werewolf`'s options; `config()` is the benchmark's `WerewolfBench`."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    agents: str = "rule,random"
    games: Count = 100
    seed: int = 0
    workers: Count = 1
    output: Path = Path("benchmarks/results/werewolf.jsonl")
    speed_seconds: NonNegative = 1.0
    as_json: bool = False
    executor: Executor = "local"

    def specs(self) -> tuple[str, ...]:
        """The distinct agent specs, in order (`spec_list`: a spec keeps its own commas)."""
        return tuple(dict.fromkeys(spec_list(self.agents)))

    @field_validator("output")
    @classmethod
    def _log_file(cls, output: Path) -> Path:
        if output.suffix != ".jsonl":
            raise ValueError(
                f"--output {output}: the game log is a .jsonl file; the .md and .json reports "
                "are written beside it"
            )
        return output

    @model_validator(mode="after")
    def _executor_applies(self) -> Self:
        """Language agents play only locally: refused before any bot is built
        (`benchmarks.werewolf.executor_refusal`)."""
        from benchmarks.werewolf import executor_refusal

        refusal = executor_refusal(self.specs(), self.executor)
        if refusal:
            raise ValueError(refusal)
        return self

    @model_validator(mode="after")
    def _playable(self) -> Self:
        """At least two agents, and every spec builds a werewolf bot (before any game)."""
        from agents.llm.errors import LLMError
        from games.bots import make_bot
        from games.errors import GameError
        from games.werewolf.game import load_werewolf

        specs = self.specs()
        if len(specs) < 2:
            raise ValueError(
                f"--agents needs at least two distinct agents, e.g. rule,random (got "
                f"{self.agents!r})"
            )
        game = load_werewolf()
        for spec in specs:
            try:
                make_bot(game, spec, seed=0)
            except (GameError, LLMError) as exc:
                raise ValueError(f"--agents {spec}: {exc}") from None
        return self

    def config(self) -> WerewolfBench:
        from benchmarks.werewolf import WerewolfBench

        return WerewolfBench(
            agents=self.specs(),
            games=self.games,
            seed=self.seed,
            workers=self.workers,
            output=str(self.output),
            speed_seconds=self.speed_seconds,
        )


def bench_werewolf(
    agents: str = typer.Option(
        "rule,random",
        help="Comma-separated agent specs, at least two: rule, random, "
        "react:local:smollm2, react:openai:gpt-4o-mini, ...",
    ),
    games: int = typer.Option(100, help="Games per pairing (deals of seeds SEED..SEED+N-1)."),
    seed: int = typer.Option(0, help="First deal seed."),
    workers: int = typer.Option(
        1,
        "--workers",
        "-w",
        help="Games at once (processes; threads for language agents); local only.",
    ),
    output: Path = typer.Option(
        Path("benchmarks/results/werewolf.jsonl"),
        "--output",
        "-o",
        help="The game log (resumable); the .md and .json reports go beside it.",
    ),
    speed_seconds: float = typer.Option(
        1.0, help="Seconds of all-random and all-rule self-play timed for games/s (0: skip)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help=EXECUTOR_HELP + " On Ray, games go in batches of several per task; the win "
        "rates are a local run's, each game's seconds (ms/move, a pairing's games/s) its "
        "worker's, and the self-play games/s is still timed here. Language agents (react, "
        "llm, lspo) run only locally.",
    ),
) -> None:
    """Each agent plays every seat of one side against each other agent on the other side
    (both ways), on the same deals; win rates as werewolves, as village, per role and
    overall with 95% intervals, and games/s. Writes OUTPUT and its .md/.json reports."""
    settings = BenchWerewolfSettings(
        agents=agents, games=games, seed=seed, workers=workers, output=output,
        speed_seconds=speed_seconds, as_json=as_json, executor=executor,
    )  # fmt: skip
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from benchmarks.werewolf import markdown, run, summarize, write_reports

    cfg = settings.config()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, quiet=quiet()),
        disable=settings.as_json,
    ) as bar:
        task = bar.add_task("werewolf games", total=len(cfg.units()))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

        result = run(cfg, progress, executor=settings.executor)
    summary: dict[str, Any] = summarize(cfg, result)
    from benchmarks.report import write_report

    paths = [*write_reports(cfg, summary), write_report(Path(cfg.output))]  # + the games' page
    if settings.as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(markdown(summary))
        typer.echo("wrote " + ", ".join(str(p) for p in [cfg.output, *paths]))


def register(cli: CLI) -> None:
    cli.bench.command("werewolf")(bench_werewolf)
