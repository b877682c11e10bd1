"""MMD (ours, behavioural form over `search.mirror_descent.mmd_update`) vs OpenSpiel's CFR+
and `mmd_dilated` on kuhn_poker / leduc_poker: exploitability at equal iterations.

    python -m benchmarks.mmd_poker --game leduc_poker --iters 500

Writes benchmarks/results/mmd_<game>.{json,md,png}. Exploitability is OpenSpiel's
`open_spiel.python.algorithms.exploitability`; CFR+ is scored by its average policy,
ours by its last iterate and its reach-weighted average; mmd_dilated by its average with alpha = 0 (default, stepsize 1),
else by its last iterate.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import pyspiel

from games.mmd import MMDConfig, MMDSolver, exploitability


def checkpoints(iters: int) -> list[int]:
    points = {1, iters}
    k = 1
    while k < iters:
        for m in (1, 2, 5):
            if k * m <= iters:
                points.add(k * m)
        k *= 10
    return sorted(points)


def run(
    game_name: str,
    iters: int,
    config: MMDConfig,
    dilated_alpha: float,
    dilated_stepsize: float | None = None,
) -> dict[str, object]:
    from open_spiel.python.algorithms import cfr, mmd_dilated

    game = pyspiel.load_game(game_name)
    marks = checkpoints(iters)
    curves: dict[str, list[tuple[int, float]]] = {}
    seconds: dict[str, float] = {}

    ours = MMDSolver(game, config)
    cfrp = cfr.CFRPlusSolver(game)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # alpha = 0 warns about a zero default stepsize
        dil = mmd_dilated.MMDDilatedEnt(game, alpha=dilated_alpha, stepsize=dilated_stepsize)
    # With alpha = 0 mmd_dilated converges on average (its docstring); else its last iterate.
    dil_name, dil_policy = (
        ("mmd_dilated (avg)", dil.get_avg_policies)
        if dilated_alpha == 0
        else ("mmd_dilated (last)", dil.get_policies)
    )
    engines = {
        "mmd (ours, last)": (ours.step, ours.policy),
        "cfr+ (avg)": (cfrp.evaluate_and_update_policy, cfrp.average_policy),
        dil_name: (dil.update_sequences, dil_policy),
    }
    for name, (step, current) in engines.items():
        curve = []
        avg_curve = []
        spent = 0.0
        for i in range(1, iters + 1):
            t0 = time.perf_counter()
            step()
            spent += time.perf_counter() - t0
            if i in marks:
                curve.append((i, exploitability(game, current())))
                if step == ours.step:
                    avg_curve.append((i, exploitability(game, ours.average_policy())))
        curves[name] = curve
        seconds[name] = spent
        if avg_curve:
            curves["mmd (ours, avg)"] = avg_curve
            seconds["mmd (ours, avg)"] = spent
    return {
        "game": game_name,
        "iters": iters,
        "config": {"eta": config.eta, "alpha": config.alpha, "alpha_decay": config.alpha_decay},
        "dilated_alpha": dilated_alpha,
        "dilated_stepsize": dil.stepsize,
        "curves": curves,
        "seconds": seconds,
    }


def markdown(result: dict[str, object]) -> str:
    curves = result["curves"]
    assert isinstance(curves, dict)
    seconds = result["seconds"]
    assert isinstance(seconds, dict)
    names = list(curves)
    lines = [
        f"# Exploitability on {result['game']} ({result['iters']} iterations)",
        "",
        f"ours: {result['config']}; mmd_dilated alpha={result['dilated_alpha']}, "
        f"stepsize={result['dilated_stepsize']}",
        "",
        "| iteration | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for row in zip(*(curves[n] for n in names), strict=False):
        lines.append(f"| {row[0][0]} | " + " | ".join(f"{v:.5f}" for _, v in row) + " |")
    lines.append("| seconds | " + " | ".join(f"{seconds[n]:.1f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def write(result: dict[str, object], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"mmd_{result['game']}"
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md"), stem.with_suffix(".png")]
    paths[0].write_text(json.dumps(result, indent=2) + "\n")
    paths[1].write_text(markdown(result))
    curves = result["curves"]
    assert isinstance(curves, dict)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        xs, ys = zip(*curve, strict=False)
        ax.loglog(xs, ys, marker="o", label=name)
    ax.set_xlabel("iterations")
    ax.set_ylabel("exploitability")
    ax.set_title(str(result["game"]))
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[2], dpi=100)
    plt.close(fig)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="kuhn_poker", choices=["kuhn_poker", "leduc_poker"])
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--eta", type=float, default=MMDConfig.eta)
    ap.add_argument("--alpha", type=float, default=MMDConfig.alpha)
    ap.add_argument("--alpha-decay", type=float, default=MMDConfig.alpha_decay)
    ap.add_argument("--dilated-alpha", type=float, default=0.0)
    ap.add_argument("--dilated-stepsize", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    if args.iters < 1:
        ap.error("--iters must be >= 1")
    config = MMDConfig(args.eta, args.alpha, args.alpha_decay)
    result = run(args.game, args.iters, config, args.dilated_alpha, args.dilated_stepsize)
    print(markdown(result))
    print("wrote " + ", ".join(str(p) for p in write(result, args.out)))


if __name__ == "__main__":
    main()
