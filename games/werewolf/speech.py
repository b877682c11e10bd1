"""Werewolf speech: the catalogue of speech strategies, their English templates, and a
keyword parser from free English to the nearest base kind.

A speech action is a `Statement`: a strategy name and, for targeted kinds, a target seat.
The base catalogue has one strategy per base kind (`BASE_KINDS`). Extra strategies (e.g.
LSPO clusters of free-text statements) are named `name:kind` pairs: each reads as its
base kind to listeners that follow semantics, but is its own action. They come from the
game parameter `strategies`:

- `""`: the base catalogue;
- `"accuse.1:accuse;support.1:support"`: name:kind pairs separated by `;` (or `,` when
  the parameter is passed in a dict; a game string such as `werewolf(strategies=...)`
  splits on commas, so use `;` there);
- a path ending in `.json`: a list of `{"name": ..., "kind": ..., "template": ...}`
  objects (`template` optional, with `{target}` exactly for targeted kinds).

Names are letters, digits, `_`, `.` and `-`, unique, and not a base kind's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from games.errors import GameError

BASE_KINDS: tuple[str, ...] = (
    "quiet",
    "claim_villager",
    "defend_self",
    "claim_doctor",
    "accuse",
    "support",
    "claim_seer_wolf",
    "claim_seer_clear",
)
TARGETED = frozenset({"accuse", "support", "claim_seer_wolf", "claim_seer_clear"})
"""The kinds that name a target seat (a living player other than the speaker)."""

TEMPLATES: dict[str, str] = {
    "quiet": "I have nothing to add.",
    "claim_villager": "I am a simple villager.",
    "defend_self": "I am not a werewolf; you are wrong about me.",
    "claim_doctor": "I am the doctor.",
    "accuse": "I think player {target} is a werewolf.",
    "support": "I trust player {target}; they are on the village's side.",
    "claim_seer_wolf": "I am the seer: player {target} is a werewolf.",
    "claim_seer_clear": "I am the seer: player {target} is not a werewolf.",
}
"""The English line of each base kind; extra strategies default to their kind's."""

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class WerewolfConfigError(GameError, ValueError):
    """A bad werewolf game parameter (strategies, abstraction, max_days)."""


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str
    """The base kind whose semantics the strategy has."""
    template: str


@dataclass(frozen=True)
class Statement:
    """One speech action: a strategy and its target (None for untargeted kinds)."""

    strategy: str
    target: int | None = None


class Catalogue:
    """The strategies of a game and its statements, in action order: per strategy, the
    untargeted statement or one statement per target seat."""

    def __init__(self, num_players: int, extra: Sequence[Strategy] = ()) -> None:
        base = [Strategy(k, k, TEMPLATES[k]) for k in BASE_KINDS]
        self.strategies: tuple[Strategy, ...] = (*base, *extra)
        self.by_name = {s.name: s for s in self.strategies}
        statements: list[Statement] = []
        for s in self.strategies:
            if s.kind in TARGETED:
                statements.extend(Statement(s.name, t) for t in range(num_players))
            else:
                statements.append(Statement(s.name))
        self.statements: tuple[Statement, ...] = tuple(statements)
        self._index = {st: i for i, st in enumerate(self.statements)}
        self.kinds: tuple[str, ...] = tuple(self.by_name[st.strategy].kind for st in statements)
        """The base kind of each statement, by index."""

    def index(self, statement: Statement) -> int:
        """The statement's position (its action is the game's first speech action + this)."""
        try:
            return self._index[statement]
        except KeyError:
            raise WerewolfConfigError(f"no statement {statement} in this catalogue") from None

    def kind(self, strategy: str) -> str:
        return self.by_name[strategy].kind

    def render(self, statement: Statement) -> str:
        return self.by_name[statement.strategy].template.format(target=statement.target)

    @classmethod
    def parse(cls, spec: str, num_players: int) -> Catalogue:
        """The catalogue of the `strategies` parameter (see the module docstring)."""
        spec = spec.strip()
        if not spec:
            return cls(num_players)
        if spec.endswith(".json"):
            extra = _from_json(Path(spec))
        else:
            extra = []
            for part in filter(None, (p.strip() for p in re.split(r"[;,]", spec))):
                name, colon, kind = part.partition(":")
                if not colon:
                    raise WerewolfConfigError(
                        f"bad strategy {part!r}: write name:kind, e.g. accuse.1:accuse"
                    )
                extra.append(_strategy(name.strip(), kind.strip(), None))
        names = [s.name for s in extra]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise WerewolfConfigError(f"duplicate strategy name(s): {', '.join(dup)}")
        return cls(num_players, extra)


def _strategy(name: str, kind: str, template: str | None) -> Strategy:
    if kind not in BASE_KINDS:
        raise WerewolfConfigError(
            f"strategy {name!r}: unknown kind {kind!r}; kinds: {', '.join(BASE_KINDS)}"
        )
    if not _NAME.match(name) or name in BASE_KINDS:
        raise WerewolfConfigError(
            f"bad strategy name {name!r}: use letters, digits, _ . - and not a base kind"
        )
    if template is None:
        return Strategy(name, kind, TEMPLATES[kind])
    if ("{target}" in template) != (kind in TARGETED):
        need = "needs" if kind in TARGETED else "must not have"
        raise WerewolfConfigError(f"strategy {name!r}: a {kind} template {need} {{target}}")
    try:
        template.format(target=0)
    except (KeyError, IndexError, ValueError):
        raise WerewolfConfigError(
            f"strategy {name!r}: bad template {template!r} (only {{target}} is filled in)"
        ) from None
    return Strategy(name, kind, template)


def _from_json(path: Path) -> list[Strategy]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise WerewolfConfigError(f"cannot read strategies {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise WerewolfConfigError(f"strategies {path}: bad JSON ({exc.msg})") from None
    if not isinstance(data, list) or not all(
        isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("kind"), str)
        for d in data
    ):
        raise WerewolfConfigError(
            f"strategies {path}: want a list of {{name, kind, template?}} objects"
        )
    out = []
    for d in data:
        template = d.get("template")
        if template is not None and not isinstance(template, str):
            raise WerewolfConfigError(f"strategies {path}: template of {d['name']!r} not a string")
        out.append(_strategy(d["name"], d["kind"], template))
    return out


def render_statement(strategy: str, target: int | None, catalogue: Catalogue) -> str:
    """The English line of a strategy, e.g. "I am the seer: player 3 is a werewolf."."""
    return catalogue.render(Statement(strategy, target))


_SEER = re.compile(r"\b(?:i am|i'm|im|as)\s+(?:the\s+|a\s+|your\s+)?seer\b")
_DOCTOR = re.compile(r"\b(?:i am|i'm|im|as)\s+(?:the\s+|a\s+|your\s+)?doctor\b")
_VILLAGER = re.compile(r"\b(?:i am|i'm|im)\s+(?:\w+\s+){0,3}villager\b")
_NOT_WOLF = re.compile(r"(?:\bnot|n't|\bno|\bnever)\s+(?:\w+\s+){0,2}(?:were)?wol(?:f|ves)\b")
_WOLF = re.compile(r"\b(?:were)?wol(?:f|ves)\b")
_BAD = re.compile(
    r"\b(?:vote|voting|suspicious|suspect|sus|lying|liar|lies|eliminate|lynch|evil|guilty)\b"
)
_GOOD = re.compile(
    r"\b(?:trust|trusted|innocent|clear|cleared|good|support|believe|safe|village's side)\b"
)
_SELF_DEFENSE = re.compile(r"\b(?:not me|innocent|wrong about me|i am not|i'm not)\b")


def parse_statement(text: str, speaker: int, living: Collection[int]) -> tuple[str, int | None]:
    """The nearest base kind and target of a free English line, by keywords.

    The target is the first numeral naming a living player other than the speaker. With a
    target: a seer claim ("I am the seer") is `claim_seer_clear` when the line denies
    wolfhood ("not a werewolf") or has a good word (trust, innocent, clear...), else
    `claim_seer_wolf`; without a seer claim, a denial or good word is `support`, a wolf or
    bad word (vote, suspicious, liar...) or nothing at all is `accuse`. Without a target:
    a doctor claim is `claim_doctor`, a self-denial (not me, innocent, I am not...) or a
    bare seer claim is `defend_self`, a villager claim is `claim_villager`, else `quiet`.
    """
    t = " ".join(text.lower().split())
    target = next(
        (n for n in map(int, re.findall(r"\d+", t)) if n in living and n != speaker), None
    )
    if target is not None:
        denied = bool(_NOT_WOLF.search(t))
        good = denied or (not _WOLF.search(t) and not _BAD.search(t) and bool(_GOOD.search(t)))
        if _SEER.search(t):
            return ("claim_seer_clear" if good else "claim_seer_wolf"), target
        return ("support" if good else "accuse"), target
    if _DOCTOR.search(t):
        return "claim_doctor", None
    if _SELF_DEFENSE.search(t) or _NOT_WOLF.search(t) or _SEER.search(t):
        return "defend_self", None
    if _VILLAGER.search(t):
        return "claim_villager", None
    return "quiet", None
