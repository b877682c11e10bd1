"""`lspo:run=DIR` (werewolf only): the LSPO language agent. Its model speaks; the solved
latent policy chooses which of its statements is said.

At a speaking turn the model (the run's DPO-trained model by default) proposes
`candidates` statements to the same prompt LSPO's self-play asked (`lspo.propose`:
its role, its private knowledge, the record as text). Each is heard as the game hears
it (`react.parse_to_action`: the nearest statement of the catalogue, a base kind and a
target) and scored by the latent policy's mass on that kind at the speaker's latent key
(`LatentPolicy.kind_probs`); the best-scored statement is said (ties: a seeded draw),
its text recorded for language listeners. A key the policy never visited: the first
statement the model proposed. No usable statement (all empty): the rule bot's, counted
as a fallback. Night moves and votes are the rule policy's, as in the latent game the
policy was solved in (latent.py).

Spec options: `run=DIR` (an `agents train lspo` run: the policy and the model of
iteration `iteration`, default the last finished one) or `policy=FILE` with
`model=SPEC`; `model=` also overrides the run's model; `candidates=N` (default 4),
`temperature=T` (default 0.7).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspiel

from games.errors import BotSpecError
from games.spec import BotSpec, spec_config
from games.spiel import Bot
from games.werewolf.bots import decide
from games.werewolf.game import SPEECH, SPEECH_BASE, View, config_of
from games.werewolf.latent import LatentPolicy, latent_key, load_policy
from games.werewolf.lspo import propose
from games.werewolf.react import parse_to_action, shared_llm
from games.werewolf.transcript import Transcript


@dataclass(frozen=True)
class LspoConfig:
    """The options of an `lspo:` spec (spec keys = field names)."""

    run: Path | None = None
    iteration: int = 0
    """0: the run's last iteration with a policy."""
    policy: Path | None = None
    model: str = ""
    """Default: the run's model after `iteration` (its DPO output), else local:smollm2."""
    candidates: int = 4
    temperature: float = 0.7
    max_tokens: int = 32


def resolve(cfg: LspoConfig) -> tuple[Path, str]:
    """The policy file and the model spec `cfg` names (a one-line BotSpecError when the run
    has no such iteration)."""
    if (cfg.run is None) == (cfg.policy is None):
        raise BotSpecError("lspo needs run=DIR (an `agents train lspo` run) or policy=FILE")
    if cfg.candidates < 1:
        raise BotSpecError(f"lspo: candidates must be >= 1, got {cfg.candidates}")
    if cfg.policy is not None:
        return cfg.policy, cfg.model or "local:smollm2"
    assert cfg.run is not None
    done = sorted(
        int(d.name[4:])
        for d in cfg.run.glob("iter*")
        if d.name[4:].isdigit() and (d / "policy.json").is_file()
    )
    if not done:
        raise BotSpecError(f"lspo: {cfg.run} has no iteration with a policy.json")
    it = cfg.iteration or done[-1]
    if it not in done:
        raise BotSpecError(
            f"lspo: {cfg.run} has no policy for iteration {it} (have {', '.join(map(str, done))})"
        )
    step = cfg.run / f"iter{it}"
    model = cfg.model
    if not model:
        try:
            model = str(json.loads((step / "summary.json").read_text())["model"])
        except (OSError, ValueError, KeyError, TypeError):
            trained = step / "model"
            model = f"local:{trained}" if (trained / "config.json").is_file() else "local:smollm2"
    return step / "policy.json", model


class LspoBot(Bot):
    """The LSPO agent as a `pyspiel.Bot` (any seat of a werewolf game)."""

    def __init__(
        self,
        game: pyspiel.Game,
        policy: LatentPolicy,
        model_spec: str,
        seed: int = 0,
        *,
        config: LspoConfig | None = None,
        llm: Any = None,
    ) -> None:
        super().__init__()
        config_of(game)
        self.game = game
        self.policy = policy
        self.model_spec = model_spec
        self.config = config or LspoConfig()
        self.llm: Any = llm if llm is not None else shared_llm(model_spec)
        self.transcript = Transcript()
        self._rng = random.Random(seed)
        self.thinking = ""
        self.calls = 0
        self.invalid_answers = 0
        """Speaking turns whose candidates were all empty."""
        self.fallbacks = 0
        self.unseen = 0
        """Speaking turns at a key the policy never visited."""
        self.guided = 0
        """Speaking turns where the policy's preference chose a statement over another."""

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass

    def step(self, state: pyspiel.State) -> int:
        me = state.current_player()
        view: View = state.view(me)
        if view.phase != SPEECH:
            action, self.thinking = decide(view, self._rng)
            return int(action)
        self.transcript.reset_if_new_game(view)
        c = self.config
        _, got = propose(
            self.llm, view, self.transcript, c.candidates, c.temperature, c.max_tokens, self._rng
        )
        self.calls += 1
        texts = [t for t in got if t]
        if not texts:
            self.invalid_answers += 1
            self.fallbacks += 1
            action, why = decide(view, self._rng)
            cat = view.config.catalogue
            self.transcript.record(view.day, me, cat.render(cat.statements[action - SPEECH_BASE]))
            self.thinking = f"lspo: no statement from the model; rule bot: {why}"
            return int(action)
        actions = [parse_to_action(self.game, view, t) for t in texts]
        mass = self.policy.kind_probs(latent_key(view), view.role)
        cat = view.config.catalogue
        if mass is None:
            self.unseen += 1
            pick = 0
            why = "a situation the policy never saw: the model's first statement"
        else:
            kinds = [cat.kind(cat.statements[a - SPEECH_BASE].strategy) for a in actions]
            scores = [mass[k] for k in kinds]
            top = max(scores)
            best = [i for i, s in enumerate(scores) if s >= top - 1e-9]
            pick = self._rng.choice(best)
            self.guided += len(best) < len(scores)
            why = f"latent policy favours {kinds[pick]} (p {top:.2f}) among {len(texts)} statements"
        self.transcript.record(view.day, me, texts[pick])
        self.thinking = f"lspo {self.model_spec}: {why}"
        return int(actions[pick])


def make_lspo_bot(game: pyspiel.Game, spec: BotSpec, seed: int) -> pyspiel.Bot:
    """`lspo:run=DIR[,iteration=N,model=SPEC,candidates=N,temperature=T]` or
    `lspo:policy=FILE,model=SPEC` on werewolf."""
    cfg = spec_config(spec, LspoConfig)
    policy_file, model = resolve(cfg)
    return LspoBot(game, load_policy(policy_file), model, seed, config=cfg)
