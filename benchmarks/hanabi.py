"""Hanabi benchmark: bots (make_bot specs) play self-play games on paired decks.

Game `seed` deals from one shuffled deck for every bot, so differences between bots
are paired. Every finished game is appended to a JSONL log (one line each); a rerun
skips what is done. Reports: mean ± SE, share of 25s, histogram, seconds per move,
paired difference to the first bot, and the published 2-player numbers beside ours.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.protocol import HANABI
from foundation.jsonl import read_rows
from foundation.runs import RunLog, run_units

# Published 2-player means (theirs: their bots and hardware). SmartBot, SAD, OBL and OP are
# quoted second-hand, not checked against their papers.
REFERENCES_2P: list[tuple[str, str]] = [
    ("SmartBot (rule-based)", "22.99"),
    ("SAD", "24.01"),
    ("OBL", "24.10"),
    ("OP", "24.14"),
    ("PPO blueprint (Sokota et al.)", "24.24"),
    ("SPARTA single-agent", "24.52"),
    ("SPARTA joint", "24.61"),
    ("MDS over PPO, ~2 s/move (Sokota et al.)", "24.62"),
]


@dataclass(frozen=True)
class HanabiBench:
    bots: tuple[str, ...]
    games: int
    seed: int = HANABI.evaluation.start
    """The first deck; by default the first evaluation seed (`benchmarks.protocol`)."""
    players: int = 2
    out: str = "benchmarks/results"
    partner: str | None = None
    """When set, seat 0 plays each bot and every other seat plays this spec."""


@dataclass(frozen=True)
class GameRecord:
    bot: str
    players: int
    seed: int
    score: float
    moves: int
    seconds: float
    illegal: int
    deviations: int
    partner: str | None = None
    code: str = ""
    """Fingerprint of the bots' code (`code_version`); a rerun reuses only matching games."""


@functools.cache
def code_version() -> str:
    """sha256 prefix of the Hanabi bots' sources and the search they use: when a bot's code
    changes, games logged by the old code are not reused (they stay in the log)."""
    import hashlib

    import games.hanabi
    import search.mirror_descent

    root = Path(games.hanabi.__file__).parent
    files = [*sorted(root.glob("*.py")), Path(search.mirror_descent.__file__)]
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def play_game(spec: str, players: int, seed: int, partner: str | None = None) -> GameRecord:
    """One game on the deck of `seed`: `spec` in every seat, or in seat 0 beside `partner`."""
    from games.bots import make_bot
    from games.hanabi.game import HanabiConfig, deck_order

    cfg = HanabiConfig(players=players)
    game = cfg.load()
    specs = [spec] + [partner or spec] * (players - 1)
    bots = [make_bot(game, s, seed=seed * 16 + p) for p, s in enumerate(specs)]
    cards = iter(deck_order(seed, cfg))
    state = game.new_initial_state()
    moves = 0
    thinking = 0.0
    while not state.is_terminal():
        if state.is_chance_node():
            action = next(cards)
        else:
            t0 = time.perf_counter()
            action = bots[state.current_player()].step(state)
            thinking += time.perf_counter() - t0
            moves += 1
        state.apply_action(action)
    return GameRecord(
        bot=spec,
        players=players,
        seed=seed,
        score=float(state.returns()[0]),
        moves=moves,
        seconds=thinking,
        illegal=sum(getattr(b, "illegal", 0) for b in bots),
        deviations=sum(getattr(b, "deviations", 0) for b in bots),
        partner=partner,
        code=code_version(),
    )


def log_path(cfg: HanabiBench) -> Path:
    return Path(cfg.out) / "hanabi_games.jsonl"


def load_records(path: Path) -> list[GameRecord]:
    """The games in the log; a torn last line (a run killed mid-write) is skipped."""
    return [GameRecord(**row) for row in read_rows(path)]


def _play_unit(players: int, partner: str | None, unit: tuple[str, int, int]) -> dict[str, Any]:
    """One unit of `run`: a game's record as a row (module level: it pickles to a process
    or a Ray worker)."""
    spec, seed, _ = unit
    return asdict(play_game(spec, players, seed, partner))


def run(
    cfg: HanabiBench,
    say: Callable[[str], None] = lambda _: None,
    executor: str = "local",
    workers: int = 1,
) -> list[GameRecord]:
    """Play what is missing (resumable: `foundation.runs`), bots interleaved per seed;
    return this run's games. Games played with other code or another partner are kept in
    the log but not reused. `executor`: where games are played (`foundation.executors`;
    how, not what: it is not part of `cfg` or the report); `workers`: processes playing
    games at once with the local executor."""
    code = code_version()
    log = RunLog(
        log_path(cfg),
        key=lambda r: (
            (r["bot"], r["players"], r["seed"])
            if r.get("partner") == cfg.partner and r.get("code") == code
            else None
        ),
        sort_keys=False,
    )
    seeds = range(cfg.seed, cfg.seed + cfg.games)
    units = [(spec, seed, i) for i, seed in enumerate(seeds) for spec in cfg.bots]

    def report(unit: tuple[str, int, int], row: dict[str, Any] | None) -> None:
        if row is not None:
            spec, seed, i = unit
            say(f"[{i + 1}/{cfg.games}] {spec} seed {seed}: {row['score']:g}")

    # On Ray, a game (milliseconds) is too small for a task of its own: games go in batches.
    run_units(
        log, units, key=lambda u: (u[0], cfg.players, u[1]),
        work=functools.partial(_play_unit, cfg.players, cfg.partner), on_row=report,
        workers=workers, processes=True, executor=executor, batch=None,
    )  # fmt: skip
    return [GameRecord(**log.done[(spec, cfg.players, s)]) for spec in cfg.bots for s in seeds]


def _mean_se(xs: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return mean, se


def summarize(cfg: HanabiBench, records: list[GameRecord]) -> dict[str, object]:
    by_bot = {spec: [r for r in records if r.bot == spec] for spec in cfg.bots}
    max_score = 25
    bots = {}
    for spec, recs in by_bot.items():
        scores = [r.score for r in recs]
        mean, se = _mean_se(scores)
        moves = sum(r.moves for r in recs)
        bots[spec] = {
            "games": len(recs),
            "mean": mean,
            "se": se,
            "perfect_share": sum(s == max_score for s in scores) / len(scores),
            "zero_share": sum(s == 0 for s in scores) / len(scores),
            "histogram": {str(k): sum(s == k for s in scores) for k in range(max_score + 1)},
            "seconds_per_move": sum(r.seconds for r in recs) / max(moves, 1),
            "illegal": sum(r.illegal for r in recs),
            "deviations_per_game": sum(r.deviations for r in recs) / len(recs),
        }
    paired = {}
    base = cfg.bots[0]
    base_scores = {r.seed: r.score for r in by_bot[base]}
    for spec in cfg.bots[1:]:
        diffs = [r.score - base_scores[r.seed] for r in by_bot[spec]]
        mean, se = _mean_se(diffs)
        paired[spec] = {"vs": base, "games": len(diffs), "mean_diff": mean, "se": se}
    protocol = protocol_line(cfg.seed, cfg.games)
    return {"config": asdict(cfg), "protocol": protocol, "bots": bots, "paired": paired}


def markdown(summary: dict[str, object]) -> str:
    cfg = summary["config"]
    bots = summary["bots"]
    paired = summary["paired"]
    assert isinstance(cfg, dict) and isinstance(bots, dict) and isinstance(paired, dict)
    lines = [
        f"# Hanabi, {cfg['players']} players: seeds {cfg['seed']}..{cfg['seed'] + cfg['games'] - 1}"
        + (
            f", seat 0 = bot, other seats = `{cfg['partner']}`" if cfg["partner"] else ", self-play"
        ),
        "",
        str(summary.get("protocol", "")),
        "",
        "| bot | games | mean ± SE | 25s | zeros | s/move | illegal | deviations/game |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec, b in bots.items():
        lines.append(
            f"| `{spec}` | {b['games']} | {b['mean']:.2f} ± {b['se']:.2f} | "
            f"{100 * b['perfect_share']:.1f}% | {100 * b['zero_share']:.1f}% | "
            f"{b['seconds_per_move']:.4f} | {b['illegal']} | {b['deviations_per_game']:.1f} |"
        )
    for spec, p in paired.items():
        lines += [
            "",
            f"Paired (same decks): `{spec}` − `{p['vs']}` = "
            f"{p['mean_diff']:+.2f} ± {p['se']:.2f} over {p['games']} games",
        ]
    if cfg["players"] == 2:
        lines += [
            "",
            "Published 2-player means (theirs, their bots and hardware; SmartBot, SAD, OBL and OP"
            " quoted second-hand):",
            "",
        ]
        lines += [f"- {name}: {score}" for name, score in REFERENCES_2P]
    return "\n".join(lines) + "\n"


def protocol_line(seed: int, games: int) -> str:
    """Which split of `benchmarks.protocol.HANABI` the decks seed..seed+games-1 are in."""
    split = HANABI.which(range(seed, seed + games))
    if split == "evaluation":
        return HANABI.describe()
    if split == "tuning":
        return (
            "Tuning seeds: for choosing configurations, not for reporting gains "
            f"(evaluation seeds are {HANABI.evaluation.start}..{HANABI.evaluation.stop - 1})."
        )
    return "Seeds outside the protocol's tuning and evaluation ranges (benchmarks/protocol.py)."


def write_reports(summary: dict[str, object], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = summary["config"]
    bots = summary["bots"]
    assert isinstance(cfg, dict) and isinstance(bots, dict)
    out.mkdir(parents=True, exist_ok=True)
    stem = (
        out / f"hanabi_{cfg['players']}p"
        if not cfg["partner"]
        else out / f"hanabi_{cfg['players']}p_partner"
    )
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md"), stem.with_suffix(".png")]
    paths[0].write_text(json.dumps(summary, indent=2) + "\n")
    paths[1].write_text(markdown(summary))
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(len(bots), 1)
    for k, (spec, b) in enumerate(bots.items()):
        xs = [int(s) + k * width for s in b["histogram"]]
        ys = [n / b["games"] for n in b["histogram"].values()]
        ax.bar(xs, ys, width=width, label=f"{spec} ({b['mean']:.2f})")
    ax.set_xlabel("score")
    ax.set_ylabel("share of games")
    ax.set_title(f"Hanabi, {cfg['players']} players")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[2], dpi=100)
    plt.close(fig)
    return paths
