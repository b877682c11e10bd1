"""The report of an `agents train lspo` run: per iteration, the latent space, the MCCFR
solve, the DPO step and the latent policy against the rule bot (with 95% intervals), as
markdown and a plot of the win rates by iteration.

    python -m benchmarks.werewolf_lspo runs/lspo [--out benchmarks/results/werewolf_lspo]
        [--control]   # also: the base space solved cold with the run's MCCFR iterations
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

THEIRS = "LSPO paper (their setup, a large model): overall win rate 0.50 for LSPO, 0.47 for the strongest earlier agent, 0.38 for ReAct."


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion `p` over `n` trials."""
    if n == 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def summaries(run: Path) -> list[dict[str, Any]]:
    found = sorted(run.glob("iter*/summary.json"), key=lambda p: int(p.parent.name[4:]))
    if not found:
        raise SystemExit(f"{run}: no iter*/summary.json (run agents train lspo --out {run})")
    return [json.loads(p.read_text()) for p in found]


def control(rows: list[dict[str, Any]], seed: int = 3) -> dict[str, Any]:
    """The base latent space (no clusters) solved cold with as many MCCFR iterations as
    the run's last policy had in all, against the rule bot on the same deals."""
    import tempfile

    from games.werewolf.latent import load_latent, solve, versus_rule

    iterations = int(rows[-1]["cfr_iterations_total"])
    policy = solve(load_latent(), iterations, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.json"
        policy.save(path)
        result = versus_rule(path, int(rows[-1]["versus_rule"]["games"]), 0)
    return {"iterations": iterations, "seed": seed, **result}


def _cells(v: dict[str, Any]) -> list[str]:
    n = v["games"]
    cells = []
    for side in ("werewolves", "village"):
        lo, hi = wilson(v[side], n)
        cells.append(f"{v[side]:.3f} [{lo:.3f}, {hi:.3f}]")
    var = sum(v[side] * (1 - v[side]) / max(n, 1) for side in ("werewolves", "village"))
    half = 1.96 * math.sqrt(var) / 2
    cells.append(f"{v['overall']:.3f} [{v['overall'] - half:.3f}, {v['overall'] + half:.3f}]")
    return cells


def markdown(rows: list[dict[str, Any]], command: str, cold: dict[str, Any] | None = None) -> str:
    lines = [
        "# LSPO on Werewolf",
        "",
        f"Produced by `{command}`; the table by `python -m benchmarks.werewolf_lspo`.",
        "",
        "Latent policy vs rule: the purified (argmax) latent policy in every seat of one "
        "side, the rule bot in the other, the same deals every iteration; overall = the "
        "mean of the two sides' win rates (0.5 = as good as the rule bot, which wins "
        "0.356 as werewolves against itself).",
        "",
        "| iteration | speaking turns | strategies per role (W S D V) | cluster kinds | "
        "MCCFR iterations (cumulative) | DPO pairs | held-out log-odds before -> after | "
        "as werewolves | as village | overall |",
        "|---:|---:|---|---|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        dpo = r["dpo"]
        held = (
            f"{dpo['heldout_margin_before']:+.3f} -> {dpo['heldout_margin_after']:+.3f} "
            f"({dpo['heldout_pairs']} pairs)"
            if "heldout_margin_before" in dpo
            else "not trained (< 4 pairs)"
        )
        lines.append(
            f"| {r['iteration']} | {r['situations']} | {' '.join(map(str, r['strategies']))} "
            f"| {', '.join(r['kinds']) or '-'} | {r.get('cfr_iterations_total', '?')} | "
            f"{dpo.get('pairs', 0)} | {held} | {' | '.join(_cells(r['versus_rule']))} |"
        )
    if cold is not None:
        lines += [
            "",
            f"Control: the base space (the catalogue's kinds, no clusters) solved cold with "
            f"{cold['iterations']} MCCFR iterations (seed {cold['seed']}), same deals: as "
            "werewolves, as village, overall: " + ", ".join(_cells(cold)) + ".",
        ]
    lines += [
        "",
        "Intervals are 95%: Wilson for each side; for overall, the normal interval of the "
        "mean of the two sides' independent rates (`games` deals each).",
        "",
        f"Theirs, for reference: {THEIRS}",
    ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r["iteration"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key, label in (
        ("overall", "overall"),
        ("werewolves", "as werewolves"),
        ("village", "as village"),
    ):
        ax.plot(its, [r["versus_rule"][key] for r in rows], marker="o", label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("LSPO iteration")
    ax.set_ylabel("win rate vs rule bot")
    ax.set_xticks(its)
    ax.legend(fontsize=8)
    ax.set_title("Latent (CFR) policy against the rule bot")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="write OUT.md and OUT.png")
    ap.add_argument("--command", default="agents train lspo", help="the command that made the run")
    ap.add_argument("--control", action="store_true", help="add the cold base-space control")
    args = ap.parse_args()
    rows = summaries(args.run)
    text = markdown(rows, args.command, control(rows) if args.control else None)
    if args.out:
        args.out.with_suffix(".md").write_text(text)
        plot(rows, args.out.with_suffix(".png"))
    print(text, end="")


if __name__ == "__main__":
    main()
