"""What one seat knows, drawn for a person at a terminal: cards with suits, the public
history in words, whose turn, the pot or the points. Built only from the seat's own
information state or observation (never the whole state), so nothing private to another
seat can show. Games without a view of their own get the seat's OpenSpiel string."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyspiel

SUITS = {"S": "♠", "H": "♥", "D": "♦", "C": "♣", "s": "♠", "h": "♥", "d": "♦", "c": "♣"}
RANK = {"T": "10"}


def card(code: str) -> str:
    """'TH' / 'Th' -> '10♥', 'QS' -> 'Q♠' (a code that is no card is returned as it is)."""
    if len(code) == 2 and code[1] in SUITS:
        return RANK.get(code[0], code[0]) + SUITS[code[1]]
    return code


def _cards(text: str) -> str:
    """Every two-letter card code in `text` drawn with its suit."""
    return re.sub(r"\b([2-9TJQKA][SHDCshdc])\b", lambda m: card(m.group(1)), text)


def player_moves(state: pyspiel.State) -> int:
    """Moves made by players so far (chance moves, such as deals, are not moves)."""
    return sum(1 for item in state.full_history() if item.player >= 0)


# ------------------------------------------------------------------ leduc poker

LEDUC_RANKS = ("J", "Q", "K")
LEDUC_SUITS = ("♠", "♥")
LEDUC_MOVES = {"0": "fold", "1": "call", "2": "raise"}


def _leduc_card(index: str) -> str:
    c = int(index)
    return LEDUC_RANKS[c // 2] + LEDUC_SUITS[c % 2]


def leduc_view(info: str, player: int) -> str:
    fields = dict(re.findall(r"\[([^:\]]+): ?([^\]]*)\]", info))
    lines = [f"your card: {_leduc_card(fields['Private'])}"]
    public = fields.get("Public")
    lines.append(f"board card: {_leduc_card(public) if public else '(not dealt yet)'}")
    money = fields.get("Money", "").split()
    if money:
        seats = [f"player {p}{' (you)' if p == player else ''} {m}" for p, m in enumerate(money)]
        lines.append("chips left: " + ", ".join(seats))
    if fields.get("Pot"):
        lines.append(f"pot: {fields['Pot']}")
    for rnd in ("Round1", "Round2"):
        moves = fields.get(rnd, "").split()
        if moves:
            lines.append(
                f"{rnd[:-1].lower()} {rnd[-1]}: " + ", ".join(LEDUC_MOVES.get(m, m) for m in moves)
            )
    return "\n".join(lines)


# ------------------------------------------------------------------ liar's dice


def liars_dice_view(info: str, player: int) -> str:
    """OpenSpiel's string is the seat's dice, then the bids ('2-5': two dice showing 5)."""
    words = info.split()
    dice = [w for w in words if w.isdigit()]
    bids = [w for w in words if not w.isdigit()]
    lines = [f"your dice: {' '.join(dice) if dice else '(none)'}"]
    said = []
    for bid in bids:
        if "-" in bid:
            quantity, face = bid.split("-", 1)
            said.append(f"{quantity} × {face}")
        else:
            said.append(bid)
    lines.append("bids so far: " + (", ".join(said) if said else "none"))
    return "\n".join(lines)


# ------------------------------------------------------------------ card games


def hearts_view(info: str, player: int) -> str:
    """Hand lines ('S A5') spread out with suit symbols; every card code with its suit."""
    out = []
    for line in info.splitlines():
        m = re.fullmatch(r"([SHDC]) ?([2-9TJQKA]*)", line.strip())
        if m:
            ranks = " ".join(RANK.get(r, r) for r in m.group(2))
            out.append(f"{SUITS[m.group(1)]} {ranks}".rstrip())
        else:
            out.append(_cards(line))
    return "\n".join(out).strip()


def gin_rummy_view(info: str, player: int) -> str:
    return _cards(info).strip()


VIEWS: dict[str, Callable[[str, int], str]] = {
    "leduc_poker": leduc_view,
    "liars_dice": liars_dice_view,
    "hearts": hearts_view,
    "gin_rummy": gin_rummy_view,
}
"""Games with a view of their own, by short name (bridge's own string is already drawn)."""


def seat_string(state: pyspiel.State, player: int) -> str:
    """The seat's own string: its information state, else its observation; never the
    whole state of an imperfect-information game."""
    from games.render import observation_text

    return observation_text(state, player, "(this game gives no view of one seat's knowledge)")


def player_view(state: pyspiel.State, player: int) -> str:
    """What `player` knows, drawn for a person (see the module's docstring)."""
    name = state.get_game().get_type().short_name
    text = seat_string(state, player)
    view = VIEWS.get(name)
    if view is None:
        return text
    try:
        return view(text, player)
    except (KeyError, ValueError, IndexError):  # a format this view does not know: as is
        return text
