"""Where an instance runs and how it is graded: its official image, or our environment.

An instance record in swebench 5.x's format names its `image`, its `eval_script`, its
`log_parser` and its `eval_type`. `--images` decides where the image comes from:

    auto   an image present locally under the record's name (or the official instance-image
           name) is used as is; else the record's image is pulled; else it is built from
           `--task-repo` (tasks/<id>/Dockerfile); else our environment from a spec
    pull   the record's image, pulled once (cached by Docker) where a registry answers
    build  built from `--task-repo` with swebench's image builder
    local  our registry-free environment from a spec (bundled or `--specs`)

Grading runs the instance's own eval script, unchanged; an instance without one (older
formats, swe-mini) gets one generated from its spec in SWE-bench's shape. Agents run in
the same place the grader does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.swe_bench import official
from benchmarks.swe_bench.dataset import Instance, tests_of
from benchmarks.swe_bench.specs import RepoSpec, eval_script_list
from foundation.errors import UserError

if TYPE_CHECKING:
    from benchmarks.swe_bench.harness import RunConfig
    from sandboxes import EnvSpec

IMAGES = ("auto", "pull", "build", "local")
WORKDIR = "/testbed"  # where official images hold the repository (and our sandboxes too)


class EnvError(UserError):
    """No way to set up an instance's environment; the message says each way tried."""


@dataclass(frozen=True)
class InstanceEnv:
    """An instance's environment: an image used as is, or our environment from a spec."""

    image: str | None  # a Docker image holding the repository at /testbed
    spec: RepoSpec | None  # else our environment (and the repository is copied in)
    eval_script_list: tuple[str, ...]  # with the test exit code recorded (swebench)
    log_parser: str
    eval_type: str
    test_cmd: str  # what an agent runs to test
    prelude: str  # shell text before every command (an official image's conda activation)
    how: str  # one line for the run log

    @property
    def env(self) -> EnvSpec | None:
        return None if self.spec is None else self.spec.env()

    @property
    def install(self) -> tuple[str, ...]:
        return () if self.spec is None or self.image else self.spec.install

    @property
    def eval_script(self) -> str:
        """The script graded runs execute, exactly as swebench's TestSpec writes it."""
        return str(self.test_spec_for({}).eval_script)

    def test_spec_for(self, instance: Instance) -> Any:
        """swebench's `TestSpec` for grading `instance` in this environment."""
        return official.TestSpec(
            instance_id=instance.get("instance_id", ""),
            image=self.image or "",
            eval_script_list=list(self.eval_script_list),
            repo=instance.get("repo", ""),
            version=instance.get("version", ""),
            FAIL_TO_PASS=tests_of(instance, "FAIL_TO_PASS") if instance else [],
            PASS_TO_PASS=tests_of(instance, "PASS_TO_PASS") if instance else [],
            log_parser=self.log_parser,
            eval_type=self.eval_type,
        )


def parse_eval_script(script: str) -> list[str]:
    """An eval.sh as its commands: swebench's `parse_eval_script` (harness/utils.py, which
    cannot be imported without `datasets` and `dotenv`; tests check the two agree)."""
    return [
        line
        for line in script.strip().split("\n")
        if line not in ("#!/bin/bash", "set -uxo pipefail")
    ]


def record_test_exit_code(commands: list[str]) -> list[str]:
    """swebench's `record_test_exit_code`: the test command's own exit status, echoed after
    the end-of-output marker (so grading can cross-check the log)."""
    c = official.constants
    for i, line in enumerate(commands):
        if c.END_TEST_OUTPUT in line:
            return [
                *commands[:i],
                f"{c.TEST_EXIT_CODE_VAR}=$?",
                line,
                f'echo "{c.TEST_EXIT_CODE}: ${c.TEST_EXIT_CODE_VAR}"',
                *commands[i + 1 :],
            ]
    return commands


def official_image_names(instance_id: str) -> list[str]:
    """The names swebench gives an instance's image: published (namespace `swebench`,
    `__` spelled `_1776_`) and built locally (no namespace)."""
    key = f"sweb.eval.x86_64.{instance_id}:latest".lower()
    return [f"swebench/{key}".replace("__", "_1776_"), key]


_ACTIVATE = re.compile(r"^\s*(source\s+\S*activate\b.*|conda\s+activate\s+\S+\s*)$")


def test_command(commands: list[str]) -> str:
    """The command(s) between the eval script's output markers: what an agent runs."""
    c = official.constants
    inside, found = False, []
    for line in commands:
        if c.START_TEST_OUTPUT in line:
            inside = True
        elif c.END_TEST_OUTPUT in line or line.startswith(f"{c.TEST_EXIT_CODE_VAR}="):
            break
        elif inside and line.strip():
            found.append(line)
    return " && ".join(found)


def agent_test_command(commands: list[str], test_patch: str) -> str:
    """The eval script's test command without the test patch's files at its end (the
    agent's run_tests appends its own target)."""
    import shlex

    from benchmarks.swe_bench.specs import test_files

    words = test_command(commands).split(" ")
    files = test_files(test_patch)
    names = {*files, *(shlex.quote(f) for f in files)}
    names |= {f[: -len(".py")].replace("/", ".") for f in files if f.endswith(".py")}
    while len(words) > 1 and words[-1] in names:
        words.pop()
    return " ".join(words) or "python -m pytest -rA"


def prelude_of(commands: list[str]) -> str:
    """The environment activation of an official eval script (`source .../activate`,
    `conda activate testbed`), which agent commands need too."""
    lines = []
    for line in commands:
        if "<<" in line:  # the test patch's heredoc follows: no more setup
            break
        if _ACTIVATE.match(line) and line not in lines:
            lines.append(line.strip())
    return "\n".join(lines)


def resolve(instance: Instance, config: RunConfig) -> InstanceEnv:
    """Where `instance` runs under `config.images` (see the module docstring); raises
    EnvError naming every way tried when there is none."""
    from sandboxes import BuildError, SandboxUnavailable, resolve_kind

    mode = config.images
    if mode not in IMAGES:
        raise UserError(f"--images must be one of {', '.join(IMAGES)}, not {mode!r}")
    repo, version = instance["repo"], instance["version"]
    spec = config.specs.get(repo, version)
    tried: list[str] = []
    if mode != "local":
        try:
            docker = resolve_kind(config.sandbox) == "docker"
        except SandboxUnavailable as exc:
            docker, tried = False, [str(exc)]
        if docker:
            try:
                found = _image(instance, config, mode, tried)
            except BuildError as exc:
                found, tried = None, [*tried, str(exc)]
            if found is not None:
                image, how = found
                return _environment(instance, spec, image, f"image {image} ({how})")
        elif config.sandbox == "local":
            tried.append("--sandbox local cannot run images")
        if mode in ("pull", "build"):
            raise EnvError(f"no image (--images {mode}): {'; '.join(tried)}")
    if spec is None:
        no_spec = config.specs.missing_message(repo, version)
        raise EnvError(no_spec + (f"; images: {'; '.join(tried)}" if tried else ""))
    how = f"the spec of {repo} {version} ({spec.source})"
    if instance.get("image") and tried:  # the record named an image we could not get
        how += f"; the record's image was not used: {'; '.join(tried)}"
    return _environment(instance, spec, None, how)


def _image(
    instance: Instance, config: RunConfig, mode: str, tried: list[str]
) -> tuple[str, str] | None:
    """(image, how) for the image path, or None (with why in `tried`)."""
    from sandboxes import engine, images

    client = engine.client()
    record = instance.get("image") or ""
    names = [n for n in (record, *official_image_names(instance["instance_id"])) if n]
    found = images.find_image(client, names)
    if found is not None:
        return found, "present locally"
    tried.append(f"no image named {names[0]} locally")
    if mode in ("auto", "pull") and record:
        images.pull_image(client, record)  # BuildError: the caller records why
        return record, "pulled"
    if mode == "pull":
        tried.append("the record names no image to pull")
    if mode in ("auto", "build"):
        if config.task_repo is None:
            if mode == "build":
                tried.append("--images build needs --task-repo DIR (tasks/<id>/Dockerfile)")
            return None
        task = Path(config.task_repo) / "tasks" / instance["instance_id"]
        if not (task / "Dockerfile").is_file():
            tried.append(f"no Dockerfile at {task / 'Dockerfile'}")
            return None
        name = record or official_image_names(instance["instance_id"])[1]
        images.build_image(client, name, (task / "Dockerfile").read_text(), task)
        return name, f"built from {task / 'Dockerfile'}"
    return None


def _environment(
    instance: Instance, spec: RepoSpec | None, image: str | None, how: str
) -> InstanceEnv:
    """The instance's own eval script (or one from its spec) in `image` or in our
    environment from `spec`."""
    if instance.get("eval_script"):
        commands = record_test_exit_code(parse_eval_script(instance["eval_script"]))
    elif spec is not None:  # older formats and harnesses: the eval script from the spec
        commands = record_test_exit_code(
            eval_script_list(spec, instance["base_commit"], instance["test_patch"])
        )
    else:
        raise EnvError(
            f"{how} is there, but the record has no eval_script and there is no spec for "
            f"{instance['repo']} {instance['version']} to write one (--specs FILE)"
        )
    parser = instance.get("log_parser") or (spec.log_parser if spec else "")
    if not parser:
        raise EnvError("the record names no log_parser (nor does a spec)")
    return InstanceEnv(
        image=image,
        spec=spec,
        eval_script_list=tuple(commands),
        log_parser=parser,
        eval_type=instance.get("eval_type") or official.constants.EvalType.PASS_AND_FAIL.value,
        test_cmd=spec.test_cmd if spec else agent_test_command(commands, instance["test_patch"]),
        prelude=prelude_of(commands) if image else "",
        how=how,
    )
