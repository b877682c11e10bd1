"""The `agents` command line: one Typer app; each module in `agents/commands/`
registers its commands here (`register(cli)`), so later features add a file,
not an edit to this one."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import agents.commands as commands
from agents.commands import CLI
from foundation.errors import UserError, one_line

app = typer.Typer(
    name="agents",
    help="Agents and search for language and games: MCTS and mirror-descent search "
    "driving hosted or local LLMs through agent graphs, in sandboxes and OpenSpiel games.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks: each reports what it measured.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate predictions with a task's grader.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")


def _register_all() -> None:
    cli = CLI(app=app, bench=bench_app, eval=eval_app)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"agents.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(cli)


_register_all()


def _fail(exc: BaseException, code: int) -> None:
    # Plain write, not rich: rich wraps at the terminal width, and the error must stay one line.
    sys.stderr.write(f"error: {one_line(exc, None)}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: known errors become one line on stderr."""
    from agents.llm.errors import LLMError

    try:
        rc = app(args=argv, standalone_mode=False)
        # Without standalone mode click *returns* an exit code (e.g. 130 after Ctrl-C).
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except UserError as exc:
        _fail(exc, exc.exit_code)
    except LLMError as exc:
        _fail(exc, 1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except Exception as exc:
        # Usage errors (unknown option or command, bad value) come from click, which
        # typer may vendor under another module name: recognise them by their shape.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise


if __name__ == "__main__":
    main()
