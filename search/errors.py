"""Typed errors of the search core: callers catch these, never a bare Exception."""

from __future__ import annotations

from foundation.errors import ConfigError


class SearchError(Exception):
    """Base of every error the search core raises on purpose."""


class InvalidConfigError(SearchError, ConfigError):
    """A search configuration is inconsistent (e.g. no budget at all)."""


class UnsupportedProblemError(SearchError):
    """The problem has a feature the searcher cannot handle; the message names it."""


class NoActionsError(SearchError):
    """The root state has no legal action (it is terminal or the policy proposed nothing)."""
