"""LSPO's DPO step measured held out: 5-fold cross-validation over an `agents train lspo`
run's preference pairs (statements of the kind the latent policy favours over the kind
it disfavours, in the same situation).

    python -m benchmarks.werewolf_dpo_cv RUN [--folds 5] [--steps 40] [--model local:smollm2]

All iterations' pairs (RUN/iter*/pairs.jsonl; `--iteration N`, repeatable: only those)
are pooled and grouped by self-play game
(`iter2 game 5`: a game's situations share their record, so no game is on both sides of
a split). Fold i trains the starting model (a fresh copy per fold) with DPO (LoRA) on the
other folds' games and measures the log-odds preference for the chosen statement on its
own games before and after (`agents.training.dpo.train_dpo`). Each fold is saved under
RUN/dpo_cv/fold{i}/ and skipped on a rerun when its report exists; the pooled change
(mean ± SE over every held-out pair, and by game) is written to RUN/dpo_cv/cv.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.orpo_cv import lines, load_report, pool


def load_pairs(run: Path, iterations: Sequence[int] = ()) -> list[Any]:
    """The pairs of `iterations` (all when empty), grouped by (iteration, game)."""
    from agents.training.orpo import Pair

    pairs = []
    for path in sorted(run.glob("iter*/pairs.jsonl")):
        it = path.parent.name
        if iterations and it[4:] not in {str(i) for i in iterations}:
            continue
        for line in path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                pairs.append(Pair(d["prompt"], d["chosen"], d["rejected"], f"{it} {d['group']}"))
    return pairs


def cross_validate(
    run: Path,
    folds: int = 5,
    steps: int = 40,
    model: str = "local:smollm2",
    seed: int = 0,
    iterations: Sequence[int] = (),
    max_length: int = 512,
) -> dict[str, Any]:
    """The folds (each skipped when its report exists: a rerun must keep the same pairs,
    folds, steps and model) and their pooled result."""
    from agents.training.dpo import DPOConfig, train_dpo
    from agents.training.orpo import load_trainable

    pairs = load_pairs(run, iterations)
    groups = {p.key for p in pairs}
    if len(groups) < folds:
        raise SystemExit(
            f"{run}: {len(pairs)} pairs from {len(groups)} games; {folds}-fold cross-"
            "validation needs at least one game per fold (more self-play games: --games)"
        )
    out = run / "dpo_cv"
    reports = []
    for i in range(folds):
        fold = out / f"fold{i}"
        if not (fold / "dpo_report.json").exists():
            m, tok = load_trainable(model)
            cfg = DPOConfig(steps=steps, max_length=max_length, folds=folds, fold=i, seed=seed)
            print(f"fold {i}/{folds}: training", file=sys.stderr, flush=True)
            train_dpo(m, tok, pairs, fold, cfg)
            for weights in fold.glob("*.safetensors"):
                weights.unlink()  # the measurement is the point; 0.5 GB per fold is not
        reports.append(load_report(fold / "dpo_report.json"))
    pooled = pool(reports)
    result = {
        "pairs": len(pairs),
        "games": len(groups),
        "iterations": sorted({p.key.split()[0] for p in pairs}),
        "model": model,
        "steps": steps,
        "max_length": max_length,
        **pooled,
    }
    (out / "cv.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="an `agents train lspo` run directory")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40, help="DPO steps per fold")
    ap.add_argument("--model", default="local:smollm2", help="the model every fold starts from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--iteration", type=int, action="append", default=[], help="only these (repeatable)"
    )
    ap.add_argument("--max-length", type=int, default=512, help="DPO tokens kept per pair")
    args = ap.parse_args(argv)
    result = cross_validate(
        args.run, args.folds, args.steps, args.model, args.seed, args.iteration, args.max_length
    )
    print("\n".join(lines(result, unit="game")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
