"""Local-model throughput, measured in one process (ratios, not absolute times):

1. 8 different prompts, one at a time vs as one batch;
2. n samples of one long (~1k-token) prompt, with one shared prefill (the
   prompt's KV cache copied to n rows) vs each sample prefilling its own copy.

Every run generates exactly `new_tokens` tokens per sample (EOS ignored), so
tokens/s compare like with like.

    python -m benchmarks.llm_throughput [--json]     # or: agents bench llm
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from agents.llm.local import LocalLLM
from agents.llm.spec import parse_spec
from agents.llm.types import Request, make_request

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "How many legs does a spider have?",
    "What is 12 times 12?",
    "Translate 'good morning' into Spanish.",
    "What gas do plants absorb from the air?",
    "Who wrote Romeo and Juliet?",
    "What is the boiling point of water in Celsius?",
]

PARAGRAPH = (
    "The repository contains a small library for parsing configuration files. "
    "Each section begins with a header in square brackets, followed by key and value "
    "pairs separated by an equals sign. Comments start with a semicolon or a hash. "
)


def _long_prompt(llm: LocalLLM, tokens: int) -> list[dict[str, str]]:
    text = PARAGRAPH
    while len(llm.encode([{"role": "user", "content": text}])) < tokens:
        text += PARAGRAPH
    return [{"role": "user", "content": text + "\nSummarise the text above in one sentence."}]


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _out_tokens(results: list[list[Any]]) -> int:
    return sum(c.usage.output_tokens for cs in results for c in cs)


def run_benchmark(
    model: str = "local:smollm2",
    prompts: int = 8,
    samples: int = 8,
    prompt_tokens: int = 1024,
    new_tokens: int = 32,
    progress: bool = True,
    repeats: int = 3,
) -> dict[str, Any]:
    _, target = parse_spec(model)
    llm = LocalLLM(target)

    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    say(f"loading {model} ...")
    load_s, _ = _timed(lambda: llm.engine)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(prompts)]
    reqs = [
        make_request([{"role": "user", "content": q}], max_tokens=new_tokens) for q in questions
    ]
    llm.generate_batch(reqs[:2], ignore_eos=True)  # warm-up

    long = _long_prompt(llm, prompt_tokens)
    long_len = len(llm.encode(long))
    many = Request(
        **{
            **make_request(long, n=samples, temperature=0.8, max_tokens=new_tokens).__dict__,
            "seed": 0,
        }
    )
    runs: dict[str, list[tuple[float, int]]] = {k: [] for k in ("seq", "bat", "sep", "shr")}
    # Alternate baseline and ours, `repeats` times, and keep the medians: a busy
    # machine slows whichever run it overlaps, not one side every time.
    for rep in range(repeats):
        say(f"round {rep + 1}/{repeats}: {prompts} prompts sequential vs batched ...")
        for key, fn in (
            ("seq", lambda: [llm.generate_batch([r], ignore_eos=True)[0] for r in reqs]),
            ("bat", lambda: llm.generate_batch(reqs, ignore_eos=True)),
        ):
            took, out = _timed(fn)
            runs[key].append((took, _out_tokens(out)))
        say(f"round {rep + 1}/{repeats}: n={samples} of a {long_len}-token prompt ...")
        for key, share in (("sep", False), ("shr", True)):
            took, out = _timed(
                functools.partial(llm.generate_batch, [many], share_prefill=share, ignore_eos=True)
            )
            runs[key].append((took, _out_tokens(out)))

    def seconds(key: str) -> float:
        return statistics.median(s for s, _ in runs[key])

    def rate(key: str) -> float:
        return round(statistics.median(t / s for s, t in runs[key]), 2)

    batch: dict[str, Any] = {
        "prompts": prompts,
        "sequential_tokens_per_s": rate("seq"),
        "batched_tokens_per_s": rate("bat"),
        "sequential_seconds": round(seconds("seq"), 6),
        "batched_seconds": round(seconds("bat"), 6),
        "speedup": round(seconds("seq") / seconds("bat"), 2),
    }
    shared: dict[str, Any] = {
        "samples": samples,
        "prompt_tokens": long_len,
        "separate_tokens_per_s": rate("sep"),
        "shared_tokens_per_s": rate("shr"),
        "separate_seconds": round(seconds("sep"), 6),
        "shared_seconds": round(seconds("shr"), 6),
        "speedup": round(seconds("sep") / seconds("shr"), 2),
    }
    return {
        "model": model,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_seconds": round(load_s, 3),
        "repeats": repeats,
        "new_tokens_per_sample": new_tokens,
        "batch": batch,
        "shared_prefill": shared,
    }


def markdown(r: dict[str, Any]) -> str:
    b, s = r["batch"], r["shared_prefill"]
    return "\n".join(
        [
            f"# Local LLM throughput: {r['model']} ({r['machine']})",
            "",
            f"Each sample generates {r['new_tokens_per_sample']} tokens; medians of "
            f"{r['repeats']} alternating rounds. Model load: {r['load_seconds']} s.",
            "",
            "| test | baseline tok/s | ours tok/s | speedup |",
            "|---|---|---|---|",
            f"| {b['prompts']} prompts: sequential vs batched | {b['sequential_tokens_per_s']} "
            f"| {b['batched_tokens_per_s']} | {b['speedup']}x |",
            f"| n={s['samples']} of a {s['prompt_tokens']}-token prompt: separate vs shared "
            f"prefill | {s['separate_tokens_per_s']} | {s['shared_tokens_per_s']} | {s['speedup']}x |",
            "",
        ]
    )


def main() -> None:
    result = run_benchmark()
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(result))


if __name__ == "__main__":
    main()
