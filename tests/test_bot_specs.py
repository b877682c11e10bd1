"""Bot specs: one parser (`games.spec.spec_config`) reads every kind's options into its
config dataclass by field name; the specs quoted in the README and the benchmark results
keep their meaning."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import pyspiel
import pytest

from games.bots import KINDS, CppMCTSConfig, OpenSpielMCTSConfig, make_bot, parse_spec
from games.cfr import CFRBotConfig
from games.errors import BotSpecError
from games.hanabi.bots import MDS_OPTIONS, SPARTA_OPTIONS, LearnedBotConfig
from games.hanabi.game import HanabiConfig
from games.hanabi.mds_bot import MDSBot, MDSBotConfig, SpartaBotConfig
from games.search_bot import SearchBot, SearchBotConfig
from games.spec import spec_config, spec_keys
from search import Budget, MCTSConfig
from search.mirror_descent import MDSConfig

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "mcts": SearchBotConfig,
    "openspiel_mcts": OpenSpielMCTSConfig,
    "cpp_mcts": CppMCTSConfig,
    "cfr": CFRBotConfig,
    "hanabi_learned": LearnedBotConfig,
    "mds": MDSBotConfig,
    "sparta": SpartaBotConfig,
}


@dataclass(frozen=True)
class Toy:
    n: int = 1
    x: float = 0.5
    name: str = "a"
    on: bool = False
    mode: Literal["fast", "slow"] = "fast"
    cap: int | None = None
    seed: int = 0


def _toy(spec: str, **fixed: object) -> Toy:
    return spec_config(parse_spec(f"mcts:{spec}" if spec else "mcts"), Toy, **fixed)


def test_values_are_converted_by_the_field_annotation() -> None:
    assert _toy("") == Toy()
    got = _toy("n=3,x=2.5,name=b,on=yes,mode=slow,cap=7")
    assert got == Toy(n=3, x=2.5, name="b", on=True, mode="slow", cap=7)
    assert _toy("on=0").on is False and _toy("on=TRUE").on is True
    assert _toy("", seed=9).seed == 9  # set by the caller...
    with pytest.raises(BotSpecError, match=r"unknown option\(s\) seed for mcts"):
        _toy("seed=3", seed=9)  # ...and then no spec key


@pytest.mark.parametrize(
    "spec,message",
    [
        ("n=2.5", r"^mcts: n='2.5' is not a valid whole number$"),
        ("x=fast", r"^mcts: x='fast' is not a valid number$"),
        ("cap=none", r"^mcts: cap='none' is not a valid whole number$"),
        ("on=maybe", r"^mcts: on='maybe' is not a valid flag"),
        ("mode=medium", r"^mcts: mode='medium'; valid: fast, slow$"),
        ("depth=3,n=1,b=2", r"^unknown option\(s\) b, depth for mcts; valid: n, x, name, on, "),
    ],
)
def test_bad_keys_and_values_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(BotSpecError, match=message) as exc:
        _toy(spec)
    assert "\n" not in str(exc.value)


def test_spec_keys_are_the_field_names() -> None:
    for kind, cls in CONFIGS.items():
        keys = spec_keys(cls, ("seed",))
        names = [f.name for f in fields(cls) if f.name != "seed"]
        assert list(keys) == names
        for key in keys:  # the help text names every key
            assert re.search(rf"\b{key}=", KINDS[kind]), (kind, key)
    assert list(MDS_OPTIONS) == list(spec_keys(MDSBotConfig, ("seed",)))
    assert list(SPARTA_OPTIONS) == list(spec_keys(SpartaBotConfig, ("seed",)))
    cfg = spec_config(parse_spec("mds:floor=0.3"), MDSBotConfig)
    assert cfg.floor == 0.3
    with pytest.raises(BotSpecError, match=r"unknown option\(s\) prior_floor for mds; valid: eta"):
        spec_config(parse_spec("mds:prior_floor=0.3"), MDSBotConfig)


def _quoted_specs() -> set[str]:
    texts = [ROOT / "README.md", *sorted((ROOT / "benchmarks" / "results").glob("*.md"))]
    found: set[str] = set()
    for path in texts:
        if path.exists():
            found |= set(re.findall(r"\b((?:mds|sparta|mcts):[\w.=,]+\w)", path.read_text()))
    return {s for s in found if not re.search(r"=[A-Z]+\b", s)}  # not `sims=N`, `model=FILE`


def test_every_quoted_spec_still_parses() -> None:
    hanabi, ttt = HanabiConfig().load(), pyspiel.load_game("tic_tac_toe")
    quoted = _quoted_specs()
    assert "mds:eta=10,rollouts=160,keep=1,screen=2,floor=0.1,threshold=0.5,z=2" in quoted
    assert "sparta:rollouts=240" in quoted
    assert not any("=FILE" in spec for spec in quoted)  # placeholders are not specs to build
    for spec in quoted:
        searching = spec.startswith(("mds", "sparta"))
        bot = make_bot(hanabi if searching else ttt, spec, seed=1)
        assert isinstance(bot, MDSBot if searching else SearchBot), spec


def _mds(spec: str) -> MDSConfig:
    bot = make_bot(HanabiConfig().load(), spec, seed=4)
    assert isinstance(bot, MDSBot)
    return bot._config


def test_mds_specs_mean_what_they_meant() -> None:
    full = _mds("mds:eta=10,alpha=0.1,magnet=blueprint,rollouts=160,keep=1,screen=2,floor=0.1,"
                "threshold=0.5,z=2")  # fmt: skip
    assert full == MDSBotConfig(eta=10.0, alpha=0.1, magnet="blueprint", rollouts=160, keep=1,
                                screen=2, floor=0.1, threshold=0.5, z=2.0, seed=4)  # fmt: skip
    default = _mds("mds")  # the spec's defaults, not MDSConfig's
    assert (default.eta, default.floor, default.rollouts) == (5.0, 0.1, 200)
    assert (default.alpha, default.magnet, default.keep, default.seed) == (0.0, "uniform", None, 4)
    timed = _mds("mds:seconds=2,alpha=0.5")  # a time budget alone: no rollout cap
    assert (timed.rollouts, timed.seconds, timed.alpha) == (None, 2.0, 0.5)
    both = _mds("mds:seconds=2,rollouts=50")
    assert (both.rollouts, both.seconds) == (50, 2.0)


def test_sparta_specs_are_mds_at_infinite_step_size() -> None:
    sparta = _mds("sparta:rollouts=160")
    assert sparta == MDSBotConfig(eta=math.inf, floor=0.0, rollouts=160, threshold=0.05, seed=4)
    timed = _mds("sparta:seconds=1,threshold=0.1,keep=2")
    assert (timed.rollouts, timed.seconds, timed.threshold, timed.keep) == (None, 1.0, 0.1, 2)
    with pytest.raises(BotSpecError, match=r"unknown option\(s\) eta for sparta"):
        make_bot(HanabiConfig().load(), "sparta:eta=5", seed=0)


def test_mcts_specs_mean_what_they_meant() -> None:
    ttt = pyspiel.load_game("tic_tac_toe")
    cfg = spec_config(parse_spec("mcts:sims=100,c=1.4,final=value,reuse=0"), SearchBotConfig)
    assert cfg.mcts_config(3) == MCTSConfig(
        budget=Budget(simulations=100), c=1.4, final="value", seed=3
    )
    assert cfg.reuse is False and (cfg.rollouts, cfg.worlds) == (1, 8)
    default = spec_config(parse_spec("mcts"), SearchBotConfig).mcts_config(0)
    assert default.budget == Budget(simulations=1000)
    timed = spec_config(parse_spec("mcts:seconds=1"), SearchBotConfig).mcts_config(0)
    assert timed.budget == Budget(seconds=1.0)
    bot = make_bot(ttt, "mcts:sims=40,reuse=off", seed=2)
    assert isinstance(bot, SearchBot) and bot.reuse is False
    for bad, message in [
        ("mcts:sims=0", "mcts: simulations must be >= 1"),
        ("mcts:final=best", "mcts: final='best'; valid: visits, value"),
        ("random:sims=3", r"unknown option\(s\) sims for random; valid: none"),
        ("cfr:iters=many", "cfr: iters='many' is not a valid whole number"),
        ("cpp_mcts:worlds=2", "for cpp_mcts; valid: sims, seconds, c, rollouts"),
        ("openspiel_mcts:seconds=1", "for openspiel_mcts; valid: sims, c, rollouts"),
    ]:
        with pytest.raises(BotSpecError, match=message):
            make_bot(ttt, bad)
    with pytest.raises(BotSpecError, match=r"unknown option\(s\) a for hanabi_rules; valid: none"):
        make_bot(HanabiConfig().load(), "hanabi_rules:a=1")
