"""Local-model throughput, measured in one process (ratios, not absolute times):

1. 8 different prompts, one at a time vs as one batch;
2. n samples of one long (~1k-token) prompt, with one shared prefill (the
   prompt's KV cache copied to n rows) vs each sample prefilling its own copy;
3. the decoder: transformers' forward (the baseline) vs ours (agents/llm/fast_decoder.py)
   on one stream, the time to the first token of the long prompt, and the prompts of a
   real SWE-Search run (one system prompt, histories that grow and branch) replayed with
   a cold vs a warm prefix cache;
4. calls that arrive one after another while earlier ones decode: batch by batch vs
   continuous batching;
5. llama.cpp on the same GGUF, token ids and threads, where llama-cpp-python is installed.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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
    say(f"{prompts} calls arriving {STAGGER}s apart: batch by batch vs continuous batching ...")
    arrivals = _staggered(llm, [llm.encode(r.messages) for r in reqs], new_tokens, repeats)
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
        "staggered": arrivals,
        "decoder": decoder,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _llama_cpp(llm: LocalLLM) -> tuple[dict[str, Any], Callable[[list[int], int], float]] | None:
    """The reference: llama.cpp (llama-cpp-python) on the same GGUF and thread count, as
    (what it is, run(ids, tokens) -> seconds); None where it is not installed or the
    model is not a GGUF. Its runs alternate with ours in `_decoder`, so a busy machine
    slows both sides alike."""
    try:
        import llama_cpp
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
        """Seconds to the first token (tokens == 1), or to `tokens` (EOS does not stop it)."""
        ref.reset()  # no prefix reuse between runs: a cold prompt each time
        start = time.perf_counter()
        first = 0.0
        for k, _ in enumerate(ref.generate(ids, top_k=1, temp=0.0)):
            if k == 0:
                first = time.perf_counter() - start
            if k + 1 >= tokens:
                break
        return first if tokens == 1 else time.perf_counter() - start

    return {"version": llama_cpp.__version__, "threads": threads}, run


STAGGER = 0.1  # seconds between the arrivals of the staggered calls


def _staggered(
    llm: LocalLLM, prompts: list[list[int]], new_tokens: int, repeats: int
) -> dict[str, Any]:
    """Calls that arrive one after another while earlier ones decode (as a search's calls
    do): with continuous batching each joins the running batch at the next step; without
    (the baseline) it waits for the batch to end, then the waiting calls go together."""
    import threading

    from agents.llm.local_engine import Job, Params, Scheduler

    engine = llm.engine

    def run(joins: bool) -> float:
        engine.allow_join = joins
        scheduler = Scheduler(lambda: engine, threading.Lock(), window=0.005)
        left = threading.Semaphore(0)
        start = time.perf_counter()
        for ids in prompts:
            params = Params(max_tokens=new_tokens, ignore_eos=True)
            scheduler.submit(Job(ids, 1, params, done=lambda _: left.release()))
            time.sleep(STAGGER)
        for _ in prompts:
            left.acquire()
        took = time.perf_counter() - start
        scheduler.close()
        return took

    try:
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for joins in (False, True):
                runs[joins].append(run(joins))
    finally:
        engine.allow_join = True
    base, ours = statistics.median(runs[False]), statistics.median(runs[True])
    tokens = new_tokens * len(prompts)
    return {
        "calls": len(prompts),
        "gap_s": STAGGER,
        "batch_by_batch_seconds": round(base, 3),
        "continuous_seconds": round(ours, 3),
        "batch_by_batch_tokens_per_s": round(tokens / base, 2),
        "continuous_tokens_per_s": round(tokens / ours, 2),
        "speedup": round(base / ours, 2),
    }


TRACE = Path(__file__).parent / "swe_bench" / "data" / "swe_search_trace.jsonl"
"""The prompts of a real SWE-Search run (`agents solve --task swe-bench --search mcts` on
the first swe-mini instance with the embedded model, recorded with AGENTS_LLM_RECORD)."""


@dataclass(frozen=True)
class TraceCall:
    ids: list[int]
    n: int
    temperature: float
    max_tokens: int
    stop: tuple[str, ...] | None


def _trace(llm: LocalLLM, path: Path = TRACE) -> list[TraceCall]:
    """The recorded calls, in order, as token ids with their sampling parameters."""
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            ids = llm.encode(row["messages"])
            stop = tuple(row["stop"]) if row.get("stop") else None
            calls.append(TraceCall(ids, row["n"], row["temperature"], row["max_tokens"], stop))
    return calls


def _decoder(
    llm: LocalLLM, long: list[dict[str, str]], new_tokens: int, repeats: int
) -> dict[str, Any]:
    from agents.llm import fast_decoder
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

    def gen(engine: Engine, ids: list[int], tokens: int) -> None:
        engine.generate([ids], [1], max_tokens=tokens, ignore_eos=True)

    def replay(engine: Engine, first_token_only: bool = False) -> int:
        """Each call as recorded (n, temperature, max_tokens, stop; seeded), or only to its
        first token (what the cache changes: the prompt's cost); the tokens generated, to
        show that the cold and the warm replay did the same work."""
        out = 0
        for c in trace:
            tokens = 1 if first_token_only else c.max_tokens
            got = engine.generate([c.ids], [c.n], c.temperature, tokens, c.stop, seed=0)
            out += sum(len(smp.tokens) for smp in got[0])
        return out

    keys = ("base1", "ours1", "base_ttft", "ours_ttft", "ref1", "ref_ttft")
    runs: dict[str, list[float]] = {k: [] for k in keys}
    runs.update(cold_trace=[], warm_trace=[])
    reference = _llama_cpp(llm)
    gen(baseline, one, 2)
    gen(cold, one, 2)
    if reference is not None:
        reference[1](one, 2)
    for _ in range(repeats):  # every engine once per round, back to back
        runs["base1"].append(_timed(lambda: gen(baseline, one, new_tokens))[0])
        runs["ours1"].append(_timed(lambda: gen(cold, one, new_tokens))[0])
        runs["base_ttft"].append(_timed(lambda: gen(baseline, long_ids, 1))[0])
        runs["ours_ttft"].append(_timed(lambda: gen(cold, long_ids, 1))[0])
        if reference is not None:
            runs["ref1"].append(reference[1](one, new_tokens))
            runs["ref_ttft"].append(reference[1](long_ids, 1))
            runs["ours1"].append(_timed(lambda: gen(cold, one, new_tokens))[0])
    runs.update(cold_first=[_timed(lambda: replay(cold, True))[0]])
    took, cold_tokens = _timed(lambda: replay(cold))
    runs["cold_trace"].append(took)
    assert ours.prefixes is not None or ours.fast is None

    def empty_cache() -> None:  # each warm replay starts empty and warms up as it goes
        if ours.prefixes is not None:
            ours.prefixes = fast_decoder.PrefixCache(ours.prefixes.max_bytes)

    empty_cache()
    took, warm_tokens = _timed(lambda: replay(ours))
    runs["warm_trace"].append(took)
    hits = ours.prefixes.hits if ours.prefixes else 0
    empty_cache()
    runs.update(warm_first=[_timed(lambda: replay(ours, True))[0]])
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    llama = None
    if reference is not None:
        llama = {
            **reference[0],
            "one_stream_tokens_per_s": round(new_tokens / med["ref1"], 2),
            "ttft_s": round(med["ref_ttft"], 3),
        }
    return {
        "llama_cpp": llama,
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
        "trace_prompt_tokens": [min(len(c.ids) for c in trace), max(len(c.ids) for c in trace)],
        "trace_new_tokens": [cold_tokens, warm_tokens],
        "trace_cold_s_per_call": round(med["cold_trace"] / len(trace), 3),
        "trace_warm_s_per_call": round(med["warm_trace"] / len(trace), 3),
        "trace_speedup": round(med["cold_trace"] / med["warm_trace"], 2),
        "trace_cold_first_token_s_per_call": round(med["cold_first"] / len(trace), 3),
        "trace_warm_first_token_s_per_call": round(med["warm_first"] / len(trace), 3),
        "trace_first_token_speedup": round(med["cold_first"] / med["warm_first"], 2),
        "trace_prefix_hits": hits,
    }


def markdown(r: dict[str, Any], image: str | None = None) -> str:
    """The report; `image`: a plot file name to show under the title."""
    b, s = r["batch"], r["shared_prefill"]
    return "\n".join(
        [
            f"# Local LLM throughput: {r['model']} ({r['machine']})",
            "",
            *([f"![Tokens per second, baseline vs ours]({image})", ""] if image else []),
            f"Each sample generates {r['new_tokens_per_sample']} tokens; medians of "
            f"{r['repeats']} alternating rounds. Model load: {r['load_seconds']} s.",
            "",
            "| test | baseline tok/s | ours tok/s | speedup |",
            "|---|---|---|---|",
            f"| {b['prompts']} prompts: sequential vs batched | {b['sequential_tokens_per_s']} "
            f"| {b['batched_tokens_per_s']} | {b['speedup']}x |",
            f"| n={s['samples']} of a {s['prompt_tokens']}-token prompt: separate vs shared "
            f"prefill | {s['separate_tokens_per_s']} | {s['shared_tokens_per_s']} | {s['speedup']}x |",
            *_staggered_lines(r.get("staggered")),
            "",
            *_decoder_lines(r["decoder"], r["new_tokens_per_sample"]),
            *_reference_lines(r["decoder"], b),
            *_target_lines(r),
            f"Peak memory (RSS) of the benchmark process: {r['peak_rss_mb']} MB.",
            "",
        ]
    )


def _staggered_lines(g: dict[str, Any] | None) -> list[str]:
    if not g:
        return []
    return [
        f"| {g['calls']} calls arriving {g['gap_s']} s apart: batch by batch vs continuous "
        f"batching (wall time from first arrival to last answer) | "
        f"{g['batch_by_batch_tokens_per_s']} | {g['continuous_tokens_per_s']} | {g['speedup']}x |"
    ]


def _decoder_lines(d: dict[str, Any], new_tokens: int) -> list[str]:
    return [
        f"Decoder: transformers' forward (baseline) vs ours ({d['decoder']} weights), "
        f"{new_tokens} tokens per call; prefix cache on the prompts of a real SWE-Search run "
        f"({d['trace_calls']} calls of {d['trace_prompt_tokens'][0]}-"
        f"{d['trace_prompt_tokens'][1]} prompt tokens, {d['trace_new_tokens'][0]} / "
        f"{d['trace_new_tokens'][1]} tokens generated cold / warm, each call's n, temperature, "
        "max_tokens and stop as recorded, seeded).",
        "",
        "| test | baseline | ours | speedup |",
        "|---|---|---|---|",
        f"| one stream, tok/s | {d['one_stream_baseline_tokens_per_s']} | "
        f"{d['one_stream_tokens_per_s']} | {d['one_stream_speedup']}x |",
        f"| time to first token, {d['prompt_tokens']}-token prompt, s | {d['ttft_baseline_s']} "
        f"| {d['ttft_s']} | {round(d['ttft_baseline_s'] / d['ttft_s'], 2)}x |",
        "| SWE-Search trace, time to first token, s per call: cold vs warm prefix cache | "
        f"{d['trace_cold_first_token_s_per_call']} | {d['trace_warm_first_token_s_per_call']} "
        f"| {d['trace_first_token_speedup']}x |",
        f"| SWE-Search trace, s per call: cold vs warm prefix cache | {d['trace_cold_s_per_call']} "
        f"| {d['trace_warm_s_per_call']} | {d['trace_speedup']}x |",
        "",
    ]


def _reference_lines(d: dict[str, Any], b: dict[str, Any]) -> list[str]:
    ref = d.get("llama_cpp")
    if not ref:
        return ["llama.cpp: not installed here (`pip install llama-cpp-python`); no reference.", ""]
    one = ref["one_stream_tokens_per_s"]
    return [
        f"Reference, same GGUF, same token ids, {ref['threads']} threads: llama.cpp "
        f"(llama-cpp-python {ref['version']}).",
        "",
        "| test | llama.cpp | ours | ours / llama.cpp |",
        "|---|---|---|---|",
        f"| one stream, tok/s | {one} | {d['one_stream_tokens_per_s']} "
        f"| {round(d['one_stream_tokens_per_s'] / one, 2)}x |",
        f"| {b['prompts']} prompts batched, tok/s (aggregate; llama.cpp: its one stream) | {one} "
        f"| {b['batched_tokens_per_s']} | {round(b['batched_tokens_per_s'] / one, 2)}x |",
        f"| time to first token, {d['prompt_tokens']}-token prompt, s | {ref['ttft_s']} "
        f"| {d['ttft_s']} | {round(ref['ttft_s'] / d['ttft_s'], 2)}x faster |",
        "",
    ]


def targets(r: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(target, measured, goal, met): the engine's targets, as ratios of this run."""
    d, b = r["decoder"], r["batch"]
    out = [("warm prefix cache, search trace: time per call cut by", d["trace_speedup"], 3.0)]
    ref = d.get("llama_cpp")
    if ref:
        one = ref["one_stream_tokens_per_s"]
        out += [
            ("one stream / llama.cpp one stream", d["one_stream_tokens_per_s"] / one, 1.0),
            (
                f"{b['prompts']} streams (aggregate) / llama.cpp one stream",
                b["batched_tokens_per_s"] / one,
                4.0,
            ),
            ("llama.cpp's time to first token / ours", ref["ttft_s"] / d["ttft_s"], 1.0),
        ]
    return [(name, round(got, 2), goal, got >= goal) for name, got, goal in out]


def _target_lines(r: dict[str, Any]) -> list[str]:
    lines = ["Targets (ratios of this run):", ""]
    for name, got, goal, met in targets(r):
        lines.append(f"- {'met' if met else 'NOT met'}: {name}: {got}x (goal >= {goal}x)")
    return [*lines, ""]


def main() -> None:
    result = run_benchmark()
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(result))


if __name__ == "__main__":
    main()
