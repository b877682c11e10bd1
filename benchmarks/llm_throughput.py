"""Local-model throughput, measured in one process (ratios, not absolute times):

1. 8 different prompts, one at a time vs as one batch;
2. n samples of one long (~1k-token) prompt, with one shared prefill (the
   prompt's KV cache copied to n rows) vs each sample prefilling its own copy;
3. the decoder: transformers' forward (the baseline) vs ours (agents/llm/fast_decoder.py)
   on one stream, the time to the first token of the long prompt, and a tree-search
   trace (one system prompt, a history that grows, siblings that share it) with a cold
   vs a warm prefix cache.

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
    # Tests 1 and 2 measure batching and shared prefill alone: no prefix cache (a repeat
    # of the long prompt would otherwise be free); test 3 measures the cache.
    prefixes, llm.engine.prefixes = llm.engine.prefixes, None

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
    llm.engine.prefixes = prefixes
    say("decoder: transformers' forward vs ours; prefix cache on a search trace ...")
    decoder = _decoder(llm, long, new_tokens, repeats)
    import resource

    return {
        "model": model,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_seconds": round(load_s, 3),
        "repeats": repeats,
        "new_tokens_per_sample": new_tokens,
        "batch": batch,
        "shared_prefill": shared,
        "decoder": decoder,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _llama_cpp(
    llm: LocalLLM, one: list[int], long_ids: list[int], new_tokens: int, repeats: int
) -> dict[str, Any] | None:
    """The reference: llama.cpp (llama-cpp-python) on the same GGUF and thread count, on
    the same token ids; None where it is not installed or the model is not a GGUF."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    import torch

    gguf = llm.weights.gguf_file
    if gguf is None:
        return None
    threads = torch.get_num_threads()
    ref = Llama(model_path=str(gguf), n_ctx=4096, n_threads=threads, verbose=False, seed=0)

    def run(ids: list[int], tokens: int) -> float:
        """Seconds to the first token, and to `tokens` (EOS does not stop it)."""
        ref.reset()  # no prefix reuse between runs: a cold prompt each time
        start = time.perf_counter()
        first = 0.0
        for k, _ in enumerate(ref.generate(ids, top_k=1, temp=0.0)):
            if k == 0:
                first = time.perf_counter() - start
            if k + 1 >= tokens:
                break
        return first if tokens == 1 else time.perf_counter() - start

    run(one, 2)
    one_stream = statistics.median(run(one, new_tokens) for _ in range(repeats))
    ttft = statistics.median(run(long_ids, 1) for _ in range(repeats))
    import llama_cpp

    return {
        "version": llama_cpp.__version__,
        "threads": threads,
        "one_stream_tokens_per_s": round(new_tokens / one_stream, 2),
        "ttft_s": round(ttft, 3),
    }


def _trace(llm: LocalLLM, steps: int = 8, siblings: int = 2) -> list[list[int]]:
    """Prompts as a tree search sends them: the same system prompt and task, a history
    that grows by one step per level, and `siblings` alternatives at each level."""
    system = "You fix bugs in a Python repository with tools. " + PARAGRAPH * 6
    task = "Issue: parsing a section header with trailing spaces fails. " + PARAGRAPH * 2
    out: list[list[int]] = []
    history: list[dict[str, str]] = []
    for step in range(steps):
        for sib in range(siblings):
            observation = f"step {step}, option {sib}: " + PARAGRAPH[: 80 + 40 * sib]
            msgs = [{"role": "system", "content": system}, {"role": "user", "content": task}]
            out.append(llm.encode([*msgs, *history, {"role": "user", "content": observation}]))
        history += [
            {"role": "assistant", "content": f"ACTION: view_file\npath: src/mod{step}.py"},
            {"role": "user", "content": f"step {step}: " + PARAGRAPH[:120]},
        ]
    return out


def _decoder(
    llm: LocalLLM, long: list[dict[str, str]], new_tokens: int, repeats: int
) -> dict[str, Any]:
    from agents.llm.local_engine import Engine

    ours = llm.engine
    saved = {k: os.environ.get(k) for k in ("AGENTS_LOCAL_DECODER", "AGENTS_PREFIX_CACHE_MB")}
    os.environ.update(AGENTS_LOCAL_DECODER="transformers", AGENTS_PREFIX_CACHE_MB="0")
    baseline = Engine(ours.model, ours.tokenizer)
    os.environ.update(AGENTS_LOCAL_DECODER=saved["AGENTS_LOCAL_DECODER"] or "int4")
    cold = Engine(ours.model, ours.tokenizer)  # our decoder, no prefix cache
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    one = llm.encode([{"role": "user", "content": QUESTIONS[0]}])
    long_ids = llm.encode(long)
    trace = _trace(llm)
    trace_tokens = 8

    def gen(engine: Engine, ids: list[int], tokens: int) -> None:
        engine.generate([ids], [1], max_tokens=tokens, ignore_eos=True)

    def replay(engine: Engine) -> None:
        for ids in trace:
            gen(engine, ids, trace_tokens)

    runs: dict[str, list[float]] = {k: [] for k in ("base1", "ours1", "base_ttft", "ours_ttft")}
    runs.update(cold_trace=[], warm_trace=[])
    gen(baseline, one, 2)
    gen(cold, one, 2)
    for _ in range(repeats):
        runs["base1"].append(_timed(lambda: gen(baseline, one, new_tokens))[0])
        runs["ours1"].append(_timed(lambda: gen(cold, one, new_tokens))[0])
        runs["base_ttft"].append(_timed(lambda: gen(baseline, long_ids, 1))[0])
        runs["ours_ttft"].append(_timed(lambda: gen(cold, long_ids, 1))[0])
    runs["cold_trace"].append(_timed(lambda: replay(cold))[0])
    assert ours.prefixes is not None or ours.fast is None
    hits_before = ours.prefixes.hits if ours.prefixes else 0
    runs["warm_trace"].append(_timed(lambda: replay(ours))[0])
    med = {k: statistics.median(v) for k, v in runs.items()}
    reference = _llama_cpp(llm, one, long_ids, new_tokens, repeats)
    return {
        "llama_cpp": reference,
        "decoder": "int4"
        if ours.fast is not None and ours.fast.int4
        else ("float32" if ours.fast is not None else "transformers"),
        "one_stream_baseline_tokens_per_s": round(new_tokens / med["base1"], 2),
        "one_stream_tokens_per_s": round(new_tokens / med["ours1"], 2),
        "one_stream_speedup": round(med["base1"] / med["ours1"], 2),
        "prompt_tokens": len(long_ids),
        "ttft_baseline_s": round(med["base_ttft"], 3),
        "ttft_s": round(med["ours_ttft"], 3),
        "trace_calls": len(trace),
        "trace_prompt_tokens": [len(trace[0]), len(trace[-1])],
        "trace_cold_s_per_call": round(med["cold_trace"] / len(trace), 3),
        "trace_warm_s_per_call": round(med["warm_trace"] / len(trace), 3),
        "trace_speedup": round(med["cold_trace"] / med["warm_trace"], 2),
        "trace_prefix_hits": (ours.prefixes.hits - hits_before) if ours.prefixes else 0,
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
            *_decoder_lines(r["decoder"], r["new_tokens_per_sample"]),
            f"Peak memory (RSS) of the benchmark process: {r['peak_rss_mb']} MB.",
            "",
        ]
    )


def _decoder_lines(d: dict[str, Any], new_tokens: int) -> list[str]:
    return [
        f"Decoder: transformers' forward (baseline) vs ours ({d['decoder']} weights), "
        f"{new_tokens} tokens per call; prefix cache on a tree-search trace of "
        f"{d['trace_calls']} calls ({d['trace_prompt_tokens'][0]}-"
        f"{d['trace_prompt_tokens'][1]} prompt tokens, 8 new tokens each).",
        "",
        "| test | baseline | ours | speedup |",
        "|---|---|---|---|",
        f"| one stream, tok/s | {d['one_stream_baseline_tokens_per_s']} | "
        f"{d['one_stream_tokens_per_s']} | {d['one_stream_speedup']}x |",
        f"| time to first token, {d['prompt_tokens']}-token prompt, s | {d['ttft_baseline_s']} "
        f"| {d['ttft_s']} | {round(d['ttft_baseline_s'] / d['ttft_s'], 2)}x |",
        f"| search trace, s per call: cold vs warm prefix cache | {d['trace_cold_s_per_call']} "
        f"| {d['trace_warm_s_per_call']} | {d['trace_speedup']}x |",
        "",
        *_reference_lines(d),
    ]


def _reference_lines(d: dict[str, Any]) -> list[str]:
    ref = d.get("llama_cpp")
    if not ref:
        return ["llama.cpp: not installed here (`pip install llama-cpp-python`); no reference.", ""]
    return [
        f"Reference, same GGUF, same token ids, {ref['threads']} threads: llama.cpp "
        f"(llama-cpp-python {ref['version']}).",
        "",
        "| test | llama.cpp | ours | ours / llama.cpp |",
        "|---|---|---|---|",
        f"| one stream, tok/s | {ref['one_stream_tokens_per_s']} | {d['one_stream_tokens_per_s']} "
        f"| {round(d['one_stream_tokens_per_s'] / ref['one_stream_tokens_per_s'], 2)}x |",
        f"| time to first token, {d['prompt_tokens']}-token prompt, s | {ref['ttft_s']} "
        f"| {d['ttft_s']} | {round(ref['ttft_s'] / d['ttft_s'], 2)}x faster |",
        "",
    ]


def main() -> None:
    result = run_benchmark()
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(result))


if __name__ == "__main__":
    main()
