"""Werewolf benchmark: a round robin of agents (`games.bots.make_bot` specs) in which each
agent takes every seat of one side against each other agent on the other side: for
agents A and B, A as the werewolves against B as the village, and B as the werewolves
against A as the village, `games` games each. Game g of every pairing deals the same
roles (seed `seed + g`) and seeds its bots alike, so pairings are compared on paired
deals. Language bots of one game share one `Transcript` (what each speaker said).

Per agent: its win rate as the werewolves, as the village, per role (seer, doctor,
villager, werewolf: the games its side won per seat of that role it held) and overall
(the mean of its two sides' rates), with 95% intervals: Wilson's for a proportion; for
the overall rate a normal interval around the mean of the two sides (their variances
from Wilson-adjusted rates). Every game fields every role, so a role's rate equals its
side's; its interval counts games, not seats (a side's seats share one outcome).
Speed: games per second of each pairing (wall time of its games), of all-random and
all-rule self-play, and of this run.

Runs go through the run primitive (`foundation.runs`): one fsynced JSON line per game,
finished games skipped on a rerun (games logged by other code are kept but not reused),
a game whose bot raised is an error row (retried on a rerun) and the run goes on.
With a Ray executor (`foundation.executors`) the games are Ray tasks, several per task
(a game takes milliseconds); the rows, and so the report, are a local run's but for
timings (each game's seconds are its worker's). Language agents run only locally.
`pool_win_rate` plays one agent against a pool (LSPO's evaluation), in memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyspiel

from benchmarks.protocol import WEREWOLF
from foundation.errors import UserError, one_line
from foundation.executors import parse_executor
from foundation.jsonl import read_rows, write_atomic
from foundation.runs import Row, RunLog, run_lock, run_units

THEIRS = (("LSPO", 0.50), ("strongest earlier agent", 0.47), ("ReAct", 0.38))
"""The LSPO paper's overall win rates (their setup and a large model), not ours."""
THEIRS_LINE = (
    "The LSPO paper's numbers (theirs, large model; their setup, not this table's): "
    "overall win rate " + ", ".join(f"{name} {rate:.2f}" for name, rate in THEIRS) + "."
)
SIDES = ("werewolves", "village")
ROLE_SEATS = {"seer": ("village", 1), "doctor": ("village", 1), "villager": ("village", 3)}
ROLE_SEATS["werewolf"] = ("werewolves", 2)
LANGUAGE_KINDS = ("react", "llm", "lspo")
Z = 1.96
Unit = tuple[str, str, int]
"""(werewolves' spec, village's spec, seed)."""


@dataclass(frozen=True)
class WerewolfBench:
    agents: tuple[str, ...]
    games: int
    seed: int = 0
    workers: int = 1
    output: str = "benchmarks/results/werewolf.jsonl"
    """The game log; the reports go beside it (.md, .json)."""
    speed_seconds: float = 1.0
    """Seconds of all-random and all-rule self-play timed for games/s (0: none)."""

    def matchups(self) -> list[tuple[str, str]]:
        """(werewolves, village) for every ordered pair of distinct agents."""
        return [(w, v) for w in self.agents for v in self.agents if w != v]

    def units(self) -> list[Unit]:
        """Every game, seeds outermost (a partial run covers every pairing alike)."""
        seeds = range(self.seed, self.seed + self.games)
        return [(w, v, s) for s in seeds for w, v in self.matchups()]


@functools.cache
def code_version() -> str:
    """sha256 prefix of the werewolf game's and bots' sources (not the terminal UI or
    LSPO's training): games logged by other code are not reused."""
    import games.werewolf

    root = Path(games.werewolf.__file__).parent
    h = hashlib.sha256()
    for f in sorted(root.glob("*.py")):
        if f.name not in ("play.py", "lspo.py"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


def deal(seed: int) -> int:
    """The deal (chance outcome) of game `seed`: the same for every pairing."""
    from games.werewolf.game import ASSIGNMENTS

    return random.Random(seed).randrange(len(ASSIGNMENTS))


def play_game(game: pyspiel.Game, wolves: str, village: str, seed: int) -> Row:
    """One game on deal `seed`: `wolves` in the werewolf seats, `village` in the others
    (the bot in seat p seeded `seed * 7 + p`). The winner, and per side its moves, its
    thinking seconds, and its language bots' invalid answers and fallbacks."""
    from games.bots import make_bot
    from games.werewolf.game import WOLF, WOLVES_WIN
    from games.werewolf.transcript import share_transcript

    t0 = time.perf_counter()
    state = game.new_initial_state()
    state.apply_action(deal(seed))
    side = ["werewolves" if r == WOLF else "village" for r in state.roles]
    bots = [
        make_bot(game, wolves if s == "werewolves" else village, seed * 7 + p)
        for p, s in enumerate(side)
    ]
    share_transcript(bots)
    moves = dict.fromkeys(SIDES, 0)
    thinking = dict.fromkeys(SIDES, 0.0)
    while not state.is_terminal():
        p = state.current_player()
        t = time.perf_counter()
        action = bots[p].step(state)
        thinking[side[p]] += time.perf_counter() - t
        moves[side[p]] += 1
        state.apply_action(action)
    row: Row = {
        "wolves": wolves,
        "village": village,
        "seed": seed,
        "deal": deal(seed),
        "winner": "werewolves" if state.winner == WOLVES_WIN else "village",
        "days": state.day,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    for s, prefix in zip(SIDES, ("wolves", "village"), strict=True):
        mine = [b for b, bs in zip(bots, side, strict=True) if bs == s]
        row[f"{prefix}_moves"] = moves[s]
        row[f"{prefix}_seconds"] = round(thinking[s], 4)
        row[f"{prefix}_invalid"] = sum(int(getattr(b, "invalid_answers", 0)) for b in mine)
        row[f"{prefix}_fallbacks"] = sum(int(getattr(b, "fallbacks", 0)) for b in mine)
    return row


@functools.cache
def _game() -> pyspiel.Game:
    from games.werewolf.game import load_werewolf

    return load_werewolf()


def play_unit(unit: Unit, code: str) -> Row:
    """`play_game` on the default werewolf game, stamped with the code version (a
    module-level function: a process pool pickles it)."""
    return {**play_game(_game(), *unit), "code": code}


def _fatal(exc: Exception) -> bool:
    """Errors every game would hit: a bad model spec, a missing key, no server."""
    from agents.llm.errors import ConnectionFailed, MissingKeyError, ModelSpecError

    return isinstance(exc, (ConnectionFailed, MissingKeyError, ModelSpecError))


def _kind(spec: str) -> str:
    return spec.strip().partition(":")[0]


def executor_refusal(agents: Sequence[str], executor: str) -> str | None:
    """Why these agents cannot play on `executor`, or None: a language agent's model
    would be loaded, called and metered in every Ray worker on its own (not shared, no
    usage or budget gathered across workers), so language agents play only locally."""
    if parse_executor(executor).kind == "local":
        return None
    language = [a for a in agents if _kind(a) in LANGUAGE_KINDS]
    if not language:
        return None
    return (
        f"--executor {executor} does not run language agents ({', '.join(language)}) yet: "
        "their models are not shared across Ray workers; use --executor local"
    )


@dataclass
class BenchRun:
    """What `run` did: the config's finished games, its unfinished games' last error
    rows, and this session's counts and wall time."""

    rows: list[Row]
    errors: list[Row]
    new: int
    skipped: int
    seconds: float
    stopped: str = ""
    executor: str = "local"


def run(
    cfg: WerewolfBench,
    progress: Callable[[int, int], None] | None = None,
    executor: str = "local",
) -> BenchRun:
    """Play the games not yet in the log (one process at a time per log), `cfg.workers`
    at once (processes for non-language agents, threads when a language agent plays:
    they share its model); `progress(done, total)` after each game, logged or skipped.
    `executor`: where games are played (`foundation.executors`; how, not what: not part
    of `cfg`); a Ray executor with a language agent is a `UserError` before any game."""
    refusal = executor_refusal(cfg.agents, executor)
    if refusal:
        raise UserError(refusal)
    code = code_version()
    path = Path(cfg.output)
    units = cfg.units()
    language = any(_kind(a) in LANGUAGE_KINDS for a in cfg.agents)

    def key(row: Row) -> Hashable | None:
        if row.get("code") != code or "error" in row:
            return None
        return (row["wolves"], row["village"], row["seed"])

    def error_row(unit: Unit, exc: Exception) -> Row:
        w, v, s = unit
        kind = type(exc).__name__
        return {
            "wolves": w,
            "village": v,
            "seed": s,
            "code": code,
            "error": f"{kind}: {one_line(exc)}",
        }

    done = 0

    def on_row(unit: Unit, row: Row | None) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, len(units))

    t0 = time.perf_counter()
    with run_lock(path.parent / f".{path.name}.lock"):
        log = RunLog(path, key=key, sort_keys=False)
        outcome = run_units(
            log,
            units,
            key=lambda u: u,
            work=functools.partial(play_unit, code=code),
            workers=cfg.workers,
            processes=cfg.workers > 1 and not language,
            error_row=error_row,
            fatal=_fatal,
            on_row=on_row,
            executor=executor,
            batch=None,  # on Ray: a game takes milliseconds, too little for a task each
        )
        rows = [log.done[u] for u in units if u in log.done]
        wanted = set(units)
        last_error: dict[Unit, Row] = {}
        for r in read_rows(path):
            u = (r.get("wolves"), r.get("village"), r.get("seed"))
            if "error" in r and r.get("code") == code and u in wanted and u not in log.done:
                last_error[u] = r
    return BenchRun(
        rows,
        list(last_error.values()),
        len(outcome.new),
        outcome.skipped,
        time.perf_counter() - t0,
        outcome.stopped,
        str(parse_executor(executor)),
    )


# -- statistics ---------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson's score interval for k successes in n trials ((0, 1) for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> dict[str, Any]:
    """A win rate with its Wilson interval (rate None when n = 0)."""
    low, high = wilson(k, n)
    return {"rate": k / n if n else None, "low": low, "high": high, "wins": k, "games": n}


def mean_rate(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The mean of two independent win rates (`mean_of_rates`)."""
    return mean_of_rates([a, b])


def mean_of_rates(rates: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of independent win rates (`rate` dicts), with a normal 95% interval
    whose variances come from Wilson-adjusted rates (never zero at 0 or 1 wins); rate
    None when one of them has no games."""
    if not rates or not all(r["games"] for r in rates):
        return {"rate": None, "low": 0.0, "high": 1.0}
    var = 0.0
    for r in rates:
        n = r["games"] + Z * Z
        p = (r["wins"] + Z * Z / 2) / n
        var += p * (1 - p) / n
    centre = sum(r["rate"] for r in rates) / len(rates)
    half = Z * math.sqrt(var) / len(rates)
    return {"rate": centre, "low": max(0.0, centre - half), "high": min(1.0, centre + half)}


def side_rates(rows: Sequence[Row], agent: str) -> dict[str, dict[str, Any]]:
    """The agent's win rate as the werewolves and as the village over `rows`."""
    wolf = [r for r in rows if r["wolves"] == agent]
    town = [r for r in rows if r["village"] == agent]
    return {
        "werewolves": rate(sum(r["winner"] == "werewolves" for r in wolf), len(wolf)),
        "village": rate(sum(r["winner"] == "village" for r in town), len(town)),
    }


def agent_summary(rows: Sequence[Row], agent: str) -> dict[str, Any]:
    sides = side_rates(rows, agent)
    roles = {}
    for role, (s, seats) in ROLE_SEATS.items():
        r = sides[s]
        roles[role] = {**r, "wins": r["wins"] * seats, "seats": r["games"] * seats}
    mine = [("wolves", r) for r in rows if r["wolves"] == agent]
    mine += [("village", r) for r in rows if r["village"] == agent]
    moves = sum(r[f"{p}_moves"] for p, r in mine)
    seconds = sum(r[f"{p}_seconds"] for p, r in mine)
    games = len(mine)
    return {
        "games": games,
        "overall": mean_rate(sides["werewolves"], sides["village"]),
        **sides,
        "roles": roles,
        "seconds_per_move": seconds / moves if moves else None,
        "invalid_per_game": sum(r[f"{p}_invalid"] for p, r in mine) / games if games else 0,
        "fallbacks_per_game": sum(r[f"{p}_fallbacks"] for p, r in mine) / games if games else 0,
    }


def self_play_speed(spec: str, seconds: float, seed: int = 0) -> dict[str, Any]:
    """Games per second of `spec` in every seat, over about `seconds` (at least one game)."""
    game = _game()
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < seconds:
        play_game(game, spec, spec, seed + n)
        n += 1
    elapsed = time.perf_counter() - t0
    return {"games": n, "seconds": round(elapsed, 3), "games_per_s": n / elapsed}


def summarize(cfg: WerewolfBench, result: BenchRun) -> dict[str, Any]:
    rows = result.rows
    matchups = []
    for w, v in cfg.matchups():
        mine = [r for r in rows if r["wolves"] == w and r["village"] == v]
        wall = sum(r["seconds"] for r in mine)
        matchups.append(
            {
                "werewolves": w,
                "village": v,
                "werewolves_win": rate(sum(r["winner"] == "werewolves" for r in mine), len(mine)),
                "games_per_s": len(mine) / wall if wall else None,
                "errors": sum(1 for e in result.errors if (e["wolves"], e["village"]) == (w, v)),
            }
        )
    speed = {}
    if cfg.speed_seconds > 0:
        speed = {s: self_play_speed(s, cfg.speed_seconds, cfg.seed) for s in ("random", "rule")}
    return {
        "config": asdict(cfg),
        "code": code_version(),
        "agents": {a: agent_summary(rows, a) for a in cfg.agents},
        "matchups": matchups,
        "self_play_speed": speed,
        "run": {
            "new_games": result.new,
            "skipped": result.skipped,
            "seconds": round(result.seconds, 2),
            "games_per_s": result.new / result.seconds if result.new and result.seconds else None,
            "stopped": result.stopped,
            "executor": result.executor,
        },
        "errors": [
            {k: e[k] for k in ("wolves", "village", "seed", "error")} for e in result.errors
        ],
        "theirs": {"source": "the LSPO paper (large model)", "overall": dict(THEIRS)},
    }


# -- reports ------------------------------------------------------------------------------


def _r(r: dict[str, Any]) -> str:
    if r.get("rate") is None:
        return "–"
    return f"{r['rate']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"


def markdown(summary: dict[str, Any]) -> str:
    cfg = summary["config"]
    first, last = cfg["seed"], cfg["seed"] + cfg["games"] - 1
    lines = [
        f"# Werewolf round robin: {cfg['games']} games per pairing (deals of seeds "
        f"{first}..{last}, the same for every pairing)",
        "",
        f"![Win rates per side with 95% intervals]({Path(cfg['output']).with_suffix('.png').name})",
        "",
        "Each agent takes every seat of one side against each other agent on the other "
        "side. Win rates with 95% intervals (Wilson; overall = the mean of the two sides, "
        "normal interval).",
        "",
        WEREWOLF,
        "",
        "| agent | overall | as werewolves | as village | games | ms/move | "
        "invalid answers/game | fallbacks/game |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, a in summary["agents"].items():
        spm = a["seconds_per_move"]
        ms = "–" if spm is None else f"{1000 * spm:.3f}" if spm < 0.01 else f"{1000 * spm:.0f}"
        lines.append(
            f"| `{name}` | {_r(a['overall'])} | {_r(a['werewolves'])} | {_r(a['village'])} "
            f"| {a['games']} | {ms} | "
            f"{a['invalid_per_game']:.2f} | {a['fallbacks_per_game']:.2f} |"
        )
    lines += ["", THEIRS_LINE, ""]
    lines += [
        "Per role (games its side won per seat of the role it held; every game fields "
        "every role, so this is its side's rate; intervals count games):",
        "",
        "| agent | seer | doctor | villager | werewolf |",
        "|---|---|---|---|---|",
    ]
    for name, a in summary["agents"].items():
        roles = a["roles"]
        cells = " | ".join(_r(roles[r]) for r in ("seer", "doctor", "villager", "werewolf"))
        lines.append(f"| `{name}` | {cells} |")
    lines += [
        "",
        "## Pairings",
        "",
        "| werewolves | village | games | werewolves win | games/s | errors |",
        "|---|---|---|---|---|---|",
    ]
    for m in summary["matchups"]:
        gps = m["games_per_s"]
        lines.append(
            f"| `{m['werewolves']}` | `{m['village']}` | {m['werewolves_win']['games']} | "
            f"{_r(m['werewolves_win'])} | {'–' if gps is None else f'{gps:.3g}'} | "
            f"{m['errors']} |"
        )
    lines += ["", "## Speed", ""]
    for spec, s in summary["self_play_speed"].items():
        lines.append(
            f"- `{spec}` in every seat: {s['games_per_s']:.1f} games/s ({s['games']} games)"
        )
    r = summary["run"]
    where = r.get("executor", "local")
    where = f"{cfg['workers']} worker(s)" if where == "local" else f"Ray tasks, --executor {where}"
    if r["games_per_s"]:
        lines.append(
            f"- this run: {r['new_games']} new games in {r['seconds']:.1f} s "
            f"({r['games_per_s']:.2f} games/s, {where}); "
            f"{r['skipped']} already logged"
        )
    else:
        lines.append(f"- this run: no new games; {r['skipped']} already logged")
    if r["stopped"]:
        lines.append(f"- stopped early: {r['stopped']}")
    if summary["errors"]:
        lines += ["", f"## Errors ({len(summary['errors'])} games; a rerun retries them)", ""]
        lines += [
            f"- `{e['wolves']}` vs `{e['village']}`, seed {e['seed']}: {e['error']}"
            for e in summary["errors"][:20]
        ]
    return "\n".join(lines) + "\n"


def report_paths(cfg: WerewolfBench) -> tuple[Path, Path]:
    """The markdown and JSON reports beside the log."""
    out = Path(cfg.output)
    return out.with_suffix(".md"), out.with_suffix(".json")


def write_reports(cfg: WerewolfBench, summary: dict[str, Any]) -> list[Path]:
    from benchmarks import plots

    md, js = report_paths(cfg)
    write_atomic(md, markdown(summary))
    write_atomic(js, json.dumps(summary, indent=2) + "\n")
    return [md, js, plots.werewolf(summary, md.with_suffix(".png"))]


# -- against a fixed pool -----------------------------------------------------------------


def pool_win_rate(
    game: pyspiel.Game, agent_spec: str, pool_specs: Sequence[str], games: int, seed: int = 0
) -> dict[str, Any]:
    """`agent_spec` against a pool: in game g (deal `seed + g`) the pool member g mod
    len(pool) takes the other side, once with the agent as the werewolves and once as
    the village. The agent's win rates per side and overall, with intervals, and per
    pool member. A bot's exception propagates."""
    if not pool_specs:
        raise ValueError("pool_win_rate needs at least one pool agent")
    wins: dict[str, dict[str, list[bool]]] = {
        m: {s: [] for s in SIDES} for m in dict.fromkeys(pool_specs)
    }
    for g in range(games):
        member = pool_specs[g % len(pool_specs)]
        as_wolves = play_game(game, agent_spec, member, seed + g)
        as_village = play_game(game, member, agent_spec, seed + g)
        wins[member]["werewolves"].append(as_wolves["winner"] == "werewolves")
        wins[member]["village"].append(as_village["winner"] == "village")

    def rates(won: dict[str, list[bool]]) -> dict[str, Any]:
        sides = {s: rate(sum(won[s]), len(won[s])) for s in SIDES}
        return {**sides, "overall": mean_rate(sides["werewolves"], sides["village"])}

    total = {s: [w for m in wins.values() for w in m[s]] for s in SIDES}
    return {
        "agent": agent_spec,
        "pool": list(pool_specs),
        "games": games,
        **rates(total),
        "by_member": {m: rates(won) for m, won in wins.items()},
    }
