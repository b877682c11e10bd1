"""Where one decoded token's time goes in the local engine's fast decoder, by
`torch.profiler`: operator calls per token, time inside the matrix-multiply kernels
(the arithmetic) and time in every other operator (norms, rotary, attention, copies,
dispatch). Rows 1 (one stream) and 8 (a batch), greedy, one new token per step over a
short prompt, as a search call decodes.

    python -m benchmarks.llm_profile [--tokens N] [--out FILE]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from agents.llm.local import LocalLLM
from agents.llm.spec import parse_spec

MATMUL = ("aten::_weight_int4pack_mm", "aten::_weight_int8pack_mm", "aten::mm", "aten::addmm")
"""Operators that do the model's arithmetic (the quantised and float projections)."""


def _prefill(decoder: Any, ids: list[int], rows: int, tokens: int) -> tuple[Any, torch.Tensor]:
    cache = decoder.new_cache(rows, len(ids) + tokens + 1)
    batch = torch.tensor([ids] * rows)
    positions = torch.arange(len(ids)).repeat(rows, 1)
    logits = decoder.forward(batch, positions, torch.ones_like(batch, dtype=torch.bool), cache)
    return cache, logits


def _decode(decoder: Any, cache: Any, logits: torch.Tensor, tokens: int) -> None:
    rows, at = logits.shape[0], cache.length
    for _ in range(tokens):
        nxt = logits.argmax(-1, keepdim=True)
        pos = torch.full((rows, 1), at)
        logits = decoder.forward(nxt, pos, torch.ones_like(nxt, dtype=torch.bool), cache)
        at += 1


def profile_decode(model: str = "local:smollm2", tokens: int = 32) -> dict[str, Any]:
    _, target = parse_spec(model)
    llm = LocalLLM(target)
    decoder = llm.engine.fast
    if decoder is None:
        raise SystemExit(f"{model}: the fast decoder does not support this model")
    ids = llm.encode([{"role": "user", "content": "What is the capital of France?"}])
    out: dict[str, Any] = {"model": model, "tokens": tokens, "prompt_tokens": len(ids)}
    out["machine"] = f"{platform.machine()}, {torch.get_num_threads()} threads"
    for rows in (1, 8):
        _decode(decoder, *_prefill(decoder, ids, rows, 4), 4)  # warm-up
        cache, logits = _prefill(decoder, ids, rows, tokens)
        start = time.perf_counter()
        _decode(decoder, cache, logits, tokens)
        plain = time.perf_counter() - start
        cache, logits = _prefill(decoder, ids, rows, tokens)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            _decode(decoder, cache, logits, tokens)
        calls: dict[str, int] = defaultdict(int)
        self_us: dict[str, float] = defaultdict(float)
        top_level = 0  # operators called from Python (not from inside another operator)
        for e in prof.events():
            calls[e.name] += 1
            self_us[e.name] += e.self_cpu_time_total
            top_level += e.cpu_parent is None
        steps = tokens
        matmul = sum(us for k, us in self_us.items() if k.startswith(MATMUL))
        total = sum(self_us.values())
        top = sorted(self_us.items(), key=lambda kv: -kv[1])[:12]
        out[f"rows{rows}"] = {
            "ms_per_step_unprofiled": 1000 * plain / tokens,
            "tokens_per_s_unprofiled": rows * tokens / plain,
            "op_calls_per_step": top_level / steps,
            "all_op_calls_per_step": sum(calls.values()) / steps,
            "matmul_us_per_step": matmul / steps,
            "other_us_per_step": (total - matmul) / steps,
            "matmul_share": matmul / total,
            "top": [(k, calls[k] / steps, us / steps) for k, us in top],
        }
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# Decode profile: {r['model']} ({r['machine']})",
        "",
        f"`torch.profiler` over {r['tokens']} greedy decode steps after a "
        f"{r['prompt_tokens']}-token prompt (the prompt's forward is not profiled); per step "
        "= one new token per row. Self CPU time "
        "per operator (the profiler's own overhead inflates small operators; the unprofiled "
        "rate is measured separately on the same steps).",
        "",
        "| rows | tok/s (unprofiled) | ms/step | operator calls/step (from Python; all) | "
        "matmul us/step | other us/step | matmul share |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in (1, 8):
        d = r[f"rows{rows}"]
        lines.append(
            f"| {rows} | {d['tokens_per_s_unprofiled']:.1f} | {d['ms_per_step_unprofiled']:.2f} "
            f"| {d['op_calls_per_step']:.0f}; {d['all_op_calls_per_step']:.0f} "
            f"| {d['matmul_us_per_step']:.0f} | "
            f"{d['other_us_per_step']:.0f} | {100 * d['matmul_share']:.0f}% |"
        )
    for rows in (1, 8):
        lines += [
            "",
            f"Top operators, {rows} row(s) (self time):",
            "",
            "| operator | calls/step | us/step |",
            "|---|---:|---:|",
        ]
        for name, n, us in r[f"rows{rows}"]["top"]:
            lines.append(f"| `{name}` | {n:.0f} | {us:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="local:smollm2")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here")
    args = ap.parse_args()
    text = markdown(profile_decode(args.model, args.tokens))
    if args.out:
        args.out.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
