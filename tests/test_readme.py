"""The README as a newcomer reads it: every `agents` command in its shell blocks parses
(the subcommand exists, every flag exists and takes the value given), the ones that can
run offline in seconds do run, its Python block runs as written, and the facts a user
copies (paths, model specs, links) hold. A command that cannot run here says why in
WHY_NOT; a README command in neither list fails the test, so new commands get checked."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command

from agents.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# typer 0.29 vendors click (typer._click): its usage error, found without a private import.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]

# Commands run as written (in a scratch directory), with what their output must show.
RUN = {
    "agents models": "local",
    "agents solve --task game24 --agent rafa --model oracle --limit 10": "10/10 solved",
    "printf 'x(1,1)\\nundo\\n5\\nquit\\n' | agents play tic_tac_toe": "",
    "agents play tic_tac_toe --bots random,mcts:sims=200 --games 20": "20 games, seats rotated",
}
# Why the others only parse here (the reason a test cannot run them in CI).
KEY = "needs an API key"
DOCKER = "needs Docker images of real SWE-bench repositories, or the reader's files"
LONG = "minutes to hours on a CPU (the local model, many games or instances, training)"
FILES = "needs files the reader makes (a dataset, predictions, mirrors, a trained run)"
CLUSTER = "needs a Ray cluster of several machines"
SERVER = "a server that runs until stopped (tests/test_serve*.py covers it)"
TERMINAL = "interactive: a human plays in the terminal (tests/test_play*.py play it)"
APPWORLD = "needs AppWorld's own venv and data (benchmarks/appworld)"
GAMES = "plays hundreds of games (tests/test_hanabi_bots.py runs the command on a few)"
WHY_NOT = {
    "bash .ci/setup.sh && .venv/bin/agents solve": "the main job: setup is CI's own first "
    "step, and the solve is " + LONG,
    "agents ask -m openai:": KEY,
    "agents ask -m anthropic:": KEY,
    "OPENAI_API_KEY=none agents ask": "needs an OpenAI-compatible server the reader runs",
    "agents serve": SERVER,
    "agents play tic_tac_toe --opponent": TERMINAL,
    "agents play leduc_poker": TERMINAL,
    "agents play hearts": TERMINAL,
    "agents play connect_four": TERMINAL,
    "agents play werewolf": TERMINAL,
    "agents solve --task swe-bench --search mcts -m openai": KEY,
    "agents solve --task swe-bench -d my.jsonl": FILES,
    "agents bench swe-search -m openai": KEY,
    "agents bench swe-search --budgets": LONG,
    'agents solve --task swe-bench -m "oracle:swe': LONG,
    "agents bench werewolf --agents rule,random,react": LONG,
    "agents train lspo": LONG,
    "agents bench werewolf --agents lspo": FILES,
    "agents solve --task appworld": APPWORLD,
    "agents train loop": LONG,
    "agents solve --task game24 --agent tot": LONG,
    "agents solve --task game24 --option": LONG,
    "agents solve --task blocksworld": LONG,
    "agents solve --task tictactoe": LONG,
    "agents solve --task story": LONG,
    "agents bench planning": LONG,
    "agents train orpo": FILES,
    "agents eval swe-bench -p gold": LONG,
    "agents eval swe-bench -p preds.jsonl": FILES,
    "agents eval swe-bench -d": FILES,
    "agents solve -m openai:gpt-4o-mini -k 0 --max-cost 20 --executor": CLUSTER,
    "agents report": FILES,
    "agents bench hanabi": GAMES,
    "agents solve --task swe-bench": LONG,  # last: the bare command (prefix of the others)
}


def shell_lines() -> list[str]:
    """Every command line of the README's bash blocks (continuations joined)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def agents_commands() -> list[str]:
    """The README's `agents ...` invocations, comments stripped."""
    found = []
    for line in shell_lines():
        command = re.split(r"\s#\s", line)[0].strip()
        if re.search(r"(^|\s|/|\|\s)agents\s", command):
            found.append(command)
    return found


def _argv(command: str) -> list[str]:
    """The arguments after `agents` (env assignments and a leading pipe stripped)."""
    words = shlex.split(command.split("| ")[-1] if "| agents" in command else command)
    start = next(i for i, w in enumerate(words) if w.endswith("agents"))
    return words[start + 1 :]


def _parse(argv: list[str]) -> Any:
    """Parse `argv` as the CLI would, without running it: the leaf command."""
    root = get_command(app)
    ctx = root.make_context("agents", list(argv))
    command: Any = root
    while hasattr(command, "resolve_command"):  # a group
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command


def test_the_readme_has_commands_to_check() -> None:
    commands = agents_commands()
    assert len(commands) >= 40
    assert any(c.startswith("agents solve --task game24 --agent rafa") for c in commands)


@pytest.mark.parametrize("command", agents_commands())
def test_every_readme_command_parses_and_is_run_or_explained(command: str) -> None:
    key = next((k for k in [*RUN, *WHY_NOT] if command.startswith(k) or k == command), None)
    assert key is not None, f"README command neither run nor explained in WHY_NOT: {command}"
    try:
        _parse(_argv(command))
    except UsageError as exc:
        pytest.fail(f"README command does not parse: {command}\n{exc}")


def test_the_parser_check_can_fail() -> None:
    with pytest.raises(UsageError, match="--no-such-flag"):
        _parse(["solve", "--no-such-flag"])
    with pytest.raises(UsageError):
        _parse(["no-such-command"])


@pytest.mark.parametrize("command", list(RUN))
def test_the_offline_readme_commands_run(command: str, tmp_path: Path) -> None:
    assert command in agents_commands(), f"no longer in the README: {command}"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "agents").write_text(f'#!/bin/sh\nexec {shlex.join(AGENTS)} "$@"\n')
    (bin_dir / "agents").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert RUN[command] in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_the_python_block_runs_as_written(tmp_path: Path) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    script = tmp_path / "snippet.py"
    script.write_text(block)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TokenLogprob(" in proc.stdout  # the log-probs the block prints


def test_the_facts_a_reader_copies_hold() -> None:
    # The story run's pairs are where `agents solve --task story` writes them.
    from benchmarks.stories import default_output

    pairs = re.search(r"--pairs (\S+)", README)
    assert pairs is not None
    assert Path(pairs.group(1)).parent == default_output("local:smollm2")
    # Design notes a user needs live in the repository; nothing points outside it.
    assert "../shared" not in README
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        if not link.startswith(("http://", "https://")):
            assert (ROOT / link).exists(), f"README links to a missing file: {link}"
    # Every model spec family a README command uses is in the models table.
    table = README.split("## Models", 1)[1].split("\n\n", 3)[2]
    for family in ("local:", "llamacpp:", "openai:", "anthropic:", "scripted:", "oracle"):
        assert f"| `{family}" in table, family


def test_the_toml_example_names_real_commands_and_options(tmp_path: Path) -> None:
    from agents.commands.options import load_defaults

    (block,) = re.findall(r"```toml\n(.*?)```", README, re.S)
    path = tmp_path / "agents.toml"
    path.write_text(block)
    defaults = load_defaults(path, get_command(app))
    assert defaults["solve"]["max_cost"] == 2.0 and defaults["bench"]["hanabi"]["games"] == 500
