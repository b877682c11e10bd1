"""`agents train lspo`: LSPO (latent space policy optimisation) on Werewolf.

Per iteration i, under OUT/iter{i}/, each step skipped when its artifact exists (a
rerun resumes where a crash stopped):

1. `selfplay.jsonl`: self-play games (the run primitive: one fsynced line per game) in
   which the current model proposes `--candidates` statements at every speaking turn
   and the previous iteration's latent policy picks the one said;
2. `space.json`: the latent space: the base kinds, then k-means clusters per role of
   the candidates' embeddings (k = `--clusters` + i - 1: it grows each iteration);
   embeddings come from the starting model throughout, so spaces compare;
3. `policy.json`: the abstracted game over that space solved by OpenSpiel's MCCFR,
   warm-started from the previous iteration's regrets (for the base kinds, whose
   meaning persists; new clusters start at zero);
4. `pairs.jsonl`: statements of strategies the policy favours over those it disfavours,
   in the same situation;
5. `model/`: the model DPO-trained (LoRA, merged) on those pairs: the next iteration's
   model;
6. `eval.json`: the latent policy's win rate against the rule bot, as werewolves and as
   the village, on the same seeds every iteration.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agents.commands.settings import EXECUTOR_HELP, CommandSettings, Count, Executor, Size
from foundation.errors import UserError
from foundation.executors import executor_session, parse_executor

if TYPE_CHECKING:
    from agents.llm.remote import RemoteModel


class TrainLspoSettings(CommandSettings):
    """`agents train lspo`'s options."""

    model: str = "local:smollm2"
    out: Path = Path("runs/lspo")
    iterations: Count = 3
    games: Count = 8
    candidates: Count = 4
    clusters: Count = 2
    cfr_iterations: Count = 3000
    dpo_steps: Count = 60
    dpo_max_length: Count = 512
    lr: float = 2e-4
    eval_games: Size = 400
    seed: int = 0
    executor: Executor = "local"


def _phase(
    progress: Callable[[str, int, int], None], it: int, name: str
) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        progress(f"iteration {it}: {name}", done, total)

    return report


def _self_play(
    step: Path,
    game: Any,
    llm: Any,
    settings: TrainLspoSettings,
    it: int,
    policy: Any,
    embed: Any,
    progress: Callable[[int, int], None],
    model_spec: str,
) -> list[Any]:
    """The iteration's self-play games through the run primitive (a rerun skips the
    games already logged); every logged game's situations. On a Ray executor each game is
    a Ray task whose model is built from `model_spec` (the iteration's model: a path every
    node must see)."""
    from foundation.runs import RunLog, run_units
    from games.werewolf.lspo import Situation, play_and_collect

    log = RunLog(step / "selfplay.jsonl", key=lambda row: row.get("game"))

    def one_game(g: int) -> dict[str, Any]:
        sits, returns = play_and_collect(
            game, g, llm, settings.candidates, settings.seed + it, policy, embed
        )
        return {"game": g, "returns": returns, "situations": [s.to_json() for s in sits]}

    todo = [g for g in range(settings.games) if g not in log.done]
    with contextlib.ExitStack() as stack:
        work: Callable[[int], dict[str, Any]] = one_game
        if todo and parse_executor(settings.executor).kind != "local":
            from agents.llm import LLMConfig
            from agents.llm.remote import remote_model

            config = LLMConfig(model=model_spec, cache=False)
            remote = stack.enter_context(remote_model(config))
            work = functools.partial(
                _remote_game, remote, settings.model, settings.candidates,
                settings.seed + it, policy,
            )  # fmt: skip
        run_units(
            log,
            range(settings.games),
            key=lambda g: g,
            work=work,
            executor=settings.executor,
            on_row=lambda g, row: progress(len(log.done), settings.games),
        )
    return [Situation.from_json(s) for row in log.done.values() for s in row["situations"]]


@functools.cache
def _embedder(spec: str) -> Any:
    """A Ray worker's embedder (the starting model's), loaded once per worker process."""
    from agents.training.orpo import load_trainable
    from games.werewolf.lspo import Embedder

    return Embedder(*load_trainable(spec))


def _remote_game(
    remote: RemoteModel, base: str, candidates: int, seed: int, policy: Any, g: int
) -> dict[str, Any]:
    """One self-play game on a Ray worker: the model from its recipe (a local one is held
    by the node's `ModelHost`), the embedder loaded once per worker (only a game with a
    policy embeds)."""
    from games.catalog import load_game
    from games.werewolf.lspo import play_and_collect

    llm = remote.build()[0]
    embed = _embedder(base) if policy is not None else None
    sits, returns = play_and_collect(load_game("werewolf"), g, llm, candidates, seed, policy, embed)
    return {"game": g, "returns": returns, "situations": [s.to_json() for s in sits]}


def run_lspo(
    settings: TrainLspoSettings,
    progress: Callable[[str, int, int], None],
    start: tuple[Any, Any] | None = None,
) -> list[dict[str, Any]]:
    """The iterations (see the module docstring); `start` is the starting (model,
    tokenizer) when already loaded."""
    from agents.llm import load_llm
    from agents.training.dpo import DPOConfig, train_dpo
    from agents.training.orpo import Pair, load_trainable
    from foundation.runs import run_lock
    from games.catalog import load_game
    from games.werewolf.latent import LatentPolicy, LatentSpace, load_latent, solve, versus_rule
    from games.werewolf.lspo import Embedder, build_space
    from games.werewolf.lspo import preference_pairs as make_pairs

    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    with run_lock(out), executor_session(settings.executor):  # Ray: one session for the run
        base_model, tokenizer = start or load_trainable(settings.model)
        embed = Embedder(base_model, tokenizer)
        model_spec = settings.model
        policy: LatentPolicy | None = None
        game = load_game("werewolf")
        for it in range(1, settings.iterations + 1):
            step = out / f"iter{it}"
            step.mkdir(exist_ok=True)
            llm = load_llm(model_spec, cache=False)
            situations = _self_play(
                step,
                game,
                llm,
                settings,
                it,
                policy,
                embed,
                _phase(progress, it, "self-play"),
                model_spec,
            )
            space_file = step / "space.json"
            space, _ = build_space(
                situations, embed, settings.clusters + it - 1, settings.seed + it
            )
            if not space_file.exists():
                space.save(space_file)
            space = LatentSpace.load(space_file)
            policy_file = step / "policy.json"
            if not policy_file.exists():
                solved = solve(
                    load_latent(space_file),
                    settings.cfr_iterations,
                    settings.seed + it,
                    _phase(progress, it, "MCCFR"),
                    warm=policy,  # keep solving: the base kinds keep their regrets
                )
                solved.save(policy_file)
            policy = LatentPolicy.load(policy_file)
            pairs = make_pairs(situations, policy)
            pairs_file = step / "pairs.jsonl"
            pairs_file.write_text("".join(json.dumps(p.__dict__) + "\n" for p in pairs))
            model_dir = step / "model"
            dpo: dict[str, Any] = {"pairs": len(pairs)}
            if len(pairs) >= 4 and not (model_dir / "config.json").exists():
                m, tok = load_trainable(model_spec)
                report = train_dpo(
                    m,
                    tok,
                    [Pair(p.prompt, p.chosen, p.rejected, p.group) for p in pairs],
                    model_dir,
                    DPOConfig(
                        steps=settings.dpo_steps,
                        lr=settings.lr,
                        max_length=settings.dpo_max_length,
                        seed=settings.seed,
                    ),
                    lambda phase, d, t: progress(f"iteration {it}: DPO {phase}", d, t),  # noqa: B023
                )
                dpo.update(json.loads((model_dir / "dpo_report.json").read_text()))
                dpo["lines"] = report.lines()
            elif (model_dir / "dpo_report.json").exists():
                dpo.update(json.loads((model_dir / "dpo_report.json").read_text()))
            if (model_dir / "config.json").exists():
                model_spec = f"local:{model_dir}"
            eval_file = step / "eval.json"
            if not eval_file.exists():
                result = versus_rule(policy_file, settings.eval_games, settings.seed)
                eval_file.write_text(json.dumps(result, indent=1))
            summary = {
                "iteration": it,
                "situations": len(situations),
                "strategies": [len(r) for r in space.roles],
                "kinds": sorted({s.kind for r in space.roles for s in r if s.centroid}),
                "cfr_keys": len(policy.table),
                "cfr_iterations_total": policy.total_iterations,
                "dpo": {k: v for k, v in dpo.items() if k not in ("heldout", "lines")},
                "versus_rule": json.loads(eval_file.read_text()),
                "model": model_spec,
            }
            (step / "summary.json").write_text(json.dumps(summary, indent=1))
            summaries.append(summary)
    return summaries


def train_lspo_cmd(
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="local:smollm2 or local:PATH to start from."
    ),
    out: Path = typer.Option(
        Path("runs/lspo"), "--output", "--out", "-o", help="Run directory (resumable)."
    ),
    iterations: int = typer.Option(3, help="LSPO iterations."),
    games: int = typer.Option(8, help="Self-play games per iteration."),
    candidates: int = typer.Option(4, help="Statements the model proposes per speaking turn."),
    clusters: int = typer.Option(2, help="k-means clusters per role in iteration 1 (+1 each)."),
    cfr_iterations: int = typer.Option(3000, help="MCCFR iterations per solve."),
    dpo_steps: int = typer.Option(60, help="DPO optimiser steps per iteration."),
    dpo_max_length: int = typer.Option(
        512,
        help="DPO: prompt + statement tokens kept (the prompt's start is cut); a step's "
        "cost on a CPU grows with it.",
    ),
    lr: float = typer.Option(2e-4, help="DPO (LoRA) learning rate."),
    eval_games: int = typer.Option(400, help="Games per side against the rule bot."),
    seed: int = typer.Option(0, help="Seeds self-play, clustering, MCCFR and evaluation."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="Where self-play games run. " + EXECUTOR_HELP + " Each node loads the model "
        "once; the iteration's trained model must be at the same path on every node.",
    ),
) -> None:
    """LSPO on Werewolf: self-play statements -> latent strategies (k-means) -> MCCFR on
    the abstracted game -> DPO toward the favoured strategies; repeat. Every artifact is
    kept per iteration under --out; a rerun resumes."""
    settings = TrainLspoSettings(
        model=model, out=out, iterations=iterations, games=games, candidates=candidates,
        clusters=clusters, cfr_iterations=cfr_iterations, dpo_steps=dpo_steps,
        dpo_max_length=dpo_max_length, lr=lr,
        eval_games=eval_games, seed=seed, executor=executor,
    )  # fmt: skip
    from agents.training.orpo import load_trainable

    try:  # the starting model, before any progress bar: a bad spec is one line
        start = load_trainable(settings.model)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from agents.commands.progress import phase_bars

    with phase_bars() as progress:
        try:
            summaries = run_lspo(settings, progress, start)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    for s in summaries:
        v = s["versus_rule"]
        typer.echo(
            f"iteration {s['iteration']}: {s['situations']} speaking turns, strategies per "
            f"role {s['strategies']}, latent policy vs rule: werewolves {v['werewolves']:.3f}, "
            f"village {v['village']:.3f}, overall {v['overall']:.3f}; DPO pairs "
            f"{s['dpo'].get('pairs', 0)}"
        )
