"""LSPO's evaluation against a fixed pool: every iteration's latent (CFR) policy and its
language agent play the same opponents on the same deals.

    python -m benchmarks.werewolf_pool RUN [--games 200] [--llm-games 12]
        [--react-games 4] [--react local:smollm2] [--workers 4] [--seed 1000]

The agents, per iteration i of the `agents train lspo` run RUN: `cfr:policy=RUN/iteri/
policy.json` (the latent policy, argmax) and `lspo:run=RUN,iteration=i` (the LSPO
language agent: the iteration's model speaks, its policy chooses). The pool, the same for
every agent: the rule bot, the ReAct agent on the base model (`react:MODEL`; left out
with `--react-games 0`), and every iteration's latent policy. Each agent meets each
member on both sides of the same deals: `--games` deals, `--llm-games` when the language
agent plays (0: language agents are not evaluated), `--react-games` against the ReAct
member; seeded from `--seed` (disjoint from the run's own evaluation deals, which start
at the run's seed). Language models are slow on a CPU (a game with ReAct seats takes
minutes), hence the separate counts.

Per agent and member: the win rate as the werewolves and as the village (Wilson 95%
intervals) and overall (their mean, normal interval); against the pool: the mean of the
members' overall rates (each member weighs the same, however many deals it played),
with the normal interval of that mean. An agent facing itself (a latent policy among the
members) scores exactly 0.5 overall on paired deals; it stays in the pool so that every
agent meets the same pool.

Games go through the run primitive: RUN/pool.jsonl, one fsynced line per game, skipped on
a rerun; a game whose bot raised is an error row (retried on a rerun). The summary is
written to RUN/pool.json (read by `benchmarks.werewolf_lspo` for its table and plot).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.werewolf import SIDES, mean_of_rates, mean_rate, play_game, rate
from foundation.errors import one_line
from foundation.runs import Row, RunLog, run_lock, run_units

LANGUAGE = ("lspo", "react")

Unit = tuple[str, str, str, int]
"""(agent spec, member spec, the agent's side, deal seed)."""


@dataclass(frozen=True)
class PoolEval:
    run: Path
    games: int = 200
    llm_games: int = 12
    react_games: int = 4
    react: str = "local:smollm2"
    seed: int = 1000
    workers: int = 1

    def iterations(self) -> list[int]:
        found = sorted(
            int(d.name[4:])
            for d in self.run.glob("iter*")
            if d.name[4:].isdigit() and (d / "policy.json").is_file()
        )
        if not found:
            raise SystemExit(f"{self.run}: no iteration with a policy.json (agents train lspo)")
        return found

    def agents(self) -> list[tuple[int, str, str]]:
        """(iteration, "latent" | "language", spec)."""
        out = []
        for i in self.iterations():
            out.append((i, "latent", f"cfr:policy={self.run / f'iter{i}' / 'policy.json'}"))
            if self.llm_games:
                out.append((i, "language", f"lspo:run={self.run},iteration={i}"))
        return out

    def pool(self) -> list[tuple[str, str]]:
        """(label, spec) of the members."""
        members = [("rule", "rule")]
        if self.react_games:
            members.append(("react", f"react:{self.react}"))
        for i in self.iterations():
            members.append((f"latent {i}", f"cfr:policy={self.run / f'iter{i}' / 'policy.json'}"))
        return members

    def units(self) -> list[Unit]:
        out = []
        for _, _, agent in self.agents():
            for _, member in self.pool():
                if member.startswith("react:"):
                    n = self.react_games
                else:
                    n = self.llm_games if _llm(agent) else self.games
                for side in SIDES:
                    out += [(agent, member, side, self.seed + g) for g in range(n)]
        return out


def _llm(spec: str) -> bool:
    return spec.partition(":")[0] in LANGUAGE


@functools.cache
def _werewolf() -> Any:
    from games.werewolf.game import load_werewolf

    return load_werewolf()


def _play(unit: Unit) -> Row:
    agent, member, side, seed = unit
    wolves, village = (agent, member) if side == "werewolves" else (member, agent)
    row = play_game(_werewolf(), wolves, village, seed)
    return {"agent": agent, "member": member, "side": side, **row, "won": row["winner"] == side}


def _key(unit: Unit) -> Hashable:
    return unit


def _row_key(row: Row) -> Hashable | None:
    if "error" in row:
        return None
    return (row["agent"], row["member"], row["side"], row["seed"])


def evaluate(cfg: PoolEval, progress: Any = None) -> dict[str, Any]:
    """Play the games not yet in RUN/pool.jsonl and summarise them (RUN/pool.json)."""
    units = cfg.units()
    path = cfg.run / "pool.jsonl"
    with run_lock(cfg.run):
        log = RunLog(path, key=_row_key)

        def error_row(unit: Unit, exc: Exception) -> Row:
            a, m, side, seed = unit
            return {"agent": a, "member": m, "side": side, "seed": seed, "error": one_line(exc)}

        def on_row(unit: Unit, row: Row | None) -> None:
            if progress is not None:
                progress(len(log.done), len(units))

        run_units(log, units, _key, _play, workers=cfg.workers, error_row=error_row, on_row=on_row)
        rows = [r for r in log.done.values() if "error" not in r]
    summary = summarise(cfg, rows)
    (cfg.run / "pool.json").write_text(json.dumps(summary, indent=1))
    return summary


def _member_rates(won: dict[str, list[bool]]) -> dict[str, Any]:
    sides = {s: rate(sum(won[s]), len(won[s])) for s in SIDES}
    return {**sides, "overall": mean_rate(sides["werewolves"], sides["village"])}


def _pool_overall(members: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the members' overall rates (each the mean of its two sides), with a
    normal 95% interval (`mean_of_rates` over every member's sides); members without
    games on both sides are left out."""
    played = [m for m in members if m["werewolves"]["games"] and m["village"]["games"]]
    return mean_of_rates([m[s] for m in played for s in SIDES])


def summarise(cfg: PoolEval, rows: Sequence[Row]) -> dict[str, Any]:
    wanted = set(cfg.units())
    by: dict[tuple[str, str], dict[str, list[bool]]] = {}
    seconds: dict[str, float] = {}
    for r in rows:
        if (r["agent"], r["member"], r["side"], r["seed"]) not in wanted:
            continue  # a game of another configuration (more deals, another seed)
        by.setdefault((r["agent"], r["member"]), {s: [] for s in SIDES})[r["side"]].append(
            bool(r["won"])
        )
        seconds[r["agent"]] = seconds.get(r["agent"], 0.0) + float(r["seconds"])
    agents = []
    for it, kind, spec in cfg.agents():
        members = {
            label: _member_rates(by.get((spec, m), {s: [] for s in SIDES}))
            for label, m in cfg.pool()
        }
        played = sum(v[s]["games"] for v in members.values() for s in SIDES)
        agents.append(
            {
                "iteration": it,
                "kind": kind,
                "spec": spec,
                "games": played,
                "seconds_per_game": round(seconds.get(spec, 0.0) / played, 3) if played else None,
                "pool": _pool_overall(list(members.values())),
                "members": members,
            }
        )
    return {
        "pool": [label for label, _ in cfg.pool()],
        "react": cfg.react,
        "games": cfg.games,
        "llm_games": cfg.llm_games,
        "react_games": cfg.react_games,
        "seed": cfg.seed,
        "agents": agents,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="an `agents train lspo` run directory")
    ap.add_argument("--games", type=int, default=200, help="deals per side, no LLM involved")
    ap.add_argument("--llm-games", type=int, default=12, help="deals per side, language agent")
    ap.add_argument("--react-games", type=int, default=4, help="deals per side, ReAct member")
    ap.add_argument("--react", default="local:smollm2", help="the ReAct member's model")
    ap.add_argument("--seed", type=int, default=1000, help="the first deal's seed")
    ap.add_argument("--workers", type=int, default=1, help="games at once (threads)")
    args = ap.parse_args(argv)
    cfg = PoolEval(
        args.run, args.games, args.llm_games, args.react_games, args.react, args.seed, args.workers
    )

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} games", end="", file=sys.stderr, flush=True)

    summary = evaluate(cfg, progress)
    print(file=sys.stderr)
    for a in summary["agents"]:
        p = a["pool"]
        if p["rate"] is not None:
            print(
                f"iteration {a['iteration']} {a['kind']}: vs pool {p['rate']:.3f} "
                f"[{p['low']:.3f}, {p['high']:.3f}] over {a['games']} games"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
