"""The settings model behind each command: its options, validated, in one frozen object.

A command passes every option to its model first (`SolveSettings(task=task, ...)`); the model
checks them and builds the lower layer's config (`SolveOptions`, `BenchConfig`, ...). What is
wrong becomes one `UserError`, which the CLI prints as one line, exit 2: a validator raises
`ValueError("--flag must be ...")`, and every such message is joined into that line. The
fields carry the option names and defaults the command's typer signature has
(tests/test_command_settings.py holds them equal)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

from foundation.errors import UserError


class CommandSettings(BaseModel):
    """Base of the commands' settings: frozen, no unknown fields, and constructing one with
    bad values raises `UserError` (not pydantic's multi-line `ValidationError`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    FLAGS: ClassVar[dict[str, str]] = {}
    """Field -> how the user spells it, where that is not `--field-name`."""

    def __init__(self, /, **options: Any) -> None:
        try:
            super().__init__(**options)
        except ValidationError as exc:
            raise UserError(type(self).explain(exc)) from None

    @classmethod
    def flag(cls, field: str) -> str:
        return cls.FLAGS.get(field, "--" + field.replace("_", "-"))

    @classmethod
    def explain(cls, exc: ValidationError) -> str:
        """One line for all that is wrong: each validator's own message, else the option's
        name and pydantic's message (a value of the wrong type)."""
        messages: list[str] = []
        for error in exc.errors(include_url=False):
            cause = (error.get("ctx") or {}).get("error")
            if error["type"] in ("value_error", "assertion_error") and cause is not None:
                text = str(cause)
            elif error["loc"]:
                text = f"{cls.flag(str(error['loc'][0]))}: {error['msg']}"
            else:
                text = error["msg"]
            if text not in messages:
                messages.append(text)
        return "; ".join(messages)


def flag(info: ValidationInfo) -> str:
    """The option a field validator is checking, as the user types it."""
    return "--" + (info.field_name or "option").replace("_", "-")


def either(choices: tuple[str, ...]) -> str:
    """'a, b or c'."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _at_least(low: float) -> AfterValidator:
    def check(value: float, info: ValidationInfo) -> float:
        if value < low:
            raise ValueError(f"{flag(info)} must be >= {low} (got {value})")
        return value

    return AfterValidator(check)


def _above(low: float) -> AfterValidator:
    def check(value: float, info: ValidationInfo) -> float:
        if not value > low:
            raise ValueError(f"{flag(info)} must be > {low} (got {value})")
        return value

    return AfterValidator(check)


def one_of(*choices: str) -> AfterValidator:
    """A string option that takes one of `choices`."""

    def check(value: str, info: ValidationInfo) -> str:
        if value not in choices:
            raise ValueError(f"{flag(info)} must be {either(choices)}, not {value!r}")
        return value

    return AfterValidator(check)


Count = Annotated[int, _at_least(1)]
"""A whole number >= 1 (games, workers, steps...)."""
Size = Annotated[int, _at_least(0)]
"""A whole number >= 0 (0 often meaning "all" or "none")."""
Positive = Annotated[float, _above(0)]
NonNegative = Annotated[float, _at_least(0)]
Sandbox = Annotated[str, one_of("docker", "local", "auto")]


def _executor(value: str) -> str:
    from foundation.executors import parse_executor

    try:
        return str(parse_executor(value))
    except UserError as exc:
        raise ValueError(f"--{exc}") from None


Executor = Annotated[str, AfterValidator(_executor)]
"""--executor: local, ray, ray://HOST:PORT or HOST:PORT (`foundation.executors`)."""
EXECUTOR_HELP = (
    "Where units run: local (this machine, --workers at once), ray (a Ray instance started "
    "here, or the cluster RAY_ADDRESS names), ray://HOST:PORT or HOST:PORT (an existing Ray "
    "cluster). Ray needs pip install '.\\[ray]'."
)


def spec_list(text: str) -> tuple[str, ...]:
    """Bot or agent specs, comma-separated, in order. A spec's own commas (options such as
    `mcts:sims=8,c=2`) stay with it: a part with `=` and no `:` continues the last spec."""
    specs: list[str] = []
    for part in comma_list(text):
        if specs and "=" in part and ":" not in part:
            specs[-1] += "," + part
        else:
            specs.append(part)
    return tuple(specs)


def comma_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c')."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
