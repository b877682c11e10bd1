"""MMD (ours, behavioural form over `search.mirror_descent.mmd_update`) vs OpenSpiel's CFR+
and `mmd_dilated` on kuhn_poker / leduc_poker: exploitability at equal iterations.

    python -m benchmarks.mmd_poker --game leduc_poker --iters 500

Writes benchmarks/results/mmd_<game>.{json,md,png}. Exploitability is OpenSpiel's
`open_spiel.python.algorithms.exploitability`. Scored: ours by its last iterate (alternating
updates, and for contrast simultaneous ones) and its reach-weighted average; CFR+ by its
average policy; each mmd_dilated baseline by its average when alpha = 0 (mirror descent,
stepsize 1), else by its last iterate (the paper's alpha-QRE solver, stepsize alpha/max|A|^2).
An iteration of ours and of CFR+ updates both players in turn; one of mmd_dilated updates
both at once.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import pyspiel

from benchmarks.protocol import MMD_POKER
from games.mmd import MMDConfig, MMDSolver, exploitability
from search.errors import InvalidConfigError


def checkpoints(iters: int) -> list[int]:
    points = {1, iters}
    k = 1
    while k < iters:
        for m in (1, 2, 5):
            if k * m <= iters:
                points.add(k * m)
        k *= 10
    return sorted(points)


Dilated = tuple[float, float | None]
"""An `mmd_dilated` baseline: (alpha, stepsize); stepsize None is OpenSpiel's automatic
alpha / max|A|^2 (the paper's choice, with alpha in {1/2, 1/5, 1/10, 1/20})."""

DEFAULT_DILATED: tuple[Dilated, ...] = ((0.0, 1.0), (0.05, None), (0.01, 1.0), (0.001, 1.0))
"""Mirror descent (alpha 0, stepsize 1, scored by its average); the paper's alpha-QRE
solver (alpha 0.05, automatic stepsize): on leduc_poker alpha 0.05 is large against the
chance-weighted sequence-form payoffs (max 13/30), so its QRE is near uniform; and two
small alphas with stepsize 1, scored by their last iterate."""


def parse_dilated(spec: str) -> Dilated:
    """Parse ALPHA:STEPSIZE or ALPHA:auto into (alpha, stepsize or None)."""
    alpha, _, step = spec.partition(":")
    try:
        a = float(alpha)
        s = None if step in ("", "auto") else float(step)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--dilated wants ALPHA:STEPSIZE or ALPHA:auto, not {spec!r}"
        ) from None
    if a < 0 or (s is not None and s <= 0) or (a == 0 and s is None):
        raise argparse.ArgumentTypeError(
            f"--dilated {spec!r}: alpha must be >= 0 and the stepsize > 0 (explicit when alpha = 0)"
        )
    return a, s


Spec = tuple[str, MMDConfig | Dilated | None]
"""What to trace: ("ours", config), ("cfr+", None) or ("dilated", (alpha, stepsize))."""


def trace(game_name: str, iters: int, spec: Spec) -> dict[str, object]:
    """One engine's exploitability at `checkpoints(iters)` and its CPU seconds of updates
    (evaluation excluded). Ours also reports its average policy's curve."""
    from open_spiel.python.algorithms import cfr, mmd_dilated

    game = pyspiel.load_game(game_name)
    marks = set(checkpoints(iters))
    kind, arg = spec
    average: Callable[[], object] | None = None
    meta: dict[str, object] = {}
    if kind == "ours":
        assert isinstance(arg, MMDConfig)
        ours = MMDSolver(game, arg)
        step, current = ours.step, ours.policy
        if arg.alternate:
            name, average = "mmd (ours, last)", ours.average_policy
        else:
            name = "mmd (ours, simultaneous, last)"
    elif kind == "cfr+":
        cfrp = cfr.CFRPlusSolver(game)
        name, step, current = "cfr+ (avg)", cfrp.evaluate_and_update_policy, cfrp.average_policy
    else:
        assert isinstance(arg, tuple)
        alpha, stepsize = arg
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # alpha = 0 warns about a zero default stepsize
            dil = mmd_dilated.MMDDilatedEnt(game, alpha=alpha, stepsize=stepsize)
        # With alpha = 0 mmd_dilated converges on average (its docstring); else its last
        # iterate converges to the alpha-QRE.
        scored = "avg" if alpha == 0 else "last"
        current = dil.get_avg_policies if alpha == 0 else dil.get_policies
        name = f"mmd_dilated a={alpha:g} s={dil.stepsize:.3g} ({scored})"
        step = dil.update_sequences
        meta = {"alpha": alpha, "stepsize": float(dil.stepsize), "scored": scored}
    curve, avg_curve = [], []
    spent = 0.0
    for i in range(1, iters + 1):
        t0 = time.process_time()
        step()
        spent += time.process_time() - t0
        if i in marks:
            curve.append((i, exploitability(game, current())))
            if average is not None:
                avg_curve.append((i, exploitability(game, average())))
    curves = {name: curve}
    if avg_curve:
        curves["mmd (ours, avg)"] = avg_curve
    return {"curves": curves, "seconds": spent, "dilated": meta}


def run(
    game_name: str,
    iters: int,
    config: MMDConfig,
    dilated: tuple[Dilated, ...] = DEFAULT_DILATED,
    simultaneous: bool = True,
    jobs: int = 1,
) -> dict[str, object]:
    """Exploitability curves at `checkpoints(iters)`: ours (last iterate and average; also
    with simultaneous updates when `simultaneous`), CFR+ (average) and each `dilated`;
    the engines run in `jobs` processes."""
    specs: list[Spec] = [("ours", config)]
    if simultaneous and config.alternate:
        specs.append(("ours", replace(config, alternate=False)))
    specs.append(("cfr+", None))
    specs += [("dilated", d) for d in dilated]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            traces = list(pool.map(trace, [game_name] * len(specs), [iters] * len(specs), specs))
    else:
        traces = [trace(game_name, iters, spec) for spec in specs]
    curves: dict[str, object] = {}
    seconds: dict[str, float] = {}
    dilated_meta = []
    for t in traces:
        assert isinstance(t["curves"], dict) and isinstance(t["seconds"], float)
        for name, curve in t["curves"].items():
            curves[name] = curve
            seconds[name] = t["seconds"]
        if t["dilated"]:
            dilated_meta.append(t["dilated"])
    return {
        "game": game_name,
        "iters": iters,
        "config": asdict(config),
        "dilated": dilated_meta,
        "curves": curves,
        "seconds": seconds,
        "seconds_are": "CPU seconds of the updates in each engine's process (evaluation excluded)",
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
        f"ours: {result['config']}; mmd_dilated: {result['dilated']}",
        "",
        MMD_POKER,
        "",
        "| iteration | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for row in zip(*(curves[n] for n in names), strict=False):
        lines.append(f"| {row[0][0]} | " + " | ".join(f"{v:.5f}" for _, v in row) + " |")
    lines.append("| CPU seconds | " + " | ".join(f"{seconds[n]:.1f}" for n in names) + " |")
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
        dashed = "simultaneous" in name  # on Kuhn it lies on top of the alternating curve
        ax.loglog(xs, ys, marker="o", label=name, linestyle="--" if dashed else "-")
    ax.set_xlabel("iterations")
    ax.set_ylabel("exploitability")
    ax.set_title(str(result["game"]))
    ax.legend(fontsize="small")
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
    ap.add_argument("--alpha-min", type=float, default=MMDConfig.alpha_min)
    ap.add_argument(
        "--simultaneous",
        action="store_true",
        help="ours with simultaneous updates only (default: alternating, plus a simultaneous curve)",
    )
    ap.add_argument(
        "--dilated",
        type=parse_dilated,
        action="append",
        metavar="ALPHA:STEPSIZE",
        help="an mmd_dilated baseline, repeatable; STEPSIZE 'auto' is alpha/max|A|^2 "
        "(default: 0:1, 0.05:auto, 0.01:1, 0.001:1)",
    )
    ap.add_argument("--jobs", type=int, default=1, help="run the engines in this many processes")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    if args.iters < 1 or args.jobs < 1:
        ap.error("--iters and --jobs must be >= 1")
    try:
        config = MMDConfig(
            args.eta,
            args.alpha,
            args.alpha_decay,
            alpha_min=args.alpha_min,
            alternate=not args.simultaneous,
        )
    except InvalidConfigError as e:
        ap.error(str(e))
    dilated = tuple(args.dilated) if args.dilated else DEFAULT_DILATED
    result = run(args.game, args.iters, config, dilated, jobs=args.jobs)
    print(markdown(result))
    print("wrote " + ", ".join(str(p) for p in write(result, args.out)))


if __name__ == "__main__":
    main()
