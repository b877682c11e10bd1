"""`agents bench swe-search`: linear ReAct vs SWE-Search, same instances, model and budget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from pydantic import Field, ValidationInfo, field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import (
    CommandSettings,
    Count,
    NonNegative,
    Sandbox,
    Size,
    comma_list,
    one_of,
)

if TYPE_CHECKING:
    from benchmarks.tasks import SolveOptions


class BenchSweSearchSettings(CommandSettings):
    """`agents bench swe-search`'s options; `options()` is what both arms solve with.
    With `budgets`: the equal-budget sweep over the noisy oracle's p values and seeds
    (benchmarks/swe_search_budget.py)."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    model: str = "local:smollm2"
    limit: Size = 3
    instances: str = ""
    max_iterations: Count | None = None
    max_cost: NonNegative | None = None
    sandbox: Sandbox = "auto"
    base_url: str | None = None
    output: Path = Path("runs/bench_swe_search")
    as_json: bool = False
    budgets: str = ""
    sweep: str = "0.3,0.5,0.7,0.9"
    seeds: str = "0,1,2"
    q: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    judge: Annotated[str, one_of("binary", "graded")] = "binary"

    @field_validator("budgets", "seeds")
    @classmethod
    def _whole_numbers(cls, text: str, info: ValidationInfo) -> str:
        least = 1 if info.field_name == "budgets" else 0
        for part in comma_list(text):
            if not part.isdigit() or int(part) < least:
                raise ValueError(f"{part!r} is not a whole number >= {least}")
        return text

    @field_validator("sweep")
    @classmethod
    def _probabilities(cls, text: str) -> str:
        for part in comma_list(text):
            try:
                ok = 0.0 <= float(part) <= 1.0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"p={part!r} must be a number within 0..1")
        return text

    @model_validator(mode="after")
    def _sweep_uses_the_oracle(self) -> Self:
        if self.budgets and self.model != type(self).model_fields["model"].default:
            raise ValueError(
                "--budgets runs the noisy oracle (oracle:swe,p=P,...) for every p of --sweep; "
                "--model does not apply"
            )
        return self

    def options(self) -> SolveOptions:
        from benchmarks.tasks import SolveOptions

        return SolveOptions(
            model=self.model,
            limit=self.limit,
            instances=comma_list(self.instances),
            max_iterations=self.max_iterations,
            max_cost=self.max_cost,
            sandbox=self.sandbox,
            base_url=self.base_url,
        )


def swe_search(
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model spec."),
    limit: int = typer.Option(3, "--limit", "-k", help="First K swe-mini instances."),
    instances: str = typer.Option("", "--instances", "-i", help="Comma-separated ids."),
    max_iterations: int | None = typer.Option(None, "--max-iterations", "-n", min=1),
    max_cost: float | None = typer.Option(None, "--max-cost", min=0, help="Dollars per arm."),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, local or auto."),
    base_url: str | None = typer.Option(None, "--base-url"),
    output: Path = typer.Option(Path("runs/bench_swe_search"), "--output", "-o"),
    budgets: str = typer.Option(
        "",
        "--budgets",
        help="Equal-budget sweep with the noisy oracle (ignores --model): comma-separated "
        "model calls per instance, e.g. 12,24. Writes OUT/budget.md, .json and .png.",
    ),
    sweep: str = typer.Option("0.3,0.5,0.7,0.9", "--sweep", help="--budgets: oracle p values."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="--budgets: oracle seeds."),
    q: float = typer.Option(0.1, "--q", min=0, max=1, help="--budgets: the judge's flip rate."),
    judge: str = typer.Option(
        "binary", "--judge", help="--budgets: the oracle's value, binary (fixed or not) or graded."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Resolve rate, cost, wall time and LLM calls of both agents, in one table; with
    --budgets, linear (one run, restarts, best-of with a discriminator) vs SWE-Search (three
    final-patch rules) at equal model calls per instance, over the noisy oracle's p."""
    settings = BenchSweSearchSettings(
        model=model, limit=limit, instances=instances, max_iterations=max_iterations,
        max_cost=max_cost, sandbox=sandbox, base_url=base_url, output=output, budgets=budgets,
        sweep=sweep, seeds=seeds, q=q, judge=judge, as_json=as_json,
    )  # fmt: skip
    options = settings.options()
    if settings.budgets:
        from benchmarks.swe_search_budget import budget_sweep, budget_table

        found = budget_sweep(
            options,
            settings.output,
            tuple(float(x) for x in comma_list(settings.sweep)),
            tuple(int(x) for x in comma_list(settings.seeds)),
            settings.q,
            tuple(int(x) for x in comma_list(settings.budgets)),
            judge=settings.judge,
        )
        typer.echo(_json(found) if settings.as_json else budget_table(found))
        return
    from benchmarks.swe_search import compare, table

    rows = compare(options, settings.output)
    typer.echo(_json(rows) if settings.as_json else table(rows, options))


def _json(result: object) -> str:
    import json

    return json.dumps(result, indent=2, default=str)


def register(cli: CLI) -> None:
    cli.bench.command("swe-search")(swe_search)
