"""Errors a user can act on: the CLI prints their message in one line, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing prerequisite; the message says what to do."""

    exit_code = 2
