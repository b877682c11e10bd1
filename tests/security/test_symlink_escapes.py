"""A symlink written by hostile code never turns a sandbox file operation into a host one.

Three routes reached the host before: (a) `agents eval`: a model patch that GNU `patch`
turns into a symlink where the harness then writes its test-patch file; (b) `agents
solve`: the agent makes a symlink (here from a test it runs) and then creates a file on it;
(c) the Python API directly. Files and parent directories, `..` and absolute paths.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from sandbox_helpers import BACKENDS, make_repo, open_backend
from swe_plans import SYMLINK_PATCH

from agents.llm import ScriptedLLM
from agents.swe.actions import Action, format_action
from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, load_dataset
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions
from sandboxes.files import UnsafePath

SECRET = "host secret, root only\n"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A directory outside every sandbox holding a private file (0600, owned by us)."""
    where = tmp_path / "host"
    where.mkdir()
    secret = where / "secret.txt"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return where


@pytest.fixture(params=["local", "local-plain"])
def local_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test's local sandboxes with bubblewrap, then without."""
    if request.param == "local-plain":
        monkeypatch.setenv("AGENTS_SANDBOX_NO_BWRAP", "1")
    return str(request.param)


def assert_host_untouched(host: Path) -> None:
    assert (host / "secret.txt").read_text() == SECRET
    assert sorted(p.name for p in host.iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_file_operations_refuse_symlinks_out_of_the_sandbox(
    kind: str, tmp_path: Path, host: Path
) -> None:
    secret = host / "secret.txt"
    with open_backend(kind, make_repo(tmp_path)) as sb:
        made = sb.exec(
            f"ln -s {secret} link && ln -s {host} dir && mkdir -p a/b && ln -s {host} a/b/deep"
        )
        assert made.ok, made.stderr
        links = ("link", "dir/secret.txt", "a/b/deep/secret.txt", "a/b/deep/new.txt")
        outside = ("../escape.txt", "a/../../escape.txt", f"{host}/new.txt")
        for path in links + outside:
            if kind == "docker":  # resolved inside the container, where the links dangle
                with contextlib.suppress(Exception):
                    sb.write_file(path, "pwned\n")
                with contextlib.suppress(Exception):
                    assert SECRET not in sb.read_file(path)
                continue
            with pytest.raises(UnsafePath):
                sb.write_file(path, "pwned\n")
            with pytest.raises(UnsafePath):
                sb.read_file(path)
        # `..` that stays inside is fine, and so are ordinary nested writes.
        sb.write_file("a/../inside.txt", "ok\n")
        sb.write_file("new/dirs/made.txt", "deep\n")
        assert sb.read_file("inside.txt") == "ok\n"
        assert sb.exec("cat new/dirs/made.txt").stdout == "deep\n"
    assert_host_untouched(host)


@pytest.mark.parametrize("kind", ["local", "local-plain"])
def test_local_file_operations_name_the_refusal(kind: str, tmp_path: Path, host: Path) -> None:
    with open_backend(kind, make_repo(tmp_path)) as sb:
        sb.exec(
            f"ln -s {host / 'secret.txt'} link; ln -s {host} dir; mkfifo pipe; ln README.md hard"
        )
        with pytest.raises(UnsafePath, match="symbolic link"):
            sb.write_file("link", "x")
        with pytest.raises(UnsafePath, match="symbolic link"):
            sb.read_file("dir/secret.txt")
        with pytest.raises(UnsafePath, match="not a regular file"):
            sb.write_file("pipe", "x")  # would block forever on a FIFO
        with pytest.raises(UnsafePath, match="hard-linked"):
            sb.write_file("hard", "x")
        with pytest.raises(UnsafePath, match="only files under"):
            sb.read_file("../../etc/passwd")
        with pytest.raises(UnsafePath, match="NUL"):
            sb.write_file("a\0b", "x")
        # The sandbox's own files stay the sandbox's (root wrote them for another uid).
        sb.write_file("sub/owned.txt", "x")
        assert sb.exec("echo more >> sub/owned.txt && touch sub/other").ok
    assert_host_untouched(host)


def test_a_symlink_survives_snapshot_and_restore_without_being_followed(
    tmp_path: Path, host: Path
) -> None:
    with open_backend("local-plain", make_repo(tmp_path)) as sb:
        sb.exec(f"ln -s {host} dir")
        snap = sb.snapshot()
        sb.exec("rm dir")
        sb.restore(snap)
        assert sb.exec("readlink dir").stdout.strip() == str(host)
    assert_host_untouched(host)


# -- route (a): agents eval --------------------------------------------------------------


def test_eval_a_patch_that_plants_a_symlink_for_the_harness_is_an_error_row(
    local_mode: str, tmp_path: Path, host: Path
) -> None:
    inst = load_dataset("swe-mini", ["tkem__cachetools-1"])
    # git apply refuses a path in .git/; the GNU patch fallback makes the symlink.
    patch = inst[0]["patch"] + SYMLINK_PATCH.format(target=host / "secret.txt")
    preds = {"tkem__cachetools-1": {
        "instance_id": "tkem__cachetools-1", "model_name_or_path": "evil", "model_patch": patch,
    }}  # fmt: skip
    report = evaluate(inst, preds, RunPaths(tmp_path / "logs", "r", "evil"), RunConfig("local"))
    assert report["error_ids"] == ["tkem__cachetools-1"]
    rows = (tmp_path / "logs" / "r" / "evil" / "results.jsonl").read_text().splitlines()
    reason = json.loads(rows[0])["reason"]
    assert "symbolic link" in reason and "swe_eval.sh" in reason, reason
    assert_host_untouched(host)


# -- route (b): agents solve ---------------------------------------------------------------


def act(tool: str, **args: str) -> str:
    return format_action(Action(tool, tuple(args.items()), "hostile"))


def test_solve_an_agent_that_plants_a_symlink_then_writes_on_it_gets_an_error(
    local_mode: str, tmp_path: Path, host: Path
) -> None:
    planter = f"import os\nos.symlink({str(host / 'secret.txt')!r}, 'pwn')\n"
    planter += f"os.symlink({str(host)!r}, 'pwndir')\n\ndef test_x():\n    pass\n"
    llm = ScriptedLLM([
        act("create_file", path="tests/test_plant.py", content=planter),
        act("run_tests", target="tests/test_plant.py"),
        act("create_file", path="pwn", content="overwritten"),
        act("create_file", path="pwndir/new.txt", content="planted"),
        act("str_replace", path="pwn", old="host", new="HOST"),
        act("finish"),
    ])  # fmt: skip
    opts = SolveOptions(
        model="scripted:evil.json", instances=("tkem__cachetools-1",), sandbox="local",
        output=tmp_path / "run", evaluate=False,
    )  # fmt: skip
    summary = run_swe_bench(opts, llm=llm)
    assert_host_untouched(host)
    traj = json.loads(
        (Path(summary["output"]) / "trajectories" / "tkem__cachetools-1.json").read_text()
    )
    observations = [s["observation"]["text"] for s in traj["steps"] if "observation" in s]
    assert len(observations) == 6, observations
    assert "passed" in observations[1]
    for refused in observations[2:4]:
        assert refused.startswith("error:") and "symbolic link" in refused, refused
    # str_replace reads inside the sandbox, where the link dangles or is unreadable.
    assert observations[4].startswith("error:"), observations[4]
    row = json.loads((Path(summary["output"]) / "solve.jsonl").read_text())
    assert row["status"] == "finished", row
