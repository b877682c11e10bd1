"""Pool the held-out preference of ORPO cross-validation folds (`agents train orpo --fold
I/K`): per fold and over all held-out pairs, the log-odds preference for the chosen
expansion before and after training, with the paired change's standard error.

    for i in 0 1 2 3 4; do agents train orpo --pairs P --fold $i/5 --out runs/cv/f$i; done
    python -m benchmarks.orpo_cv runs/cv/f*     # reads each DIR/orpo_report.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any


def load_report(run: Path) -> dict[str, Any]:
    path = run / "orpo_report.json" if run.is_dir() else run
    d: dict[str, Any] = json.loads(path.read_text())
    if "heldout" not in d:
        raise ValueError(
            f"{path} has no per-pair held-out log odds (trained before they were kept)"
        )
    return d


def pool(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-fold rows and the pooled paired change over every held-out pair."""
    rows, deltas = [], []
    # Pairs of one premise are not independent: also pool by premise (its mean change).
    by_premise: dict[str, list[float]] = {}
    for r in reports:
        held = r["heldout"]
        d = [x["after"] - x["before"] for x in held]
        deltas += d
        for x, change in zip(held, d, strict=True):
            by_premise.setdefault(x["premise"], []).append(change)
        rows.append(
            {
                "fold": r["config"].get("fold", 0),
                "folds": r["config"].get("folds", 0),
                "train_pairs": r["train_pairs"],
                "heldout_pairs": len(held),
                "heldout_premises": len({x["premise"] for x in held}),
                "before": statistics.fmean(x["before"] for x in held),
                "after": statistics.fmean(x["after"] for x in held),
                "rose": sum(x > 0 for x in d),
                "train_before": r["train_margin_before"],
                "train_after": r["train_margin_after"],
                "seconds": r["seconds"],
            }
        )
    premise_means = [statistics.fmean(v) for v in by_premise.values()]
    return {
        "folds": rows,
        "pairs": len(deltas),
        "mean_change": statistics.fmean(deltas) if deltas else 0.0,
        "se": _se(deltas),
        "rose": sum(x > 0 for x in deltas),
        "premises": len(premise_means),
        "premise_mean_change": statistics.fmean(premise_means) if premise_means else 0.0,
        "premise_se": _se(premise_means),
        "premises_rose": sum(x > 0 for x in premise_means),
    }


def _se(xs: list[float]) -> float:
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")


def lines(p: dict[str, Any], unit: str = "premise") -> list[str]:
    """The folds' table and the pooled change; `unit` names what pairs are grouped by."""
    out = [
        f"| fold | train pairs | held-out pairs ({unit}s) | held-out margin | rose on | "
        "train margin | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in p["folds"]:
        out.append(
            f"| {r['fold']}/{r['folds']} | {r['train_pairs']} | {r['heldout_pairs']} "
            f"({r['heldout_premises']}) | {r['before']:+.4f} → {r['after']:+.4f} | "
            f"{r['rose']}/{r['heldout_pairs']} | {r['train_before']:+.3f} → "
            f"{r['train_after']:+.3f} | {r['seconds']:.0f} |"
        )
    out.append(
        f"\nPooled over {p['pairs']} held-out pairs: change {p['mean_change']:+.4f} ± "
        f"{p['se']:.4f} (SE), rose on {p['rose']}/{p['pairs']}. By {unit} (each {unit}'s "
        f"mean change, {p['premises']} {unit}s): {p['premise_mean_change']:+.4f} ± "
        f"{p['premise_se']:.4f}, rose on {p['premises_rose']}/{p['premises']}."
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="ORPO output dirs (or report files)")
    args = ap.parse_args(argv)
    try:
        reports = [load_report(r) for r in args.runs]
    except (OSError, ValueError, KeyError) as e:
        ap.error(str(e))
    print("\n".join(lines(pool(reports))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
