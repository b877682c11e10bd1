"""Typed errors of the games layer; the CLI turns them into one-line messages."""

from __future__ import annotations


class GameError(Exception):
    """Base of every error games/ raises on purpose."""


class UnknownGameError(GameError, ValueError):
    """The game name is not one we offer; the message lists the valid ones."""


class UnsupportedGameError(GameError):
    """The game's type is one the searcher cannot handle; the message names why."""


class BotSpecError(GameError, ValueError):
    """A bot spec is malformed or unknown; the message lists the valid ones."""
