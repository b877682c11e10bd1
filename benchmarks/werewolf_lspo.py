"""The report of an `agents train lspo` run: per iteration, the latent space, the MCCFR
solve, the DPO step and the latent policy against the rule bot (with 95% intervals), as
markdown and a plot of the win rates by iteration.

    python -m benchmarks.werewolf_lspo runs/lspo [--out benchmarks/results/werewolf_lspo]
        [--control]   # also: the base space solved cold with the run's MCCFR iterations

With RUN/pool.json (`python -m benchmarks.werewolf_pool RUN`): every iteration's latent
policy and language agent against the fixed pool, in the table and the plot. With
RUN/dpo_cv/cv.json (`python -m benchmarks.werewolf_dpo_cv RUN`): the cross-validated
held-out DPO result.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.protocol import LSPO

THEIRS = "LSPO paper (their setup, a large model): overall win rate 0.50 for LSPO, 0.47 for the strongest earlier agent, 0.38 for ReAct."


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
    """Each side's rate over v["games"] with its Wilson interval, and the overall mean
    with its interval (`benchmarks.werewolf.mean_rate`)."""
    from benchmarks.werewolf import mean_rate, rate

    sides = [rate(round(v[s] * v["games"]), v["games"]) for s in ("werewolves", "village")]
    overall = mean_rate(*sides)
    return [
        *(f"{r['wins'] / max(r['games'], 1):.3f} [{r['low']:.3f}, {r['high']:.3f}]" for r in sides),
        f"{v['overall']:.3f} [{overall['low']:.3f}, {overall['high']:.3f}]",
    ]


def _rate(r: dict[str, Any]) -> str:
    if r.get("rate") is None:
        return "-"
    return f"{r['rate']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"


def pool_lines(pool: dict[str, Any]) -> list[str]:
    """The fixed-pool table: per iteration and agent kind, the rate against the pool and
    against each member (overall, with 95% intervals)."""
    members = pool["pool"]
    lines = [
        "## Against a fixed pool",
        "",
        f"Produced by `python -m benchmarks.werewolf_pool RUN --games {pool['games']} "
        f"--llm-games {pool['llm_games']} --react-games {pool.get('react_games', 0)} "
        f"--react {pool['react']} --seed {pool['seed']}`. Every agent meets the same pool ("
        + ", ".join(members)
        + ") on both sides of the same deals (seeds from "
        f"{pool['seed']}: not the run's own evaluation deals): {pool['games']} deals per "
        "side"
        + (
            f", {pool['llm_games']} when the language agent plays"
            if pool["llm_games"]
            else "; language agents are not evaluated here"
        )
        + (
            f", {pool['react_games']} against the ReAct member"
            if pool.get("react_games")
            else "; the ReAct agent is left out of the pool"
        )
        + ". `latent` = the iteration's CFR policy "
        "(argmax); `language` = the LSPO agent (`lspo:run=RUN,iteration=i`: the iteration's "
        "model proposes 4 statements, the policy picks; votes and night moves by the rule "
        "policy). Against the pool = the mean of the members' overall rates; a latent "
        "policy meeting itself scores 0.5 by construction.",
        "",
        "| iteration | agent | vs pool | " + " | ".join(f"vs {m}" for m in members) + " | s/game |",
        "|---:|---|---|" + "---|" * len(members) + "---:|",
    ]
    for a in pool["agents"]:
        cells = [_rate(a["members"][m]["overall"]) for m in members]
        spg = a.get("seconds_per_game")
        lines.append(
            f"| {a['iteration']} | {a['kind']} | {_rate(a['pool'])} | "
            + " | ".join(cells)
            + f" | {spg if spg is not None else '-'} |"
        )
    return lines


def cv_lines(cv: dict[str, Any]) -> list[str]:
    from benchmarks.orpo_cv import lines

    return [
        "## DPO, held out (cross-validation)",
        "",
        f"Produced by `python -m benchmarks.werewolf_dpo_cv RUN --steps {cv['steps']} "
        f"--max-length {cv.get('max_length', 512)} --model {cv['model']}`: the run's {cv['pairs']} preference pairs from "
        f"{cv['games']} self-play games ({', '.join(cv.get('iterations', []))}), "
        f"{len(cv['folds'])} folds by game; each fold "
        "DPO-trains the starting model on the other folds and measures the log-odds "
        "preference for the CFR-favoured statement on its own games, before and after.",
        "",
        *lines(cv, unit="game"),
    ]


def markdown(
    rows: list[dict[str, Any]],
    command: str,
    cold: dict[str, Any] | None = None,
    pool: dict[str, Any] | None = None,
    cv: dict[str, Any] | None = None,
) -> str:
    lines = [
        "# LSPO on Werewolf",
        "",
        f"Produced by `{command}`; the table by `python -m benchmarks.werewolf_lspo`.",
        "",
        LSPO,
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
    if pool is not None:
        lines += ["", *pool_lines(pool)]
    if cv is not None:
        lines += ["", *cv_lines(cv)]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, pool: dict[str, Any] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r["iteration"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for key, label in (
        ("overall", "overall"),
        ("werewolves", "as werewolves"),
        ("village", "as village"),
    ):
        ax.plot(its, [r["versus_rule"][key] for r in rows], marker="o", label=f"{label} vs rule")
    for kind, style in (("latent", "s-"), ("language", "^-")):
        found = [a for a in (pool or {}).get("agents", []) if a["kind"] == kind]
        found = [a for a in found if a["pool"].get("rate") is not None]
        if found:
            x = [a["iteration"] for a in found]
            y = [a["pool"]["rate"] for a in found]
            low = [v - a["pool"]["low"] for v, a in zip(y, found, strict=True)]
            high = [a["pool"]["high"] - v for v, a in zip(y, found, strict=True)]
            err = [low, high]
            ax.errorbar(x, y, yerr=err, fmt=style, capsize=3, label=f"{kind} vs fixed pool")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("LSPO iteration")
    ax.set_ylabel("win rate (overall unless marked)")
    ax.set_xticks(its)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("LSPO on Werewolf, by iteration")
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
    pool_file, cv_file = args.run / "pool.json", args.run / "dpo_cv" / "cv.json"
    pool = json.loads(pool_file.read_text()) if pool_file.exists() else None
    cv = json.loads(cv_file.read_text()) if cv_file.exists() else None
    text = markdown(rows, args.command, control(rows) if args.control else None, pool, cv)
    if args.out:
        args.out.with_suffix(".md").write_text(text)
        plot(rows, args.out.with_suffix(".png"), pool)
    print(text, end="")


if __name__ == "__main__":
    main()
