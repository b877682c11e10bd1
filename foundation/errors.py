"""Errors a user can act on: the CLI prints their message in one line, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what to do."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A setting out of range or inconsistent (a budget of 0 simulations, no budget at all
    for a search); the message names the setting."""


def one_line(exc: BaseException, limit: int | None = 300) -> str:
    """The exception's message on one line (whitespace collapsed), cut at `limit` characters;
    its type name when the message is empty. What error rows and observations record."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if limit is None else text[:limit]
