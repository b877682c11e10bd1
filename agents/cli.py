"""The `agents` command line: one Typer app; each module in `agents/commands/`
registers its commands here (`register(cli)`), so later features add a file,
not an edit to this one."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import typer

import agents.commands as commands
from agents.commands import CLI
from foundation.errors import UserError, one_line

# -h everywhere: click hands a context's settings down to its subcommands' contexts.
CONTEXT = {"help_option_names": ["--help", "-h"]}

app = typer.Typer(
    name="agents",
    help="Agents and search for language and games: MCTS and mirror-descent search "
    "driving hosted or local LLMs through agent graphs, in sandboxes and OpenSpiel games. "
    "Any option's default can come from a TOML file: ./agents.toml, or --config FILE "
    "(a table per command, e.g. [solve] limit = 3, [bench.hanabi] games = 50).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)
bench_app = typer.Typer(help="Benchmarks: each reports what it measured.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate predictions with a task's grader.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"agents-search {version('agents-search')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("agents-search (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file of option defaults, one table per command ([solve], [bench.hanabi], "
        "...; keys are option names). Default: ./agents.toml when it exists. Flags given on "
        "the command line win.",
        show_default=False,
    ),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log output on stderr (-vv: debug)."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Only errors on stderr: no progress bars, no log lines."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from agents.commands.options import load_defaults, set_verbosity

    set_verbosity(-1 if quiet else verbose)
    path = config if config is not None else Path("agents.toml")
    if config is not None or path.is_file():
        ctx.default_map = load_defaults(path, ctx.command)


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
