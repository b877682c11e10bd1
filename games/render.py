"""What a player may see, as text: for the terminal and for LLM prompts."""

from __future__ import annotations

import pyspiel


def observation_text(state: pyspiel.State, player: int, otherwise: str | None = None) -> str:
    """The player's view: the whole state in perfect-information games; otherwise its
    information state (all it has seen, e.g. the tricks so far), else its observation;
    a game with neither gives `otherwise` (default: the whole state)."""
    gt = state.get_game().get_type()
    if gt.information == pyspiel.GameType.Information.PERFECT_INFORMATION:
        return str(state)
    if gt.provides_information_state_string:
        return str(state.information_state_string(player))
    if gt.provides_observation_string:
        return str(state.observation_string(player))
    return str(state) if otherwise is None else otherwise


def legal_move_names(state: pyspiel.State) -> list[tuple[int, str]]:
    """(action, name) of each legal move of the player to act, in OpenSpiel order."""
    player = state.current_player()
    return [(a, state.action_to_string(player, a)) for a in state.legal_actions()]
