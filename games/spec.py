"""Bot specs: `kind:key=value,...` split once (`split_spec`), and the options turned
into the bot's config dataclass by field name (`spec_config`), each value converted by
the field's annotation. Every bot with options goes through `spec_config`, so every spec
option is a config field and the errors read alike: one line naming the valid keys, or
the bad value and what it should be.

Spec keys are the config classes' field names.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

from foundation.errors import ConfigError
from games.errors import BotSpecError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    C = TypeVar("C", bound=DataclassInstance)

FLAGS: dict[str, bool] = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}
"""How a bool option may be written (case-insensitive)."""


@dataclass(frozen=True)
class BotSpec:
    kind: str
    options: dict[str, str]
    rest: str = ""
    """Everything after `llm:` (the model spec)."""


@dataclass(frozen=True)
class NoOptions:
    """The config of a bot that takes no options (`random`, `hanabi_rules`)."""


def split_spec(spec: str, literal_tail: tuple[str, ...] = ()) -> BotSpec:
    """`kind:key=value,...` as a BotSpec; for kinds in `literal_tail` the tail after the
    colon is kept whole in `rest` (no options)."""
    kind, _, tail = spec.strip().partition(":")
    if kind in literal_tail:
        return BotSpec(kind, {}, tail)
    options: dict[str, str] = {}
    for part in filter(None, tail.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise BotSpecError(
                f"bad option {part!r} in {spec!r}: write key=value, e.g. mcts:sims=800"
            )
        options[key.strip()] = value.strip()
    return BotSpec(kind, options)


def spec_keys(cls: type[DataclassInstance], fixed: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The spec keys of `cls`: its init fields' names, in field order, except `fixed` (set
    by the caller, e.g. the seed)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in fixed)


def spec_config(
    spec: BotSpec,
    cls: type[C],
    defaults: Mapping[str, object] | None = None,
    /,
    **fixed: object,
) -> C:
    """`cls(**fields)` from the spec's options: each key names a field, its value converted by the field's annotation (int, float, str, Path, bool as
    1/0/true/false/yes/no/on/off, a Literal's choices, or `X | None` as X). Fields the spec
    leaves out take `defaults`, else the class default; `fixed` (say seed=3) are set by
    the caller and are no spec keys. An unknown key, a bad value or a config the class
    rejects (a `ConfigError`) is a one-line BotSpecError."""
    keys = spec_keys(cls, tuple(fixed))
    unknown = [k for k in spec.options if k not in keys]
    if unknown:
        raise BotSpecError(
            f"unknown option(s) {', '.join(sorted(unknown))} for {spec.kind}; "
            f"valid: {', '.join(keys) or 'none'}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for key in keys:
        raw = spec.options.get(key)
        if raw is not None:
            values[key] = _convert(spec.kind, key, raw, hints[key])
        elif defaults is not None and key in defaults:
            values[key] = defaults[key]
    try:
        return cls(**values, **fixed)
    except ConfigError as exc:  # InvalidConfigError, or a Budget out of range
        raise BotSpecError(f"{spec.kind}: {exc}") from None


def _convert(kind: str, key: str, raw: str, hint: Any) -> object:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"spec option {key}: unsupported annotation {hint}")
        return _convert(kind, key, raw, inner[0])
    if origin is Literal:
        if raw not in args:
            raise BotSpecError(f"{kind}: {key}={raw!r}; valid: {', '.join(map(str, args))}")
        return raw
    if hint is bool:
        if raw.lower() not in FLAGS:
            raise BotSpecError(
                f"{kind}: {key}={raw!r} is not a valid flag (1/0, true/false, yes/no, on/off)"
            )
        return FLAGS[raw.lower()]
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            what = "whole number" if hint is int else "number"
            raise BotSpecError(f"{kind}: {key}={raw!r} is not a valid {what}") from None
    if hint in (str, Path):
        return hint(raw)
    raise TypeError(f"spec option {key}: unsupported annotation {hint}")
