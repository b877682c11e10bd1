"""ORPO step time on CPU with and without the frozen-block cache, in one process on the
same batches (a ratio, so machine load hits both): the full forward every step against
`PrefixCache` (only the top blocks run; the cache is filled before timing, as it is after
the first pass over the pairs).

    python -m benchmarks.orpo_speed --pairs benchmarks/results/story_pairs_smollm2.jsonl
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import torch

from agents.training.orpo import (
    Pair,
    PrefixCache,
    freeze_below,
    load_pairs,
    load_trainable,
    pair_loss,
)


def step_seconds(model: Any, tok: Any, batches: list[list[Pair]], **kw: Any) -> float:
    """Mean seconds of one optimiser step (loss, backward, AdamW) over `batches`."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-6)
    t0 = time.perf_counter()
    for batch in batches:
        loss, _ = pair_loss(model, tok, batch, 1.0, **kw)
        opt.zero_grad()
        torch.autograd.backward(loss)
        opt.step()
    return (time.perf_counter() - t0) / len(batches)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="benchmarks/results/story_pairs_smollm2.jsonl")
    ap.add_argument("--model", default="local:smollm2")
    ap.add_argument("--steps", type=int, default=10, help="steps per path and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--top-layers", type=int, default=6)
    ap.add_argument("--max-prompt", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=2)
    args = ap.parse_args()
    pairs = load_pairs(args.pairs)
    model, tok = load_trainable(args.model)
    model.train()
    freeze_below(model, args.top_layers)
    rng = random.Random(0)
    batches = [rng.sample(pairs, args.batch_size) for _ in range(args.steps)]
    cache = PrefixCache(model, tok, args.top_layers, args.max_prompt)
    assert cache.check(pairs[:2]), "the cached path disagrees with the full forward"
    for batch in batches:
        cache.logps([p.prompt for p in batch], [p.chosen for p in batch])
        cache.logps([p.prompt for p in batch], [p.rejected for p in batch])
    full, fast = [], []
    for _ in range(args.rounds):  # alternate, so a change in machine load hits both
        full.append(step_seconds(model, tok, batches, max_prompt=args.max_prompt))
        fast.append(step_seconds(model, tok, batches, max_prompt=args.max_prompt, cache=cache))
    f, c = statistics.median(full), statistics.median(fast)
    print(
        f"top {args.top_layers} blocks, batch {args.batch_size}, last {args.max_prompt} prompt "
        f"tokens, {args.steps} steps x {args.rounds} rounds: full forward {f:.2f} s/step, "
        f"cached {c:.2f} s/step, speed-up {f / c:.2f}x; 300 steps: {300 * f / 60:.1f} vs "
        f"{300 * c / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
