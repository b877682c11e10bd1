"""PNG plots next to the benchmarks' markdown reports, for the results people would rather
look at than read: LLM throughput, werewolf win rates, story-search judgements, Ray's
overhead and projected scale. Each plot takes the JSON-able result its report is built
from, so `python -m benchmarks.plots` redraws every PNG from the committed JSON files
without rerunning anything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@contextmanager
def figure(path: Path, size: tuple[float, float] = (7.5, 4.2)) -> Iterator[Any]:
    """A matplotlib figure (Agg, no display) saved to `path` when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size)
    try:
        yield fig
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def _interval_bars(
    ax: Any,
    labels: Sequence[str],
    rates: Sequence[Sequence[tuple[float, float, float]]],
    series: Sequence[str],
) -> None:
    """Grouped bars of rates with 95% interval whiskers: rates[s][i] = (rate, low, high)."""
    width = 0.8 / max(len(series), 1)
    for s, name in enumerate(series):
        xs = [i + (s - (len(series) - 1) / 2) * width for i in range(len(labels))]
        mid = [r[0] for r in rates[s]]
        err = [[r[0] - r[1] for r in rates[s]], [r[2] - r[0] for r in rates[s]]]
        ax.bar(xs, mid, width=width, label=name, yerr=err, capsize=3)
    ax.set_xticks(range(len(labels)), labels, rotation=15, ha="right")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)


def llm_throughput(result: dict[str, Any], path: Path) -> Path:
    """tok/s of the baseline and of ours per test (and llama.cpp's one stream)."""
    tests = [
        ("8 prompts", result["batch"], "sequential_tokens_per_s", "batched_tokens_per_s"),
        (
            "shared prefill",
            result["shared_prefill"],
            "separate_tokens_per_s",
            "shared_tokens_per_s",
        ),
        (
            "staggered calls",
            result["staggered"],
            "batch_by_batch_tokens_per_s",
            "continuous_tokens_per_s",
        ),
    ]
    labels = [t[0] for t in tests if t[1]]
    base = [t[1][t[2]] for t in tests if t[1]]
    ours = [t[1][t[3]] for t in tests if t[1]]
    with figure(path) as fig:
        ax = fig.add_subplot()
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], base, width=0.4, label="baseline")
        ax.bar([x + 0.2 for x in xs], ours, width=0.4, label="ours")
        reference = (result.get("decoder") or {}).get("llama_cpp") or {}
        if reference.get("one_stream_tokens_per_s"):
            ax.axhline(reference["one_stream_tokens_per_s"], color="grey", linestyle="--",
                       label="llama.cpp, one stream")  # fmt: skip
        ax.set_xticks(list(xs), labels)
        ax.set_ylabel("tokens / s")
        ax.set_title(f"{result['model']} on {result['machine']}")
        ax.legend(fontsize=8)
    return path


def werewolf(summary: dict[str, Any], path: Path) -> Path:
    """Each agent's win rate as werewolves, as village and overall, with 95% intervals."""
    agents = summary["agents"]
    names = list(agents)
    sides = ("werewolves", "village", "overall")
    rates = [
        [(agents[a][s]["rate"], agents[a][s]["low"], agents[a][s]["high"]) for a in names]
        for s in sides
    ]
    with figure(path) as fig:
        ax = fig.add_subplot()
        _interval_bars(ax, names, rates, sides)
        ax.set_ylabel("win rate")
        ax.set_title("Werewolf: win rates (95% intervals)")
    return path


def stories(bench: dict[str, Any], path: Path) -> Path:
    """Per comparison, the first system's win rate and P(first better), and the mean
    surprisal of both systems' steps."""
    comparisons = bench["comparisons"]
    labels = [f"{c['system_a']}\nvs {c['system_b']}" for c in comparisons]
    with figure(path, (8.5, 4.0)) as fig:
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        xs = range(len(labels))
        left.bar([x - 0.2 for x in xs], [c["win_rate_a"] for c in comparisons], width=0.4,
                 label="win rate (judge)")  # fmt: skip
        left.bar([x + 0.2 for x in xs], [c.get("p_a") or 0.0 for c in comparisons], width=0.4,
                 label="P(first better)")  # fmt: skip
        left.axhline(0.5, color="grey", linestyle="--")
        left.set_xticks(list(xs), labels, fontsize=8)
        left.set_ylim(0, 1)
        left.legend(fontsize=8)
        left.set_title("first system vs second")
        right.bar([x - 0.2 for x in xs], [c["surprisal_a"]["mean"] for c in comparisons],
                  width=0.4, label="first")  # fmt: skip
        right.bar([x + 0.2 for x in xs], [c["surprisal_b"]["mean"] for c in comparisons],
                  width=0.4, label="second")  # fmt: skip
        right.set_xticks(list(xs), labels, fontsize=8)
        right.set_title("mean surprisal per step")
        right.legend(fontsize=8)
    return path


def ray_overhead(result: dict[str, Any], path: Path) -> Path:
    """Local vs Ray wall time per round, and the projected wall time of a 300-instance
    run against the number of nodes."""
    with figure(path, (9.0, 4.0)) as fig:
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for work, marker in (("eval", "o"), ("hanabi", "s")):
            for arm, style in (("local", "-"), ("ray", "--")):
                ys = result["timings"][work][arm]
                left.plot(range(1, len(ys) + 1), ys, style, marker=marker, label=f"{work}, {arm}")
        left.set_xlabel("round")
        left.set_ylabel("seconds")
        left.set_title("same work, local --workers vs ray")
        left.legend(fontsize=8)
        for row in result["scale"]:
            walls = {int(n): s for n, s in row["wall_s"].items()}  # JSON keys are strings
            nodes = sorted(walls)
            right.plot(nodes, [walls[n] for n in nodes], marker="o", label=row["work"])
        right.set_xscale("log", base=2)
        right.set_yscale("log")
        right.set_xlabel("nodes")
        right.set_ylabel("projected wall seconds (300 instances)")
        right.legend(fontsize=7)
    return path


def orpo_losses(report: dict[str, Any], path: Path) -> Path:
    """ORPO's training loss per step (and its moving mean), with the held-out log-odds
    preference before and after in the title."""
    losses = report["losses"]
    if not losses:
        raise ValueError("no training steps to plot")
    window = max(1, len(losses) // 20)
    smooth = [
        sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1) : i + 1])
        for i in range(len(losses))
    ]
    with figure(path) as fig:
        ax = fig.add_subplot()
        ax.plot(range(1, len(losses) + 1), losses, alpha=0.35, label="loss per step")
        ax.plot(range(1, len(smooth) + 1), smooth, label=f"mean of {window} steps")
        ax.set_xlabel("step")
        ax.set_ylabel("ORPO loss")
        ax.set_title(
            "held-out preference "
            f"{report['heldout_margin_before']:+.3f} -> {report['heldout_margin_after']:+.3f}"
        )
        ax.legend(fontsize=8)
    return path


def hanabi_search(result: dict[str, Any], path: Path) -> Path:
    """Each search bot's paired gain over its blueprint with its 95% interval, and its
    seconds per searched move (evaluation seeds only, as the report)."""
    import textwrap

    rows = result["rows"]
    with figure(path, (7.5, max(4.0, 1.2 + 0.7 * len(rows)))) as fig:
        ax = fig.add_subplot()
        labels = [
            textwrap.fill(f"{r['bot'].replace(',', ', ')} ({r['seats']}) on {r['partner']}", 40)
            for r in rows
        ]
        ys = list(range(len(rows)))
        mids = [r["mean_diff"] for r in rows]
        err = [[m - r["ci95"][0] for m, r in zip(mids, rows, strict=True)],
               [r["ci95"][1] - m for m, r in zip(mids, rows, strict=True)]]  # fmt: skip
        ax.barh(ys, mids, xerr=err, capsize=3, color="tab:blue")
        for y, r in zip(ys, rows, strict=True):
            ax.annotate(
                f"{r['seconds_per_searched_move']:.2f} s/move, {r['games']} games",
                (r["ci95"][1], y), xytext=(4, 0), textcoords="offset points", va="center",
                fontsize=7,
            )  # fmt: skip
        lows = [r["ci95"][0] for r in rows] or [0.0]
        highs = [r["ci95"][1] for r in rows] or [1.0]
        span = max(max(highs) - min(0.0, min(lows)), 0.1)
        ax.set_xlim(min(0.0, min(lows)) - 0.05 * span, max(highs) + 0.6 * span)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(ys, labels, fontsize=7)
        ax.set_xlabel("score gain over the blueprint (paired decks, 95% interval)")
        ax.set_title("Hanabi search vs its blueprint (evaluation seeds)")
    return path


PLOTS: dict[str, tuple[str, Callable[[dict[str, Any], Path], Path]]] = {
    "hanabi_mds": ("hanabi_mds.json", hanabi_search),
    "llm_throughput": ("llm_throughput.json", llm_throughput),
    "werewolf": ("werewolf.json", werewolf),
    "stories_smollm2": ("stories_smollm2.json", stories),
    "ray": ("ray_overhead.json", ray_overhead),
}
"""PNG stem -> (its committed result JSON in benchmarks/results, the plot)."""


def redraw(results: Path = RESULTS) -> list[Path]:
    """Every PNG of `PLOTS` from its JSON in `results` (those whose JSON is there)."""
    drawn = []
    for stem, (source, plot) in PLOTS.items():
        if (results / source).is_file():
            drawn.append(plot(json.loads((results / source).read_text()), results / f"{stem}.png"))
    return drawn


if __name__ == "__main__":
    for p in redraw(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS):
        print(p)
